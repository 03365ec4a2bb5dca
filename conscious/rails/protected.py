"""The protected paths: what no proposal may touch, whatever the config says.

The list is code, not config, and is itself protected (it lives under `conscious/rails/`), so
neither a proposal nor a config drop-in can widen what the rails let through. Each entry says
why it is here. A pattern without '/' matches that file name at any depth
(`unconscious.globs`).
"""

from __future__ import annotations

from unconscious.globs import first_match

PROTECTED: tuple[tuple[str, str], ...] = (
    ("conscious/rails/**", "the rails themselves: validate, ratchet runner, swap, rollback, "
                           "and this protected list"),
    ("conscious/audit.py", "the audit log that records every change"),
    ("conscious/budget.py", "the token budget"),
    ("units/**", "the systemd unit files: restart limits, sandboxing and OnFailure= rollback"),
    ("setup.cfg", "packaging, entry points and the pytest settings the ratchet runs with"),
    ("pyproject.toml", "the build system"),
    (".ci/**", "the CI that checks every change"),
    ("conftest.py", "pytest hooks could turn failing tests into passes under the ratchet"),
    ("pytest.ini", "pytest settings (addopts -p PLUGIN) could load a plugin that forges results"),
    ("tox.ini", "pytest reads its settings from a tox.ini too"),
    ("sitecustomize.py", "imported by every interpreter that has it on its path"),
    ("usercustomize.py", "imported by every interpreter that has it on its path"),
    ("*.pth", "a .pth file on the path runs code at interpreter start"),
    ("ruff.toml", "the lint rules CI applies"),
    ("unconscious/pause.py", "the breaker's pause flag, which apply honours"),
    ("unconscious/atomic.py", "the verified writes the swap and the snapshot rely on"),
    ("unconscious/systemctl.py", "how the health gate reads unit states and restarts units"),
    ("unconscious/health/integrity.py", "the integrity manifest of the live tree"),
    (".git/**", "the repository's history"),
    (".venv/**", "the installed environment"),
)

PROTECTED_PATTERNS: tuple[str, ...] = tuple(pattern for pattern, _ in PROTECTED)


def protection_reason(path: str) -> str | None:
    """Return why the relative POSIX `path` is protected, or None if it is not."""
    pattern = first_match(path, PROTECTED_PATTERNS)
    if pattern is None:
        return None
    reason = dict(PROTECTED)[pattern]
    return f"protected ({pattern}: {reason})"
