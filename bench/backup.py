"""Bench the backup engines side by side with their peers on one generated tree. Prints; never asserts.

    .venv/bin/python bench/backup.py [--small] [--workdir DIR] [--repeat N] [--only tar|restic|memory]

The tree: >= 300 MB in >= 15,000 files (small text-like files, medium files half random and half
text, one 64 MiB file); `--small` makes a tenth of it for a quick look. Every figure is wall
time on a warm page cache (the tree was just written), best of `--repeat` runs, and is printed
as MB/s (source bytes) and files/s, with the ratio against the peer run in the same process:

  1. hostmind tar engine with the defaults' verification (walk + tar + zstd + BLAKE3 manifest
     with xattrs/ns times + BLAKE3 of the archive + fsync + the archive re-read from disk,
     trailing the writer, and its hash compared + rename + verify), with the default zstd
     layout (one worker per CPU, at most 4, fed by the reading thread) and zstd in one thread
     beside a reading thread, vs `tar --zstd -cf`
     (GNU tar piping into the zstd CLI: level 3, one thread, a second process), vs the same
     followed by an fsync (what durability costs) and vs `tar --zstd --format=posix --xattrs
     --acls` (the metadata ours keeps); these runs are interleaved round by round, so a change
     of load hits all alike, and each round's ratio to the peer is printed too (paired), with
     the load average and CPU pressure before and after; then each side's threads' CPU seconds
     and the critical path they give on this machine's CPUs (an estimate of the idle wall
     time where the load makes wall times meaningless);
  2. hostmind restic engine (`ResticEngine.backup`: argv, JSON summary parsing, records) vs raw
     `restic backup`, first run into an empty repository and an unchanged second run; then both
     with the default check (`--read-data-subset=5%`) after an unchanged third backup;
  3. verification: hostmind tar full check (decompress and hash every member) and the restic
     engine's verify at `--read-data-subset=100%`, vs `restic check --read-data`;
  4. peak RSS of a process running the tar engine over the tree, against its largest file.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from unconscious.backup.restic_engine import ResticEngine  # noqa: E402
from unconscious.backup.settings import BackupSettings, ResticSettings, Source  # noqa: E402
from unconscious.backup.tar_engine import TarEngine  # noqa: E402
from unconscious.backup.walk import Problems  # noqa: E402
from unconscious.paths import Paths  # noqa: E402

MB = 1_000_000
PASSWORD = "bench password\n"
RSS_PROBE = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from unconscious.backup.settings import BackupSettings, Source
from unconscious.backup.tar_engine import TarEngine
from unconscious.backup.walk import Problems
TarEngine(BackupSettings(destination=Path(sys.argv[3]), sources=(Source("tree", Path(sys.argv[2])),),
                         compression_threads=int(sys.argv[4]))).backup(Problems())
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print(line.split()[1])
"""


def generate(root: Path, small: bool) -> tuple[int, int]:
    """Write the bench tree under `root`; return (files, bytes)."""
    rng = random.Random(7)
    words = [rng.randbytes(rng.randint(2, 9)).hex().encode() for _ in range(5000)]
    text = b" ".join(rng.choice(words) for _ in range(400_000))  # ~4 MB of text-like bytes
    scale = 10 if small else 1
    files = total = 0

    def write(path: Path, data: bytes) -> None:
        nonlocal files, total
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files += 1
        total += len(data)

    for index in range(15_000 // scale):
        size = rng.randint(2_000, 18_000)
        start = rng.randrange(0, len(text) - size)
        write(root / f"small/d{index % 150:03d}/f{index:05d}.txt", text[start:start + size])
    for index in range(20 // scale or 2):
        half = 2_500_000
        start = rng.randrange(0, len(text) - half)
        write(root / f"medium/m{index:02d}.bin", os.urandom(half) + text[start:start + half])
    big = bytearray()
    while len(big) < (64 << 20) // scale:
        big += os.urandom(1 << 20) + text[: 1 << 20]
    write(root / "large/big.img", bytes(big[: (64 << 20) // scale]))
    return files, total


def measure(action: Callable[[], object]) -> tuple[float, float]:
    """Run `action`; return (wall seconds, CPU seconds of this process and its children)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu, wall = time.process_time(), time.perf_counter()
    action()
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - cpu + after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    return wall, cpu


def best(repeat: int, action: Callable[[], object], before: Callable[[], None] | None = None) -> tuple[float, float]:
    """Return (wall, CPU) of the fastest of `repeat` runs of `action` (`before` runs untimed first)."""
    results: list[tuple[float, float]] = []
    for _ in range(repeat):
        if before is not None:
            before()
        results.append(measure(action))
    return min(results)


def line(label: str, timing: tuple[float, float], files: int, size: int,
         peer: tuple[float, float] | None = None) -> None:
    seconds, cpu = timing
    ratio = f"  {seconds / peer[0]:5.2f}x wall, {cpu / peer[1]:5.2f}x CPU of the peer" if peer else ""
    print(f"  {label:<44} {seconds:6.2f} s ({cpu:6.2f} s CPU) {size / MB / seconds:7.1f} MB/s "
          f"{files / seconds:8.0f} files/s{ratio}")


def run(argv: list[str], env: dict[str, str] | None = None, timeout: float = 600) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=env, timeout=timeout)


def interleaved(repeat: int, runs: dict[str, tuple[Callable[[], object], Callable[[], None]]]
                ) -> dict[str, list[tuple[float, float]]]:
    """Run every (action, untimed setup) of `runs` once per round, `repeat` rounds, one after
    the other; return the (wall, CPU) of each round, by label. Interleaving makes a change in
    the host's load hit the peer and ours alike, where running all of one first would not."""
    results: dict[str, list[tuple[float, float]]] = {label: [] for label in runs}
    for _ in range(repeat):
        for label, (action, before) in runs.items():
            before()
            results[label].append(measure(action))
    return results


def load() -> str:
    """The host's load average and CPU pressure now (what a shared machine's figures depend on)."""
    with open("/proc/loadavg") as handle:
        average = " ".join(handle.read().split()[:3])
    try:
        with open("/proc/pressure/cpu") as handle:
            pressure = handle.readline().split()[1]
    except OSError:
        pressure = "avg10=?"
    return f"load average {average}, CPU pressure some {pressure}%"


def paired(rounds: dict[str, list[tuple[float, float]]], label: str, peer: str) -> str:
    """Ratios of `label` to `peer` round by round (each pair ran back to back): wall / CPU."""
    return ", ".join(f"{ours[0] / theirs[0]:.2f}/{ours[1] / theirs[1]:.2f}"
                     for ours, theirs in zip(rounds[label], rounds[peer], strict=True))


def clear(path: Path) -> Callable[[], None]:
    """Return an action that empties (recreates) the directory `path`."""
    def action() -> None:
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir()
    return action


def backup_and_verify(engine: TarEngine) -> Callable[[], None]:
    """Return what a run with the defaults does: write (hashing), fsync, read back once, verify."""
    def action() -> None:
        if not engine.verify(engine.backup(Problems())).ok:
            raise SystemExit("hostmind tar verification failed")
    return action


TAR_ENGINE_LABELS = {0: "hostmind tar engine (defaults: a zstd worker per CPU)",
                     1: "hostmind tar engine (zstd 1 thread)"}


def tar_runs(work: Path, tree: Path, out: Path) -> tuple[dict[str, tuple[Callable[[], object], Callable[[], None]]],
                                                          dict[int, TarEngine]]:
    """The interleaved tar contenders, (action, untimed setup) by label, and our engines by thread count."""
    tar = ["tar", "-C", str(tree.parent)]
    plain = [*tar, "--zstd", "-cf", str(out), tree.name]
    # The same metadata as ours: pax headers with ns mtimes, every xattr, ACLs.
    posix = [*tar, "--zstd", "--format=posix", "--xattrs", "--xattrs-include=*", "--acls", "-cf", str(out),
             tree.name]

    def remove_peer() -> None:
        out.unlink(missing_ok=True)

    def tar_and_fsync() -> None:
        run(plain)
        descriptor = os.open(out, os.O_RDONLY)
        os.fsync(descriptor)
        os.close(descriptor)

    engines = {threads: TarEngine(BackupSettings(destination=work / f"hostmind-t{threads}",
                                                 sources=(Source("tree", tree),), compression_threads=threads))
               for threads in TAR_ENGINE_LABELS}
    runs: dict[str, tuple[Callable[[], object], Callable[[], None]]] = {
        "tar --zstd -cf": (lambda: run(plain), remove_peer),
        "tar --zstd -cf, then fsync": (tar_and_fsync, remove_peer),
        "tar --zstd --format=posix --xattrs --acls -cf": (lambda: run(posix), remove_peer),
    }
    for threads, engine in engines.items():
        runs[TAR_ENGINE_LABELS[threads]] = (backup_and_verify(engine), clear(engine.destination))
    return runs, engines


def bench_tar(work: Path, tree: Path, files: int, size: int, repeat: int) -> None:
    print("tar engine vs tar --zstd (GNU tar 1.34 piping into the zstd CLI: level 3, one compression "
          "thread, in a second process)")
    out = work / "peer.tar.zst"
    runs, engines = tar_runs(work, tree, out)
    print(f"  before: {load()}")
    rounds = interleaved(repeat, runs)
    print(f"  after: {load()}")
    timings = {label: min(results) for label, results in rounds.items()}
    peer = timings["tar --zstd -cf"]
    line("tar --zstd -cf", peer, files, size)
    for label in ("tar --zstd -cf, then fsync", "tar --zstd --format=posix --xattrs --acls -cf"):
        line(label, timings[label], files, size, peer)
    print(f"    (peer archive {out.stat().st_size / MB:.1f} MB, pax format)" if out.exists() else "")
    print("  hostmind: walk + pax headers + BLAKE3 of every member + zstd level 3 + BLAKE3 of the "
          "archive as written + fsync + the archive re-read from disk (trailing the writer) and hashed "
          "again + manifest")
    for threads, engine in engines.items():
        line(TAR_ENGINE_LABELS[threads], timings[TAR_ENGINE_LABELS[threads]], files, size, peer)
        snapshot = engine.snapshots()[-1]
        print(f"    (archive {Path(snapshot.location).stat().st_size / MB:.1f} MB, manifest "
              f"{engine.manifest_path(snapshot.id).stat().st_size / MB:.1f} MB); paired per round, "
              f"wall/CPU: {paired(rounds, TAR_ENGINE_LABELS[threads], 'tar --zstd -cf')}")
    bench_tar_threads(work, tree, repeat)
    bench_tar_encrypted(work, tree, files, size, repeat, peer)
    engine = engines[0]
    snapshot = engine.snapshots()[-1]
    verify = best(repeat, lambda: engine.verify(snapshot, full=True))
    line("hostmind tar full check (decompress, every member hashed)", verify, files, size)


def bench_tar_encrypted(work: Path, tree: Path, files: int, size: int, repeat: int,
                        peer: tuple[float, float]) -> None:
    try:
        import pyrage  # type: ignore[import-untyped]
    except ImportError:
        print("  (pyrage not installed: no encrypted run)")
        return
    destination = work / "hostmind-age"
    recipient = str(pyrage.x25519.Identity.generate().to_public())
    encrypted = TarEngine(BackupSettings(destination=destination, sources=(Source("tree", tree),),
                                         age_recipients=(recipient,)))
    timing = best(repeat, backup_and_verify(encrypted), clear(destination))
    line("hostmind tar engine, age-encrypted (backup + verify)", timing, files, size, peer)


class ThreadSampler:
    """CPU seconds of every thread of the processes `pids`, sampled from /proc every 10 ms
    while running (a thread that ends keeps its last sample: at most 10 ms lost)."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, pids: list[int], skip: set[int] | None = None) -> None:
        self.pids = pids
        self.skip = skip or set()
        self.seen: dict[tuple[int, int], float] = {}
        self.start: dict[tuple[int, int], float] = {}
        self._stop = threading.Event()
        self._read(self.start)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _read(self, into: dict[tuple[int, int], float]) -> None:
        for pid in self.pids:
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tids:
                if int(tid) in self.skip:
                    continue
                try:
                    with open(f"/proc/{pid}/task/{tid}/stat") as handle:
                        fields = handle.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                into[(pid, int(tid))] = (int(fields[11]) + int(fields[12])) / self.TICK

    def _run(self) -> None:
        self.skip.add(threading.get_native_id())
        while not self._stop.wait(0.01):
            self._read(self.seen)

    def stop(self) -> dict[tuple[int, int], float]:
        """Stop sampling; return the CPU seconds each (pid, tid) used since the start."""
        self._stop.set()
        self._thread.join()
        self._read(self.seen)
        return {key: value - self.start.get(key, 0.0) for key, value in self.seen.items()
                if value - self.start.get(key, 0.0) > 0}


def critical_path(threads: list[float], cpus: int) -> float:
    """The least wall time these per-thread CPU seconds need on `cpus` idle CPUs: neither less
    than the busiest thread nor than all the work spread evenly (a lower bound, which a run on
    an idle machine approaches when its stages overlap well)."""
    return max(max(threads, default=0.0), sum(threads) / cpus)


def bench_tar_threads(work: Path, tree: Path, repeat: int) -> None:
    """Print the CPU seconds of every thread of each side, GNU tar and the zstd CLI (two
    processes) against hostmind's threads (reading, compressing, zstd workers, writing,
    read-back), and each side's critical path on this machine's CPUs: on an idle machine a
    run takes about that long, so the ratio of the critical paths estimates the idle wall
    ratio where the host's load makes wall times meaningless. Best of `repeat` for each."""
    cpus = os.cpu_count() or 1
    out = work / "threads"
    for threads, label in ((1, "zstd 1 thread"), (0, "defaults")):
        peer: list[list[float]] = []
        ours: list[list[float]] = []
        for _ in range(repeat):
            peer.append(tar_then_zstd(tree, work / "peer-threads.tar.zst"))
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            engine = TarEngine(BackupSettings(destination=out, sources=(Source("tree", tree),),
                                              compression_threads=threads))
            sampler = ThreadSampler([os.getpid()])
            engine.verify(engine.backup(Problems()))
            ours.append(sorted(sampler.stop().values(), reverse=True))
        best_peer = min(peer, key=lambda parts: critical_path(parts, cpus))
        best_ours = min(ours, key=lambda parts: critical_path(parts, cpus))
        peer_path, our_path = critical_path(best_peer, cpus), critical_path(best_ours, cpus)
        print(f"  threads' CPU s ({label}): tar + zstd CLI {' + '.join(f'{t:.2f}' for t in best_peer)} "
              f"(critical path on {cpus} CPUs {peer_path:.2f}) vs hostmind "
              f"{' + '.join(f'{t:.2f}' for t in best_ours)} (critical path {our_path:.2f}): "
              f"{our_path / peer_path:.2f}x the peer's")


def tar_then_zstd(tree: Path, out: Path) -> list[float]:
    """Run `tar -cf - | zstd -c > out` (what `tar --zstd` runs); return the CPU seconds of each
    thread of both processes, busiest first."""
    with open(out, "wb") as sink:
        tar = subprocess.Popen(["tar", "-C", str(tree.parent), "-cf", "-", tree.name], stdout=subprocess.PIPE)
        zstd = subprocess.Popen(["zstd", "-q", "-c"], stdin=tar.stdout, stdout=sink)
        sampler = ThreadSampler([tar.pid, zstd.pid])
        if tar.stdout is not None:
            tar.stdout.close()
        try:
            for process in (tar, zstd):
                process.wait(timeout=600)
        except subprocess.TimeoutExpired:
            tar.kill()
            zstd.kill()
            raise
        finally:
            parts = sampler.stop()
    return sorted(parts.values(), reverse=True)


def bench_restic(work: Path, tree: Path, files: int, size: int, rounds: int = 1) -> None:
    if shutil.which("restic") is None:
        print("restic: not installed, skipped")
        return
    print("restic engine vs raw restic")
    secret = work / "restic-password"
    secret.write_text(PASSWORD)
    environment = {**os.environ, "RESTIC_PASSWORD_FILE": str(secret), "RESTIC_CACHE_DIR": str(work / "raw-cache")}
    raw_repo = work / "raw-repo"
    run(["restic", "init", "--repo", str(raw_repo)], environment)
    paths = Paths(config_dir=work / "etc", runtime_dir=work / "run", state_dir=work / "state")
    settings = BackupSettings(engine="restic", sources=(Source("tree", tree),), read_data_subset="100%",
                              restic=ResticSettings(repository=str(work / "hostmind-repo"), password_file=secret,
                                                    init=True, timeout=600.0))
    engine = ResticEngine(settings, paths)
    engine.restic.ensure_repository()  # untimed, like the raw repository's init
    defaults = ResticEngine(BackupSettings(**{**settings.__dict__, "read_data_subset": "5%"}), paths)

    def raw_with_check() -> None:
        run(["restic", "backup", "--repo", str(raw_repo), "--tag", "hostmind", str(tree)], environment)
        run(["restic", "check", "--read-data-subset=5%", "--repo", str(raw_repo)], environment)

    def ours_with_check() -> None:
        if not defaults.verify(defaults.backup(Problems())).ok:
            raise SystemExit("hostmind restic verification failed")

    for run_name in ("first", "unchanged second"):
        raw = measure(lambda: run(["restic", "backup", "--repo", str(raw_repo), "--tag", "hostmind", str(tree)],
                                  environment))
        ours = measure(lambda: engine.backup(Problems()))
        line(f"restic backup ({run_name})", raw, files, size)
        line(f"hostmind restic engine, backup only ({run_name})", ours, files, size, raw)
    raw = measure(raw_with_check)
    ours = measure(ours_with_check)
    line("restic backup + check --read-data-subset=5% (third)", raw, files, size)
    line("hostmind restic engine, defaults: backup + 5% check (third)", ours, files, size, raw)
    paired_restic(raw_with_check, ours_with_check, rounds)
    print("verification")
    check = measure(lambda: run(["restic", "check", "--read-data", "--repo", str(raw_repo)], environment))
    line("restic check --read-data", check, files, size)
    snapshot = engine.snapshots()[-1]
    outcome: list[bool] = []
    timing = measure(lambda: outcome.append(engine.verify(snapshot).ok))
    line("hostmind restic verify (subset 100%)", timing, files, size, check)
    if not all(outcome):
        print("    hostmind restic verify reported differences")


def paired_restic(raw: Callable[[], None], ours: Callable[[], None], rounds: int) -> None:
    """With `--repeat` above 1: `rounds` more unchanged backups with the default check, raw and
    ours back to back, and each round's ratio. Each side's 5% check reads a different random
    subset of its packs every time, so a single best-of pair is noisy; the median is not."""
    if rounds < 2:
        return
    ratios = []
    for _ in range(rounds):
        peer, mine = measure(raw), measure(ours)
        ratios.append((mine[0] / peer[0], mine[1] / peer[1]))
    walls = sorted(wall for wall, _ in ratios)
    print(f"  backup + 5% check, {rounds} paired rounds, wall/CPU: "
          + ", ".join(f"{wall:.2f}/{cpu:.2f}" for wall, cpu in ratios)
          + f" (median wall {walls[len(walls) // 2]:.2f}x)")


def bench_memory(work: Path, tree: Path) -> None:
    largest = max((path.stat().st_size for path in tree.rglob("*") if path.is_file()), default=0)
    print("memory")
    for threads in (1, 0):
        destination = work / f"rss-dest-{threads}"
        completed = subprocess.run([sys.executable, "-c", RSS_PROBE, str(REPO), str(tree), str(destination),
                                    str(threads)], capture_output=True, text=True, timeout=600, check=True)
        peak = int(completed.stdout.split()[-1]) * 1024
        shutil.rmtree(destination, ignore_errors=True)
        print(f"  peak RSS of a tar engine run, compression_threads={threads}: {peak / MB:.1f} MB "
              f"(largest file {largest / MB:.1f} MB; files are streamed in 1 MiB chunks)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="a tenth of the tree, for a quick look")
    parser.add_argument("--workdir", type=Path, default=None, help="where to build the tree (default: /var/tmp)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each tar measurement (the best is shown), and paired rounds of the restic engine with its default check")
    parser.add_argument("--only", choices=("tar", "restic", "memory"), action="append",
                        help="run only this part (repeatable); default: all")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hostmind-bench-backup-", dir=args.workdir or "/var/tmp"))
    try:
        tree = work / "tree"
        started = time.perf_counter()
        files, size = generate(tree, args.small)
        print(f"tree: {files} files, {size / MB:.0f} MB (generated in {time.perf_counter() - started:.1f} s); "
              f"{os.cpu_count()} CPUs; warm page cache")
        parts = args.only or ["tar", "restic", "memory"]
        if "tar" in parts:
            bench_tar(work, tree, files, size, args.repeat)
        if "restic" in parts:
            bench_restic(work, tree, files, size, args.repeat)
        if "memory" in parts:
            bench_memory(work, tree)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
