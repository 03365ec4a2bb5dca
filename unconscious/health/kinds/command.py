"""The command check: an argv list (never a shell), its exit code and optional output match."""

from __future__ import annotations

import re

from unconscious.health.kinds.bounded import run_bounded
from unconscious.health.model import CheckParams, Outcome


def command(params: CheckParams, timeout: float) -> Outcome:
    """Fail when `argv` exits other than `expect_exit` or its output does not match `match`."""
    argv = [str(word) for word in params["argv"]]
    expected = int(params.get("expect_exit", 0))
    limit = int(params["max_output"])  # bytes; the schema's default is always in the typed view
    run = run_bounded(argv, timeout, limit)
    if run.error:
        return Outcome(False, run.error, "not run", f"exit {expected}")
    if run.timed_out:
        return Outcome(
            False, f"{argv[0]} still running after {timeout:g} s, killed", "timed out", f"exit {expected}"
        )
    if run.exit_code != expected:
        last = run.output.strip().splitlines()[-1:] or [""]
        return Outcome(
            False,
            f"{argv[0]} exited {run.exit_code}: {last[0][:200]}",
            f"exit {run.exit_code}",
            f"exit {expected}",
        )
    pattern = params.get("match")
    if pattern and not re.search(str(pattern), run.output):
        note = f" (first {limit} of {run.output_bytes} bytes searched)" if run.truncated else ""
        return Outcome(False, f"{argv[0]} output does not match {pattern!r}{note}", "no match", str(pattern))
    return Outcome(True, f"{argv[0]} exited {expected}", f"exit {run.exit_code}", f"exit {expected}")
