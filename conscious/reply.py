"""The `respond` tool the model must call, and the check of what it returned.

A reply is `{"decision": "propose" | "nothing", "summary", "project"?, "proposal"?,
"usage_evidence"?}`. The proposal's shape is checked by the rails' own parser
(`conscious.rails.proposal.parse_proposal`), so the conscious layer never writes a proposal the
apply service would reject for its form; on top of that every path must be one the model was
offered (or, for a create, match `allowed_paths`) and no path may be secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conscious.settings import ConsciousSettings
from conscious.tree_files import is_secret, matches

TOOL_NAME = "respond"
DECISIONS = ("propose", "nothing")


class ReplyError(ValueError):
    """A reply that cannot be used; the message says what is wrong with it."""


@dataclass(frozen=True)
class Reply:
    """A checked reply. `proposal` is the contract's JSON object (only for "propose")."""

    decision: str
    summary: str
    project: dict[str, Any] | None
    proposal: dict[str, Any] | None
    usage_evidence: dict[str, Any] | None


def respond_tool() -> dict[str, Any]:
    """Return the tool definition (its JSON Schema is what the model fills in)."""
    text = {"type": "string"}
    return {
        "name": TOOL_NAME,
        "description": "Report your decision for this cycle: at most one proposed change.",
        "input_schema": {
            "type": "object",
            "additionalProperties": False,
            "required": ["decision", "summary"],
            "properties": {
                "decision": {"type": "string", "enum": list(DECISIONS)},
                "summary": {"type": "string",
                            "description": "one or two sentences: what you saw, why you decided so"},
                "project": {
                    "type": "object",
                    "description": "the multi-cycle project this belongs to, if any",
                    "required": ["name", "status"],
                    "properties": {"name": text, "goal": text, "next_step": text,
                                   "status": {"type": "string",
                                              "enum": ["active", "done", "abandoned"]}},
                },
                "proposal": {
                    "type": "object",
                    "required": ["id", "title", "rationale"],
                    "properties": {
                        "id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"},
                        "title": text, "rationale": text,
                        "edits": {"type": "array", "items": {
                            "type": "object", "required": ["path", "old", "new"],
                            "properties": {"path": text, "old": text, "new": text}}},
                        "creates": {"type": "array", "items": {
                            "type": "object", "required": ["path", "content"],
                            "properties": {"path": text, "content": text}}},
                        "restart": {"type": "array", "items": text},
                    },
                },
                "usage_evidence": {
                    "type": "object",
                    "description": "the evidence record (and counter) that will show the change in use",
                    "required": ["evidence"],
                    "properties": {"evidence": text, "counter": text},
                },
            },
        },
    }


def check_reply(value: dict[str, Any] | None, settings: ConsciousSettings,
                offered: list[str]) -> Reply:
    """Return the checked reply. Raise ReplyError naming the problem."""
    if value is None:
        raise ReplyError(f"the model did not call the `{TOOL_NAME}` tool")
    decision = value.get("decision")
    if decision not in DECISIONS:
        raise ReplyError(f"decision: {decision!r} is not one of {list(DECISIONS)}")
    summary = value.get("summary")
    if not isinstance(summary, str):
        raise ReplyError("summary: must be a string")
    project = value.get("project")
    if project is not None and not (isinstance(project, dict) and isinstance(project.get("name"), str)):
        raise ReplyError("project: must be an object with a name")
    if decision == "nothing":
        return Reply("nothing", summary, project, None, None)
    raw = value.get("proposal")
    if raw is None:
        raise ReplyError("decision is 'propose' but there is no proposal")
    proposal = _parse(raw)
    for path in [edit["path"] for edit in proposal.get("edits", [])]:
        if path not in offered:
            raise ReplyError(f"proposal.edits: {path!r} is not one of the files offered")
    for path in [create["path"] for create in proposal.get("creates", [])]:
        if path not in offered and not matches(path, settings.allowed_paths):
            raise ReplyError(f"proposal.creates: {path!r} does not match conscious.allowed_paths")
    for path in [*map(lambda e: e["path"], proposal.get("edits", [])),
                 *map(lambda c: c["path"], proposal.get("creates", []))]:
        if is_secret(path, settings):
            raise ReplyError(f"proposal: {path!r} is a secret path")
    evidence = value.get("usage_evidence")
    if not (isinstance(evidence, dict) and isinstance(evidence.get("evidence"), str)
            and evidence["evidence"].strip()):
        raise ReplyError("usage_evidence: a proposal must name the evidence that will show it in use")
    return Reply("propose", summary, project, proposal, evidence)


def _parse(raw: Any) -> dict[str, Any]:
    """Check the proposal's shape with the rails' parser; return its canonical JSON."""
    from conscious.rails.proposal import ProposalError, parse_proposal

    try:
        return parse_proposal(raw, "model reply").to_json()
    except ProposalError as error:
        raise ReplyError(f"proposal: {error}") from error
