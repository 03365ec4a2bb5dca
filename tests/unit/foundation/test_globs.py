"""The one glob dialect (unconscious/globs.py): what matches, what is refused, and `expand`
finding on disk exactly what `matches` accepts, hostile patterns and names first."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from unconscious.globs import (
    MAX_PATTERN_CHARS,
    GlobError,
    Skipped,
    expand,
    first_match,
    has_magic,
    matches,
    reaches,
)

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(("path", "pattern", "expected"), [
    # * and ? stay in one segment; ** spans segments; a trailing ** needs one or more.
    ("unconscious/health/disk.py", "unconscious/**/*.py", True),
    ("unconscious/disk.py", "unconscious/**/*.py", True),
    ("unconscious/health/disk.py", "unconscious/*.py", False),
    ("units/a.service", "units/**", True),
    ("units", "units/**", False),
    ("unitsx/a.service", "units/**", False),
    ("a/b", "a?b", False),
    ("logs/sub/x.gz", "logs/*.gz", False),
    ("a/x/b/y/c", "a/**/b/**/c", True),
    ("a/b/c", "a/**/**/b/c", True),
    ("xab", "x**b", True),  # ** inside a segment is a plain *
    ("x/axb", "a**b", True),  # ... and a pattern without / is a name at any depth
    ("x/y", "x**y", False),
    # A pattern without / is the file name at any depth.
    ("config/tls/x.key", "*.key", True),
    ("sub/setup.cfg", "setup.cfg", True),
    ("/var/log/app.log", "*.log", True),
    # Anchoring: absolute patterns only match absolute paths, relative ones relative paths.
    ("etc/passwd", "/etc/*", False),
    ("/etc/passwd", "/etc/*", True),
    ("/etc/passwd", "etc/*", False),
    ("/var/log/a/b.log", "/var/log/*.log", False),
    # Hidden files are not special; `.` and `..` segments are never matched by a wildcard.
    (".env", "*", True),
    ("deep/.secrets", "*secret*", True),
    ("..dots.py", "..*", True),
    ("../x.py", "*/x.py", False),
    ("../x.py", "**/x.py", False),
    # Character classes, as glob(3) and restic.
    ("app1.log", "app[0-9].log", True),
    ("appx.log", "app[0-9].log", False),
    ("appx.log", "app[!0-9].log", True),
    ("appx.log", "app[^0-9].log", True),
    ("app].log", "app[]].log", True),
    ("app-.log", "app[a-].log", True),
    ("a[1.py", "a[1.py", True),  # no closing ]: a literal [
    ("a*.py", "a[*].py", True),
    ("ab.py", "a[*].py", False),
    ("a.py", "[z-a].py", False),  # a reversed range holds nothing
    ("a\\b", "a\\b", True),  # a backslash is literal: there is no escape character
    # Newlines in names are characters like any other.
    ("tests/a\nb/conftest.py", "**/conftest.py", True),
    ("a\n/x.py", "*/x.py", True),
    ("x.py\n", "*.py", False),
    ("a\nb.py", "a?b.py", True),
    # Case matters.
    ("README.MD", "*.md", False),
])
def test_the_dialect(path: str, pattern: str, expected: bool) -> None:
    assert expected is matches(path, pattern)
    # The same path written with a `.` segment takes the segment-by-segment way (a path already
    # in normal form takes one regex): both ways must agree.
    detour = "/." + path if path.startswith("/") else "./" + path
    assert (expected, expected) == (matches(detour, pattern), first_match(detour, [pattern]) == pattern)
    assert (first_match(path, ["nothing/x", pattern]) == pattern) is expected


@pytest.mark.parametrize(("path", "pattern", "expected"), [
    ("pkg/../conftest.py", "conftest.py", True),
    ("conscious/rails/../rails/engine.py", "conscious/rails/**", True),
    ("conscious//rails/./engine.py", "conscious/rails/*.py", True),
    ("/var/log/../../etc/passwd", "/etc/passwd", True),
    ("pkg/../../etc/passwd", "pkg/**", False),
    ("cache", "cache/", True),  # empty segments of a pattern are dropped ...
    ("x/cache", "cache/", False),  # ... but a pattern with / stays anchored
    ("a.py", "./*.py", True),
    ("sub/a.py", "./*.py", False),
])
def test_paths_are_compared_in_normal_form(path: str, pattern: str, expected: bool) -> None:
    assert expected is matches(path, pattern)


@pytest.mark.parametrize("pattern", ["../*", "../**", "pkg/../*.py", "/var/log/../*", ".", "/", ".."])
def test_a_pattern_with_a_dot_dot_segment_or_nothing_in_it_matches_nothing(pattern: str) -> None:
    for path in ("x.py", "pkg/x.py", "../x.py", "/var/log/x", "/x", ".", "..", "/", "pkg/../x.py"):
        assert not matches(path, pattern)


@pytest.mark.parametrize(("pattern", "reason"), [
    ("", "is empty"),
    ("a\x00b", "NUL"),
    ("*.log\n/etc/passwd", "line break"),
    ("*.log\r", "line break"),
    ("a" * (MAX_PATTERN_CHARS + 1), f"at most {MAX_PATTERN_CHARS}"),
])
def test_a_hostile_pattern_is_refused_naming_it_and_why(pattern: str, reason: str) -> None:
    with pytest.raises(GlobError) as raised:
        matches("x", pattern)
    assert reason in str(raised.value) and repr(pattern[:20])[1:-1] in str(raised.value)


def test_a_path_with_a_nul_matches_nothing() -> None:
    assert not matches("a\x00.py", "*")


@pytest.mark.timeout(60)  # a hang guard, not a speed check: backtracking would take years
def test_stars_never_backtrack_exponentially() -> None:
    name = "a" * 50_000
    assert not matches(name, "*a*a*a*a*a*a*a*a*b")
    assert matches(name + "b", "*a*a*a*a*a*a*a*a*b")
    deep = "/".join(["a"] * 2_000)
    assert not matches(deep, "**/a/**/a/**/a/**/a/**/a/**/b")
    assert matches(deep + "/b", "**/a/**/a/**/a/**/a/**/a/**/b")


def test_first_match_returns_the_first_pattern_that_matches() -> None:
    assert "*.py" == first_match("pkg/a.py", ["*.txt", "*.py", "pkg/*"])
    assert first_match("pkg/a.py", ("*.txt",)) is None


def test_has_magic_counts_every_wildcard() -> None:
    assert [has_magic(text) for text in ("a", "a*", "a?", "a[", "**")] == [False, True, True, True, True]


@pytest.mark.parametrize(("pattern", "directory", "expected"), [
    ("/var/**/x.log", "/var/lib/hostmind", True),
    ("/var/*/x.log", "/var/lib/hostmind", False),
    ("/var/log/*.log", "/var/lib", False),
    ("/e[t]c/x.log", "/etc", True),
    ("/*/x.log", "/etc", True),
    ("/var/log/x.log", "/var/log", True),
    ("/var/log", "/var/log", True),
    ("/srv/log/../../etc/x", "/etc", False),
    ("var/x", "/var", False),
])
def test_reaches_tells_whether_a_pattern_could_match_at_or_below_a_directory(
        pattern: str, directory: str, expected: bool) -> None:
    assert expected is reaches(pattern, directory)


def hostile_tree(root: Path) -> Path:
    """A tree with hidden files, odd names, symlinks to files and directories, and a loop."""
    tree = root / "t"
    for relative in ("a.log", ".hidden.log", "sub/b.log", "sub/.h/c.log", "sub/deep/d.log",
                     "x/y/z/e.log", "odd/new\nline.log", "odd/star*.log", "odd/[br].log",
                     "odd/b.log", "..dots.log", "notes.txt", "sub/notes.txt"):
        path = tree / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(relative)
    (tree / "empty").mkdir()
    (root / "elsewhere").mkdir()
    (root / "elsewhere" / "far.log").write_text("far")
    (tree / "link.log").symlink_to(tree / "a.log")
    (tree / "dangling.log").symlink_to(tree / "gone")
    (tree / "sub" / "linkdir").symlink_to(root / "elsewhere")
    (tree / "loop").symlink_to(tree)
    return tree


def every_entry(tree: Path) -> list[str]:
    """Every entry a walk of `tree` lists, entering real directories only."""
    found = []
    for directory, subdirectories, files in os.walk(tree):
        found.extend(os.path.join(directory, name) for name in subdirectories + files)
    return found


EXPAND_PATTERNS = [
    "*.log", "*", "**", "**/*.log", "*/*.log", "sub/**", "sub/**/*.log", "**/deep/*", "odd/*",
    "odd/*\n*", "odd/star[*].log", "odd/[[]br].log", "odd/[br].log", "odd/?.log", ".*", "..*",
    "[!.]*.log", "**/.h/*", "**/far.log", "x/**/e.log",
    "**/**/e.log", "a.log", "nothing/*", "sub/*/", "*/../a.log",
]


@pytest.mark.parametrize("relative", EXPAND_PATTERNS)
def test_expand_finds_exactly_the_existing_paths_that_matches_accepts(tmp_path: Path, relative: str) -> None:
    tree = hostile_tree(tmp_path)
    pattern = f"{tree}/{relative}"
    if "\n" in relative:
        with pytest.raises(GlobError):
            expand(pattern)
        return
    expected = sorted(path for path in every_entry(tree) if matches(path, pattern))

    assert expected == expand(pattern)


def test_the_hostile_tree_expands_to_something(tmp_path: Path) -> None:
    # Guards the test above against agreeing on nothing.
    tree = hostile_tree(tmp_path)
    assert [f"{tree}/..dots.log", f"{tree}/.hidden.log", f"{tree}/a.log", f"{tree}/dangling.log",
            f"{tree}/link.log"] == expand(f"{tree}/*.log")
    assert [f"{tree}/odd/new\nline.log"] == expand(f"{tree}/odd/new?line.log")
    assert [f"{tree}/odd/star*.log"] == expand(f"{tree}/odd/star[*].log")
    assert f"{tree}/sub/.h/c.log" in expand(f"{tree}/**/*.log")


def test_expand_never_enters_a_symlinked_directory_and_says_so(tmp_path: Path) -> None:
    tree = hostile_tree(tmp_path)
    skipped: list[Skipped] = []

    found = expand(f"{tree}/**", skipped)

    assert f"{tree}/loop" in found and f"{tree}/sub/linkdir" in found
    assert [] == [path for path in found if "/loop/" in path or "/linkdir/" in path]
    assert {Skipped(f"{tree}/loop", "symlink"), Skipped(f"{tree}/sub/linkdir", "symlink")} == set(skipped)


def test_a_literal_head_is_resolved_by_the_system_links_included(tmp_path: Path) -> None:
    tree = hostile_tree(tmp_path)
    assert [f"{tree}/sub/linkdir/far.log"] == expand(f"{tree}/sub/linkdir/far.log")
    assert [f"{tree}/sub/linkdir/far.log"] == expand(f"{tree}/sub/linkdir/*.log")
    assert f"{tree}/loop/a.log" in expand(f"{tree}/loop/*")


def test_expand_takes_only_absolute_patterns(tmp_path: Path) -> None:
    with pytest.raises(GlobError, match="not an absolute path"):
        expand("var/log/*.log")


@pytest.mark.host  # drops to nobody with setpriv: root on the host, never inside the ratchet's sandbox
def test_a_directory_that_cannot_be_listed_is_reported_not_raised() -> None:
    # Root lists every directory, so the expansion runs as nobody, from the module's own source
    # (stdlib only), in a directory of its own that nobody can reach.
    with tempfile.TemporaryDirectory() as temporary:
        base = Path(temporary)
        base.chmod(0o755)
        (base / "open").mkdir()
        (base / "open" / "a.log").write_text("a")
        (base / "locked").mkdir()
        (base / "locked" / "b.log").write_text("b")
        (base / "locked").chmod(0o311)  # may be entered, not listed
        source = (ROOT / "unconscious" / "globs.py").read_text(encoding="utf-8")
        program = (
            "import sys, types\n"
            "module = sys.modules['globs'] = types.ModuleType('globs')\n"
            "exec(compile(sys.stdin.read(), 'globs.py', 'exec'), module.__dict__)\n"
            "skipped = []\n"
            "print(module.expand(sys.argv[1], skipped))\n"
            "print([(s.path, s.reason) for s in skipped])\n")
        result = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-I",
             "-c", program, f"{base}/*/*.log"],
            input=source, capture_output=True, text=True, timeout=60, check=False)
    assert 0 == result.returncode, result.stderr
    found, skipped = result.stdout.splitlines()
    assert f"['{base}/open/a.log']" == found
    assert f"[('{base}/locked', 'unreadable: Permission denied')]" == skipped


def _deep_tree(top: Path, depth: int) -> str:
    """Make `depth` nested one-letter directories under `top` (a local user can make such a tree
    in a log directory they may write), a log at the bottom; return that log's path."""
    fd = os.open(top, os.O_RDONLY)
    try:
        for _level in range(depth):
            os.mkdir("a", dir_fd=fd)
            below = os.open("a", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = below
        os.close(os.open("x.log", os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=fd))
    finally:
        os.close(fd)
    return str(top) + "/a" * depth + "/x.log"


def test_a_directory_tree_deeper_than_the_recursion_limit_expands_without_error(tmp_path: Path) -> None:
    """`expand` walked by recursion: 1,200 nested directories raised RecursionError, so a local
    user could stop a rotation rule with `**` in it every run."""
    depth = max(1200, sys.getrecursionlimit() + 200)
    bottom = _deep_tree(tmp_path, depth)
    try:
        found = expand(f"{tmp_path}/**/*.log")
    finally:
        # shutil.rmtree (pytest's clean-up of old temp dirs) recurses too: take the tree down
        # from the bottom here, one level at a time.
        os.unlink(bottom)
        for level in range(depth, 0, -1):
            os.rmdir(str(tmp_path) + "/a" * level)
    assert found == [bottom]


def test_expand_with_a_limit_stops_the_walk_there_and_finds_only_matches(tmp_path: Path) -> None:
    for index in range(300):
        (tmp_path / f"app{index}.log").write_bytes(b"")
        (tmp_path / f"app{index}.txt").write_bytes(b"")
    pattern = f"{tmp_path}/*.log"
    some = expand(pattern, limit=40)
    assert len(some) == 40 and set(some) <= set(expand(pattern))
    assert len(expand(pattern, limit=1000)) == 300
