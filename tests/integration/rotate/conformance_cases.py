"""Cases ported from logrotate 3.21's own test suite (logrotate/logrotate, test/test-00NN.sh).

Each case is the logrotate configuration of the original (`&DIR&` is the test's directory),
the files it starts from, and the runs (forced or not). The harness runs the real logrotate
and hostmind (on the rules `hostmind rotate import` makes of the same configuration) on two
identical trees and compares what they leave. Ported: the configurations and setups, written
anew; no code of logrotate is copied. Where a case was adapted, `note` says how.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT_FOO = "postrotate\n  touch scriptout\n  echo $(cat scriptout) foo > foo\n  mv foo scriptout\nendscript"
PRE_POST_ONE = ("prerotate\n  touch scriptout\n  printf '%s' \"$(basename $1)\" >> scriptout\n  printf ';' >> scriptout\n"
                "endscript\npostrotate\n  touch scriptout\n  printf '%s' \"$(basename $1)\" >> scriptout\n"
                "  printf ';' >> scriptout\nendscript")


@dataclass(frozen=True)
class Case:
    """One ported case: logrotate config, a setup of files, and the runs (True = --force)."""

    number: str
    config: str
    files: dict[str, bytes | str] = field(default_factory=dict)
    runs: tuple[bool, ...] = (True,)
    between: Callable[[Path, int], None] | None = None
    setup: Callable[[Path], None] | None = None
    note: str = ""


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def make_tree(case: Case, directory: Path) -> None:
    """Create the case's starting files in `directory` (names relative; 'LINK->target' symlinks)."""
    for name, data in case.files.items():
        if "->" in name:
            link, target = name.split("->")
            (directory / link).symlink_to(directory / target)
        else:
            _write(directory / name, data)
    if case.setup is not None:
        case.setup(directory)


def _append(directory: Path, run: int) -> None:
    """Between runs: the log gets new lines, as a writer would add them."""
    with open(directory / "test.log", "ab") as handle:
        handle.write(f"run {run}\n".encode())


def _hard_link(directory: Path) -> None:
    os.link(directory / "test.log", directory / "test.link")


def _ages(directory: Path) -> None:
    """The archives' mtimes: test.log.1 three days old, test.log.2 one hour old."""
    now = time.time()
    for name, age in (("test.log.1", 3 * 86400), ("test.log.2", 3600)):
        os.utime(directory / name, (now - age, now - age))


def _gz(text: str) -> bytes:
    import gzip

    return gzip.compress(text.encode(), mtime=0)


CASES: tuple[Case, ...] = (
    Case("0001", "create\n&DIR&/test.log {\n daily\n rotate 2\n}", note="no log file: an error, nothing made"),
    Case("0002", "create\n\"&DIR&/test.log\" {\n monthly\n rotate 2\n}", {"test.log": "zero\n"}),
    Case("0003", f"create\n&DIR&/test*.log {{\n monthly\n rotate 1\n {SCRIPT_FOO}\n}}",
         {"test.log": "zero\n", "test2.log": "two\n"}, note="postrotate once per log"),
    Case("0004", f"create\n&DIR&/test*.log {{\n monthly\n rotate 1\n sharedscripts\n {SCRIPT_FOO}\n}}",
         {"test.log": "zero\n", "test2.log": "two\n"}, note="sharedscripts: postrotate once"),
    Case("0005", f"create\n&DIR&/test.log &DIR&/anothertest.log {{\n monthly\n rotate 1\n sharedscripts\n"
                 f" {SCRIPT_FOO}\n}}", {"test.log": "zero\n", "anothertest.log": "another\n"}),
    Case("0006", "create\n&DIR&/test.log &DIR&/anothertest.log {\n monthly\n rotate 1\n start 0\n}",
         {"test.log": "zero\n", "anothertest.log": "another\n"}),
    Case("0007", "create\n&DIR&/test.log {\n monthly\n rotate 3\n start 6\n}", {"test.log": "zero\n"},
         runs=(True, True), between=_append),
    Case("0008", "create\ncompress\n&DIR&/test.log {\n monthly\n rotate 3\n}",
         {"test.log": "zero\n", "test.log.1.gz": _gz("first\n"), "test.log.2.gz": _gz("second\n"),
          "test.log.3.gz": _gz("third\n")}),
    Case("0009", "create\ncompress\n&DIR&/test.log {\n monthly\n rotate 0\n}", {"test.log": "zero\n"}),
    Case("0010", "create\n&DIR&/test.log {\n daily\n rotate 3\n compress\n delaycompress\n create\n}",
         {"test.log": "zero\n", "test.log.1": "first\n"}, runs=(True, True), between=_append),
    Case("0011", "create\ncompress\n&DIR&/test.log {\n monthly\n rotate 1\n}", {"test.log": "zero\n"},
         runs=(True, True), between=_append),
    Case("0012", "create\n&DIR&/test.log {\n monthly\n rotate 1\n olddir testdir\n nocreateolddir\n}",
         {"test.log": "zero\n", "testdir/.keep": ""}),
    Case("0013", "create\n&DIR&/test.log {\n monthly\n rotate 1\n olddir &DIR&/testdir\n createolddir\n}",
         {"test.log": "zero\n"}, note="createolddir without a mode (hostmind makes it 0750; logrotate 0755)"),
    Case("0014", "create\n&DIR&/test.log {\n daily\n dateext\n dateformat .%Y-%m-%d\n rotate 1\n}",
         {"test.log": "zero\n"}),
    Case("0016", "create\n&DIR&/test.log {\n weekly\n maxsize 4\n rotate 1\n}", {"test.log": "zero\n"},
         runs=(False,), note="not forced: maxsize passed"),
    Case("0016b", "create\n&DIR&/test.log {\n weekly\n maxsize 5\n rotate 1\n}", {"test.log": "zero\n"},
         runs=(False,), note="variant: exactly maxsize is not past it"),
    Case("0019", "create\n&DIR&/test*.log {\n daily\n rotate 1\n postrotate\n  exit 1\n endscript\n}",
         {"test.log": "zero\n"}, note="a failing postrotate fails the run; the rotation stays"),
    Case("0021", "create\n&DIR&/test*.log {\n daily\n rotate 1\n missingok\n}", {"other.log": "zero\n"}),
    Case("0022", "create\n&DIR&/test*.log {\n daily\n rotate 1\n}", {"other.log": "zero\n"}),
    Case("0023", "create\n&DIR&/test*.log {\n daily\n rotate 1\n}",
         {"target.txt": "zero\n", "test.log->target.txt": ""}, note="a symlinked log is skipped"),
    Case("0024", "create\n&DIR&/test*.log {\n daily\n copytruncate\n rotate 1\n}",
         {"target.txt": "zero\n", "test.log->target.txt": ""}),
    Case("0026", "create\n&DIR&/test.log {\n waeekly\n maxsize 4\n rotate 1\n}", {"test.log": "zero\n"},
         note="an unknown directive: the block is not used"),
    Case("0029", "create\nrotate 1\ndaily\n&DIR&/test.log { }", {"test.log": "zero\n"}),
    Case("0031", "create 0600\n&DIR&/test.log {\n daily\n rotate 999\n}", {"test.log": "zero\n"}),
    Case("0034", "create root root\n&DIR&/test.log {\n daily\n rotate 1\n}", {"test.log": "zero\n"}),
    Case("0036", "&DIR&/test.log {\n daily\n size 300x\n rotate 1\n}", {"test.log": "zero\n"},
         note="a bad size unit: the block is not used"),
    Case("0041", f"create\n&DIR&/test*.log {{\n size 5\n rotate 1\n nosharedscripts\n {PRE_POST_ONE}\n}}",
         {"test.log": "zero zero\n", "test2.log": "a\n"}, runs=(False,),
         note="scripts only for the log that is due; $1 is its path"),
    Case("0043", f"create\n&DIR&/test*.log {{\n size 5\n rotate 1\n nosharedscripts\n {PRE_POST_ONE}\n}}",
         {"test.log": "zero zero\n", "test2.log": "two two\n"}, runs=(False,)),
    Case("0044", f"create\n&DIR&/test.log &DIR&/test2.log {{\n size 5\n rotate 1\n nosharedscripts\n"
                 f" {PRE_POST_ONE}\n}}", {"test.log": "zero zero\n", "test2.log": "a\n"}, runs=(False,)),
    Case("0052", f"create\n&DIR&/does_not_exist.log &DIR&/test.log {{\n rotate 14\n size 2\n missingok\n"
                 f" sharedscripts\n {SCRIPT_FOO}\n}}", {"test.log": "zero\n"}, runs=(False,),
         note="the missing log is in the test's directory, not /var/log"),
    Case("0053", "create\n&DIR&/test.log {\n rotate 14\n size 4096\n missingok\n}", {"test.log": "zero\n"}),
    Case("0053b", "create\n&DIR&/test.log {\n rotate 14\n size 4096\n missingok\n}", {"test.log": "zero\n"},
         runs=(False,), note="variant: not forced, below size: nothing happens"),
    Case("0061", "create\n&DIR&/test.log {\n daily\n dateext\n dateformat .%Y-%m-%d-%H\n rotate 1\n}",
         {"test.log": "zero\n"}),
    Case("0066", "create\n&DIR&/test.log {\n daily\n dateext\n dateformat %Y-%m-%d\n rotate 1\n}",
         {"test.log": "zero\n", "test.log2020-01-01": "old\n"}),
    Case("0072", "&DIR&/test.log {\n daily\n rotate 3\n compress\n delaycompress\n create\n}",
         {"test.log": "zero\n"}, runs=(True, True, True), between=_append),
    Case("0073", "&DIR&/test_copy.log {\n copy\n copytruncate\n rotate 1\n}\n"
                 "&DIR&/test_rotate.log {\n copytruncate\n rotate 0\n}",
         {"test_copy.log": "copy\n", "test_rotate.log": "rotate\n"}),
    Case("0074", "&DIR&/test.log {\n create\n rotate 1\n size 0\n postrotate\n  rm -f &DIR&/test.log.2\n"
                 " endscript\n}", {"test.log": "zero\n"}),
    Case("0080", "create\n&DIR&/does_not_exist.log &DIR&/test.log {\n rotate 14\n size 2\n daily\n missingok\n}",
         {"test.log": "zero\n"}, runs=(False,), note="daily after size: daily wins; a new log waits a day"),
    Case("0083", "&DIR&/test.log {\n rotate 1 # invalid comment\n}", {"test.log": "zero\n"}),
    Case("0084", "&DIR&/log/*/* {\n rotate 1\n}", {"log/a/test.log": "a\n", "log/b/test.log": "b\n"}),
    Case("0088", "&DIR&/test.log {\n rotate 0\n compress\n delaycompress\n}", {"test.log": "zero\n"}),
    Case("0090", "&DIR&/test.log {\n rotate 1\n copytruncate\n}", {"test.log": "zero\n"}, setup=_hard_link),
    Case("copytruncate", "&DIR&/test.log {\n rotate 2\n copytruncate\n compress\n}", {"test.log": "zero\n"},
         runs=(True, True), between=_append, note="not a numbered logrotate test: copytruncate twice"),
    Case("maxage", "&DIR&/test.log {\n rotate 5\n maxage 1\n}",
         {"test.log": "zero\n", "test.log.1": "three days old\n", "test.log.2": "an hour old\n"}, setup=_ages,
         note="not a numbered logrotate test: maxage by the archives' mtimes"),
    Case("dateyesterday", "&DIR&/test.log {\n daily\n dateext\n dateyesterday\n rotate 2\n}",
         {"test.log": "zero\n"}, note="not a numbered logrotate test"),
    Case("dateext-copytruncate", "&DIR&/test.log {\n daily\n dateext\n compress\n copytruncate\n rotate 3\n}",
         {"test.log": "zero\n", "test.log-20200101.gz": _gz("old\n")}, note="not a numbered logrotate test"),
    Case("extension", "create\n&DIR&/test.log {\n monthly\n rotate 2\n extension .log\n}",
         {"test.log": "zero\n"}, runs=(True, True), between=_append,
         note="not a numbered logrotate test (0078/0101 are addextension): test.1.log, then shifted to test.2.log"),
    Case("extension-compress", "create\n&DIR&/test.log {\n monthly\n rotate 2\n compress\n delaycompress\n"
                               " extension .log\n}", {"test.log": "zero\n"},
         runs=(True, True, True), between=_append,
         note="not a numbered logrotate test: test.1.log, then test.2.log.gz (delaycompress)"),
    Case("extension-dateext", "create\n&DIR&/test.log &DIR&/test.txt {\n daily\n dateext\n compress\n"
                              " extension .log\n rotate 1\n}", {"test.log": "zero\n", "test.txt": "text\n"},
         note="not a numbered logrotate test: test-DATE.log.gz; test.txt does not end with .log"),
    Case("ifempty", "create\n&DIR&/test.log {\n rotate 2\n}", {"test.log": ""},
         note="logrotate's default ifempty rotates an empty log"),
    Case("notifempty", "create\n&DIR&/test.log {\n rotate 2\n notifempty\n}", {"test.log": ""}),
)
