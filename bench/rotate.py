#!/usr/bin/env python3
"""Benchmark hostmind's rotation against the real logrotate, side by side, on the same files.

    .venv/bin/python bench/rotate.py                  # 1 GiB over 8 files, plus a 2 GiB RSS run
    .venv/bin/python bench/rotate.py --size 200M --big 0 --window 0   # a quick look

Generates syslog-like text (runs of 5-20 lines copied from a 24 MB pool of distinct lines), copies
it once per contender, rotates each copy and prints wall time, MB/s, CPU seconds, compression ratio
(input/output), and hostmind/logrotate ratios. Contenders: logrotate with `compress` (its default
gzip -6), logrotate with `compresscmd zstd` and `compressoptions -3 -T0` (all cores), hostmind's
default rule (zstd level 3), logrotate with zstd `-6 -T0` and hostmind at zstd level 6 (the level
docs/rotate.md recommends when the archive must be no larger than gzip -6's) and hostmind with gzip
level 6. Every archive of every contender is decompressed and compared byte for byte with its
source after the timed run. hostmind runs from compiled bytecode, as the installed live tree does.
`--repeat N` keeps each contender's best of N runs and prints the median of the per-round ratios.
The rounds are interleaved (every contender once, then again) so a change of load hits all alike;
`--quick` runs only logrotate with zstd -3 -T0 and hostmind's default. `--levels 40M` also prints
ratio and CPU of gzip -6 and zstd 3-8 on the corpus and on freshly generated lines.
`--big` rotates one file of that size with logrotate zstd -3 -T0 and hostmind's default, side by
side (`--repeat` rounds), and prints wall, CPU, the paired ratios and the peak RSS of each.
`--window` measures copytruncate: lines a fast writer loses, with and without pause_writers.
Installs logrotate and zstd with apt-get if they are missing. Not run by pytest.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from unconscious.config.duration import parse_size  # noqa: E402

HOSTS = ["web01", "web02", "db01", "cache03", "edge-fra1"]
PATHS = ["/api/v1/items/{}", "/api/v1/users/{}/orders", "/static/js/app.{}.js", "/healthz", "/login",
         "/search?q=item{}&page={}", "/img/products/{}.webp"]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
          "curl/7.88.1", "Prometheus/2.48.0", "Go-http-client/1.1",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"]


def _line(rng: random.Random, second: int) -> str:
    # Real traffic: a few thousand clients, a long tail of item ids, time moving forward.
    stamp = time.strftime("%b %d %H:%M:%S", time.gmtime(1795219200 + second))
    host = rng.choice(HOSTS)
    kind = rng.random()
    if kind < 0.6:
        client = rng.randrange(3000)
        ip = f"10.{client % 7}.{client // 256}.{client % 256}"
        template = rng.choice(PATHS)
        path = template.format(int(rng.paretovariate(1.2)) % 100000, rng.randrange(1, 40))
        status = rng.choice([200, 200, 200, 200, 304, 301, 404, 500, 502])
        # A static file has one size; an API answer varies. A client keeps its user agent.
        size = (zlib.crc32(path.encode()) % 90000 + 80) if "static" in template or "img" in template else rng.randrange(80, 9000)
        return (f'{stamp} {host} nginx[{rng.randrange(900, 999)}]: {ip} - - "GET {path} HTTP/1.1" {status} '
                f'{size} {rng.random():.3f} "-" "{AGENTS[client % len(AGENTS)]}"\n')
    if kind < 0.75:
        return (f"{stamp} {host} sshd[{rng.randrange(1000, 65000)}]: "
                f"{rng.choice(['Accepted publickey', 'Failed password', 'Disconnected from'])} for "
                f"{rng.choice(['deploy', 'root', 'admin', 'git'])} from 192.0.2.{rng.randrange(1, 255)} "
                f"port {rng.randrange(1024, 65535)} ssh2\n")
    if kind < 0.85:
        return (f"{stamp} {host} CRON[{rng.randrange(1000, 65000)}]: (root) CMD "
                f"(/usr/local/bin/job-{rng.randrange(20)} --quiet)\n")
    if kind < 0.95:
        return (f"{stamp} {host} app[{rng.randrange(2000, 2100)}]: level=info msg=\"request served\" "
                f"request_id={rng.getrandbits(64):016x} user_id={rng.randrange(20000)} "
                f"duration_ms={rng.randrange(1, 900)} bytes={rng.randrange(100, 10**6)}\n")
    return (f"{stamp} {host} kernel: [{rng.randrange(10**6)}.{rng.randrange(10**6):06d}] "
            f"eth0: link up, {rng.choice(['1000', '10000'])}Mbps, full-duplex\n")


def generate(directory: Path, total: int, files: int, seed: int = 7) -> list[Path]:
    """Write `files` logs totalling about `total` bytes, built from a 24 MB pool of distinct lines
    (far larger than any compressor's window, so repetition cannot be exploited)."""
    rng = random.Random(seed)
    pool = "".join(_line(rng, second // 20) for second in range(200_000)).encode()
    boundaries = [index + 1 for index in range(len(pool)) if pool[index] == 10][::500]
    directory.mkdir(parents=True, exist_ok=True)
    made = []
    for number in range(files):
        path = directory / f"app{number}.log"
        with open(path, "wb") as handle:
            while handle.tell() < total // files:
                start = rng.choice(boundaries[:-20])
                end = boundaries[boundaries.index(start) + rng.randrange(5, 20)]
                handle.write(pool[start:end])
        made.append(path)
    return made


def copy_tree(files: list[Path], target: Path) -> list[Path]:
    target.mkdir(parents=True)
    copies = []
    for path in files:
        shutil.copyfile(path, target / path.name)
        copies.append(target / path.name)
    return copies


def archives_size(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.iterdir() if path.name.endswith((".gz", ".zst")))


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """Run `argv`; return (wall seconds, CPU seconds of it and its children, peak RSS KiB)."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        detail = child.stderr.read().decode()[-2000:] if child.stderr else ""
        raise SystemExit(f"{argv[0]} failed: {detail}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def run_logrotate(directory: Path, zstd: bool, level: int = 3) -> tuple[float, float, int]:
    """Rotate `directory` with logrotate; return (wall seconds, CPU seconds, peak RSS KiB)."""
    conf = directory.parent / f"{directory.name}.conf"
    extra = (f"compresscmd /usr/bin/zstd\ncompressext .zst\ncompressoptions -{level} -T0\n"
             f"uncompresscmd /usr/bin/unzstd\n" if zstd else "")
    conf.write_text(f"{directory}/*.log {{\n  rotate 5\n  compress\n  create\n  missingok\n{extra}}}\n")
    return timed(["logrotate", "-f", "-s", str(directory.parent / f"{directory.name}.state"), str(conf)])


def hostmind_env(root: Path, directory: Path, rule: dict[str, object]) -> dict[str, str]:
    import yaml

    (root / "etc" / "hostmind.d").mkdir(parents=True, exist_ok=True)
    # As the unit's StateDirectory= makes it: where the validated-config cache is kept.
    (root / "state" / "rotate").mkdir(parents=True, exist_ok=True)
    rule = dict(rule)
    section = rule.pop("section", {})  # rotate-section keys of a contender (workers)
    assert isinstance(section, dict)
    body = {"rotate": {**section, "rules": {"bench": {"paths": [f"{directory}/*.log"], "keep": 5,
                                                      "reopen": {"settle": "10ms"}, **rule}}}}
    (root / "etc" / "hostmind.d" / "50-bench.yaml").write_text(yaml.safe_dump(body))
    env = dict(os.environ, HOSTMIND_CONFIG_DIR=str(root / "etc"), HOSTMIND_STATE_DIR=str(root / "state"),
               HOSTMIND_RUNTIME_DIR=str(root / "run"), HOSTMIND_LOG="console")
    env.pop("HOSTMIND_FAULT", None)
    # Production runs a live tree compiled at install (live_tree.py) and reads its bytecode; the
    # bench does the same from a compiled cache (compile_once) instead of compiling every start.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


#: Where the bench keeps hostmind's bytecode (set by main to a directory under the work dir).
PYCACHE = Path("/nonexistent")


def compile_once() -> None:
    """Compile hostmind's modules into PYCACHE, as `hostmind install` compiles the live tree."""
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(PYCACHE))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", "unconscious"], cwd=REPO, env=env,
                   check=True, timeout=300, stdout=subprocess.DEVNULL)


def run_hostmind(directory: Path, rule: dict[str, object]) -> tuple[float, float, int]:
    """Rotate with hostmind in a child process; return (wall seconds, CPU seconds, peak RSS KiB).

    The hourly timer finds the validated config cached by its previous run (config/cache.py);
    so does the bench: a dry run (untimed) stores it before the first timed run.
    """
    root = directory.parent / f"{directory.name}-tree"
    env = hostmind_env(root, directory, rule)
    if not (root / "state" / "rotate" / "config-cache.json").exists():
        timed([sys.executable, "-m", "unconscious.rotate", "--dry-run"], env)
    return timed([sys.executable, "-m", "unconscious.rotate", "--force"], env)


def verify_archives(files: list[Path], directory: Path) -> int:
    """Decompress each file's archive and compare it with the original; return how many matched.
    Raise SystemExit naming the first archive that is missing or differs."""
    for original in files:
        found = [path for path in directory.iterdir() if path.name.startswith(original.name + ".1")]
        if len(found) != 1:
            raise SystemExit(f"{directory}: expected one archive of {original.name}, found {found}")
        command = ["zstd", "-dc", str(found[0])] if found[0].name.endswith(".zst") else ["gzip", "-dc", str(found[0])]
        digest = hashlib.sha256()
        with subprocess.Popen(command, stdout=subprocess.PIPE) as reader:
            assert reader.stdout is not None
            while chunk := reader.stdout.read(1 << 20):
                digest.update(chunk)
        if reader.returncode != 0 or digest.hexdigest() != sha256(original):
            raise SystemExit(f"{found[0]}: does not decompress to {original}")
    return len(files)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


CONTENDERS: list[tuple[str, str, dict[str, object]]] = [
    ("logrotate compress (gzip -6)", "logrotate", {"zstd": False}),
    ("logrotate compresscmd zstd -3 -T0", "logrotate", {"zstd": True}),
    ("hostmind default (zstd 3)", "hostmind", {}),
    ("hostmind zstd 3, threads: 0", "hostmind", {"threads": 0}),
    ("logrotate compresscmd zstd -6 -T0", "logrotate", {"zstd": True, "level": 6}),
    ("hostmind zstd level 6", "hostmind", {"level": 6}),
    ("hostmind compress: gzip (level 6)", "hostmind", {"compress": "gzip"}),
]
#: Each hostmind contender is also compared with the logrotate that runs zstd at its level.
PEER_AT_LEVEL = {"hostmind zstd level 6": "logrotate compresscmd zstd -6 -T0",
                 "hostmind compress: gzip (level 6)": "logrotate compress (gzip -6)"}
QUICK = ("logrotate compresscmd zstd -3 -T0", "hostmind default (zstd 3)")
#: Contenders added by options (--workers N), in every run including --quick.
EXTRA: list[tuple[str, str, dict[str, object]]] = []


def _run_contender(files: list[Path], work: Path, index: int, engine: str,
                   options: dict[str, object]) -> tuple[float, float, float, float]:
    """Rotate a fresh copy of `files` with one contender; return (wall s, CPU s, ratio, peak RSS
    MiB of the rotating process and its children), verified."""
    total = sum(path.stat().st_size for path in files)
    directory = work / f"copy{index}"
    copy_tree(files, directory)
    subprocess.run(["sync"], check=True, timeout=300)
    if engine == "logrotate":
        seconds, cpu, rss = run_logrotate(directory, bool(options["zstd"]), int(str(options.get("level", 3))))
    else:
        seconds, cpu, rss = run_hostmind(directory, options)
    ratio = total / max(1, archives_size(directory))
    verify_archives(files, directory)
    shutil.rmtree(directory)
    return seconds, cpu, ratio, rss / 1024


def throughput(files: list[Path], work: Path, repeat: int, quick: bool) -> None:
    """Run every contender `repeat` times, interleaved (round after round, so a change in the
    machine's load hits all of them alike), and print each one's best run and the ratios."""
    total = sum(path.stat().st_size for path in files)
    contenders = [item for item in CONTENDERS if not quick or item[0] in QUICK] + EXTRA
    runs: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name, _e, _o in contenders}
    print(f"\n{len(files)} files, {total / 1e6:.0f} MB of syslog-like text; each contender on its own copy, "
          f"best of {repeat} (rounds interleaved); every archive verified after the run")
    for _attempt in range(repeat):
        for index, (name, engine, options) in enumerate(contenders):
            runs[name].append(_run_contender(files, work, index, engine, options))
            seconds, cpu, _ratio, _rss = runs[name][-1]
            print(f"  {name}: {seconds:.2f} s, {cpu:.2f} CPU-s (load {os.getloadavg()[0]:.1f})", flush=True)
    print(f"{'contender':<40} {'seconds':>8} {'MB/s':>8} {'CPU s':>7} {'MB/CPU-s':>9} {'ratio':>7} {'RSS MiB':>8}")
    results: dict[str, tuple[float, float, float]] = {}
    for name, _engine, _options in contenders:
        seconds, _cpu, ratio, _rss = min(runs[name])
        cpu = min(run[1] for run in runs[name])
        rss = max(run[3] for run in runs[name])
        results[name] = (total / 1e6 / seconds, ratio, total / 1e6 / cpu)
        print(f"{name:<40} {seconds:>8.2f} {total / 1e6 / seconds:>8.1f} {cpu:>7.2f} {total / 1e6 / cpu:>9.1f} "
              f"{ratio:>7.2f} {rss:>8.0f}")
    base = results.get(CONTENDERS[0][0])
    zstd_speed, _zstd_ratio, zstd_cpu = results[CONTENDERS[1][0]]
    print()
    for name, engine, _options in contenders:
        if engine != "hostmind":
            continue
        speed, ratio, cpu_speed = results[name]
        line = f"{name}: {speed / zstd_speed:.2f}x logrotate zstd -3 -T0 (wall), {cpu_speed / zstd_cpu:.2f}x per CPU-second"
        peer = PEER_AT_LEVEL.get(name)
        if peer in results:
            line += (f"; {speed / results[peer][0]:.2f}x {peer} (wall), "
                     f"{cpu_speed / results[peer][2]:.2f}x per CPU-second")
        if base is not None:
            line += (f"; {speed / base[0]:.2f}x logrotate gzip (wall), {cpu_speed / base[2]:.2f}x per CPU-second; "
                     f"ratio {ratio:.2f} vs gzip -6 {base[1]:.2f} -> {'no worse' if ratio >= base[1] else 'WORSE'}")
        print(line)
    paired(runs, contenders)


def paired(runs: dict[str, list[tuple[float, float, float, float]]], contenders: list[tuple[str, str, dict[str, object]]]) -> None:
    """Print the median over rounds of hostmind's wall and CPU ratio to its peer in the same round
    (rounds are interleaved, so both ran under nearly the same load: steadier than best-of)."""
    names = {name for name, _engine, _options in contenders}
    for name, engine, _options in contenders:
        peer = PEER_AT_LEVEL.get(name, CONTENDERS[1][0])
        if engine != "hostmind" or peer not in names:
            continue
        walls = sorted(theirs[0] / ours[0] for ours, theirs in zip(runs[name], runs[peer], strict=True))
        cpus = sorted(theirs[1] / ours[1] for ours, theirs in zip(runs[name], runs[peer], strict=True))
        print(f"{name} / {peer}, per round: wall {', '.join(f'{r:.2f}' for r in walls)} "
              f"(median {statistics.median(walls):.2f}); CPU median {statistics.median(cpus):.2f}")


def _gzip6(data: bytes) -> bytes:
    return zlib.compress(data, 6)


def levels(files: list[Path], sample: int) -> None:
    """Print the ratio and single-thread CPU seconds of gzip -6 and zstd levels 3-8 in memory, on the
    bench corpus and on freshly generated lines (no run repeated from the pool: a compressor with a
    window larger than 2 MB finds the pool's repeats in the bench corpus, which real logs lack)."""
    import zstandard

    rng = random.Random(5)
    fresh = bytearray()
    while len(fresh) < sample:
        fresh += "".join(_line(rng, (len(fresh) // 100 + index) // 20) for index in range(5000)).encode()
    corpora = {"bench corpus": files[0].read_bytes()[:sample], "fresh lines": bytes(fresh[:sample])}
    print(f"\nratio (CPU-s) on {sample / 1e6:.0f} MB, single thread, in memory:")
    for label, data in corpora.items():
        cells = []
        for name, compress in [("gzip -6", _gzip6)] + [
                (f"zstd {level}", zstandard.ZstdCompressor(level=level).compress) for level in range(3, 9)]:
            started = time.process_time()
            size = len(compress(data))
            cells.append(f"{name} {len(data) / size:.2f} ({time.process_time() - started:.2f})")
        print(f"  {label}: " + "; ".join(cells))


def big_file(work: Path, size: int, repeat: int) -> None:
    """One big log: logrotate with zstd -3 -T0 and hostmind's default, interleaved `repeat` times
    (a lone log is where hostmind's zstd worker threads matter); wall, CPU and peak RSS."""
    source = work / "big-source"
    files = generate(source, size, 1, seed=11)
    big = files[0].stat().st_size
    pair = [item for item in CONTENDERS if item[0] in QUICK]
    runs: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name, _e, _o in pair}
    for _attempt in range(repeat):
        for index, (name, engine, options) in enumerate(pair):
            runs[name].append(_run_contender(files, work, 100 + index, engine, options))
    print(f"\none {big / 1e9:.2f} GB log, best of {repeat} (rounds interleaved), every archive verified:")
    for name, _engine, _options in pair:
        seconds = min(run[0] for run in runs[name])
        print(f"  {name}: {seconds:.2f} s ({big / 1e6 / seconds:.0f} MB/s), "
              f"{min(run[1] for run in runs[name]):.2f} CPU-s, peak RSS {max(run[3] for run in runs[name]):.0f} MiB")
    paired(runs, pair)
    shutil.rmtree(source)


def startup(work: Path, repeat: int) -> None:
    """Start-up alone: a pass whose rule matches no file, against logrotate on a config that
    names no existing file, interleaved `repeat` times; hostmind with its validated config
    cached (every timer run after the first) and without (the cache file removed first)."""
    empty = work / "startup-logs"
    empty.mkdir()
    root = work / "startup-tree"
    env = hostmind_env(root, empty, {"missingok": True})
    conf = work / "startup.conf"
    conf.write_text(f"{empty}/*.log {{\n  rotate 5\n  compress\n  missingok\n}}\n")
    cache = root / "state" / "rotate" / "config-cache.json"
    argv = [sys.executable, "-m", "unconscious.rotate", "--force"]
    timed(argv, env)  # stores the cache (and compiles nothing: compile_once did)
    runs: dict[str, list[tuple[float, float, int]]] = {"logrotate": [], "hostmind, config cached": [],
                                                       "hostmind, no cache": []}
    for _round in range(repeat):
        runs["logrotate"].append(timed(["logrotate", "-f", "-s", str(work / "startup.state"), str(conf)]))
        runs["hostmind, config cached"].append(timed(argv, env))
        cache.unlink()
        runs["hostmind, no cache"].append(timed(argv, env))
    print(f"\nstart-up, a pass that rotates nothing, median of {repeat} interleaved runs:")
    for name, items in runs.items():
        print(f"  {name:<26} {statistics.median(item[0] for item in items) * 1000:7.1f} ms wall, "
              f"{statistics.median(item[1] for item in items) * 1000:7.1f} ms CPU, "
              f"peak RSS {max(item[2] for item in items) / 1024:.0f} MiB")


WRITER = """
import os, signal, sys, time
flags = {"stop": False}
signal.signal(signal.SIGTERM, lambda *_: flags.__setitem__("stop", True))
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
number = 0
while not flags["stop"]:
    os.write(fd, b"line %09d " % number + b"x" * 90 + b"\\n")
    number += 1
print(number)
"""


def window(work: Path, rotations: int) -> None:
    """copytruncate under a writer that never sleeps: lines lost per mode, and the window."""
    print(f"\ncopytruncate, {rotations} rotations while a writer appends as fast as it can:")
    for pause in (False, True):
        directory = work / f"window-{pause}"
        directory.mkdir()
        log = directory / "app.log"
        log.touch()
        env = hostmind_env(directory.parent / f"{directory.name}-tree", directory,
                           {"mode": "copytruncate", "pause_writers": pause, "keep": rotations + 1})
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(log)], stdout=subprocess.PIPE, text=True)
        windows = []
        for _round in range(rotations):
            time.sleep(0.3)
            result = subprocess.run([sys.executable, "-m", "unconscious.rotate", "--force"], env=env, cwd=REPO,
                                    capture_output=True, text=True, timeout=300, check=True)
            windows += [float(part.split("=")[1]) for part in result.stderr.split() if part.startswith("window_us=")]
        writer.send_signal(signal.SIGTERM)
        written = int(writer.communicate(timeout=30)[0])
        seen: set[int] = set()
        duplicated = 0
        for path in directory.iterdir():
            command = ["zstd", "-dc", str(path)] if path.name.endswith(".zst") else ["cat", str(path)]
            for line in subprocess.run(command, capture_output=True, timeout=300, check=True).stdout.splitlines():
                number = int(line[5:14])
                duplicated += number in seen
                seen.add(number)
        lost = written - len(seen)
        print(f"  pause_writers={pause!s:<5}: {written} lines written, {lost} lost, {duplicated} duplicated; "
              f"truncate window {min(windows):.1f}-{max(windows):.1f} us")
        shutil.rmtree(directory)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1G", help="total size of the generated logs (default 1G)")
    parser.add_argument("--files", type=int, default=8, help="number of log files (default 8)")
    parser.add_argument("--big", default="2G", help="size of the single log rotated by logrotate zstd -3 and "
                                                     "hostmind side by side (wall, CPU, peak RSS); 0 skips")
    parser.add_argument("--window", type=int, default=10, help="copytruncate rotations to measure; 0 skips")
    parser.add_argument("--repeat", type=int, default=1, help="runs per contender; the best is kept (default 1)")
    parser.add_argument("--quick", action="store_true",
                        help="only logrotate with zstd -3 -T0 and hostmind's default (no gzip, no level 6)")
    parser.add_argument("--levels", default="0",
                        help="also print ratio and CPU of gzip -6 and zstd 3-8 on this much text (e.g. 40M)")
    parser.add_argument("--workers", type=int, default=0,
                        help="also run hostmind's default with rotate.workers set to this (e.g. 3: one log more "
                             "than cores, to cover the disk waits of each log)")
    parser.add_argument("--startup", type=int, default=0,
                        help="time start-up alone (a pass rotating nothing) this many times beside logrotate's; "
                             "with --size 0 nothing else runs")
    parser.add_argument("--workdir", type=Path, default=Path("/var/tmp"), help="where to put the files (a disk)")
    args = parser.parse_args()
    if shutil.which("logrotate") is None or shutil.which("zstd") is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "logrotate", "zstd"], check=True, timeout=600)
    if args.workers:
        EXTRA.append((f"hostmind default, workers: {args.workers}", "hostmind", {"section": {"workers": args.workers}}))
    work = Path(tempfile.mkdtemp(prefix="hostmind-bench-", dir=args.workdir))
    global PYCACHE
    PYCACHE = work / "pycache"
    try:
        compile_once()
        if args.startup:
            startup(work, args.startup)
        if parse_size(args.size):
            started = time.perf_counter()
            files = generate(work / "source", parse_size(args.size), args.files)
            print(f"generated in {time.perf_counter() - started:.1f}s; {os.cpu_count()} CPUs")
            if parse_size(args.levels):
                levels(files, parse_size(args.levels))
            throughput(files, work, args.repeat, args.quick)
            shutil.rmtree(work / "source")
        if parse_size(args.big):
            big_file(work, parse_size(args.big), args.repeat)
        if args.window:
            window(work, args.window)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
