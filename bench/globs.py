"""The one glob dialect (unconscious/globs.py) next to the stdlib peers it replaced.

Prints, for each case, hostmind's time, the peer's time and the ratio (hostmind / peer; below 1
is faster):
- matching: `globs.first_match` against `fnmatch.fnmatchcase` (backup's old reader) over the
  relative paths of a generated tree, for a name pattern and an anchored one;
- a hostile pattern: `*a*a*a*a*a*a*b` against a long name of `a`s (both are linear);
- expanding: `globs.expand` against `glob.glob` (rotation's old reader; `recursive=True` for
  `**`) on the same generated tree, with how many paths each found.

    python bench/globs.py [--files 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import fnmatch
import glob
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)

from unconscious import globs  # noqa: E402


def make_tree(root: Path, files: int) -> list[str]:
    """Create `files` empty files in 3 levels of directories; return their relative paths."""
    relative: list[str] = []
    for index in range(files):
        name = f"d{index % 20}/s{index % 7}/f{index}.{('log', 'gz', 'txt')[index % 3]}"
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        relative.append(name)
    return relative


def best_of(repeat: int, action: Callable[[], object]) -> tuple[float, object]:
    """Return (the fastest of `repeat` runs in seconds, the last result)."""
    fastest, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest, result


def line(name: str, ours: float, peer: float, detail: str = "") -> None:
    print(f"{name:<44} hostmind {ours * 1000:9.2f} ms   peer {peer * 1000:9.2f} ms   "
          f"ratio {ours / peer:5.2f}  {detail}")


def bench_matching(paths: list[str], repeat: int) -> None:
    for pattern in ("*.log", "d1/*/f1*.gz"):
        def ours(pattern: str = pattern) -> int:
            return sum(globs.first_match(path, (pattern,)) is not None for path in paths)

        def peer(pattern: str = pattern) -> int:
            # backup's old reader: a pattern without '/' was tried on the file name too
            return sum(fnmatch.fnmatchcase(path if "/" in pattern else path.rsplit("/", 1)[-1], pattern)
                       for path in paths)

        ours_time, ours_count = best_of(repeat, ours)
        peer_time, peer_count = best_of(repeat, peer)
        line(f"match {pattern!r} x {len(paths)} paths", ours_time, peer_time,
             f"matched {ours_count} / {peer_count}")


def bench_hostile(repeat: int) -> None:
    name, pattern = "a" * 100_000, "*a*a*a*a*a*a*b"
    ours_time, _ = best_of(repeat, lambda: globs.matches(name, pattern))
    peer_time, _ = best_of(repeat, lambda: fnmatch.fnmatchcase(name, pattern))
    line(f"match {pattern!r} x 100000 a's", ours_time, peer_time)


def bench_expand(root: Path, repeat: int) -> None:
    for suffix, recursive in (("d1/*/*.log", False), ("*/s3/f1*", False), ("**/*.gz", True)):
        pattern = f"{root}/{suffix}"
        ours_time, ours_found = best_of(repeat, lambda pattern=pattern: globs.expand(pattern))
        peer_time, peer_found = best_of(
            repeat, lambda pattern=pattern, recursive=recursive: sorted(glob.glob(pattern, recursive=recursive)))
        assert isinstance(ours_found, list) and isinstance(peer_found, list)
        line(f"expand {suffix!r}", ours_time, peer_time, f"found {len(ours_found)} / {len(peer_found)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hostmind-bench-globs-") as temporary:
        root = Path(temporary)
        paths = make_tree(root, args.files)
        print(f"python {sys.version.split()[0]}, {args.files} files, best of {args.repeat}, "
              f"load {os.getloadavg()[0]:.1f}")
        bench_matching(paths, args.repeat)
        bench_hostile(args.repeat)
        bench_expand(root, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
