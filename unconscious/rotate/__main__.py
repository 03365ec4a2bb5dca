"""`python -m unconscious.rotate [--force] [--dry-run]`: one pass without the CLI's start-up cost."""

from __future__ import annotations

import argparse
import sys

from unconscious import semantic_checks
from unconscious.context import Context
from unconscious.log import configure
from unconscious.paths import Paths
from unconscious.rotate.service import execute


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m unconscious.rotate")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    semantic_checks.install()
    configure("rotate")
    return execute(Context(Paths.from_environment()), dry_run=args.dry_run, force=args.force).code


if __name__ == "__main__":
    sys.exit(main())
