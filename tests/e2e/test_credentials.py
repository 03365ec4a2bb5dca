"""Credentials under systemd 252: an encrypted key (`systemd-creds encrypt`) reaches the shipped
hostmind-conscious unit, a missing encrypted key does not fail it, and the plain key still works.

Uses the fake Messages API of test_conscious.py, which answers only the right key: a proposal
written proves the service got the key.
"""

from __future__ import annotations

import pytest

from tests.e2e.nspawn import Container, now_usec
from tests.e2e.test_conscious import (  # noqa: F401 - fake_api is a fixture
    API_KEY,
    CREDENTIAL,
    fake_api,
    wait_finished,
    write_event,
)

ENCRYPTED = "/etc/credstore.encrypted/anthropic-api-key.encrypted"


@pytest.mark.usefixtures("fake_api")
def test_an_encrypted_key_alone_reaches_the_conscious_unit(container: Container) -> None:
    container.remove(CREDENTIAL)  # the fixture wrote the plain key: prove the encrypted one
    container.run("mkdir", "-p", "/etc/credstore.encrypted")
    container.run("systemd-creds", "encrypt", "-", ENCRYPTED, input_text=API_KEY)
    try:
        assert API_KEY.encode() not in container.path(ENCRYPTED).read_bytes()
        since = now_usec()
        event_id = write_event(container, "e2e: encrypted key probe")
        state = wait_finished(container, event_id)
        assert {"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"} == state
        assert container.path(f"/var/lib/hostmind/events/processed/{event_id}.json").exists()
        # The fake answers only the right key: a proposal means the decrypted key was sent.
        assert container.journal("HOSTMIND_EVENT=proposal_written", since_usec=since)
        assert not container.journal("HOSTMIND_EVENT=conscious_dormant", since_usec=since)
    finally:
        container.remove(ENCRYPTED)


@pytest.mark.usefixtures("fake_api")
def test_without_an_encrypted_key_the_plain_one_is_used_and_nothing_fails(
        container: Container) -> None:
    assert not container.path(ENCRYPTED).exists()
    since = now_usec()
    event_id = write_event(container, "e2e: plain key probe")
    state = wait_finished(container, event_id)
    # LoadCredentialEncrypted= of a missing file does not fail the unit (systemd 252).
    assert {"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"} == state
    assert container.path(f"/var/lib/hostmind/events/processed/{event_id}.json").exists()
    assert container.journal("HOSTMIND_EVENT=proposal_written", since_usec=since)
