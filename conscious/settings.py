"""The `conscious:` config section as typed settings (durations and sizes already parsed).

The defaults here repeat config/schema/conscious.yaml (a unit test keeps them equal), so code
that builds settings without a loaded config behaves like the packaged defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unconscious.config.duration import parse_duration, parse_size


@dataclass(frozen=True)
class ApiSettings:
    """How the Messages API is reached and how hard we try."""

    base_url: str | None = None
    timeout: float = 120.0
    max_attempts: int = 4
    backoff_initial: float = 2.0
    backoff_max: float = 60.0
    deadline: float = 300.0
    prompt_caching: str = "auto"
    cache_window: float = 300.0


@dataclass(frozen=True)
class JournalSettings:
    """The bounds of a journal excerpt."""

    command: tuple[str, ...] = ("journalctl",)
    since: float = 6 * 3600.0
    max_lines: int = 200
    max_bytes: int = 32 * 1024
    timeout: float = 10.0


@dataclass(frozen=True)
class ThinkingSettings:
    """How much the model may think before it answers (see conscious.model_facts)."""

    enabled: bool = True
    effort: str = "medium"
    max_tokens: int = 16_000


@dataclass(frozen=True)
class ConsciousSettings:
    """Everything one conscious cycle needs from the config."""

    enabled: bool = True
    model: str = "claude-sonnet-5-5"
    max_output_tokens: int = 8192
    daily_token_budget: int = 400_000
    daily_change_cap: int = 6
    max_context_tokens: int = 60_000
    journal: JournalSettings = field(default_factory=JournalSettings)
    goals: tuple[str, ...] = ()
    tree: Path | None = None
    allowed_paths: tuple[str, ...] = ("unconscious/**/*.py", "config/*.yaml", "config/examples/*.yaml",
                                      "config/hostmind.d/*.yaml")
    context_files: tuple[str, ...] = ("config/hostmind.d/*.yaml",)
    max_file_bytes: int = 48 * 1024
    secret_paths: tuple[str, ...] = ("*.key", "*.pem", "*secret*", "*password*", "*credential*", ".env",
                                     "*token*")
    secret_files: tuple[str, ...] = ()
    secret_env_names: tuple[str, ...] = ("ANTHROPIC_API_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                                         "RESTIC_PASSWORD", "GITHUB_TOKEN", "B2_ACCOUNT_KEY")
    api: ApiSettings = field(default_factory=ApiSettings)
    anchor_every: float = 3600.0
    thinking: ThinkingSettings = field(default_factory=ThinkingSettings)
    review_interval: float = 24 * 3600.0
    failing_retry: float = 6 * 3600.0

    def live_tree(self) -> Path:
        """Return the tree proposals change: `tree`, else {state}/live (never the trusted base)."""
        if self.tree is not None:
            return self.tree
        from unconscious.paths import Paths

        return Paths.from_environment().live_tree


def settings_from_section(section: dict[str, Any]) -> ConsciousSettings:
    """Build settings from a validated `conscious:` section (missing keys take defaults)."""
    defaults = ConsciousSettings()
    journal = section.get("journal") or {}
    api = section.get("api") or {}
    base = JournalSettings()
    base_api = ApiSettings()
    tree = section.get("tree")
    return ConsciousSettings(
        enabled=bool(section.get("enabled", defaults.enabled)),
        model=str(section.get("model", defaults.model)),
        max_output_tokens=int(section.get("max_output_tokens", defaults.max_output_tokens)),
        daily_token_budget=int(section.get("daily_token_budget", defaults.daily_token_budget)),
        daily_change_cap=int(section.get("daily_change_cap", defaults.daily_change_cap)),
        max_context_tokens=int(section.get("max_context_tokens", defaults.max_context_tokens)),
        journal=JournalSettings(
            command=tuple(journal.get("command", base.command)),
            since=parse_duration(journal.get("since", base.since)),
            max_lines=int(journal.get("max_lines", base.max_lines)),
            max_bytes=parse_size(journal.get("max_bytes", base.max_bytes)),
            timeout=parse_duration(journal.get("timeout", base.timeout)),
        ),
        goals=tuple(str(goal) for goal in section.get("goals", ())),
        tree=Path(tree) if tree else None,
        allowed_paths=tuple(section.get("allowed_paths", defaults.allowed_paths)),
        context_files=tuple(section.get("context_files", defaults.context_files)),
        max_file_bytes=parse_size(section.get("max_file_bytes", defaults.max_file_bytes)),
        secret_paths=tuple(section.get("secret_paths", defaults.secret_paths)),
        secret_files=tuple(section.get("secret_files", defaults.secret_files)),
        secret_env_names=tuple(section.get("secret_env_names", defaults.secret_env_names)),
        api=ApiSettings(
            base_url=api.get("base_url") or None,
            timeout=parse_duration(api.get("timeout", base_api.timeout)),
            max_attempts=int(api.get("max_attempts", base_api.max_attempts)),
            backoff_initial=parse_duration(api.get("backoff_initial", base_api.backoff_initial)),
            backoff_max=parse_duration(api.get("backoff_max", base_api.backoff_max)),
            deadline=parse_duration(api.get("deadline", base_api.deadline)),
            prompt_caching=str(api.get("prompt_caching", base_api.prompt_caching)),
            cache_window=parse_duration(api.get("cache_window", base_api.cache_window)),
        ),
        anchor_every=parse_duration(section.get("anchor_every", defaults.anchor_every)),
        thinking=_thinking(section.get("thinking") or {}),
        review_interval=parse_duration(section.get("review_interval", defaults.review_interval)),
        failing_retry=parse_duration(section.get("failing_retry", defaults.failing_retry)),
    )


def _thinking(section: dict[str, Any]) -> ThinkingSettings:
    base = ThinkingSettings()
    return ThinkingSettings(enabled=bool(section.get("enabled", base.enabled)),
                            effort=str(section.get("effort", base.effort)),
                            max_tokens=int(section.get("max_tokens", base.max_tokens)))
