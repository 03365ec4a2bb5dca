"""The proposal: the contract between the conscious layer (which writes it) and the rails.

A proposal is one JSON object:

    {"id": "fix-disk-threshold", "title": "...", "rationale": "...",
     "edits":   [{"path": "unconscious/health/checks/disk.py", "old": "...", "new": "..."}],
     "creates": [{"path": "config/examples/x.yaml", "content": "..."}],
     "restart": ["hostmind-health.service"]}

`parse_proposal` checks its *shape* only (keys, types, id and unit name syntax) and names the
offending key in its error. Whether the paths are safe, allowed and unprotected, and whether each
`old` occurs exactly once, is the validate rail's job (`conscious.rails.validate`), because that
needs the live tree and the config.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from conscious.rails.path_rules import path_problem

#: An id becomes part of a directory name under the history, so it is kept to safe characters.
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")

#: Only hostmind's own services may be named for restart.
UNIT_NAME_PATTERN = re.compile(r"^hostmind[A-Za-z0-9_.@-]*\.service$")

_TOP_KEYS = ("id", "title", "rationale", "edits", "creates", "restart")
_REQUIRED_KEYS = ("id", "title", "rationale")
_EDIT_KEYS = ("path", "old", "new")
_CREATE_KEYS = ("path", "content")

#: A proposal file larger than this is refused before it is parsed (the file cap per edit is
#: `apply.max_bytes`, checked by the validate rail): five files of 256 KB, old and new text,
#: JSON-escaped, fit.
MAX_PROPOSAL_FILE_BYTES = 4 * 1024 * 1024
#: The deepest nesting of JSON lists and objects accepted; a proposal needs 3 (object > list >
#: object). Checked on the text before `json.loads`, so deep nesting is a refusal, not a
#: RecursionError.
MAX_JSON_DEPTH = 8
#: The most edits plus creates one proposal may hold, checked before any of them is looked at
#: (apply.max_files caps the distinct files later; this caps the work validate does).
MAX_EDITS = 50


class EditJSON(TypedDict):
    """An edit as the contract's JSON object."""

    path: str
    old: str
    new: str


class CreateJSON(TypedDict):
    """A create as the contract's JSON object."""

    path: str
    content: str


class ProposalJSON(TypedDict):
    """A proposal as the contract's JSON object (what `Proposal.to_json` returns)."""

    id: str
    title: str
    rationale: str
    edits: list[EditJSON]
    creates: list[CreateJSON]
    restart: list[str]


class ProposalError(ValueError):
    """A proposal that does not have the contract's shape; the message names origin and key."""

    def __init__(self, origin: str, key: str, reason: str) -> None:
        self.origin = origin
        self.key = key
        self.reason = reason
        where = f"{origin}: {key}: " if key else f"{origin}: "
        super().__init__(where + reason)


@dataclass(frozen=True)
class Edit:
    """Replace the one occurrence of `old` in the file at `path` by `new`."""

    path: str
    old: str
    new: str


@dataclass(frozen=True)
class Create:
    """Create (or overwrite, if it is a create of an existing file) `path` with `content`."""

    path: str
    content: str


@dataclass(frozen=True)
class Proposal:
    """One change to the live tree, as the conscious layer proposed it."""

    id: str
    title: str
    rationale: str
    edits: tuple[Edit, ...] = ()
    creates: tuple[Create, ...] = ()
    restart: tuple[str, ...] = ()

    @property
    def paths(self) -> list[str]:
        """Every path the proposal touches, in order, without duplicates."""
        seen: dict[str, None] = {}
        for path in [edit.path for edit in self.edits] + [c.path for c in self.creates]:
            seen.setdefault(path, None)
        return list(seen)

    def to_json(self) -> ProposalJSON:
        """Return the proposal as the JSON object of the contract."""
        return {
            "id": self.id,
            "title": self.title,
            "rationale": self.rationale,
            "edits": [{"path": e.path, "old": e.old, "new": e.new} for e in self.edits],
            "creates": [{"path": c.path, "content": c.content} for c in self.creates],
            "restart": list(self.restart),
        }


def parse_proposal(value: object, origin: str) -> Proposal:
    """Build a Proposal from parsed JSON `value`; `origin` names where it came from.

    Raise ProposalError naming the key (e.g. `edits[1].old`) and the reason when a key is
    missing, unknown, of the wrong type, or when the id or a unit name has a bad form.
    """
    if not isinstance(value, dict):
        raise ProposalError(origin, "", f"a proposal must be a JSON object, not {_kind(value)}")
    _no_unknown_keys(value, _TOP_KEYS, origin, "")
    _not_too_many(value, origin)
    for key in _REQUIRED_KEYS:
        if key not in value:
            raise ProposalError(origin, key, "is required")
    identifier = _string(value["id"], origin, "id")
    if not ID_PATTERN.match(identifier):
        raise ProposalError(
            origin, "id", f"{identifier!r} must be 1-80 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    title = _string(value["title"], origin, "title")
    if not title.strip():
        raise ProposalError(origin, "title", "must not be empty")
    rationale = _string(value["rationale"], origin, "rationale")
    edits = tuple(
        Edit(
            path=_path(item.get("path"), origin, f"{key}.path"),
            old=_string(item.get("old"), origin, f"{key}.old"),
            new=_string(item.get("new"), origin, f"{key}.new"),
        )
        for key, item in _objects(value.get("edits", []), origin, "edits", _EDIT_KEYS)
    )
    for index, edit in enumerate(edits):
        if edit.old == "":
            raise ProposalError(origin, f"edits[{index}].old", "must not be empty (use creates)")
        if edit.old == edit.new:
            raise ProposalError(origin, f"edits[{index}].new", "is the same as old: no change")
    creates = tuple(
        Create(
            path=_path(item.get("path"), origin, f"{key}.path"),
            content=_string(item.get("content"), origin, f"{key}.content"),
        )
        for key, item in _objects(value.get("creates", []), origin, "creates", _CREATE_KEYS)
    )
    if not edits and not creates:
        raise ProposalError(origin, "edits", "a proposal must contain at least one edit or create")
    restart = tuple(_unit_names(value.get("restart", []), origin))
    return Proposal(identifier, title, rationale, edits, creates, restart)


def load_proposal(path: Path) -> Proposal:
    """Read and parse the proposal file at `path`. Raise ProposalError (also for I/O errors)."""
    origin = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_PROPOSAL_FILE_BYTES:
            raise ProposalError(
                origin, "", f"file is {size} bytes, more than {MAX_PROPOSAL_FILE_BYTES}"
            )
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise ProposalError(origin, "", f"cannot read: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise ProposalError(origin, "", f"not UTF-8 text: {error.reason}") from error
    return parse_proposal(parse_json(text, origin), origin)


def parse_json(text: str, origin: str) -> object:
    """Parse proposal JSON text after checking its nesting depth. Raise ProposalError."""
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ProposalError(origin, "", f"JSON nested {depth} deep, more than {MAX_JSON_DEPTH}: "
                                        "not a proposal")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ProposalError(
            f"{origin}:{error.lineno}", "", f"not valid JSON: {error.msg} (column {error.colno})"
        ) from error
    except (ValueError, RecursionError) as error:
        # e.g. an integer of more than 4300 digits (sys.get_int_max_str_digits).
        raise ProposalError(origin, "", f"not acceptable JSON: {error}") from error


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def json_depth(text: str) -> int:
    """Return the deepest nesting of lists/objects in JSON `text` (strings ignored), in one
    pass without recursion; malformed text gives some number and json.loads reports it."""
    deepest = depth = 0
    for match in _BRACKETS.finditer(_JSON_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _not_too_many(value: dict[str, object], origin: str) -> None:
    count = 0
    for key in ("edits", "creates"):
        items = value.get(key, [])
        count += len(items) if isinstance(items, list) else 0
    if count > MAX_EDITS:
        raise ProposalError(origin, "edits", f"{count} edits and creates, more than {MAX_EDITS} "
                                             "in one proposal")


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _no_unknown_keys(value: dict[str, object], allowed: tuple[str, ...], origin: str,
                     prefix: str) -> None:
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        key = f"{prefix}.{unknown[0]}" if prefix else str(unknown[0])
        raise ProposalError(origin, key, f"unknown key (allowed: {', '.join(allowed)})")


def _string(value: object, origin: str, key: str) -> str:
    if value is None:
        raise ProposalError(origin, key, "is required")
    if not isinstance(value, str):
        raise ProposalError(origin, key, f"must be a string, not {_kind(value)}")
    return value


def _path(value: object, origin: str, key: str) -> str:
    text = _string(value, origin, key)
    if not text.strip():
        raise ProposalError(origin, key, "must not be empty")
    problem = path_problem(text)
    if problem is not None:
        raise ProposalError(origin, key, f"{text!r} {problem}")
    return text


def _objects(value: object, origin: str, key: str,
             allowed: tuple[str, ...]) -> list[tuple[str, dict[str, object]]]:
    if not isinstance(value, list):
        raise ProposalError(origin, key, f"must be a list, not {_kind(value)}")
    found: list[tuple[str, dict[str, object]]] = []
    for index, item in enumerate(value):
        item_key = f"{key}[{index}]"
        if not isinstance(item, dict):
            raise ProposalError(origin, item_key, f"must be an object, not {_kind(item)}")
        _no_unknown_keys(item, allowed, origin, item_key)
        found.append((item_key, item))
    return found


def _unit_names(value: object, origin: str) -> list[str]:
    if not isinstance(value, list):
        raise ProposalError(origin, "restart", f"must be a list, not {_kind(value)}")
    names: list[str] = []
    for index, item in enumerate(value):
        name = _string(item, origin, f"restart[{index}]")
        if not UNIT_NAME_PATTERN.match(name):
            raise ProposalError(
                origin, f"restart[{index}]",
                f"{name!r} is not a hostmind service (hostmind*.service)"
            )
        if name not in names:
            names.append(name)
    return names
