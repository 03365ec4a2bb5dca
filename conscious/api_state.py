"""What is known about reaching the model: the last call's or preflight's verdict, kept on disk.

`{state}/conscious/api-state.json` holds `{"state": "ok" | "failing", "time", "detail",
"status", "error_type", "host", "kind", "fingerprint", "source"}`. The cycle writes it after
every model call and `hostmind think --check` after every preflight; `hostmind status` reads it,
so "active" is said only after the API accepted the key and the model, never assumed.

`fingerprint` is a hash of (key, model, base_url): a failing verdict holds only for the
credential and settings it was reached with. The key itself is never written.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from conscious.settings import ConsciousSettings
from unconscious.atomic import atomic_write_json
from unconscious.paths import Paths


@dataclass(frozen=True)
class ApiState:
    """One verdict about the API."""

    state: str
    time: float
    detail: str
    fingerprint: str
    source: str
    status: int | None = None
    error_type: str | None = None
    host: str | None = None
    kind: str | None = None

    def to_json(self) -> dict[str, str | float | int | None]:
        return asdict(self)


def state_path(paths: Paths) -> Path:
    return paths.state_dir / "conscious" / "api-state.json"


def fingerprint(api_key: str | None, settings: ConsciousSettings) -> str:
    """Return a hash naming (key, model, base_url) without revealing the key."""
    material = json.dumps([api_key or "", settings.model, settings.api.base_url or ""])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:16]


def read_state(paths: Paths) -> ApiState | None:
    """Return the last verdict, or None when there is none (or it is unreadable)."""
    try:
        value = json.loads(state_path(paths).read_text(encoding="utf-8"))
        return ApiState(**value)
    except (OSError, ValueError, TypeError):
        return None


def write_state(paths: Paths, state: ApiState) -> None:
    """Write the verdict atomically (AtomicWriteError when it cannot be written)."""
    state_path(paths).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(state_path(paths), state.to_json(), mode=0o640)


def ok_state(api_key: str | None, settings: ConsciousSettings, source: str,
             clock: float | None = None) -> ApiState:
    """Return the verdict "the API accepted the key and the model"."""
    return ApiState(state="ok", time=time.time() if clock is None else clock,
                    detail=f"model {settings.model} answered", source=source,
                    fingerprint=fingerprint(api_key, settings))


def blocks_calls(state: ApiState | None, api_key: str | None, settings: ConsciousSettings,
                 now: float) -> bool:
    """Return whether a failing verdict still stands for this key and settings."""
    return (state is not None and state.state == "failing"
            and state.fingerprint == fingerprint(api_key, settings)
            and now - state.time < settings.failing_retry)
