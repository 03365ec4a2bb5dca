"""The data a check is made of: its spec from the config, and the outcome of one run.

A check function takes `(params, timeout)` and returns an `Outcome`; it runs either inline
(only /proc readers that cannot block) or in an abandonable worker process. Outcomes cross a
pipe, so they are plain picklable dataclasses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypedDict

OK = "ok"
FAILING = "failing"
TIMEOUT = "timeout"
SKIPPED = "skipped"
PENDING = "pending"
#: States that page someone; transitions between these are what the journal and spool record.
ALERTING = (OK, FAILING, TIMEOUT)
SEVERITIES = ("warning", "critical")


@dataclass(frozen=True)
class Outcome:
    """What one run of a check found.

    `ok` is True (healthy), False (failing) or None (could not judge: skipped, not applicable).
    `value` and `threshold` are short human strings ("93%", "90%") for the journal fields.
    """

    ok: bool | None
    summary: str
    value: str = ""
    threshold: str = ""


class CheckParams(TypedDict, total=False):
    """What a check function is handed: the keys of its kind (`KINDS`) from the typed
    `health.checks.NAME` entry (seconds, bytes), plus the paths and times specs.py adds.
    Each kind reads only its own keys; which ones it requires is checked with the config."""

    path: str
    max_percent: float
    require_mount: bool
    max_per_cpu: float
    command: list[str]
    ignore: list[str]
    max_count: int
    name: str
    pidfile: str
    min_count: int
    host: str
    port: int
    url: str
    expect_status: int | list[int]
    body_match: str
    verify_tls: bool
    max_age: float
    argv: list[str]
    expect_exit: int
    match: str
    max_output: int
    unit: str
    window: float
    method: str
    allow: list[str | int]
    baseline: str | None  # the config's flag, turned into the baseline file's path (or None)
    pattern: str
    root: str
    manifest: str
    service: str
    min_duration: float
    state_dir: str  # evidence: where the records are
    since: float  # evidence: when the health service started (the grace period's start)


CheckFunction = Callable[[CheckParams, float], Outcome]


@dataclass(frozen=True)
class CheckSpec:
    """One configured check, normalised: durations in seconds, params as given."""

    name: str
    kind: str
    interval: float
    timeout: float
    severity: str = "warning"
    consecutive: int = 1
    depends_on: tuple[str, ...] = ()
    params: CheckParams = field(default_factory=lambda: CheckParams())

    def __hash__(self) -> int:
        return hash((self.name, self.kind))


@dataclass(frozen=True)
class Result:
    """An outcome placed in time and turned into a state."""

    name: str
    state: str
    summary: str
    value: str = ""
    threshold: str = ""
    duration: float = 0.0
    finished: float = 0.0

    @classmethod
    def from_outcome(cls, name: str, outcome: Outcome, duration: float, finished: float) -> Result:
        """Map an Outcome to a Result (ok -> ok, False -> failing, None -> skipped)."""
        state = OK if outcome.ok is True else FAILING if outcome.ok is False else SKIPPED
        return cls(
            name=name,
            state=state,
            summary=outcome.summary,
            value=outcome.value,
            threshold=outcome.threshold,
            duration=duration,
            finished=finished,
        )


def percent(value: float) -> str:
    """Render a percentage the way operators read it: 93%, 4.5%."""
    return f"{value:.0f}%" if value >= 10 else f"{value:.1f}%"
