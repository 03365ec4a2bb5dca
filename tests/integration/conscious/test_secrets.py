"""Secrets planted everywhere never reach a request body the server received, nor the audit log."""

from __future__ import annotations

from pathlib import Path

from tests.integration.conscious.conftest import (
    API_KEY,
    SERVICE_SOURCE,
    ConsciousRig,
    proposal_reply,
    write_journal_script,
)

ENV_SECRET = "planted-env-secret-1"
FILE_SECRET = "planted-file-secret-2"
CONFIG_SECRET = "planted-config-secret-3"
URL_SECRET = "planted-url-secret-4"
JOURNAL_KEY = "sk-ant-api03-plantedjournalsecret5xx"
BEARER = "plantedbearertoken6abc"
GITHUB_TOKEN = "ghp_planted7abcdefghijklmnopqrstuv"
EVENT_URL_SECRET = "planted-event-secret-8"
AWS_KEY = "AKIAPLANTED9EXAMPLE0"
SECRET_PATH_CONTENT = "planted-secretpath-10"
OTHER_CREDENTIAL = "planted-credential-11"
PRIVATE_KEY_BODY = "MIIEplantedPrivateKeyBody12"

PLANTED = [ENV_SECRET, FILE_SECRET, CONFIG_SECRET, URL_SECRET, JOURNAL_KEY, BEARER, GITHUB_TOKEN,
           EVENT_URL_SECRET, AWS_KEY, SECRET_PATH_CONTENT, OTHER_CREDENTIAL, PRIVATE_KEY_BODY,
           API_KEY]


def plant(rig: ConsciousRig, tmp_path: Path) -> None:
    rig.environ["RESTIC_PASSWORD"] = ENV_SECRET
    credentials = Path(rig.environ["CREDENTIALS_DIRECTORY"])
    (credentials / "other-cred").write_text(OTHER_CREDENTIAL + "\n")
    secret_file = tmp_path / "restic-password"
    secret_file.write_text(FILE_SECRET + "\n")
    rig.configure(secret_files=[str(secret_file)])
    (rig.tree / "config" / "hostmind.yaml").write_text(
        f"backup:\n  password: {CONFIG_SECRET}\n  repository: https://backup:{URL_SECRET}@example.net/r\n")
    (rig.tree / "unconscious" / "health" / "service.py").write_text(
        SERVICE_SOURCE + f"\nAWS = '{AWS_KEY}'\nRESTIC = '{ENV_SECRET}'\nFALLBACK = '{FILE_SECRET}'\n"
        f"KEY = '''-----BEGIN RSA PRIVATE KEY-----\n{PRIVATE_KEY_BODY}\n-----END RSA PRIVATE KEY-----'''\n")
    (rig.tree / "unconscious" / "health" / "secret_token.py").write_text(f"X = '{SECRET_PATH_CONTENT}'\n")
    journal = [*rig.journal_lines,
               {"MESSAGE": f"used key {JOURNAL_KEY} and {API_KEY}", "SYSLOG_IDENTIFIER": "hostmind-backup"},
               {"MESSAGE": f"curl -H 'Authorization: Bearer {BEARER}'", "PRIORITY": "3"},
               {"MESSAGE": f"credential {OTHER_CREDENTIAL} loaded; env {ENV_SECRET}"}]
    write_journal_script(Path(rig.section["journal"]["command"][0]), journal)
    rig.spool.emit("backup", "backup_failed", "critical", f"backup to https://u:{EVENT_URL_SECRET}@h failed",
                   {"token": GITHUB_TOKEN, "env": ENV_SECRET, "file": FILE_SECRET})


def leaked(data: bytes) -> list[str]:
    text = data.decode("utf-8", "replace")
    return [secret for secret in PLANTED if secret in text]


def test_no_planted_secret_reaches_the_server_or_the_audit_log(rig: ConsciousRig, tmp_path: Path) -> None:
    plant(rig, tmp_path)
    rig.api.add_steps(proposal_reply())
    result = rig.cycle()
    assert "proposed" == result.outcome
    bodies = [request.body for request in rig.api.requests]
    assert 2 == len(bodies)  # count_tokens and messages
    assert [] == [leak for body in bodies for leak in leaked(body)]
    assert [] == leaked(rig.audit.path.read_bytes())
    sent = rig.api.message_requests()[0].body.decode()
    assert "THRESHOLD = 90" in sent and "[REDACTED]" in sent  # the files were sent, redacted
    assert '\\"unconscious/health/secret_token.py\\": \\"secret path: never read\\"' in sent
    assert result.redactions >= 10


def test_a_dry_run_saves_a_request_without_secrets(rig: ConsciousRig, tmp_path: Path) -> None:
    plant(rig, tmp_path)
    rig.cycle(dry_run=True)
    saved = rig.context.paths.state_dir / "conscious" / "last-dry-run-request.json"
    assert [] == leaked(saved.read_bytes())


def test_secrets_in_a_failed_call_do_not_reach_the_audit_log(rig: ConsciousRig, tmp_path: Path) -> None:
    plant(rig, tmp_path)
    rig.api.add_steps({"reply": "error", "status": 400, "type": "invalid_request_error",
                       "message": f"bad request near {JOURNAL_KEY}"})
    assert "failing" == rig.cycle().outcome
    assert [] == leaked(rig.audit.path.read_bytes())
    state = rig.context.paths.state_dir
    written = [(state / "conscious" / "api-state.json").read_bytes()]
    written += [path.read_bytes() for path in (state / "events").rglob("*.json")
                if b"model_api_refused" in path.read_bytes()]
    assert 2 == len(written)
    assert [] == [hit for data in written for hit in leaked(data)]
