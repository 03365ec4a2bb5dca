"""Helpers for rotation tests: a tree with a config, a live writer, and a line accountant."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from unconscious.rotate.codecs import Codec, codec_for_name

WRITER = Path(__file__).with_name("writer_process.py")
REPO = Path(__file__).resolve().parents[3]


@dataclass
class Tree:
    """A hostmind config/state/runtime tree plus a log directory, all under one folder."""

    root: Path

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def state(self) -> Path:
        return self.root / "state"

    def environment(self, crash_at: str | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(HOSTMIND_CONFIG_DIR=str(self.root / "etc"), HOSTMIND_STATE_DIR=str(self.state),
                   HOSTMIND_RUNTIME_DIR=str(self.root / "run"), HOSTMIND_LOG="console")
        env.pop("HOSTMIND_FAULT", None)
        if crash_at:
            env["HOSTMIND_FAULT"] = crash_at
        return env

    def configure(self, rules: dict[str, object], extra: dict[str, object] | None = None) -> None:
        """Write the rules as a drop-in (the same way an operator would)."""
        (self.root / "etc" / "hostmind.d").mkdir(parents=True, exist_ok=True)
        document = {"rotate": {"rules": rules, **(extra or {})}}
        (self.root / "etc" / "hostmind.d" / "50-rotate.yaml").write_text(yaml.safe_dump(document))

    def rotate(self, *arguments: str, crash_at: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run one pass in a real subprocess (python -m unconscious.rotate)."""
        return subprocess.run([sys.executable, "-m", "unconscious.rotate", *arguments],
                              env=self.environment(crash_at), capture_output=True, text=True,
                              timeout=timeout, cwd=REPO, check=False)


def make_tree(root: Path) -> Tree:
    tree = Tree(root)
    tree.logs.mkdir(parents=True, exist_ok=True)
    return tree


class Writer:
    """A real process appending numbered lines to a log; `stop()` returns the next number."""

    def __init__(self, log: Path, first: int, pause: float = 0.0005) -> None:
        self.report = log.parent.parent / f"writer-{log.name}.report"
        self.process = subprocess.Popen([sys.executable, str(WRITER), str(log), str(first), str(self.report),
                                         str(pause)])

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> int:
        # SIGCONT first: a test that crashed mid-window may have left it stopped until recovery.
        self.process.send_signal(signal.SIGCONT)
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)
        return int(self.report.read_text())


def prefill(log: Path, count: int) -> int:
    """Write lines 0..count-1 to `log`; return count (the writer's first number)."""
    with open(log, "wb") as handle:
        handle.write(b"".join(b"line %09d\n" % number for number in range(count)))
    return count


def all_lines(log: Path, archive_dir: Path | None = None) -> Counter[bytes]:
    """Count every line in the live log and in every archive of it (decompressed)."""
    counts: Counter[bytes] = Counter()
    directory = archive_dir or log.parent
    sources = [log] if log.exists() else []
    sources += [path for path in sorted(directory.iterdir())
                if path.name.startswith(log.name) and path != log and ".hostmind-" not in path.name]
    for path in sources:
        codec: Codec = codec_for_name(path.name) if path != log else Codec("none")
        data = b""
        with open(path, "rb") as raw:
            data = b"".join(codec.chunks(raw))
        counts.update(data.splitlines(keepends=True))
    return counts


def accounting(counts: Counter[bytes], upto: int) -> tuple[list[int], list[int], int]:
    """Return (missing numbers, duplicated numbers, count of lines that are not whole lines)."""
    expected = {b"line %09d\n" % number for number in range(upto)}
    missing = sorted(int(line[5:14]) for line in expected - set(counts))
    duplicated = sorted(int(line[5:14]) for line, seen in counts.items() if seen > 1 and line in expected)
    foreign = sum(seen for line, seen in counts.items() if line not in expected)
    return missing, duplicated, foreign


def work_files(*directories: Path) -> list[str]:
    """Hidden working files a finished rotation must not leave behind."""
    return sorted(path.name for directory in directories if directory.is_dir()
                  for path in directory.iterdir() if ".hostmind-" in path.name)
