"""Pre and post backup hooks: argv lists (never a shell), each bounded by its timeout."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from unconscious.backup.settings import Hook


def run_hook(name: str, argv: Sequence[str], timeout: float) -> str | None:
    """Run one hook command; return None on success, else a sentence naming what went wrong."""
    try:
        completed = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True,
                                   timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"hook {name!r} ({argv[0]}) killed after its timeout of {timeout:g}s"
    except OSError as error:
        return f"hook {name!r} could not start {argv[0]}: {error.strerror or error}"
    if completed.returncode != 0:
        tail = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        detail = f": {' / '.join(tail)}" if tail else ""
        return f"hook {name!r} ({argv[0]}) exited {completed.returncode}{detail}"
    return None


def run_hooks(hooks: Sequence[Hook], phase: str) -> list[str]:
    """Run the `phase` ("pre" or "post") command of every hook in order; return failures.

    Pre commands stop at the first failure (the backup must not run on a failed dump); post
    commands all run.
    """
    failures: list[str] = []
    for hook in hooks:
        argv = hook.pre if phase == "pre" else hook.post
        if not argv:
            continue
        failure = run_hook(hook.name, argv, hook.timeout)
        if failure is not None:
            failures.append(failure)
            if phase == "pre":
                break
    return failures
