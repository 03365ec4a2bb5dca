"""A rule with `su USER [GROUP]`: its whole pass runs as that user (su.py says why and how).

Recovery of the rule's interrupted rotations, the rotations themselves, the rule's hooks, the
delayed compression of older archives and pruning all run in one child that has dropped to the
user, as logrotate runs them under `su`. The user's intents live in its own state directory
(su.private_state_dir), so root never finishes them in the user's directory either. Archives
and new logs are created by the user (owned by it and the su group). The event spool is root's
and is not written from the child: a log outgrowing its rotation is logged, not spooled.

The child's reply is untrusted: it is checked field by field, and only logs the parent handed
to the child are taken from it; a malformed reply is an error and changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from unconscious.events import EventSpool
from unconscious.json_types import JsonObject, JsonValue
from unconscious.rotate.env import Rotated, RotateEnv
from unconscious.rotate.fsutil import RotationError
from unconscious.rotate.intent import load_all as load_intents
from unconscious.rotate.naming import archive_dir
from unconscious.rotate.recovery import recover_all
from unconscious.rotate.rules import Rule
from unconscious.rotate.state import LogState, RotateState
from unconscious.rotate.su import Identity, identity, private_state_dir, run_as

T = TypeVar("T")

if TYPE_CHECKING:
    from unconscious.rotate.runner import RunReport

#: How long one rule's child may run: well inside the rotate unit's TimeoutStartSec=1h, so a
#: child held by its user (a hung file system under the log) is killed and reported by us and
#: the other rules still rotate and the state is saved, instead of systemd killing the whole run.
SU_TIMEOUT = 1200.0
#: Longest text (an error, a warning, a path) taken from a child's reply.
MAX_TEXT = 4096

RulePass = Callable[[RotateEnv, Rule, list[Path], RotateState, "RunReport", EventSpool | None,
                     bool, bool, int], None]


def rule_pass_as(env: RotateEnv, rule: Rule, candidates: list[Path], state: RotateState, report: RunReport,
                 rule_pass: RulePass, spool: EventSpool | None, flags: tuple[bool, bool, int]) -> None:
    """Run `rule_pass` for `rule` as its su user and merge what it did into `state` and `report`.

    `flags` is (dry_run, force, workers). Never raises for the rule's failure: it becomes an error
    in `report`, and the logs are left as the child left them (its intents finish them next run).
    """
    dry_run = flags[0]
    try:
        who = identity(rule.su_user, rule.su_group)
        if who is None:  # su root: root's own pass
            rule_pass(env, rule, candidates, state, report, spool, *flags)
            return
        user_dir = _user_dir(env, who, dry_run)
        remembered = {str(source): replace(state.logs[str(source)])
                      for source in candidates if str(source) in state.logs}
        reply = run_as(who, lambda: _work(env, rule, user_dir, candidates, remembered, report,
                                          rule_pass, flags), SU_TIMEOUT)
        _merge(reply, candidates, state, report, {archive_dir(rule, source) for source in candidates})
    except (OSError, RotationError) as error:
        message = f"rule {rule.name}: {error}"
        report.errors.append(message)
        env.log.error("rotation_failed", rule=rule.name, msg=message)


def _user_dir(env: RotateEnv, who: Identity, dry_run: bool) -> Path:
    if dry_run:  # a dry run writes nothing: the directory is only named
        return env.state_dir / "rotate" / "su" / str(who.uid)
    return private_state_dir(env.state_dir, who)


def _work(env: RotateEnv, rule: Rule, user_dir: Path, candidates: list[Path],
          remembered: dict[str, LogState], report: RunReport, rule_pass: RulePass,
          flags: tuple[bool, bool, int]) -> dict[str, object]:
    """In the child, as the user: recover the user's intents, run the pass, describe the result."""
    child_env = replace(env, state_dir=user_dir, pruned=[])
    child_report = type(report)(pruned=child_env.pruned)
    child_state = RotateState(remembered)
    stuck: set[str] = set()
    if not flags[0]:
        child_report.recovered, problems = recover_all(child_env, {rule.name: rule})
        child_report.errors.extend(problems)
        stuck = {item.source for item in load_intents(user_dir)[0]}
    todo = []
    for source in candidates:
        if str(source) in stuck:
            child_report.errors.append(f"{source}: not rotated while its interrupted rotation is unfinished")
        else:
            todo.append(source)
    rule_pass(child_env, rule, todo, child_state, child_report, None, *flags)
    return {"rotated": [asdict(item) for item in child_report.rotated],
            "compressed": [asdict(item) for item in child_report.compressed],
            "planned": child_report.planned, "pruned": child_report.pruned,
            "recovered": child_report.recovered, "errors": child_report.errors,
            "warnings": child_report.warnings,
            "state": {key: asdict(value) for key, value in child_state.logs.items()}}


def _merge(reply: JsonObject, candidates: list[Path], state: RotateState, report: RunReport,
           archive_dirs: set[Path] | None = None) -> None:
    """Check the whole reply, then add it to `state` and `report`. Raise RotationError if malformed.

    Root records what the reply says (state, journal, evidence, the prune counter), so every
    log named must be one the child was given (each rotated once), every archive path must be
    in `archive_dirs` (default: the logs' own directories), every number finite and not
    negative, every text at most MAX_TEXT characters.
    """
    allowed = {str(source) for source in candidates}
    places = {str(place) for place in (archive_dirs or set())} | {str(source.parent) for source in candidates}
    rotated = [_rotated(item, allowed, places) for item in _items(reply, "rotated", dict)]
    if len({item.source for item in rotated}) != len(rotated):
        raise RotationError("the su child's reply has a log rotated twice")
    compressed = [_rotated(item, None, places) for item in _items(reply, "compressed", dict)]
    planned = [_planned(item, places) for item in _items(reply, "planned", dict)
               if item.get("file") in allowed]
    texts = {key: _items(reply, key, str) for key in ("pruned", "recovered", "errors", "warnings")}
    for path in texts["pruned"]:
        _beside(path, places)
    if any(len(text) > MAX_TEXT for values in texts.values() for text in values):
        raise RotationError(f"the su child's reply has a text longer than {MAX_TEXT} characters")
    states = reply.get("state")
    if not isinstance(states, dict):
        raise RotationError("the su child's reply has no state")
    logs = {key: _log_state(value) for key, value in states.items() if key in allowed}
    report.rotated.extend(rotated)
    report.compressed.extend(compressed)
    report.planned.extend(planned)
    report.pruned.extend(texts["pruned"])
    report.recovered.extend(texts["recovered"])
    report.errors.extend(texts["errors"])
    report.warnings.extend(texts["warnings"])
    state.logs.update(logs)


def _items(reply: JsonObject, key: str, kind: type[T]) -> list[T]:
    items = reply.get(key)
    if not isinstance(items, list):
        raise RotationError(f"the su child's reply has a malformed {key!r}")
    kept = [item for item in items if isinstance(item, kind)]
    if len(kept) != len(items):
        raise RotationError(f"the su child's reply has a malformed {key!r}")
    return kept


def _beside(path: str, places: set[str]) -> str:
    """Return `path` if it names a file directly in one of `places`; raise RotationError if not."""
    if str(Path(path).parent) not in places or Path(path).name in ("", ".", ".."):
        raise RotationError(f"the su child's reply names {path[:300]!r}, not beside the rule's logs")
    return path


def _planned(item: JsonObject, places: set[str]) -> dict[str, str | int]:
    """Return the known fields of a dry run's planned rotation, checked. Raise RotationError if not."""
    texts: dict[str, str | int] = {key: _typed(item, key, str)[:MAX_TEXT]
                                   for key in ("file", "rule", "reason", "mode")}
    return {**texts, "archive": _beside(_typed(item, "archive", str), places), "bytes": _count(item, "bytes")}


def _rotated(item: JsonObject, allowed: set[str] | None, places: set[str]) -> Rotated:
    """Return the Rotated an item of the reply describes. Raise RotationError if it is not one."""
    done = Rotated(source=_typed(item, "source", str), archive=_beside(_typed(item, "archive", str), places),
                   bytes_in=_count(item, "bytes_in"), bytes_out=_count(item, "bytes_out"),
                   seconds=_number(item, "seconds"), window_seconds=_number(item, "window_seconds"),
                   caught_up_bytes=_count(item, "caught_up_bytes"),
                   warnings=[str(text)[:MAX_TEXT] for text in _items(item, "warnings", object)])
    if allowed is not None and done.source not in allowed:
        raise RotationError(f"the su child's reply names {done.source!r}, a log it was not given")
    if allowed is None:  # an older archive compressed: it lies beside the logs too
        _beside(done.source, places)
    return done


def _log_state(value: JsonValue) -> LogState:
    if not isinstance(value, dict):
        raise RotationError("the su child's reply has a malformed log state")
    return LogState(last_rotated=_number(value, "last_rotated"),
                    over_limit_runs=_count(value, "over_limit_runs"), last_size=_count(value, "last_size"))


def _count(item: JsonObject, key: str) -> int:
    value = _typed(item, key, int)
    if value < 0:
        raise RotationError(f"the su child's reply has a negative {key!r}")
    return value


def _number(item: JsonObject, key: str) -> float:
    found = item.get(key)
    if not isinstance(found, int | float) or isinstance(found, bool):
        raise RotationError(f"the su child's reply has a malformed {key!r}")
    value = float(found)
    if not math.isfinite(value) or value < 0:
        raise RotationError(f"the su child's reply has {key!r} = {value}, not a finite non-negative number")
    return value


def _typed(item: JsonObject, key: str, kind: type[T]) -> T:
    value = item.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise RotationError(f"the su child's reply has a malformed {key!r}")
    return value
