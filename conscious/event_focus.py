"""What the events of a cycle implicate: the checks, their code, their config, logs, changes.

Given the events and the loaded config, `focus_of` names the check kinds' modules, the config
key paths in play (with the file:line that set each value and the schema of those keys), the
last checks.json entries of those checks, and for disk and log events the rotation rules and
the sizes of the files they cover. Everything is bounded: at most `MAX_FILES_SIZED` files are
stat'ed, at most `MAX_KEYS` key paths are shown.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict, TypeVar

from unconscious.config import LoadedConfig
from unconscious.events import Event
from unconscious.globs import GlobError, expand
from unconscious.paths import Paths

MAX_FILES_SIZED = 200
#: At most this many paths are taken from the rules' globs (and stat'ed) to find the largest.
MAX_FILES_SCANNED = 5000
MAX_KEYS = 40
#: Keys every check has, besides those its kind takes.
COMMON_CHECK_KEYS = ("kind", "enabled", "interval", "timeout", "severity")
#: Check kinds whose failure is usually about space a log takes.
SPACE_KINDS = ("disk", "inodes")


@dataclass
class Focus:
    """What the events point at."""

    checks: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    key_paths: list[tuple[str, ...]] = field(default_factory=list)
    log_files: list[str] = field(default_factory=list)
    rotation: bool = False
    change_keys: list[str] = field(default_factory=list)


def kind_module(kind: str) -> str | None:
    """Return the live-tree path of the module implementing check `kind`, or None."""
    from unconscious.health.kinds import KINDS

    spec = KINDS.get(kind)
    if spec is None:
        return None
    return f"unconscious/health/kinds/{spec.target.partition(':')[0]}.py"


_Item = TypeVar("_Item")


def _add(items: list[_Item], value: _Item) -> None:
    if value not in items:
        items.append(value)


def _mapping(value: object) -> Mapping[str, object]:
    """Return `value` when it is a JSON object, else an empty one (a missing section)."""
    return value if isinstance(value, dict) else {}


def focus_of(events: list[Event], config: Mapping[str, object]) -> Focus:
    """Return what `events` implicate in the merged `config` value."""
    focus = Focus()
    checks = _mapping(_mapping(config.get("health")).get("checks"))
    for event in events:
        data = _mapping(event.data)
        check, kind = data.get("check"), data.get("kind")
        if event.source == "health" and isinstance(check, str):
            _add(focus.checks, check)
            if not isinstance(kind, str):
                kind = _mapping(checks.get(check)).get("kind")
            _add(focus.key_paths, ("health", "checks", check))
        if isinstance(kind, str):
            _add(focus.kinds, kind)
            module = kind_module(kind)
            if module:
                _add(focus.modules, module)
            focus.rotation = focus.rotation or kind in SPACE_KINDS
        rule, file, key = data.get("rule"), data.get("file"), data.get("key")
        if event.source == "rotate" or isinstance(rule, str):
            focus.rotation = True
            if isinstance(rule, str):
                _add(focus.key_paths, ("rotate", "rules", rule))
        if isinstance(file, str):
            _add(focus.log_files, file)
        if event.source == "rails" and isinstance(key, str):
            _add(focus.change_keys, key)
        if event.source == "backup":
            _add(focus.key_paths, ("backup",))
    if focus.rotation:
        _add(focus.key_paths, ("rotate", "rules"))
    focus.key_paths = focus.key_paths[:MAX_KEYS]
    return focus


def _value_at(value: object, path: tuple[str, ...]) -> object:
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _leaves(value: object, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], object]]:
    if isinstance(value, dict) and value:
        found: list[tuple[tuple[str, ...], object]] = []
        for key, item in value.items():
            found.extend(_leaves(item, (*path, str(key))))
        return found
    return [(path, value)]


class ShownValue(TypedDict):
    """A config leaf as the prompt shows it: its value and the file:line that set it."""

    value: object
    set_by: str


def config_with_origins(loaded: LoadedConfig, focus: Focus,
                        tree: Path) -> dict[str, ShownValue]:
    """Return "a.b.c" -> {"value", "set_by": "file:line"} for every leaf under the key paths.

    A file inside the live tree is named relative to it (that is the path a proposal edits).
    """
    shown: dict[str, ShownValue] = {}
    for key_path in focus.key_paths:
        for leaf, value in _leaves(_value_at(loaded.value, key_path), key_path)[:MAX_KEYS]:
            file, line = loaded.origin(leaf)
            try:
                file = Path(file).resolve().relative_to(tree.resolve()).as_posix()
            except ValueError:
                pass
            shown[".".join(leaf)] = {"value": value,
                                     "set_by": f"{file}:{line}" if line else file}
    return shown


def schema_excerpt(focus: Focus, model_writable: bool = True) -> dict[str, dict[str, object]]:
    """Return "a.b" -> {description, type, default, enum, who may set it} for the key paths.

    For a check only the keys its kind takes are shown. `x-writer: model` in the schema marks
    the keys a proposal may set; every other key is the operator's.
    """
    from unconscious.config.schema import load_schema, mapping, schema_at
    from unconscious.health.kinds import KINDS

    schema = load_schema()
    excerpt: dict[str, dict[str, object]] = {}
    for key_path in focus.key_paths:
        node = schema_at(schema, key_path)
        if node is None:
            continue
        properties = mapping(node.get("properties"))
        wanted: tuple[str, ...] = tuple(properties)
        if key_path[:2] == ("health", "checks"):
            kinds = [KINDS[kind] for kind in focus.kinds if kind in KINDS]
            wanted = COMMON_CHECK_KEYS + tuple(key for spec in kinds
                                               for key in (*spec.required, *spec.optional))
        for name in wanted:
            if name in properties:
                excerpt[".".join((*key_path, name))] = _describe(schema, properties[name])
        if not properties:
            excerpt[".".join(key_path)] = _describe(schema, node)
    return excerpt


def _describe(schema: dict[str, object], node: object) -> dict[str, object]:
    """Return the description, who may set it, and type/enum/default of a schema `node`."""
    from unconscious.config.schema import resolve

    resolved = resolve(schema, node) or {}
    described: dict[str, object] = {
        "description": resolved.get("description", ""),
        "who_may_set": ("model (x-writer: model)" if resolved.get("x-writer") == "model"
                        else "operator only: never propose a change to it")}
    for key in ("type", "enum", "default"):
        if key in resolved:
            described[key] = resolved[key]
    return described


def _strings(value: object) -> list[str]:
    """Return the strings of a JSON list (a rule's `paths`), else none."""
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def checks_state(paths: Paths, focus: Focus) -> dict[str, object]:
    """Return the last checks.json: implicated checks in full, the others as name: state."""
    from unconscious.health.report import STATE_NAME

    path = paths.state_dir / "health" / STATE_NAME
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return {"error": f"{path}: {getattr(error, 'strerror', None) or error}"}
    checks = document.get("checks") if isinstance(document, dict) else None
    if not isinstance(checks, (dict, list)):
        return {"file": str(path), "raw_keys": sorted(document) if isinstance(document, dict) else []}
    entries = checks.items() if isinstance(checks, dict) else (
        (str(item.get("name")), item) for item in checks if isinstance(item, dict))
    implicated: dict[str, object] = {}
    others: dict[str, object] = {}
    for name, entry in entries:
        if name in focus.checks:
            implicated[name] = entry
        else:
            others[name] = entry.get("state") if isinstance(entry, dict) else entry
    return {"file": str(path), "implicated": implicated, "other_checks_state": others}


def _expanded(patterns: list[str]) -> tuple[list[str], bool]:
    """Return (the paths the rules' globs match, whether MAX_FILES_SCANNED cut the walk short).

    Uses unconscious.globs; a pattern the dialect refuses is skipped (`hostmind config
    validate` reports it). The walk stops at the cap: a directory a local user filled with a
    million matching names costs the cap, not a million.
    """
    found: list[str] = []
    for pattern in patterns:
        left = MAX_FILES_SCANNED - len(found)
        if left <= 0:
            return found, True
        try:
            found.extend(expand(pattern, limit=left))
        except GlobError:
            continue
    return found, len(found) >= MAX_FILES_SCANNED


def rotation_state(config: Mapping[str, object], focus: Focus) -> dict[str, object]:
    """Return the rotation rules and the sizes of the largest files they (and the events) name:
    at most MAX_FILES_SIZED, the largest of at most MAX_FILES_SCANNED (a note says when more
    matched)."""
    rules = _mapping(_mapping(config.get("rotate")).get("rules"))
    sizes: dict[str, int] = {}
    patterns = [pattern for rule in rules.values() for pattern in _strings(_mapping(rule).get("paths"))]
    matched, cut_short = _expanded(patterns)
    # An event's file is a name the host wrote, not a pattern: `/var/log/*` there is one odd file.
    for name in [*matched, *focus.log_files[:MAX_FILES_SIZED]]:
        try:
            sizes[name] = os.stat(name).st_size
        except (OSError, ValueError):
            continue
    largest = sorted(sizes.items(), key=lambda item: (-item[1], item[0]))[:MAX_FILES_SIZED]
    state: dict[str, object] = {"rules": rules or "(no rotation rules configured)",
                                "file_sizes_bytes": dict(largest),
                                "files_named_by_events": focus.log_files}
    if cut_short:
        state["file_sizes_note"] = (f"more than {MAX_FILES_SCANNED} files match the rules: the largest "
                                    f"of the first {MAX_FILES_SCANNED} found are shown")
    return state
