"""The `respond` tool the model must call, and the check of what it returned.

A reply is `{"decision": "propose" | "nothing", "summary", "project"?, "proposal"?,
"usage_evidence"?}`. The proposal's shape is checked by the rails' own parser
(`conscious.rails.proposal.parse_proposal`), so the conscious layer never writes a proposal the
apply service would reject for its form; on top of that every path must be one the model was
offered (or, for a create, match `allowed_paths`) and no path may be secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from conscious.settings import ConsciousSettings
from conscious.tree_files import is_secret
from unconscious.globs import first_match

if TYPE_CHECKING:
    from anthropic.types import ToolParam

    from conscious.rails.proposal import ProposalJSON
    from conscious.rails.settings import RailSettings
    from unconscious.json_types import JsonObject

TOOL_NAME = "respond"
DECISIONS = ("propose", "nothing")


class ReplyError(ValueError):
    """A reply that cannot be used; the message says what is wrong with it."""


@dataclass(frozen=True)
class Reply:
    """A checked reply. `proposal` is the contract's JSON object (only for "propose")."""

    decision: str
    summary: str
    project: JsonObject | None
    proposal: ProposalJSON | None
    usage_evidence: JsonObject | None


def respond_tool() -> ToolParam:
    """Return the tool definition (its JSON Schema is what the model fills in).

    The properties are ordered as the model should think: evidence, reasoning, then the
    decision, then the change. Every field says what it is for and what the rails do with it.
    """
    text: JsonObject = {"type": "string"}
    return {
        "name": TOOL_NAME,
        "description": ("Report this cycle's answer: what the evidence shows, your reasoning, "
                        "and your decision (at most one proposed change). Call this exactly "
                        "once; it is the only way to answer."),
        "input_schema": {
            "type": "object",
            "additionalProperties": False,
            "required": ["evidence", "reasoning", "decision", "summary"],
            "properties": {
                "evidence": {"type": "array", "items": text,
                             "description": "the facts from the data blocks your decision rests "
                                            "on, each naming its source (e.g. 'checks.json: disk "
                                            "/var 97% >= 90%')"},
                "reasoning": {"type": "string",
                              "description": "why these facts call for this decision; for a "
                                             "proposal, why this change fixes the cause and what "
                                             "could go wrong"},
                "decision": {"type": "string", "enum": list(DECISIONS),
                             "description": "'propose' with a proposal, or 'nothing' (a good "
                                            "outcome when nothing needs doing)"},
                "summary": {"type": "string",
                            "description": "one or two sentences for the operator's audit log"},
                "project": {
                    "type": "object",
                    "description": "the multi-cycle project this belongs to, if any",
                    "required": ["name", "status"],
                    "properties": {"name": text, "goal": text, "next_step": text,
                                   "status": {"type": "string",
                                              "enum": ["active", "done", "abandoned"]}},
                },
                "proposal": _proposal_schema(),
                "usage_evidence": {
                    "type": "object",
                    "description": "the evidence record (and counter) that will show the "
                                   "change in use; required with a proposal",
                    "required": ["evidence"],
                    "properties": {"evidence": text, "counter": text},
                },
            },
        },
    }


def _proposal_schema() -> JsonObject:
    text: JsonObject = {"type": "string"}
    return {
        "type": "object",
        "description": "the one change (only with decision 'propose'); paths are relative to "
                       "the live tree and must be offered under 'Files you may change' (edits) "
                       "or match a create glob (creates)",
        "required": ["id", "title", "rationale"],
        "properties": {
            "id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$",
                   "description": "short unique name, e.g. rotate-app-log"},
            "title": {"type": "string", "description": "one line: what changes"},
            "rationale": {"type": "string", "description": "why, for the change history"},
            "edits": {"type": "array", "description": "changes to existing files", "items": {
                "type": "object", "required": ["path", "old", "new"],
                "properties": {
                    "path": {"type": "string", "description": "an offered file"},
                    "old": {"type": "string",
                            "description": "exact text of the current file; must occur exactly "
                                           "once (copy it from the file shown, whitespace "
                                           "included)"},
                    "new": {"type": "string", "description": "the text that replaces `old`"}}}},
            "creates": {"type": "array", "description": "new files (must not exist yet)",
                        "items": {"type": "object", "required": ["path", "content"],
                                  "properties": {
                                      "path": {"type": "string",
                                               "description": "matches a create glob"},
                                      "content": {"type": "string",
                                                  "description": "the whole file, UTF-8 text"}}}},
            "restart": {"type": "array", "items": text,
                        "description": "hostmind-*.service units to restart so the change takes "
                                       "effect (the rails watch them under a health gate); "
                                       "config read at each run needs none"},
        },
    }


class RailsRefused(ReplyError):
    """The rails' validate refused the proposal; `suspected_injection` when it reached for the
    rails themselves (protected paths, operator-only settings)."""

    def __init__(self, message: str, suspected_injection: bool) -> None:
        super().__init__(message)
        self.suspected_injection = suspected_injection


#: Words of a validate refusal that mean the proposal reached for what the model is never
#: offered: the rails' protected paths or the operator's settings.
_INJECTION_MARKERS = ("protected (", "operator-only", "rails' own units", "secret path")


def check_reply(value: JsonObject | None, settings: ConsciousSettings,
                offered: list[str], rails: RailSettings | None = None) -> Reply:
    """Return the checked reply. Raise ReplyError naming the problem.

    `rails` (a RailSettings) makes the proposal pass the rails' own validate before it may be
    spooled: size and file-count limits, protected paths, allowed paths, operator-only keys and
    edits whose `old` does not occur exactly once are refused here, costing no change.
    """
    if value is None:
        raise ReplyError(f"the model did not call the `{TOOL_NAME}` tool")
    decision = value.get("decision")
    if decision not in DECISIONS:
        raise ReplyError(f"decision: {decision!r} is not one of {list(DECISIONS)}")
    summary = value.get("summary")
    if not isinstance(summary, str):
        raise ReplyError("summary: must be a string")
    raw_project = value.get("project")
    project = raw_project if isinstance(raw_project, dict) else None
    if raw_project is not None and not (project is not None
                                        and isinstance(project.get("name"), str)):
        raise ReplyError("project: must be an object with a name")
    if decision == "nothing":
        return Reply("nothing", summary, project, None, None)
    raw = value.get("proposal")
    if raw is None:
        raise ReplyError("decision is 'propose' but there is no proposal")
    proposal = _parse(raw)
    raw_evidence = value.get("usage_evidence")
    evidence = raw_evidence if isinstance(raw_evidence, dict) else None
    named = evidence.get("evidence") if evidence is not None else None
    if evidence is None or not (isinstance(named, str) and named.strip()):
        raise ReplyError("usage_evidence: a proposal must name the evidence that will show it in use")
    paths = [item["path"] for item in proposal["edits"]] + [
        item["path"] for item in proposal["creates"]]
    for path in paths:
        if is_secret(path, settings):
            raise RailsRefused(f"proposal: {path!r} is a secret path", True)
    if rails is not None:
        _validate_with_rails(proposal, rails)
    for path in [edit["path"] for edit in proposal["edits"]]:
        if path not in offered:
            raise ReplyError(f"proposal.edits: {path!r} is not one of the files offered")
    for path in [create["path"] for create in proposal["creates"]]:
        if path not in offered and first_match(path, settings.allowed_paths) is None:
            raise ReplyError(f"proposal.creates: {path!r} does not match conscious.allowed_paths")
    return Reply("propose", summary, project, proposal, evidence)


def _parse(raw: object) -> ProposalJSON:
    """Check the proposal's shape with the rails' parser; return its canonical JSON."""
    from conscious.rails.proposal import ProposalError, parse_proposal

    try:
        return parse_proposal(raw, "model reply").to_json()
    except ProposalError as error:
        raise ReplyError(f"proposal: {error}") from error


def _validate_with_rails(proposal: ProposalJSON, rails: RailSettings) -> None:
    """Run the rails' validate on the proposal. Raise RailsRefused with its reason."""
    from conscious.rails.change import Refused
    from conscious.rails.proposal import parse_proposal
    from conscious.rails.validate import validate

    try:
        validate(parse_proposal(proposal, "model reply"), rails)
    except Refused as refused:
        suspected = any(marker in refused.reason for marker in _INJECTION_MARKERS)
        raise RailsRefused(f"the rails would refuse it: {refused}", suspected) from refused
