"""The `budget` section of `hostmind status`: today's tokens and changes, dormant or not."""

from __future__ import annotations

from conscious.budget import BudgetExhausted, BudgetLedger, ledger_path
from conscious.credentials import read_api_key
from conscious.settings import settings_from_section
from unconscious.config import LoadedConfig
from unconscious.context import Context
from unconscious.status import StatusSection


def budget_section(context: Context, config: LoadedConfig) -> StatusSection:
    """Return tokens used/left and changes today; a problem when the ledger is unreadable."""
    settings = settings_from_section(config.section("conscious"))
    section = StatusSection(title="budget", order=70)
    try:
        today = BudgetLedger(ledger_path(context.paths)).today()
    except BudgetExhausted as error:
        section.lines.append(str(error))
        section.problem = True
        return section
    left = max(0, settings.daily_token_budget - today.tokens - today.reserved)
    # The service leaves a `dormant` marker while it has no key (the CLI may not see the key).
    dormant = (context.paths.state_dir / "conscious" / "dormant").exists()
    state = "disabled" if not settings.enabled else "dormant (no API key)" if dormant else "active"
    section.lines.append(f"conscious layer {state}; tokens today {today.tokens} of "
                         f"{settings.daily_token_budget} ({left} left); changes {today.changes} "
                         f"of {settings.daily_change_cap}")
    section.data = today.to_json() | {"token_budget": settings.daily_token_budget,
                                      "tokens_left": left, "change_cap": settings.daily_change_cap,
                                      "state": state, "api_key_visible": read_api_key() is not None}
    return section
