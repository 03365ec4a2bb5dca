"""What each Claude model accepts, as documented: one table, each fact with its source.

The request builder (`conscious.model`) reads this table and nothing else to decide how to ask
for thinking, effort and the tool; `hostmind think --check` prints the facts it used. A model
not in the table gets the request every current model accepts: no forced tool choice, no
thinking or effort parameter (the model's own default), `max_tokens` as configured.

The fake Messages API (tests/fakes/messages_api.py) keeps its own copy of these rules, written
from the same pages, so a wrong fact here is caught by the fake instead of agreeing with it.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The pages the facts come from (looked up 2026-11-30).
SONNET_55_PAGE = ("What's new in Claude Sonnet 5.5",
                  "https://platform.claude.com/docs/en/models/sonnet-5-5/whats-new-sonnet-5-5")
SONNET_55_MODEL_PAGE = ("Claude Sonnet 5.5 (model page, comparison table)",
                        "https://platform.claude.com/docs/en/models/sonnet-5-5/overview")
OVERVIEW_PAGE = ("Models overview", "https://platform.claude.com/docs/models/overview")
EFFORT_PAGE = ("Effort (supportedModels)",
               "https://platform.claude.com/docs/en/build-with-claude/effort")
STOP_REASONS_PAGE = ("Stop reasons and fallback",
                     "https://platform.claude.com/docs/en/build-with-claude/handling-stop-reasons")
VERCEL_NOTE = ("@ai-sdk/anthropic 4.0.94 release notes (models that reject forced tool use: "
               "Sonnet 5.5, Opus 5.5, Fable 5.1)",
               "https://github.com/vercel/ai/releases/tag/@ai-sdk%2Fanthropic@4.0.94")

EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")


@dataclass(frozen=True)
class ModelFacts:
    """The request-shaping facts of one model and where each was read.

    `thinking`: "adaptive" (thinking: {type: adaptive} + output_config.effort), "extended"
    (thinking: {type: enabled, budget_tokens}) or None (unknown: send neither).
    `forced_tool_choice`: whether tool_choice {type: tool|any} is accepted.
    `thinking_always_on`: thinking cannot be turned off (its tokens always share max_tokens).
    """

    model: str
    max_output_tokens: int | None
    context_window: int | None
    thinking: str | None
    effort: bool
    default_effort: str | None
    forced_tool_choice: bool
    thinking_always_on: bool
    sources: tuple[tuple[str, str], ...]


KNOWN: dict[str, ModelFacts] = {facts.model: facts for facts in (
    ModelFacts("claude-sonnet-5-5", 128_000, 1_000_000, "adaptive", True, "high",
               forced_tool_choice=False, thinking_always_on=True,
               sources=(SONNET_55_PAGE, SONNET_55_MODEL_PAGE, EFFORT_PAGE)),
    ModelFacts("claude-opus-5-5", 128_000, 1_000_000, "adaptive", True, "medium",
               forced_tool_choice=False, thinking_always_on=True,
               sources=(SONNET_55_MODEL_PAGE, EFFORT_PAGE, VERCEL_NOTE)),
    ModelFacts("claude-fable-5-1", 128_000, 1_000_000, "adaptive", True, "high",
               forced_tool_choice=False, thinking_always_on=True,
               sources=(SONNET_55_MODEL_PAGE, EFFORT_PAGE, VERCEL_NOTE)),
    ModelFacts("claude-fable-5", 128_000, 1_000_000, "adaptive", True, "high",
               forced_tool_choice=False, thinking_always_on=True,
               sources=(OVERVIEW_PAGE, EFFORT_PAGE)),
    ModelFacts("claude-opus-5", 128_000, 1_000_000, "adaptive", True, "high",
               forced_tool_choice=True, thinking_always_on=False,
               sources=(OVERVIEW_PAGE, EFFORT_PAGE)),
    ModelFacts("claude-sonnet-5", 128_000, 1_000_000, "adaptive", True, "high",
               forced_tool_choice=True, thinking_always_on=False,
               sources=(OVERVIEW_PAGE, SONNET_55_PAGE, EFFORT_PAGE)),
    ModelFacts("claude-haiku-4-5", 64_000, 200_000, "extended", False, None,
               forced_tool_choice=True, thinking_always_on=False,
               sources=(OVERVIEW_PAGE, EFFORT_PAGE)),
)}

#: Fable 5 is listed "Adaptive (always on)" but forced tool use is not documented for it: the
#: request never forces the tool anyway (see `conscious.model`), so no model needs the fact.
TOOL_CHOICE_SOURCE = SONNET_55_PAGE


def facts_for(model: str) -> ModelFacts:
    """Return the documented facts of `model`; a model not in the table gets "unknown" facts.

    Dated snapshots (claude-haiku-4-5-20251001) share the facts of their alias.
    """
    if model in KNOWN:
        return KNOWN[model]
    for name, facts in KNOWN.items():
        if model.startswith(name + "-") and model[len(name) + 1:].isdigit():
            return facts
    return ModelFacts(model, None, None, None, False, None, forced_tool_choice=False,
                      thinking_always_on=False, sources=())
