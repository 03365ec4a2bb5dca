"""The `conscious:` config section as typed settings.

The schema (config/schema/conscious.yaml) is the only place defaults are written and these
dataclasses the only place the field list is: `settings_from_typed` builds them from the
typed view (unconscious.config.typed) with the one builder (unconscious.config.build), where
durations are seconds, sizes bytes, and every key the schema gives a default is present.
Code and tests that want "the defaults, except X" call `settings_from_section({"X": ...})`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from unconscious.config.build import build_settings
from unconscious.config.typed import typed_view


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
    return settings_from_typed(typed_view({"conscious": section})["conscious"])


def settings_from_typed(section: Mapping[str, object]) -> ConsciousSettings:
    """Build settings from the typed `conscious:` section (`LoadedConfig.typed["conscious"]`).

    Raise SettingsShapeError (a ValueError) if a value does not fit its field.
    """
    return build_settings(ConsciousSettings, section, "conscious")
