"""The health judgement the gate uses, computed by the rails' own (trusted) code.

The checks are imported from the trusted base the rails run from (`unconscious.health`, never
the live tree's `hostmind check`), configured by the rails' own config loader, and run once in
the rails' process with the same worker pool as the health service. A change that makes the live
tree's `hostmind check --json` print "ok" cannot blind the gate: that output is never read.
"""

from __future__ import annotations

import time

from conscious.rails.change import Refused
from unconscious.config import ConfigError, load_config
from unconscious.health.engine import run_once
from unconscious.health.model import FAILING, TIMEOUT
from unconscious.health.specs import build_specs
from unconscious.health.workers import WorkerPool
from unconscious.paths import Paths

RAIL = "gate"


def failing_checks(paths: Paths, workers: int = 4) -> set[str]:
    """Run every enabled check once; return the names of those failing or timed out.

    Raise Refused (rail gate) when the config cannot be loaded: no judgement, no commit.
    """
    try:
        config = load_config(paths)
    except ConfigError as error:
        raise Refused(RAIL, "the health checks cannot be configured: "
                            + "; ".join(str(problem) for problem in error.problems[:3])) from error
    specs = build_specs(config, paths, since=time.time())
    pool = WorkerPool(size=workers, max_hung=config.typed["health"]["max_hung"])
    try:
        results = run_once(specs, sorted(specs), pool)
    finally:
        pool.close()
    return {name for name, result in results.items() if result.state in (FAILING, TIMEOUT)}
