"""The live tree: a copy of the trusted base that the rails may change and the always-on services run.

The trusted base is the package the operator installed (a checkout installed with `pip install
-e`, or a wheel in site-packages): root-owned, never written by hostmind. `hostmind install`
seeds the live tree (default `{state}/live`, see `Paths.live_tree`) with a copy of the entries
in LIVE_ENTRIES that the trusted base has; the rails change only that copy. `diff` says how the
two differ and `reset` makes the live tree a fresh copy again (used by `hostmind live reset` and
`hostmind upgrade --reset-live`).

A seed is built beside the target under a temporary name, verified file by file against the
source (SHA-256) and then renamed into place, so a crash leaves either the old tree, or (between
the two renames of a reset) no tree and a `.live.old-*` directory: `hostmind install` seeds a
missing tree again.
"""

from __future__ import annotations

import compileall
import contextlib
import difflib
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from unconscious.atomic import fsync_directory, sha256_file
from unconscious.package_data import entry_source, source_of
from unconscious.rails_lock import RAILS_LOCK_NAME, LockTimeout
from unconscious.rails_lock import rails_lock as shared_rails_lock
from unconscious.tree_diff import TreeDiff

#: What the live tree holds: the always-on services' code and config, the rest of the package
#: (the tests import it) and the tests the rails' ratchet runs. Entries the trusted base lacks
#: (a wheel has no tests/ or setup.cfg) are skipped.
LIVE_ENTRIES = ("unconscious", "conscious", "config", "units", "tests", "setup.cfg",
                "pyproject.toml")
_SKIPPED_DIRECTORIES = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
_SKIPPED_SUFFIXES = (".pyc", ".pyo")
#: Files bigger than this are compared by digest only in `unified_diff`.
_MAX_DIFF_BYTES = 1 << 20


class LiveTreeError(RuntimeError):
    """The live tree could not be seeded or reset; the message names the file."""


def trusted_base() -> Path:
    """Return the directory that holds the running `unconscious` package.

    It is the trusted base only in a process started the trusted way (Python's isolated mode,
    as every unit and the `hostmind` command of a trusted process are).
    """
    import unconscious

    return Path(unconscious.__file__).resolve().parent.parent


def tree_files(root: Path, entries: Iterable[str] = LIVE_ENTRIES) -> list[str]:
    """Return the relative paths of the regular files of `entries` under `root`, sorted.

    Bytecode caches and egg-info are left out; symlinks are listed (and copied) as files they
    point to only when they stay inside `root`, otherwise they are skipped.
    """
    found: list[str] = []
    resolved_root = root.resolve()
    for entry in entries:
        base = entry_source(root, entry)  # a wheel keeps config/ and units/ under hostmind/
        if base.is_file():
            found.append(entry)
            continue
        if not base.is_dir():
            continue
        for directory, subdirectories, files in os.walk(base):
            subdirectories[:] = sorted(
                name for name in subdirectories
                if name not in _SKIPPED_DIRECTORIES and not name.endswith(".egg-info"))
            for name in files:
                path = Path(directory) / name
                if name.endswith(_SKIPPED_SUFFIXES) or not path.is_file():
                    continue
                if path.is_symlink() and resolved_root not in path.resolve().parents:
                    continue
                found.append(f"{entry}/{path.relative_to(base).as_posix()}")
    return sorted(found)


def seed(base: Path, live: Path) -> int:
    """Make `live` a fresh, verified copy of the LIVE_ENTRIES of `base`; return the file count.

    An existing `live` is replaced. Raise LiveTreeError if `base` has no `unconscious`
    package, if `live` is inside `base` (or the reverse), or if a copied file does not read
    back equal.
    """
    base = base.resolve()
    if not (base / "unconscious").is_dir():
        raise LiveTreeError(f"{base} holds no `unconscious` package: not a hostmind install")
    target = live.absolute()
    if target == base or base in target.parents or target in base.parents:
        raise LiveTreeError(f"the live tree {target} must not overlap the trusted base {base}")
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = target.parent / f".{target.name}.new-{os.getpid()}"
    shutil.rmtree(fresh, ignore_errors=True)
    files = tree_files(base)
    try:
        for relative in files:
            _copy_verified(source_of(base, relative), fresh / relative)
        # The live units cannot write bytecode into their (read-only) tree: compile it now,
        # or every start compiles every module again (about 0.6 s of each service start).
        # A file the rails change later has a stale cache, which Python notices and ignores.
        compileall.compile_dir(fresh, quiet=2, workers=1)
        fresh.chmod(0o755)
        _swap_in(fresh, target)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    return len(files)


def _copy_verified(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    shutil.copyfile(source, destination)
    # Root-owned and world-readable like an installed package; never executable bits from
    # the source, never group/other write.
    destination.chmod(0o644)
    with open(destination, "rb") as handle:
        os.fsync(handle.fileno())
    if sha256_file(destination) != sha256_file(source):
        raise LiveTreeError(f"{destination} does not read back equal to {source}")


def _swap_in(fresh: Path, target: Path) -> None:
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        os.rename(target, old)
    os.rename(fresh, target)
    fsync_directory(target.parent)
    shutil.rmtree(old, ignore_errors=True)


def diff(base: Path, live: Path) -> TreeDiff:
    """Return how the LIVE_ENTRIES files of `live` differ from those of `base`."""
    base_files = set(tree_files(base))
    live_files = set(tree_files(live))
    result = TreeDiff(added=sorted(live_files - base_files), removed=sorted(base_files - live_files))
    for relative in sorted(base_files & live_files):
        if sha256_file(source_of(base, relative)) != sha256_file(live / relative):
            result.changed.append(relative)
    return result


def unified_diff(base: Path, live: Path, relative: str) -> str:
    """Return a unified diff of `relative` from the trusted base to the live tree ('' if equal)."""
    before = _text_lines(source_of(base, relative))
    after = _text_lines(live / relative)
    if before is None or after is None:
        return f"Binary or large file {relative} differs\n"
    return "".join(difflib.unified_diff(before, after, f"trusted/{relative}", f"live/{relative}"))


def _text_lines(path: Path) -> list[str] | None:
    if not path.is_file():
        return []
    if path.stat().st_size > _MAX_DIFF_BYTES:
        return None
    try:
        return path.read_text(encoding="utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


#: The rails' lock (conscious/rails/lock.py holds the same file): a reset or upgrade waits for
#: an apply or rollback in progress, and none starts while the tree is being replaced.
#: The ratchet's record of the tests that passed at the last commit. A reset replaces the
#: tests it names, so it is removed and the next apply takes a new baseline.
RATCHET_BASELINE = Path("ratchet") / "baseline.json"


@contextlib.contextmanager
def rails_lock(state_dir: Path, timeout: float) -> Iterator[None]:
    """Hold the rails' lock (`unconscious.rails_lock`). Raise LiveTreeError after `timeout` s."""
    try:
        with shared_rails_lock(state_dir, timeout):
            yield
    except LockTimeout:
        raise LiveTreeError(f"{state_dir / RAILS_LOCK_NAME} is held by the rails (an apply or "
                            f"rollback is running; waited {timeout:g} s)") from None


def reset(base: Path, live: Path, state_dir: Path) -> int:
    """Replace the live tree with a fresh copy of `base`, re-record its integrity manifest.

    The ratchet baseline is removed (the next apply takes a new one). The caller holds the
    rails lock. Return the number of files copied. Raise LiveTreeError or OSError.
    """
    from unconscious.health.integrity import live_files, manifest_path, write_manifest
    from unconscious.paths import Paths

    count = seed(base, live)
    paths = Paths(config_dir=state_dir, runtime_dir=state_dir, state_dir=state_dir)
    write_manifest(live, live_files(live), manifest_path(paths))
    (state_dir / RATCHET_BASELINE).unlink(missing_ok=True)
    return count
