"""`hostmind demo`: the command's arguments here (in every install), its body in a checkout.

The demo boots a container and builds hostmind's wheel and rootfs from a source checkout
(`demo/`, `.ci/setup-e2e.sh`, `tests/fakes/messages_api.py`), none of which ships in the wheel.
So this module only parses the arguments, checks for root and finds the checkout (the one this
package was installed from, as `scripts/quickstart.sh` does, or HOSTMIND_SOURCE_TREE), then
imports `demo.cli` from it. From a wheel install it says where to get the checkout.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from unconscious import exitcodes
from unconscious.cli.output import error
from unconscious.context import Context

if TYPE_CHECKING:
    from conscious.cli_types import Subparsers

#: What a checkout has that the demo needs.
CHECKOUT_FILES = ("setup.cfg", "demo/cli.py", ".ci/setup-e2e.sh", "tests/fakes/messages_api.py")


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="see the whole loop work in a throw-away container (root, source checkout)",
        description="Boot systemd in a systemd-nspawn container, install hostmind in it from "
                    "this source checkout, and run scenarios with a scripted model (no API key "
                    "needed): 'heal' (a log fills its disk; a rotation rule is proposed, "
                    "committed and frees it) and 'bad-idea' (a change crashes a service; the "
                    "rails roll it back). Prints a timeline proven by the container's journal, "
                    "then `hostmind status` and `hostmind history` from inside, then stops the "
                    "container (the journal is kept). Exit 0 when every scenario ended as "
                    "expected, 1 otherwise, 3 when this machine cannot run it (not root, not "
                    "installed from a source checkout: set HOSTMIND_SOURCE_TREE to one).")
    parser.add_argument("--scenario", choices=("heal", "bad-idea", "all"), default="all",
                        help="which scenario to run (default: all)")
    parser.add_argument("--keep", action="store_true",
                        help="leave the container running and print how to enter it")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=demo_command)


def checkout() -> Path:
    """Return the source checkout to run the demo from: HOSTMIND_SOURCE_TREE, else the
    directory this package was installed from (a checkout for an editable install)."""
    chosen = os.environ.get("HOSTMIND_SOURCE_TREE")
    return Path(chosen) if chosen else Path(__file__).resolve().parents[1]


def source_problem(repo: Path) -> str | None:
    """Return why `repo` is not a usable source checkout, or None when it is."""
    missing = [name for name in CHECKOUT_FILES if not (repo / name).is_file()]
    if not missing:
        return None
    return (f"hostmind demo needs a source checkout, but hostmind is installed from {repo}, "
            f"which is not one (no {', '.join(missing)}). The demo and its container harness "
            "are not part of the wheel: clone the hostmind repository, install from it with "
            "`sudo scripts/quickstart.sh` and run `sudo hostmind demo` again, or set "
            "HOSTMIND_SOURCE_TREE to the checkout.")


def demo_command(args: argparse.Namespace, context: Context) -> int:
    """Check root and the checkout, then run the checkout's demo; return its exit code."""
    if os.geteuid() != 0:
        error("hostmind demo needs root: it boots a container with systemd-nspawn "
              "(run it with sudo)")
        return exitcodes.NOT_POSSIBLE_HERE
    repo = checkout()
    problem = source_problem(repo)
    if problem is not None:
        error(problem)
        return exitcodes.NOT_POSSIBLE_HERE
    # The checkout is root's (root named it or installed from it): its demo package may load.
    sys.path.insert(0, str(repo))
    demo_cli = importlib.import_module("demo.cli")
    result: int = demo_cli.demo_command(args, context, repo)
    return result
