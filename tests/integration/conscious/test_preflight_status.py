"""`hostmind think --check` and the conscious state in `hostmind status`, against the strict fake.

Each preflight case prints what an operator needs: where the credential is, the host, the
HTTP status, the API's error type and message. Status says dormant / failing / active from
that evidence, never from assumption.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from conscious.preflight import run_preflight
from hostmind.wiring import main
from tests.integration.conscious.conftest import API_KEY, ConsciousRig


@pytest.fixture
def credstore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty credstore the check and status look in (never the host's /etc/credstore)."""
    store = tmp_path / "credstore"
    store.mkdir()
    monkeypatch.setenv("HOSTMIND_CREDSTORE_DIRS", str(store))
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    return store


def check(rig: ConsciousRig, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rig.settings()  # writes the drop-in pointing at the fake
    code = main(["think", "--check"])
    return code, capsys.readouterr().out


def status_state(capsys: pytest.CaptureFixture[str]) -> tuple[str, str, bool]:
    main(["status", "--json"])
    document = json.loads(capsys.readouterr().out)
    budget = document["sections"]["budget"]
    return budget["data"]["state"], budget["data"]["line"], budget["problem"]


def test_no_key_is_named_and_status_says_dormant_before_any_cycle(
        rig: ConsciousRig, credstore: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(rig, capsys)
    assert 1 == code
    assert "credential: MISSING: no anthropic-api-key in $CREDENTIALS_DIRECTORY, " + str(credstore) in out
    assert [] == rig.api.requests
    state, line, problem = status_state(capsys)
    assert ("dormant", False) == (state, problem)
    assert "dormant (no API key" in line


def test_a_bad_key_names_host_status_type_and_message(
        rig: ConsciousRig, credstore: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (credstore / "anthropic-api-key").write_text("sk-ant-wrong-key-0000\n")
    code, out = check(rig, capsys)
    host = rig.api.url.removeprefix("http://")
    assert 1 == code
    assert f"check: FAILED: host {host} HTTP 401 authentication_error: invalid x-api-key" in out
    assert "sk-ant-wrong-key-0000" not in out
    state, line, problem = status_state(capsys)
    assert ("failing", True) == (state, problem)
    assert "HTTP 401 authentication_error" in line


def test_an_unknown_model_is_a_404_naming_the_model(
        rig: ConsciousRig, credstore: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (credstore / "anthropic-api-key").write_text(API_KEY)
    rig.configure(model="claude-sonnet-9")
    code, out = check(rig, capsys)
    assert 1 == code
    assert "HTTP 404 not_found_error: model: claude-sonnet-9" in out
    assert "not in hostmind's model table" in out


def test_an_unreachable_host_is_named_with_the_cause(
        rig: ConsciousRig, credstore: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (credstore / "anthropic-api-key").write_text(API_KEY)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    rig.configure(api={"base_url": f"http://127.0.0.1:{port}"})
    code, out = check(rig, capsys)
    assert 1 == code
    assert f"check: FAILED: host 127.0.0.1:{port} connection: connection failed: " in out
    assert "Connect" in out  # the transport's own reason (httpx ConnectError: refused)


def test_all_fine_says_so_and_status_says_active(
        rig: ConsciousRig, credstore: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (credstore / "anthropic-api-key").write_text(API_KEY)
    code, out = check(rig, capsys)
    assert 0 == code
    assert "check: ok: the key is accepted and claude-sonnet-5-5 exists" in out
    assert ["/v1/messages/count_tokens"] == [request.path for request in rig.api.requests]
    state, line, problem = status_state(capsys)
    assert ("active", False) == (state, problem)
    assert line.startswith("active (the API answered at ")


def test_an_encrypted_credential_is_decrypted_with_systemd_creds(
        rig: ConsciousRig, credstore: Path, tmp_path: Path) -> None:
    encrypted = Path(str(credstore) + ".encrypted")
    encrypted.mkdir()
    (encrypted / "anthropic-api-key.encrypted").write_bytes(b"not a systemd credential")
    # The real systemd-creds refuses a file that is not a credential: the check says why.
    refused = run_preflight(rig.settings(), rig.context.paths, environ={},
                            credstore_dirs=(str(credstore),))
    assert not refused.ok
    assert "credential: UNUSABLE: " in refused.lines[0]
    assert "systemd-creds decrypt exited" in refused.lines[0]
    # A stand-in for systemd-creds (this machine has no TPM or host key to encrypt with).
    stand_in = tmp_path / "systemd-creds"
    stand_in.write_text(f"#!/bin/sh\nprintf '%s' '{API_KEY}'\n")
    stand_in.chmod(0o755)
    accepted = run_preflight(rig.settings(), rig.context.paths, environ={},
                             credstore_dirs=(str(credstore),), decrypt_command=(str(stand_in),))
    assert accepted.ok, accepted.lines
    assert "(encrypted (systemd-creds))" in accepted.lines[0]
    assert accepted.lines[0].endswith("anthropic-api-key.encrypted (encrypted (systemd-creds))")
