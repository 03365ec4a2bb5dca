"""The redactor: every text that goes to the model or to the audit log passes through it.

Two kinds of secret are removed:

- known values: the files in `$CREDENTIALS_DIRECTORY` (the API key among them), the configured
  `secret_files`, and the values of the configured `secret_env_names`;
- patterns: API keys (sk-ant-…, sk-…, AKIA…, ghp_…/github_pat_…, xox…-), bearer tokens,
  private key blocks, passwords in URLs (`scheme://user:PASSWORD@host`) and `password: x` /
  `token = x` style config lines, in YAML, INI, env and JSON spellings.

Known values are replaced first (longest first) so a secret that also matches a pattern is not
half-replaced.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MARK = "[REDACTED]"
#: Shorter known values are not redacted literally: "abc" would destroy unrelated text.
MIN_SECRET_LENGTH = 6
MAX_SECRET_FILE_BYTES = 64 * 1024

_KEY_WORDS = (r"password|passwd|passphrase|pass|pwd|secret|token|api[_-]?key|apikey|"
              r"access[_-]?key|secret[_-]?key|private[_-]?key|client[_-]?secret|auth|credentials?")

Replacement = str | Callable[[re.Match[str]], str]

PATTERNS: tuple[tuple[str, re.Pattern[str], Replacement], ...] = (
    ("private_key", re.compile(
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
        re.DOTALL), MARK),
    ("anthropic_key", re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}"), MARK),
    ("openai_style_key", re.compile(r"\bsk-[A-Za-z0-9_\-]{20,}"), MARK),
    ("aws_access_key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), MARK),
    ("github_token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),
     MARK),
    ("slack_token", re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}"), MARK),
    ("bearer", re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=\-]{8,}"), r"\1\2" + MARK),
    ("url_password", re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*://[^\s/:@]+:)[^\s@/]+(@)"),
     r"\1" + MARK + r"\2"),
    # The value keeps its own quoting (a JSON string stays a valid JSON string): "x" -> "MARK",
    # 'x' -> 'MARK', \"x\" (inside a JSON string) -> \"MARK\", bare x -> MARK.
    ("config_secret", re.compile(
        r"""(?i)(["']?\b[\w.\-]*(?:""" + _KEY_WORDS + r""")\b\\?["']?\s*[:=]\s*)"""
        r"""(?:(\\")(?:(?!\\").)*\\"|(")(?:[^"\\]|\\.)*"|(')[^']*'"""
        r"""|(?!\[REDACTED\])[^\s,;}'"\\]+)"""),
     lambda match: match.group(1) + _quote(match) + MARK + _quote(match)),
)


def _quote(match: re.Match[str]) -> str:
    return match.group(2) or match.group(3) or match.group(4) or ""


@dataclass
class Redactor:
    """Removes known secret values and secret-shaped text; counts what it removed."""

    values: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, secret_files: Iterable[str] = (), secret_env_names: Iterable[str] = (),
              credentials_directory: str | None = None,
              environ: Mapping[str, str] | None = None, extra: Iterable[str] = ()) -> Redactor:
        """Collect the known secret values from credentials, files and environment variables.

        `credentials_directory` defaults to $CREDENTIALS_DIRECTORY. Unreadable files are skipped
        (they cannot leak what we cannot read).
        """
        env = os.environ if environ is None else environ
        found: set[str] = set(extra)
        credentials = credentials_directory or env.get("CREDENTIALS_DIRECTORY")
        files = [Path(name) for name in secret_files]
        if credentials:
            try:
                files.extend(entry for entry in Path(credentials).iterdir() if entry.is_file())
            except OSError:
                pass
        for path in files:
            found.update(_values_of_file(path))
        for name in secret_env_names:
            value = env.get(name)
            if value:
                found.add(value.strip())
        usable = sorted((value for value in found if len(value) >= MIN_SECRET_LENGTH),
                        key=len, reverse=True)
        return cls(values=tuple(usable))

    def text(self, text: str) -> str:
        """Return `text` with every known secret and secret-shaped string replaced by MARK."""
        for value in self.values:
            if value in text:
                self.counts["known_value"] = self.counts.get("known_value", 0) + text.count(value)
                text = text.replace(value, MARK)
        for name, pattern, replacement in PATTERNS:
            text, replaced = pattern.subn(replacement, text)
            if replaced:
                self.counts[name] = self.counts.get(name, 0) + replaced
        return text

    def known_values(self, value: Any) -> Any:
        """Return a copy of `value` (JSON-like) with only the known secret values replaced."""
        if isinstance(value, str):
            for secret in self.values:
                if secret in value:
                    self.counts["known_value"] = self.counts.get("known_value", 0) + value.count(secret)
                    value = value.replace(secret, MARK)
            return value
        if isinstance(value, Mapping):
            return {self.known_values(str(key)): self.known_values(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.known_values(item) for item in value]
        return value

    def value(self, value: Any) -> Any:
        """Return a copy of `value` (JSON-like) with every string (keys too) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(key)): self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value

    def __call__(self, value: Any) -> Any:
        return self.value(value)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _values_of_file(path: Path) -> set[str]:
    """Return the secret values a file holds: the whole stripped content and each line."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SECRET_FILE_BYTES)
    except OSError:
        return set()
    text = data.decode("utf-8", "replace").strip()
    values = {text} if text else set()
    for line in text.splitlines():
        line = line.strip()
        values.add(line)
        # KEY=value files (env files): the value alone is the secret.
        if "=" in line and not line.startswith("#"):
            values.add(line.split("=", 1)[1].strip().strip("'\""))
    return values
