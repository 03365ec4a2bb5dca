"""Load a staged config with the rails' own (trusted) loader; run inside the sandbox.

    python -I -m conscious.rails.config_probe PACKAGE_DIR CONFIG_DIR RUNTIME_DIR

PACKAGE_DIR is a data-only copy of the staged `config/` directory (YAML files and an empty
`__init__.py` the rails wrote): it stands in for the packaged config
(`unconscious.package_data.use_config_dir`), so the packaged defaults, packaged drop-ins and
schema fragments are the staged ones while every line of code that reads and judges them is
the trusted base's. `-I` keeps the live tree, the cwd and
PYTHONPATH off the import path. Prints one JSON list of "file:line: key: message" strings.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from unconscious.package_data import use_config_dir


def problems(package: Path, config_dir: Path, runtime_dir: Path) -> list[str]:
    """Return the problems of the config made of `package` and the operator's layers."""
    use_config_dir(package)
    from unconscious import semantic_checks
    from unconscious.config import ConfigError, load_config
    from unconscious.paths import Paths

    # The trusted base's semantic checks, in this process: no second interpreter in the sandbox.
    semantic_checks.install()

    try:
        load_config(Paths(config_dir=config_dir, runtime_dir=runtime_dir,
                          state_dir=package.parent / "state"))
    except ConfigError as error:
        return [str(problem) for problem in error.problems]
    except Exception as error:  # noqa: BLE001 - a broken schema fragment raises anything
        return [f"{type(error).__name__}: {error}"]
    return []


def main(argv: list[str]) -> int:
    """Print the problems as one JSON line; exit 0 (the problems are the answer)."""
    package, config_dir, runtime_dir = (Path(item) for item in argv[:3])
    print(json.dumps(problems(package, config_dir, runtime_dir)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
