"""`hostmind think --check`: is the key there, does the API accept it, does the model exist?

One bounded, free call: `POST /v1/messages/count_tokens` with the configured model, the real
tool and the real thinking parameters (a wrong model is a 404, a bad key a 401, a request shape
the model refuses a 400), with no retries and at most `api.timeout` (capped at 30 s). Each line
printed says what was checked; a failure names the host, the HTTP status, the API's error type
and its message. The verdict is kept (conscious.api_state) for `hostmind status`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conscious.api_state import ApiState, fingerprint, ok_state, write_state
from conscious.credentials import FoundCredential, credstore_dirs_of, find_credential
from conscious.model import ModelError, host_of, map_error, max_tokens_for, thinking_parameters
from conscious.model_facts import facts_for
from conscious.reply import respond_tool
from conscious.settings import ConsciousSettings
from unconscious.paths import Paths

if TYPE_CHECKING:
    from anthropic.types import MessageCountTokensParams

PREFLIGHT_TIMEOUT = 30.0


@dataclass
class Preflight:
    """The lines to print and whether everything was fine."""

    ok: bool
    lines: list[str] = field(default_factory=list)
    state: str = "failing"


def describe_model(settings: ConsciousSettings) -> str:
    """Return one line: the request shape the documented facts of the model give."""
    facts = facts_for(settings.model)
    thinking = thinking_parameters(settings)
    if not facts.sources:
        known = "not in hostmind's model table: no thinking parameters are sent"
    else:
        known = f"documented in {facts.sources[0][1]}"
    thinks = thinking["thinking"]["type"] if "thinking" in thinking else "the model's default"
    effort = thinking["output_config"].get("effort") if "output_config" in thinking else None
    return (f"model: {settings.model} ({known}); tool_choice auto; max_tokens "
            f"{max_tokens_for(settings)}; thinking {thinks}"
            + (f", effort {effort}" if effort else ""))


def run_preflight(settings: ConsciousSettings, paths: Paths,
                  environ: Mapping[str, str] | None = None,
                  credstore_dirs: tuple[str, ...] | None = None,
                  clock: Callable[[], float] | None = None,
                  decrypt_command: tuple[str, ...] = ("systemd-creds",)) -> Preflight:
    """Check the credential, then the key and model with one count_tokens call."""
    import time

    now = (clock or time.time)()
    credstore_dirs = credstore_dirs or credstore_dirs_of(environ)
    found = find_credential(environ, credstore_dirs, decrypt_command)
    result = Preflight(ok=False)
    if found is None:
        result.state = "dormant"
        searched = ", ".join(["$CREDENTIALS_DIRECTORY", *credstore_dirs,
                              *(f"{item}.encrypted" for item in credstore_dirs)])
        result.lines.append(f"credential: MISSING: no anthropic-api-key in {searched}; "
                            "the conscious layer is dormant (put the key in "
                            "/etc/credstore/anthropic-api-key, mode 0600)")
        return result
    result.lines.append(_credential_line(found))
    if found.key is None:
        return result
    result.lines.append(f"api: {settings.api.base_url or 'https://api.anthropic.com'} "
                        f"(host {host_of(settings)})")
    result.lines.append(describe_model(settings))
    try:
        tokens = count_probe(settings, found.key)
    except ModelError as error:
        result.lines.append(f"check: FAILED: {error.detail()}")
        if not error.retryable:
            write_state(paths, ApiState(state="failing", time=now, detail=error.detail(),
                                        fingerprint=fingerprint(found.key, settings),
                                        source="think --check", status=error.status,
                                        error_type=error.error_type, host=error.host,
                                        kind=error.kind))
        return result
    write_state(paths, ok_state(found.key, settings, "think --check", now))
    result.ok, result.state = True, "ok"
    result.lines.append(f"check: ok: the key is accepted and {settings.model} exists "
                        f"(count_tokens: {tokens} input tokens for the probe)")
    return result


def _credential_line(found: FoundCredential) -> str:
    kind = "encrypted (systemd-creds)" if found.encrypted else "plain"
    if found.problem:
        return f"credential: UNUSABLE: {found.path} ({kind}): {found.problem}"
    return f"credential: {found.path} ({kind})"


def count_probe(settings: ConsciousSettings, api_key: str) -> int:
    """Return count_tokens' input_tokens for a one-line probe. Raise ModelError (mapped)."""
    import anthropic

    client = anthropic.Anthropic(api_key=api_key, base_url=settings.api.base_url,
                                 max_retries=0, timeout=min(settings.api.timeout,
                                                            PREFLIGHT_TIMEOUT))
    body: MessageCountTokensParams = {"model": settings.model, "tools": [respond_tool()],
                                      "tool_choice": {"type": "auto"},
                                      "messages": [{"role": "user", "content": "preflight"}]}
    if "thinking" in thinking_parameters(settings):
        body["thinking"] = thinking_parameters(settings)["thinking"]
    try:
        return int(client.messages.count_tokens(**body).input_tokens)
    except Exception as error:
        raise map_error(error, anthropic, host_of(settings)) from error
