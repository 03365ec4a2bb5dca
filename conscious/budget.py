"""The budget ledger: tokens and changes per UTC day, a hard limit, never charged twice.

The ledger is one JSON file (`{state}/conscious/budget.json`), rewritten atomically under an
flock so `hostmind think` and the service cannot lose each other's charges. A model call goes:

1. `reserve(request_id, estimate, budget)`: refuses (BudgetExhausted) when used + reserved +
   estimate would pass the daily budget; otherwise records the reservation.
2. `charge(request_id, usage)`: replaces the reservation by the real usage. Charging the same
   request id again does nothing, so a retried or replayed request is paid once.
   `release(request_id)` drops a reservation when no reply arrived (nothing was billed).

A process that dies between 1 and 2 leaves its reservation; `settle_stale` turns reservations
older than an hour into charges at the reserved amount: a crash never makes tokens free.

Billable tokens: input + output + cache writes x1.25 + cache reads x0.1, rounded up, the way
the API prices them relative to input tokens.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from unconscious.atomic import atomic_write_json
from unconscious.locks import FileLock
from unconscious.paths import Paths

KEEP_DAYS = 31
STALE_RESERVATION_SECONDS = 3600.0


class Charge(TypedDict, total=False):
    """A charged call: billable tokens, when, the model, and the reply's token counts (or
    `settled` when a stale reservation was charged at its reserved amount)."""

    tokens: int
    time: float
    model: str
    settled: str
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int


class Reservation(TypedDict):
    """Tokens held for a call in flight."""

    tokens: int
    time: float


class LedgerDay(TypedDict):
    """One UTC day of the ledger file."""

    charges: dict[str, Charge]
    reservations: dict[str, Reservation]
    changes: list[str]


class Ledger(TypedDict):
    """The ledger file: UTC day -> its charges, reservations and changes."""

    days: dict[str, LedgerDay]


class BudgetExhausted(Exception):
    """A call or change that the daily budget or cap does not allow; the message says which."""


class UsageCounts(TypedDict):
    """The token counts of one reply as JSON."""

    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int


@dataclass(frozen=True)
class Usage:
    """The token counts of one reply, as the API reported them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    @property
    def billable(self) -> int:
        """Tokens charged against the budget (cache writes x1.25, cache reads x0.1)."""
        return (self.input_tokens + self.output_tokens
                + math.ceil(self.cache_creation_input_tokens * 1.25)
                + math.ceil(self.cache_read_input_tokens * 0.1))

    def to_json(self) -> UsageCounts:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cache_creation_input_tokens": self.cache_creation_input_tokens,
                "cache_read_input_tokens": self.cache_read_input_tokens}


@dataclass(frozen=True)
class DayUsage:
    """One UTC day of the ledger."""

    day: str
    tokens: int
    reserved: int
    changes: int
    calls: int

    def to_json(self) -> dict[str, str | int]:
        return {"day": self.day, "tokens": self.tokens, "reserved": self.reserved,
                "changes": self.changes, "calls": self.calls}


def ledger_path(paths: Paths) -> Path:
    return paths.state_dir / "conscious" / "budget.json"


def utc_day(moment: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(moment))


class BudgetLedger:
    """The ledger file at `path`; `clock` is injectable for tests."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock

    @contextmanager
    def _locked(self) -> Iterator[Ledger]:
        """Yield the ledger under an exclusive lock; write it back atomically if it changed."""
        # Held only for one read-modify-write of a small file, so waiting without a bound is safe.
        with FileLock(self.path.with_name(self.path.name + ".lock"), None, mode=0o640):
            data = self._read()
            before = json.dumps(data, sort_keys=True)
            yield data
            if json.dumps(data, sort_keys=True) != before:
                self._prune(data)
                atomic_write_json(self.path, data, mode=0o640)

    def _read(self) -> Ledger:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"days": {}}
        except (OSError, ValueError) as error:
            # A ledger we cannot read must not mean "nothing spent": refuse until a person looks.
            raise BudgetExhausted(f"budget ledger {self.path} is unreadable ({error}); "
                                  "no model call until it is repaired or removed") from error
        days = data.get("days") if isinstance(data, dict) else None
        if not isinstance(days, dict):
            raise BudgetExhausted(f"budget ledger {self.path} has an unexpected shape; "
                                  "no model call until it is repaired or removed")
        return {"days": {str(day): self._checked_day(day, entry) for day, entry in days.items()}}

    def _checked_day(self, day: object, entry: object) -> LedgerDay:
        """Return one day of the file; raise BudgetExhausted naming it when it is malformed."""
        if isinstance(entry, dict):
            charges = entry.get("charges", {})
            reservations = entry.get("reservations", {})
            changes = entry.get("changes", [])
            if (isinstance(charges, dict) and isinstance(reservations, dict)
                    and isinstance(changes, list)):
                return {"charges": charges, "reservations": reservations, "changes": changes}
        raise BudgetExhausted(f"budget ledger {self.path}: day {day!r} has an unexpected shape; "
                              "no model call until it is repaired or removed")

    def _day(self, data: Ledger, day: str | None = None) -> LedgerDay:
        key = day or utc_day(self.clock())
        return data["days"].setdefault(key, {"charges": {}, "reservations": {}, "changes": []})

    @staticmethod
    def _prune(data: Ledger) -> None:
        for day in sorted(data["days"])[:-KEEP_DAYS]:
            del data["days"][day]

    def reserve(self, request_id: str, estimate: int, budget: int) -> None:
        """Reserve `estimate` tokens for `request_id`. Raise BudgetExhausted if it could pass `budget`."""
        with self._locked() as data:
            day = self._day(data)
            usage = _summarise(utc_day(self.clock()), day)
            if request_id in day["charges"]:
                return
            if usage.tokens + usage.reserved + estimate > budget:
                raise BudgetExhausted(
                    f"this call could use {estimate} tokens; {usage.tokens} used and "
                    f"{usage.reserved} reserved of {budget} today")
            day["reservations"][request_id] = {"tokens": estimate, "time": self.clock()}

    def charge(self, request_id: str, usage: Usage, model: str = "") -> bool:
        """Record the real `usage` of `request_id`; return False if it was already charged."""
        with self._locked() as data:
            for entry in data["days"].values():
                if request_id in entry["charges"]:
                    return False
            day = self._day(data)
            for entry in data["days"].values():
                entry["reservations"].pop(request_id, None)
            counts = usage.to_json()
            day["charges"][request_id] = {
                "tokens": usage.billable, "time": self.clock(), "model": model,
                "input_tokens": counts["input_tokens"], "output_tokens": counts["output_tokens"],
                "cache_creation_input_tokens": counts["cache_creation_input_tokens"],
                "cache_read_input_tokens": counts["cache_read_input_tokens"]}
            return True

    def release(self, request_id: str) -> None:
        """Drop the reservation of a request that got no reply."""
        with self._locked() as data:
            for entry in data["days"].values():
                entry["reservations"].pop(request_id, None)

    def settle_stale(self, older_than: float = STALE_RESERVATION_SECONDS) -> int:
        """Charge reservations older than `older_than` at their reserved amount; return how many."""
        now = self.clock()
        settled = 0
        with self._locked() as data:
            for entry in data["days"].values():
                for request_id, reservation in list(entry["reservations"].items()):
                    if now - float(reservation.get("time", 0)) >= older_than:
                        entry["charges"][request_id] = {
                            "tokens": int(reservation.get("tokens", 0)),
                            "time": reservation.get("time", 0), "model": "",
                            "settled": "reservation of a call whose outcome was never recorded"}
                        del entry["reservations"][request_id]
                        settled += 1
        return settled

    def count_change(self, proposal_id: str, cap: int) -> None:
        """Count one written proposal. Raise BudgetExhausted when today's `cap` is reached."""
        with self._locked() as data:
            day = self._day(data)
            if proposal_id in day["changes"]:
                return
            if len(day["changes"]) >= cap:
                raise BudgetExhausted(f"daily change cap reached: {len(day['changes'])} of {cap}")
            day["changes"].append(proposal_id)

    def today(self) -> DayUsage:
        """Return today's usage (reading only; an unreadable ledger raises BudgetExhausted)."""
        data = self._read()
        key = utc_day(self.clock())
        return _summarise(key, data["days"].get(key, {"charges": {}, "reservations": {},
                                                       "changes": []}))

    def last_call_time(self) -> float | None:
        """Return when the newest charged call was recorded, None if there is none."""
        moments = [float(charge.get("time", 0)) for entry in self._read()["days"].values()
                   for charge in entry["charges"].values() if not charge.get("settled")]
        return max(moments) if moments else None

    def history(self) -> list[DayUsage]:
        """Return every day kept in the ledger, oldest first."""
        data = self._read()
        return [_summarise(day, entry) for day, entry in sorted(data["days"].items())]


def _summarise(day: str, entry: LedgerDay) -> DayUsage:
    charges = entry["charges"]
    reservations = entry["reservations"]
    return DayUsage(
        day=day,
        tokens=sum(int(item.get("tokens", 0)) for item in charges.values()),
        reserved=sum(int(item.get("tokens", 0)) for item in reservations.values()),
        changes=len(entry["changes"]),
        calls=len(charges),
    )
