"""The redactor removes known secret values and secret-shaped text, and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conscious.redact import MARK, Redactor


@pytest.mark.parametrize(("text", "secret"), [
    ("key sk-ant-api03-abcdefghijklmnop_QRS-tuv used", "sk-ant-api03-abcdefghijklmnop_QRS-tuv"),
    ("aws AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"),
    ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9.payload.sig"),
    ("repo https://backup:s3cr3t-pw@example.net/repo", "s3cr3t-pw"),
    ("password: hunter2-long", "hunter2-long"),
    ('{"db_password": "correct horse battery"}', "correct horse battery"),
    ("RESTIC_PASSWORD=plantedvalue42", "plantedvalue42"),
    ("api_key = 'abc123def456'", "abc123def456"),
])
def test_secret_shaped_text_is_redacted(text: str, secret: str) -> None:
    redacted = Redactor().text(text)
    assert secret not in redacted
    assert MARK in redacted


def test_a_private_key_block_is_removed_whole() -> None:
    text = ("before\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
            "-----END OPENSSH PRIVATE KEY-----\nafter")
    assert f"before\n{MARK}\nafter" == Redactor().text(text)


def test_a_truncated_private_key_block_erases_its_base64_and_nothing_after_it() -> None:
    cut = "x -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMx\nMIIEow… later entry"
    assert f"x {MARK}… later entry" == Redactor().text(cut)


def test_known_values_from_credentials_files_and_environment_are_redacted(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "anthropic-api-key").write_text("plain-key-without-prefix-1\n")
    secret_file = tmp_path / "restic-password"
    secret_file.write_text("file-held-secret-2\n")
    redactor = Redactor.build(secret_files=[str(secret_file)], secret_env_names=["MY_TOKEN"],
                              credentials_directory=str(credentials),
                              environ={"MY_TOKEN": "env-held-secret-3"})
    text = "a plain-key-without-prefix-1 b file-held-secret-2 c env-held-secret-3 d"
    assert f"a {MARK} b {MARK} c {MARK} d" == redactor.text(text)
    assert 3 == redactor.counts["known_value"]


def test_nested_values_and_keys_are_redacted() -> None:
    value = {"data": ["ok", {"url": "https://u:pw-123456@h/"}], "sk-ant-abcdefghijkl": 1}
    assert {"data": ["ok", {"url": f"https://u:{MARK}@h/"}], MARK: 1} == Redactor().value(value)


def test_ordinary_text_is_left_alone() -> None:
    text = "disk / at 93%: max_tokens = 4096; input_tokens: 12; see https://example.org/a:b"
    assert text == Redactor().text(text)


def test_short_known_values_are_not_redacted_literally() -> None:
    assert "the word abc stays" == Redactor.build(environ={"X": "abc"},
                                                  secret_env_names=["X"]).text("the word abc stays")


def test_a_five_character_known_value_is_redacted_as_a_whole_word_only() -> None:
    redactor = Redactor.build(environ={"X": "k9!zq"}, secret_env_names=["X"])
    assert f"pw {MARK} and k9!zqa stays" == redactor.text("pw k9!zq and k9!zqa stays")


@pytest.mark.parametrize("line", [
    "password_credential: restic-password", "def fingerprint(api_key: str | None) -> str:",
    "token = match.group(0)", "client = Anthropic(api_key=api_key)",
    "no restic repository password: provide the systemd credential",
    "change 20261121T064841Z-demo-heal-b3379d committed",
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "journalctl -D /var/lib/hostmind-demo/20261121T064811Z/journal",
])
def test_hostminds_own_code_and_config_lines_are_not_redacted(line: str) -> None:
    assert line == Redactor().text(line)


@pytest.mark.parametrize("message", [
    "login password=abc123, token: xyz-9", 'api_key = "q1w2e3r4"', "auth_token: 'abc-def-ghi'",
    'nested {"secret": "s3cr3t-value"}',
])
def test_redacting_json_text_keeps_it_valid_json(message: str) -> None:
    # The prompt is redacted after it is serialised: a replacement must not break the JSON.
    text = json.dumps({"MESSAGE": message}, indent=1)
    redacted = json.loads(Redactor().text(text))["MESSAGE"]
    assert MARK in redacted
    assert [] == [word for word in ("abc123", "xyz-9", "q1w2e3r4", "abc-def-ghi", "s3cr3t-value") if word in redacted]


def test_the_files_the_model_edits_have_no_false_positive() -> None:
    """hostmind's own code and config (what the model reads and edits) pass unchanged.

    conscious/redact.py itself is left out: its comments describe the formats it removes.
    """
    tree = Path(__file__).resolve().parents[3]
    redactor = Redactor()
    lines = changed = 0
    hits: list[str] = []
    for pattern in ("unconscious/**/*.py", "conscious/**/*.py", "config/**/*.yaml", "units/*"):
        for path in sorted(tree.glob(pattern)):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            for number, line in enumerate(path.read_text("utf-8", "replace").splitlines(), 1):
                lines += 1
                if redactor.text(line) != line and path.name != "redact.py":
                    changed += 1
                    hits.append(f"{path.relative_to(tree)}:{number}: {line.strip()}")
    print(f"\nredactor false positives on hostmind's code, config and units: {changed} of "
          f"{lines} lines ({100.0 * changed / max(1, lines):.3f}%)")
    assert lines > 10_000
    assert [] == hits
