"""Tell the operator's notification sinks (alerts.sinks) that the rails rolled a change back.

The rails have no network (hostmind-apply.service: PrivateNetwork=yes) and the health
service's dispatcher carries check transitions only, so a rollback reached the journal, the
event spool and `hostmind status`, but no webhook. Every rails event wakes the conscious
service (hostmind-conscious.path), which has network, so it relays them here, before any gate:
a paused, dormant or over-budget layer still relays, and a relay costs no tokens.

Only `change_rolled_back` is relayed (a commit is `info`; sinks take `warning` and worse). When
self-modification is paused at relay time the notification says so and is `critical`. A sink's
`events` list names check transitions and does not filter these. Relayed event ids are kept in
`{state}/conscious/relayed.json` (the newest 500), so an event seen by two runs (a busy cycle
leaves the inbox as it is) is sent once. A failed send is logged (`alert_send_failed`), never
fatal: the rollback is still in the journal and in `hostmind status`.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from unconscious.alerts.dispatch import sinks_of
from unconscious.alerts.sinks import RefusedError, SendError, Sink, deliver
from unconscious.atomic import AtomicWriteError, atomic_write_json
from unconscious.config import LoadedConfig
from unconscious.events import Event, EventSpool
from unconscious.paths import Paths
from unconscious.pause import read_pause

if TYPE_CHECKING:
    from unconscious.log import Logger

RELAYED_KINDS = ("change_rolled_back",)
KEEP_IDS = 500
_RANK = {"info": 0, "warning": 1, "critical": 2}

Sender = Callable[[str, bytes, float, int, float, dict[str, str]], int]


def _send(url: str, body: bytes, timeout: float, retries: int, backoff: float,
          headers: dict[str, str]) -> int:
    return deliver(url, body, timeout, retries, backoff, headers)


class Notification(TypedDict):
    """The webhook document of a rails rollback: the health sinks' keys plus the change's."""

    source: str
    host: str
    event: str
    check: None
    kind: str
    state: str
    previous: None
    severity: str
    summary: str
    value: str
    threshold: str
    time: float
    suppressed: int
    change: object
    rail: object
    reason: object
    paused: str | None


def notification_of(event: Event, host: str, paused: str | None) -> Notification:
    """Return the webhook document for a rails `event` (the health sinks' shape, plus change)."""
    data = event.data if isinstance(event.data, dict) else {}
    return {"source": "hostmind", "host": host, "event": event.kind, "check": None,
            "kind": "rails", "state": "rolled_back", "previous": None,
            "severity": "critical" if paused else event.severity, "summary": event.summary,
            "value": "", "threshold": "", "time": event.time, "suppressed": 0,
            "change": data.get("key"), "rail": data.get("rail"), "reason": data.get("reason"),
            "paused": paused}


def body_for(sink: Sink, notification: Notification) -> bytes:
    """Return the request body for `sink`: our document, or one line for chat sinks."""
    line = (f"[hostmind {notification['host']}] change {notification['change']} rolled back: "
            f"{notification['summary']}")
    if notification["paused"]:
        line += f"; self-modification PAUSED ({notification['paused']})"
    if sink.kind == "slack":
        document: Notification | dict[str, str] = {"text": line}
    elif sink.kind == "discord":
        document = {"content": line}
    else:
        document = notification
    return json.dumps(document, sort_keys=True).encode("utf-8")


def relay_rails_events(paths: Paths, config: LoadedConfig, log: Logger,
                       send: Sender = _send) -> int:
    """Send each not yet relayed rails rollback in the inbox to the sinks; return posts made."""
    sinks = sinks_of(config)
    if not sinks:
        return 0
    events = [event for event in EventSpool(paths.events_dir).read("inbox")
              if event.source == "rails" and event.kind in RELAYED_KINDS]
    if not events:
        return 0
    ledger = paths.state_dir / "conscious" / "relayed.json"
    done = _read_ids(ledger)
    pause = read_pause(paths)
    paused = pause.reason if pause is not None else None
    host = socket.gethostname()
    posts = 0
    for event in events:
        if event.id in done:
            continue
        notification = notification_of(event, host, paused)
        for sink in sinks:
            if _RANK.get(notification["severity"], 1) < _RANK.get(sink.min_severity, 1):
                continue
            try:
                send(sink.url, body_for(sink, notification), sink.timeout, sink.retries,
                     sink.backoff, dict(sink.headers))
                posts += 1
            except (SendError, RefusedError) as error:
                log.warning("alert_send_failed", sink=sink.name, alert_event=event.kind,
                            error=str(error), msg=f"could not notify {sink.name}: {error}")
        done.append(event.id)
    try:
        ledger.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(ledger, done[-KEEP_IDS:])
    except (OSError, AtomicWriteError) as error:
        log.warning("relay_state_unwritable", error=str(error),
                    msg=f"relayed ids not saved ({error}); a rollback may be notified twice")
    return posts


def _read_ids(path: Path) -> list[str]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [str(item) for item in value] if isinstance(value, list) else []
