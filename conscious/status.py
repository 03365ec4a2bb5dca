"""The `budget` section of `hostmind status`: the conscious layer's state, tokens and changes.

The state is derived from evidence, never assumed:

- `disabled`: conscious.enabled is false;
- `dormant`: no key anywhere (the service's `dormant` marker, or no credential found where
  systemd would load it from), even before any cycle ran;
- `failing`: the API's last verdict (a cycle or `hostmind think --check`) was a refusal of the
  key, the model or the request; the line names host, HTTP status, error type and message;
- `not verified`: a key exists but the API has not answered yet (run `hostmind think --check`);
- `active`: the API accepted the key and the model, with the time it last did.
"""

from __future__ import annotations

import time

from conscious.api_state import read_state
from conscious.budget import BudgetExhausted, BudgetLedger, ledger_path
from conscious.credentials import find_credential, read_api_key
from conscious.settings import ConsciousSettings, settings_from_typed
from unconscious.config import LoadedConfig
from unconscious.context import Context
from unconscious.paths import Paths
from unconscious.status import StatusSection


def conscious_state(paths: Paths, settings: ConsciousSettings) -> tuple[str, str, bool]:
    """Return (state word, the line's wording, needs attention)."""
    if not settings.enabled:
        return "disabled", "disabled (conscious.enabled is false)", False
    if (paths.state_dir / "conscious" / "dormant").exists():
        return "dormant", "dormant (no API key: credential anthropic-api-key)", False
    verdict = read_state(paths)
    if verdict is None:
        found = find_credential()
        if found is None:
            return "dormant", "dormant (no API key: no anthropic-api-key credential found)", False
        if found.key is None and "Permission denied" in (found.problem or ""):
            return "unverified", (f"not verified: {found.path} exists but this user cannot read "
                                  "it (run `sudo hostmind think --check`)"), False
        if found.key is None:
            return "failing", f"FAILING: credential {found.path}: {found.problem}", True
        return "unverified", ("not verified: a key exists but the API has not answered yet "
                              "(run `hostmind think --check`)"), False
    when = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(verdict.time))
    if verdict.state == "failing":
        return "failing", (f"FAILING since {when} ({verdict.source}): {verdict.detail}; fix it, "
                           "then run `hostmind think --check`"), True
    return "active", f"active (the API answered at {when}, {verdict.source})", False


def budget_section(context: Context, config: LoadedConfig) -> StatusSection:
    """Return the layer's state, tokens used/left and changes today."""
    settings = settings_from_typed(config.typed["conscious"])
    section = StatusSection(title="budget", order=70)
    try:
        today = BudgetLedger(ledger_path(context.paths)).today()
    except BudgetExhausted as error:
        section.lines.append(str(error))
        section.problem = True
        return section
    left = max(0, settings.daily_token_budget - today.tokens - today.reserved)
    state, wording, attention = conscious_state(context.paths, settings)
    section.problem = attention
    section.lines.append(f"conscious layer {wording}")
    section.lines.append(f"tokens today {today.tokens} of {settings.daily_token_budget} "
                         f"({left} left); changes {today.changes} of {settings.daily_change_cap}")
    section.data = today.to_json() | {"token_budget": settings.daily_token_budget,
                                      "tokens_left": left, "change_cap": settings.daily_change_cap,
                                      "state": state, "line": wording,
                                      "api_key_visible": read_api_key() is not None}
    return section
