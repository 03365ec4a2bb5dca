"""The semantic config checks of every feature, listed once, above the features.

The config package (foundation) cannot import the features whose rules these checks know;
this module can. `install()` hands them to the config package for this process: `hostmind`
(cli/main.py) and `python -m unconscious.rotate` call it first thing. `child_main` is the
validation child's entry point (config/validation.py starts it), so a config checked out of
process gets the same checks. Importing this module is cheap: each feature's checks (health
loads its kinds, backup sqlite3, rotation zstandard) load only when a config is checked.
"""

from __future__ import annotations

from collections.abc import Sequence

from unconscious.config import semantic
from unconscious.config.semantic import SemanticCheck


def all_checks() -> Sequence[SemanticCheck]:
    """Return every feature's semantic check, in the order their problems are reported."""
    from unconscious.backup import config_checks as backup_checks
    from unconscious.config import glob_checks
    from unconscious.health import config_checks as health_checks
    from unconscious.rotate import config_checks as rotate_checks

    return (health_checks.check, backup_checks.check, rotate_checks.check, glob_checks.check)


def install() -> None:
    """Make `all_checks` this process's semantic checks."""
    semantic.install(all_checks)


def child_main() -> int:
    """The validation child: install the checks, then answer the request on stdin."""
    from unconscious.config.validation import child_main as answer_request

    install()
    return answer_request()
