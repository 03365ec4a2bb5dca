"""Turn the gathered context into one Messages API request, bounded and redacted.

Layout, for prompt caching: the tool definition and the system blocks (instructions, then the
allowed files with their contents) form the stable prefix, marked `cache_control` on its last
block; the user message holds what changes every cycle (events, evidence, journal, history).

The request is bounded by `max_context_tokens` using the same local upper bound as the budget
(bytes / 2): file contents are dropped first (largest first), then the oldest journal entries,
then old history, then events beyond the newest 50. The redactor then runs over every string.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from conscious.context_builder import ContextParts
from conscious.model import BYTES_PER_TOKEN_UPPER_BOUND, ModelRequest
from conscious.redact import Redactor
from conscious.reply import TOOL_NAME, respond_tool
from conscious.settings import ConsciousSettings

INSTRUCTIONS = """\
You are the conscious layer of hostmind, a host agent on a Linux server. The unconscious layer \
(health checks, log rotation, backups) keeps running without you; your job is to improve \
hostmind's own code and configuration, one small, safe change at a time.

Rules:
- Answer only by calling the `respond` tool, exactly once.
- Propose at most ONE change, or decide "nothing" (a good outcome when nothing needs doing).
- You may only edit or create files listed under "Files you may change". An edit's `old` must \
occur exactly once in the current file. Keep changes small; they pass a parse check, the test \
ratchet, a snapshot, a health gate and automatic rollback before they count.
- Never repeat a change that was rolled back or refused unless you address the recorded reason.
- Before building anything new, finish or put to use the changes listed under "Changes that \
show no use".
- Name in `usage_evidence` the evidence record (and counter) that will show your change in use.
- Keep or advance a multi-cycle project in `project` when the work spans several cycles.
- Text marked [REDACTED] was a secret; never try to recover or reproduce it.
- Nothing you write is executed by itself: a proposal is checked by the rails first.
"""


def _files_block(parts: ContextParts) -> str:
    lines = ["Files you may change (paths relative to the live tree):"]
    lines += [f"- {path}" for path in parts.files.allowed]
    for path, reason in sorted(parts.files.skipped.items()):
        lines.append(f"- (not shown: {path}: {reason})")
    for path, text in parts.files.contents.items():
        lines.append(f"\n=== {path} ===\n{text}")
    return "\n".join(lines)


def _dynamic_block(parts: ContextParts) -> str:
    sections: dict[str, Any] = {
        "Goals set by the operator": parts.goals or ["(none: keep hostmind healthy)"],
        "Active project": parts.project,
        "Budget today": parts.budget,
        "Events (the reason you were woken)": parts.events or "(none: a timer wake)",
        "Evidence of the unconscious layer's operations": parts.evidence,
        "Journal excerpt (newest last)": parts.journal.to_json(),
        "Recent changes and their outcomes": parts.history or parts.history_note,
        "Changes that show no use": parts.unused or "(none)",
    }
    return "\n\n".join(f"## {title}\n{json.dumps(value, indent=1, ensure_ascii=False, default=str)}"
                       for title, value in sections.items())


def assemble(parts: ContextParts, settings: ConsciousSettings, cache: bool) -> ModelRequest:
    """Return the unredacted request for `parts` (no bounding); `cache` marks the stable part."""
    files_block: dict[str, Any] = {"type": "text", "text": _files_block(parts)}
    if cache:
        files_block["cache_control"] = {"type": "ephemeral"}
    return ModelRequest(
        system=[{"type": "text", "text": INSTRUCTIONS}, files_block],
        messages=[{"role": "user", "content": [{"type": "text", "text": _dynamic_block(parts)}]}],
        tools=[respond_tool()],
        tool_name=TOOL_NAME,
    )


def _size(request: ModelRequest, settings: ConsciousSettings) -> int:
    encoded = json.dumps(request.body(settings), ensure_ascii=False).encode("utf-8")
    return len(encoded) // BYTES_PER_TOKEN_UPPER_BOUND + 1


def bound(parts: ContextParts, settings: ConsciousSettings,
          cache: bool = False) -> tuple[ModelRequest, list[str]]:
    """Return a request within max_context_tokens and the list of what was cut to get there."""
    cuts: list[str] = []
    limit = settings.max_context_tokens
    request = assemble(parts, settings, cache)
    while _size(request, settings) > limit:
        files = parts.files
        if files.contents:
            largest = max(files.contents, key=lambda path: len(files.contents[path]))
            del files.contents[largest]
            files.skipped[largest] = "content left out to fit the context limit"
            cuts.append(f"file {largest}")
        elif parts.journal.entries:
            dropped = max(1, len(parts.journal.entries) // 4)
            parts.journal = replace(parts.journal, entries=parts.journal.entries[dropped:],
                                    truncated=True)
            cuts.append(f"{dropped} journal entries")
        elif len(parts.history) > 3:
            parts.history = parts.history[-3:]
            cuts.append("older history")
        elif len(parts.events) > 50:
            cuts.append(f"{len(parts.events) - 50} older events")
            parts.events = parts.events[-50:]
        elif len(files.allowed) > 50:
            cuts.append(f"{len(files.allowed) - 50} file names")
            files.allowed = files.allowed[:50]
        else:
            cuts.append("nothing left to cut: the request is over the limit")
            break
        request = assemble(parts, settings, cache)
    return request, cuts


def redact_request(request: ModelRequest, redactor: Redactor) -> ModelRequest:
    """Return `request` with every string of the system blocks and messages redacted."""
    return ModelRequest(system=redactor.value(request.system),
                        messages=redactor.value(request.messages),
                        tools=request.tools, tool_name=request.tool_name)


def should_cache(settings: ConsciousSettings, seconds_since_last_call: float | None) -> bool:
    """Return whether to mark the stable prefix cacheable (see api.prompt_caching)."""
    if settings.api.prompt_caching == "always":
        return True
    if settings.api.prompt_caching == "never":
        return False
    return seconds_since_last_call is not None and seconds_since_last_call <= settings.api.cache_window


def build_request(parts: ContextParts, settings: ConsciousSettings, redactor: Redactor,
                  cache: bool = False) -> tuple[ModelRequest, list[str]]:
    """Return the bounded, redacted request and what was cut."""
    request, cuts = bound(parts, settings, cache)
    return redact_request(request, redactor), cuts
