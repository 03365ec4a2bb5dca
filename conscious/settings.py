"""The `conscious:` config section as typed settings.

The schema (config/schema/conscious.yaml) is the only place defaults are written: these
dataclasses have none, and `settings_from_section` builds them from the typed view
(unconscious.config.typed), where durations are seconds, sizes bytes, and every key the
schema gives a default is present. Code and tests that want "the defaults, except X" call
`settings_from_section({"X": ...})`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from unconscious.config.sections import ConsciousSection
from unconscious.config.typed import typed_config


@dataclass(frozen=True)
class ApiSettings:
    """How the Messages API is reached and how hard we try."""

    base_url: str | None
    timeout: float
    max_attempts: int
    backoff_initial: float
    backoff_max: float
    deadline: float
    prompt_caching: str
    cache_window: float


@dataclass(frozen=True)
class JournalSettings:
    """The bounds of a journal excerpt."""

    command: tuple[str, ...]
    since: float
    max_lines: int
    max_bytes: int
    timeout: float


@dataclass(frozen=True)
class ThinkingSettings:
    """How much the model may think before it answers (see conscious.model_facts)."""

    enabled: bool
    effort: str
    max_tokens: int


@dataclass(frozen=True)
class ConsciousSettings:
    """Everything one conscious cycle needs from the config."""

    enabled: bool
    model: str
    max_output_tokens: int
    daily_token_budget: int
    daily_change_cap: int
    max_context_tokens: int
    journal: JournalSettings
    goals: tuple[str, ...]
    tree: Path | None
    allowed_paths: tuple[str, ...]
    context_files: tuple[str, ...]
    max_file_bytes: int
    secret_paths: tuple[str, ...]
    secret_files: tuple[str, ...]
    secret_env_names: tuple[str, ...]
    api: ApiSettings
    anchor_every: float
    thinking: ThinkingSettings
    review_interval: float
    failing_retry: float

    def live_tree(self) -> Path:
        """Return the tree proposals change: `tree`, else {state}/live (never the trusted base)."""
        if self.tree is not None:
            return self.tree
        from unconscious.paths import Paths

        return Paths.from_environment().live_tree


def settings_from_section(section: dict[str, object]) -> ConsciousSettings:
    """Build settings from a validated `conscious:` section as written (missing keys: defaults).

    The section is typed through the schema here (the conscious layer runs in short-lived
    processes, which may load it). Raise ValueError for a duration or size that does not parse.
    """
    typed: ConsciousSection = typed_config({"conscious": section})["conscious"]
    return settings_from_typed(typed)


def settings_from_typed(section: ConsciousSection) -> ConsciousSettings:
    """Build settings from the typed `conscious:` section (`LoadedConfig.typed["conscious"]`)."""
    journal, api, thinking = section["journal"], section["api"], section["thinking"]
    tree = section["tree"]
    return ConsciousSettings(
        enabled=bool(section["enabled"]),
        model=str(section["model"]),
        max_output_tokens=int(section["max_output_tokens"]),
        daily_token_budget=int(section["daily_token_budget"]),
        daily_change_cap=int(section["daily_change_cap"]),
        max_context_tokens=int(section["max_context_tokens"]),
        journal=JournalSettings(command=tuple(journal["command"]), since=journal["since"],
                                max_lines=int(journal["max_lines"]), max_bytes=journal["max_bytes"],
                                timeout=journal["timeout"]),
        goals=tuple(str(goal) for goal in section["goals"]),
        tree=Path(tree) if tree else None,
        allowed_paths=tuple(section["allowed_paths"]),
        context_files=tuple(section["context_files"]),
        max_file_bytes=section["max_file_bytes"],
        secret_paths=tuple(section["secret_paths"]),
        secret_files=tuple(section["secret_files"]),
        secret_env_names=tuple(section["secret_env_names"]),
        api=ApiSettings(base_url=api["base_url"] or None, timeout=api["timeout"],
                        max_attempts=int(api["max_attempts"]), backoff_initial=api["backoff_initial"],
                        backoff_max=api["backoff_max"], deadline=api["deadline"],
                        prompt_caching=str(api["prompt_caching"]), cache_window=api["cache_window"]),
        anchor_every=section["anchor_every"],
        thinking=ThinkingSettings(enabled=bool(thinking["enabled"]), effort=str(thinking["effort"]),
                                  max_tokens=int(thinking["max_tokens"])),
        review_interval=section["review_interval"],
        failing_retry=section["failing_retry"],
    )
