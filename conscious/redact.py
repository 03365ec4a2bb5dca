"""The redactor: every text that goes to the model, the audit log, the spool or a log passes it.

It runs on one field at a time (a journal MESSAGE, a file's content, a file name, an event's
summary), before anything is encoded, so JSON escaping never splits a secret and a match can
never run past the end of its field. Three layers, in order:

1. Known values: every credential a hostmind unit loads (`LoadCredential=` of the packaged
   units, read from $CREDENTIALS_DIRECTORY and the credstore directories), the configured
   `secret_files` and `secret_env_names`, and extra values the caller knows (alert sink URLs).
   Values of 6+ characters are replaced wherever they occur; shorter ones (4-5) only as whole
   words, so a short password cannot erase every "admin" in a log.
2. Patterns (`PATTERNS`): provider token formats modeled on the gitleaks default rule pack
   (rule ids in the names: aws-access-token, github-pat, slack-webhook-url, jwt, ...), private
   key blocks, URL passwords, command-line passwords (mysql -p, sshpass -p, curl -u,
   --password=), crypt(3) hashes, and `key = value` lines whose key ENDS in a secret word (so
   `password_credential: restic-password`, a credential's name, is left alone). Every
   quantifier is bounded: a truncated key block erases its own base64 and nothing after it.
3. Encoded and random-looking tokens: a base64 token that decodes to text a pattern matches is
   replaced whole; a 32+ character token mixing upper, lower and digits with Shannon entropy
   above 4.0 bits per character is replaced (hex digests, identifiers and paths are not).

What is NOT redacted (by design, see docs/conscious.md): ordinary words, hex digests, UUIDs,
credential NAMES, paths, and secrets shorter than 4 characters.
"""

from __future__ import annotations

import base64
import binascii
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar, cast

MARK = "[REDACTED]"
#: Known values this long are replaced wherever they occur; shorter ones only as whole words.
MIN_SECRET_LENGTH = 6
MIN_WORD_SECRET_LENGTH = 4
MAX_SECRET_FILE_BYTES = 64 * 1024
CREDSTORE_DIRS = ("/etc/credstore", "/run/credstore", "/usr/lib/credstore")

#: A key that ends in one of these names a secret value (`db_password`, `routing_key`).
_SENSITIVE_NAME_ENDINGS = (r"password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|"
                   r"access[_-]?key|secret[_-]?key|private[_-]?key|client[_-]?secret|"
                   r"routing[_-]?key|integration[_-]?key|auth[_-]?key|account[_-]?key|"
                   r"webhook[_-]?url|dsn|database[_-]?url|sas[_-]?token|session[_-]?key")
#: What follows `password:` but is not a value: placeholders, Python type annotations, calls
#: and identifiers (code: `api_key: str`, `token = match.group(0)`, `api_key=API_KEY`), one
#: plain lowercase word (prose: "password: provide the credential"), punctuation.
_NOT_A_VALUE = (r"(?!\[REDACTED\]|null\b|none\b|true\b|false\b|\$\{|<|\*{3}"
                r"|(?:str|int|bytes|float|bool|dict|list|Any|None|Optional|Path)\b"
                r"|[A-Za-z_][\w.]{0,80}[(\[]"
                r"|(?:self\.)?[A-Za-z]{1,30}(?:_[A-Za-z]{1,30}){1,6}(?![\w\-./:@])"
                r"|[a-z]{1,12}(?![\w\-./:@'\"])"
                r"|[^A-Za-z0-9'\"\\])")

Replacement = str | Callable[[re.Match[str]], str]
#: Between the lines of a key block: a line break (real, or `\n` inside a JSON string) or
#: spaces, maybe a comment or quote marker (a key pasted into YAML, a shell script, an email).
_LINE_BREAK = r"(?:\s|\\n){1,4}(?:#|//|;|>|\*)?[ \t]{0,2}"


def _keep(group: int) -> Callable[[re.Match[str]], str]:
    """Replacement keeping groups 1..group-1 and masking the rest of the match."""
    return lambda match: "".join(match.group(index) or "" for index in range(1, group)) + MARK


PATTERNS: tuple[tuple[str, re.Pattern[str], Replacement], ...] = (
    # private-key: the armour header, its header lines, then at most 400 lines of base64 (each
    # 16+ characters, the last maybe shorter), then the END line if it is there. A block cut
    # short ends where the base64 ends: what follows survives.
    ("private-key", re.compile(
        r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        r"(?:" + _LINE_BREAK + r"[A-Za-z][A-Za-z\-]{0,30}: [^\n]{0,200})*"
        r"(?:" + _LINE_BREAK + r"[A-Za-z0-9+/=]{16,100}){0,400}"
        r"(?:" + _LINE_BREAK + r"[A-Za-z0-9+/=]{1,15}(?![A-Za-z0-9+/=]))?"
        r"(?:" + _LINE_BREAK + r"-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)?"), MARK),
    ("anthropic-api-key", re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{8,200}"), MARK),
    ("openai-api-key", re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_\-]{20,200}"), MARK),
    ("aws-access-token", re.compile(r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"), MARK),
    ("github-pat", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255})"),
     MARK),
    ("gitlab-pat", re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,64}"), MARK),
    ("slack-token", re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,200}"), MARK),
    ("slack-webhook-url", re.compile(
        r"https?://hooks\.slack\.com/(?:services|workflows|triggers)/T[A-Za-z0-9_]{8,12}/"
        r"[AB][A-Za-z0-9_]{8,12}/[A-Za-z0-9_/\-]{20,120}"), MARK),
    ("discord-webhook", re.compile(
        r"https?://(?:\w+\.)?discord(?:app)?\.com/api/webhooks/\d{5,30}/[A-Za-z0-9_\-]{20,120}"), MARK),
    ("stripe-access-token", re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,99}"), MARK),
    ("gcp-api-key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"), MARK),
    ("gcp-oauth-secret", re.compile(r"\bGOCSPX-[A-Za-z0-9_\-]{20,40}"), MARK),
    ("sendgrid-api-token", re.compile(r"\bSG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{16,64}"), MARK),
    ("npm-access-token", re.compile(r"\bnpm_[A-Za-z0-9]{36}"), MARK),
    ("pypi-upload-token", re.compile(r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{40,300}"), MARK),
    ("vault-token", re.compile(r"\bhv[sb]\.[A-Za-z0-9_\-]{24,200}"), MARK),
    ("twilio-api-key", re.compile(r"\bSK[0-9a-fA-F]{32}\b"), MARK),
    ("mailgun-private-api-token", re.compile(r"\bkey-[0-9a-f]{32}\b"), MARK),
    ("shopify-access-token", re.compile(r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"), MARK),
    ("telegram-bot-api-token", re.compile(r"\b\d{8,10}:AA[A-Za-z0-9_\-]{32,40}\b"), MARK),
    ("jwt", re.compile(
        r"\beyJ[A-Za-z0-9_\-]{5,2000}\.(?:eyJ)?[A-Za-z0-9_\-]{2,8000}\.[A-Za-z0-9_\-]{2,2000}"),
     MARK),
    ("crypt-hash", re.compile(
        r"\$(?:1|2[abxy]?|5|6|y|gy|7)\$[A-Za-z0-9./$=,]{4,200}(?=[\s:'\",;]|$)"), MARK),
    # A bearer/basic credential has a digit or a dot somewhere ("Bearer authentication" is prose).
    ("authorization-header", re.compile(
        r"(?i)(\b(?:bearer|basic)|authorization[\"']?\s{0,4}[:=]\s{0,4}[\"']?token)(\s+)"
        r"(?=[A-Za-z0-9._~+/=\-]{0,4096}[0-9.])[A-Za-z0-9._~+/=\-]{8,4096}"), _keep(3)),
    # scheme://user:PASSWORD@host - the password may itself hold '@': up to the LAST '@'
    # before the host.
    ("url-password", re.compile(
        r"([a-zA-Z][a-zA-Z0-9+.\-]{0,20}://[^\s/:@]{0,200}:)([^\s/]{1,400})(@[^\s/@:]{1,255})"),
     lambda match: match.group(1) + MARK + match.group(3)),
    ("cli-mysql-password", re.compile(
        r"(\bmysql(?:admin|dump)?\b[^\n]{0,200}?\s)(-p['\"]?|--password=['\"]?)([A-Za-z0-9][^\s'\"]{0,200})"),
     _keep(3)),
    ("cli-sshpass", re.compile(r"(\bsshpass\s+-p\s*['\"]?)([A-Za-z0-9][^\s'\"]{0,200})"), _keep(2)),
    ("cli-curl-user", re.compile(r"(\s(?:-u|--user)\s+['\"]?[^\s:'\"]{1,200}:)([^\s'\"]{1,200})"),
     _keep(2)),
    ("cli-password-flag", re.compile(
        r"(--(?:password|passwd|token|secret|api-key)(?:=|\s+))([^\s'\"-][^\s'\"]{0,200})"), _keep(2)),
    # The value keeps its own quoting (a JSON string stays valid JSON).
    ("config-secret", re.compile(
        r"""(?i)(["']?\b[\w.\-]{0,80}(?:""" + _SENSITIVE_NAME_ENDINGS + r""")\\?["']?\s{0,4}[:=]\s{0,4})"""
        + _NOT_A_VALUE +
        r"""(?:(\\")(?:(?!\\").){1,400}\\"|(")(?:[^"\\\n]|\\.){1,400}"|(')[^'\n]{1,400}'"""
        r"""|[^\s,;}'"\\]{1,400})"""),
     lambda match: match.group(1) + _quote(match) + MARK + _quote(match)),
)

_TOKEN = re.compile(r"[A-Za-z0-9+/_\-]{20,4096}={0,2}")
_BASE64_TOKEN = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{24,8192}={0,2}(?![A-Za-z0-9+/=])")
ENTROPY_MIN_LENGTH = 32
ENTROPY_BITS = 4.0


def _quote(match: re.Match[str]) -> str:
    return match.group(2) or match.group(3) or match.group(4) or ""


def shannon_entropy(text: str) -> float:
    """Return the Shannon entropy of `text` in bits per character."""
    if not text:
        return 0.0
    counts = Counter(text)
    return -sum(count / len(text) * math.log2(count / len(text)) for count in counts.values())


def looks_random(token: str) -> bool:
    """Return whether `token` looks like a random secret (not an identifier, path or digest)."""
    core = token.rstrip("=")
    if len(core) < ENTROPY_MIN_LENGTH:
        return False
    # Dash/underscore/dot-separated words (ids like 20261121T064841Z-demo-heal-b3379d) and
    # paths with a plain word between slashes are names, not random tokens.
    if max(len(part) for part in re.split(r"[-_.]", core)) < 24:
        return False
    if "/" in core and any(re.fullmatch(r"[a-z]{3,}", part) for part in core.split("/")):
        return False
    classes = (any(c.islower() for c in core), any(c.isupper() for c in core),
               any(c.isdigit() for c in core))
    return all(classes) and shannon_entropy(core) > ENTROPY_BITS


def credential_names() -> list[str]:
    """Return the names of the credentials the packaged units load (LoadCredential*=)."""
    try:
        from unconscious.systemd_units import packaged_units

        units = packaged_units()
    except (ImportError, OSError):
        return []
    names: list[str] = []
    for text in units.values():
        for match in re.finditer(r"(?m)^LoadCredential(?:Encrypted)?=([^:\s]+)", text):
            if match.group(1) not in names:
                names.append(match.group(1))
    return names


#: A JSON-like document that redaction copies with its shape kept (any value: only its strings
#: change).
_Document = TypeVar("_Document")


def _map_strings(value: object, change: Callable[[str], str]) -> object:
    """Return a copy of `value` with `change` applied to every string, mapping keys included."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, Mapping):
        return {change(str(key)): _map_strings(item, change) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_map_strings(item, change) for item in value]
    return value


@dataclass
class Redactor:
    """Removes known secret values and secret-shaped text; counts what it removed."""

    values: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    words: tuple[str, ...] = ()

    @classmethod
    def build(cls, secret_files: Iterable[str] = (), secret_env_names: Iterable[str] = (),
              credentials_directory: str | None = None,
              environ: Mapping[str, str] | None = None, extra: Iterable[str] = (),
              credstore_dirs: Sequence[str] | None = None) -> Redactor:
        """Collect the known secret values: credentials, secret files, environment, `extra`.

        Every file in $CREDENTIALS_DIRECTORY (or `credentials_directory`) is a secret, and so
        is every credential a packaged unit loads, looked up in the credstore directories
        (`credstore_dirs`, default $HOSTMIND_CREDSTORE_DIRS or systemd's). Unreadable files are
        skipped (they cannot leak what we cannot read).
        """
        env = os.environ if environ is None else environ
        found: set[str] = {value.strip() for value in extra if value and value.strip()}
        credentials = credentials_directory or env.get("CREDENTIALS_DIRECTORY")
        files = [Path(name) for name in secret_files]
        if credentials:
            try:
                files.extend(entry for entry in Path(credentials).iterdir() if entry.is_file())
            except OSError:
                pass
        if credstore_dirs is None:
            override = env.get("HOSTMIND_CREDSTORE_DIRS")
            credstore_dirs = tuple(override.split(":")) if override else CREDSTORE_DIRS
        for name in credential_names():
            files.extend(Path(directory) / name for directory in credstore_dirs if directory)
        for path in files:
            found.update(_values_of_file(path))
        for name in secret_env_names:
            value = env.get(name)
            if value:
                found.add(value.strip())
        usable = sorted((value for value in found if len(value) >= MIN_SECRET_LENGTH),
                        key=len, reverse=True)
        words = sorted((value for value in found
                        if MIN_WORD_SECRET_LENGTH <= len(value) < MIN_SECRET_LENGTH
                        and not any(character.isspace() for character in value)),
                       key=len, reverse=True)
        return cls(values=tuple(usable), words=tuple(words))

    def _count(self, name: str, number: int) -> None:
        if number:
            self.counts[name] = self.counts.get(name, 0) + number

    def known(self, text: str) -> str:
        """Return `text` with the known secret values replaced."""
        for value in self.values:
            if value in text:
                self._count("known_value", text.count(value))
                text = text.replace(value, MARK)
        for word in self.words:
            text, replaced = re.subn(r"(?<!\w)" + re.escape(word) + r"(?!\w)", MARK, text)
            self._count("known_value", replaced)
        return text

    def text(self, text: str) -> str:
        """Return `text` with every known secret and secret-shaped string replaced by MARK."""
        text = self.known(text)
        for name, pattern, replacement in PATTERNS:
            text, replaced = pattern.subn(replacement, text)
            self._count(name, replaced)
        text = _BASE64_TOKEN.sub(self._encoded, text)
        return _TOKEN.sub(self._random, text)

    def _encoded(self, match: re.Match[str]) -> str:
        token = match.group(0)
        try:
            decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
            plain = decoded.decode("utf-8")
        except (binascii.Error, ValueError):
            return token
        if not plain.isprintable() and not all(c.isprintable() or c.isspace() for c in plain):
            return token
        probe = Redactor(values=self.values, words=self.words)
        if probe.text(plain) != plain:
            self._count("base64-encoded-secret", 1)
            return MARK
        return token

    def _random(self, match: re.Match[str]) -> str:
        token = match.group(0)
        if MARK in token or not looks_random(token):
            return token
        self._count("high-entropy-token", 1)
        return MARK

    def known_values(self, value: _Document) -> _Document:
        """Return a copy of `value` (JSON-like) with only the known secret values replaced.

        The copy has the shape of `value` (a tuple comes back as a list: JSON has no tuples).
        """
        return cast("_Document", _map_strings(value, self.known))

    def value(self, value: _Document) -> _Document:
        """Return a copy of `value` (JSON-like) with every string (keys too) redacted.

        The copy has the shape of `value` (a tuple comes back as a list: JSON has no tuples).
        """
        return cast("_Document", _map_strings(value, self.text))

    def __call__(self, value: _Document) -> _Document:
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
