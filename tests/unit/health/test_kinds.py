"""Each check kind against real files, processes, sockets and commands."""

from __future__ import annotations

import http.server
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from unconscious.evidence import record_run
from unconscious.health.kinds import command, evidence, files, network, security, sockets, system, systemd
from unconscious.health.model import Outcome
from unconscious.paths import Paths


def fake_command(tmp_path: Path, name: str, body: str) -> str:
    """Write an executable Python script `name` that runs `body`; return its path."""
    script = tmp_path / name
    script.write_text(f"#!{sys.executable}\nimport sys\n{body}\n", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


# disk and inodes -----------------------------------------------------------------------------


def test_disk_reports_usage_of_a_real_filesystem_under_the_threshold(tmp_path: Path) -> None:
    outcome = system.disk({"path": str(tmp_path), "max_percent": 100, "require_mount": False}, 5)
    assert (outcome.ok, outcome.threshold) == (True, "100%")
    assert outcome.summary.startswith(f"disk {tmp_path} ")


def test_disk_fails_when_usage_exceeds_a_zero_threshold(tmp_path: Path) -> None:
    (tmp_path / "data").write_bytes(b"x" * 4096)
    outcome = system.disk({"path": str(tmp_path), "max_percent": 0, "require_mount": False}, 5)
    assert outcome.ok is False


def test_disk_on_a_directory_that_is_not_a_mount_point_fails_by_default(tmp_path: Path) -> None:
    outcome = system.disk({"path": str(tmp_path)}, 5)
    assert (outcome.ok, outcome.value) == (False, "not mounted")


def test_disk_on_a_path_that_disappeared_fails_naming_it(tmp_path: Path) -> None:
    gone = tmp_path / "mnt"
    outcome = system.disk({"path": str(gone), "require_mount": False}, 5)
    assert (outcome.ok, outcome.summary) == (False, f"{gone} does not exist (mount gone?)")


def test_inodes_of_the_root_filesystem_are_under_100_percent() -> None:
    outcome = system.inodes({"path": "/", "max_percent": 100}, 5)
    assert outcome.ok in (True, None)


def test_memory_swap_load_and_cpu_pass_with_the_highest_thresholds() -> None:
    results = [system.memory({"max_percent": 100}, 1), system.swap({"max_percent": 100}, 1),
               system.load({"max_per_cpu": 1000}, 1), system.cpu({"max_percent": 100}, 1)]
    assert [outcome.ok for outcome in results] == [True, True, True, True]


def test_memory_fails_with_a_zero_threshold() -> None:
    assert system.memory({"max_percent": 0}, 1).ok is False


# file freshness and processes ----------------------------------------------------------------


def test_a_fresh_file_passes_and_an_old_one_fails(tmp_path: Path) -> None:
    target = tmp_path / "heartbeat"
    target.write_text("x")
    fresh = files.file_age({"path": str(target), "max_age": 3600.0}, 5)
    os.utime(target, (time.time() - 7200, time.time() - 7200))
    old = files.file_age({"path": str(target), "max_age": 3600.0}, 5)
    assert (fresh.ok, old.ok, old.value) == (True, False, "2h")


def test_file_age_of_a_directory_uses_its_newest_file(tmp_path: Path) -> None:
    for name, age in (("old", 7200), ("new", 10)):
        (tmp_path / name).write_text(name)
        os.utime(tmp_path / name, (time.time() - age, time.time() - age))
    assert files.file_age({"path": str(tmp_path), "max_age": 60.0}, 5).ok is True


def test_file_age_of_an_empty_directory_or_a_missing_file_fails(tmp_path: Path) -> None:
    empty = files.file_age({"path": str(tmp_path), "max_age": 60.0}, 5)
    missing = files.file_age({"path": str(tmp_path / "nope"), "max_age": 60.0}, 5)
    assert (empty.value, missing.value) == ("empty", "missing")


def test_a_pidfile_with_garbage_fails_and_shows_the_garbage(tmp_path: Path) -> None:
    pidfile = tmp_path / "app.pid"
    pidfile.write_bytes(b"12ab\x00\xff")
    outcome = files.process({"pidfile": str(pidfile)}, 5)
    assert (outcome.ok, outcome.value) == (False, "garbage")
    assert "not a PID" in outcome.summary


def test_a_huge_pidfile_is_garbage_without_being_read_whole(tmp_path: Path) -> None:
    pidfile = tmp_path / "app.pid"
    pidfile.write_bytes(b"1" * 10_000_000)
    assert files.process({"pidfile": str(pidfile)}, 5).value == "garbage"


def test_a_pidfile_of_a_running_process_passes_and_of_a_dead_one_fails(tmp_path: Path) -> None:
    pidfile = tmp_path / "app.pid"
    pidfile.write_text(f"{os.getpid()}\n")
    alive = files.process({"pidfile": str(pidfile)}, 5)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    pidfile.write_text(str(child.pid))
    dead = files.process({"pidfile": str(pidfile)}, 5)
    assert (alive.ok, dead.ok, dead.value) == (True, False, f"pid {child.pid} dead")


def test_a_process_by_name_counts_running_processes() -> None:
    name = os.path.basename(sys.executable)
    assert files.process({"name": name, "min_count": 1}, 5).ok is True
    assert files.process({"name": "no-such-process-hostmind", "min_count": 1}, 5).ok is False


# network -------------------------------------------------------------------------------------


@pytest.fixture
def listening_socket() -> Iterator[socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server
    server.close()


def test_tcp_passes_on_an_open_port_and_fails_on_a_closed_one(listening_socket: socket.socket) -> None:
    port = listening_socket.getsockname()[1]
    opened = network.tcp({"host": "127.0.0.1", "port": port}, 2)
    listening_socket.close()
    closed = network.tcp({"host": "127.0.0.1", "port": port}, 2)
    assert (opened.ok, closed.ok, closed.value) == (True, False, "closed")


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 503 if self.path == "/down" else 200
        body = b'{"status": "ok"}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def http_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_checks_status_and_body(http_server: str) -> None:
    good = network.http({"url": f"{http_server}/health", "body_match": '"status": *"ok"'}, 2)
    down = network.http({"url": f"{http_server}/down"}, 2)
    wrong_body = network.http({"url": f"{http_server}/health", "body_match": "healthy"}, 2)
    assert (good.ok, down.ok, down.value, wrong_body.value) == (True, False, "503", "no match")


def test_http_endpoint_that_accepts_and_never_answers_fails_within_the_timeout(
    listening_socket: socket.socket,
) -> None:
    port = listening_socket.getsockname()[1]
    started = time.monotonic()
    outcome = network.http({"url": f"http://127.0.0.1:{port}/"}, 0.5)
    elapsed = time.monotonic() - started
    assert (outcome.ok, outcome.value, elapsed < 8) == (False, "no answer", True)


# commands ------------------------------------------------------------------------------------


def test_command_passes_on_expected_exit_and_matching_output(tmp_path: Path) -> None:
    script = fake_command(tmp_path, "probe", "print('all OK')")
    assert command.command({"argv": [script], "max_output": 65536, "match": "OK"}, 5).ok is True
    assert command.command({"argv": [script], "max_output": 65536, "match": "FINE"}, 5).value == "no match"


def test_command_with_another_exit_code_fails_showing_its_last_line(tmp_path: Path) -> None:
    script = fake_command(tmp_path, "probe", "print('broken thing'); sys.exit(3)")
    outcome = command.command({"argv": [script], "max_output": 65536}, 5)
    assert (outcome.ok, outcome.value, outcome.summary) == (False, "exit 3", f"{script} exited 3: broken thing")


def test_a_command_that_cannot_start_fails_with_the_reason(tmp_path: Path) -> None:
    outcome = command.command({"argv": [str(tmp_path / "missing")], "max_output": 65536}, 5)
    assert (outcome.ok, outcome.value) == (False, "not run")


def test_a_command_printing_100_mb_is_read_but_only_the_cap_kept(tmp_path: Path) -> None:
    script = fake_command(tmp_path, "flood", "sys.stdout.buffer.write(b'y' * (100 << 20)); print('END')")
    run = command.run_bounded([script], 20, 65536)
    assert (run.exit_code, run.output_bytes, len(run.output), run.truncated) == (0, (100 << 20) + 4, 65536, True)


def test_a_child_that_outlives_its_command_is_killed_and_does_not_hold_the_check(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    script = fake_command(tmp_path, "forker", (
        "import os, time\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        f"    open({str(marker)!r}, 'w').write(str(os.getpid())); time.sleep(60); os._exit(0)\n"
        "time.sleep(0.2); print('parent done')"))
    started = time.monotonic()
    outcome = command.command({"argv": [script], "max_output": 65536, "match": "parent done"}, 10)
    elapsed = time.monotonic() - started
    child = int(marker.read_text())
    deadline = time.monotonic() + 10  # the kill is sent; its delivery is the kernel's business
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (outcome.ok, elapsed < 8, _alive(child)) == (True, True, False)


def test_a_command_past_its_timeout_is_killed_with_its_group(tmp_path: Path) -> None:
    script = fake_command(tmp_path, "sleeper", "import time; time.sleep(60)")
    started = time.monotonic()
    outcome = command.command({"argv": [script], "max_output": 65536}, 0.5)
    assert (outcome.ok, outcome.value, time.monotonic() - started < 8) == (False, "timed out", True)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


# systemd, journal, clock ---------------------------------------------------------------------


def test_failed_units_are_counted_from_systemctl_output(tmp_path: Path) -> None:
    script = fake_command(tmp_path, "systemctl", "print('● nginx.service loaded failed failed web')\n"
                                                 "print('foo.service loaded failed failed foo')")
    both = systemd.systemd_failed({"command": [script]}, 5)
    ignoring = systemd.systemd_failed({"command": [script], "ignore": ["foo.service"], "max_count": 1}, 5)
    assert (both.ok, both.value, both.summary) == (False, "2", "2 failed unit(s): nginx.service, foo.service")
    assert ignoring.ok is True


def test_journal_errors_count_lines_from_journalctl_with_the_unit_and_window(tmp_path: Path) -> None:
    args_file = tmp_path / "args"
    script = fake_command(tmp_path, "journalctl",
                          f"open({str(args_file)!r}, 'w').write(' '.join(sys.argv[1:]))\n"
                          "print('error one'); print('error two'); print('')")
    outcome = systemd.journal_errors({"unit": "web.service", "window": 300.0, "max_count": 1, "command": [script]}, 5)
    assert (outcome.ok, outcome.value) == (False, "2")
    assert args_file.read_text() == ("--unit=web.service --since=-300s --priority=err --output=cat "
                                     "--no-pager --quiet")


def test_clock_sync_through_timedatectl(tmp_path: Path) -> None:
    yes = fake_command(tmp_path, "yes-clock", "print('yes')")
    no = fake_command(tmp_path, "no-clock", "print('no')")
    assert systemd.clock_sync({"method": "timedatectl", "command": [yes]}, 5).ok is True
    assert systemd.clock_sync({"method": "timedatectl", "command": [no]}, 5).ok is False


# adjtimex(2) is filtered in the ratchet sandbox (ProtectClock=, the @clock syscall set).
@pytest.mark.host
def test_clock_sync_through_adjtimex_gives_a_verdict() -> None:
    assert systemd.clock_sync({}, 5).value in ("synchronised", "unsynchronised")


# evidence (the dead-man's switch) ------------------------------------------------------------


def evidence_params(state: Path, **extra: object) -> dict[str, object]:
    return {"service": "backup", "max_age": 3600.0, "state_dir": str(state), "since": time.time(), **extra}


def test_fresh_evidence_passes_and_stale_evidence_fails(tmp_path: Path) -> None:
    paths = Paths(tmp_path, tmp_path, tmp_path)
    record_run(paths, "backup", ok=True, duration=30, clock=lambda: time.time() - 60)
    fresh = evidence.evidence(evidence_params(tmp_path), 5)
    record_run(paths, "backup", ok=True, duration=30, clock=lambda: time.time() - 7300)
    stale = evidence.evidence(evidence_params(tmp_path), 5)
    assert (fresh.ok, stale.ok, stale.value) == (True, False, "2h")


def test_a_suspiciously_fast_success_fails(tmp_path: Path) -> None:
    record_run(Paths(tmp_path, tmp_path, tmp_path), "backup", ok=True, duration=0.01)
    outcome = evidence.evidence(evidence_params(tmp_path, min_duration=10.0), 5)
    assert (outcome.ok, outcome.value, outcome.threshold) == (False, "0.010s", ">=10s")


def test_a_failed_last_run_fails(tmp_path: Path) -> None:
    paths = Paths(tmp_path, tmp_path, tmp_path)
    record_run(paths, "backup", ok=True, duration=30, clock=lambda: time.time() - 60)
    record_run(paths, "backup", ok=False, duration=3, error="restic: repository locked")
    outcome = evidence.evidence(evidence_params(tmp_path), 5)
    assert (outcome.ok, outcome.summary) == (False, "backup: last run failed: restic: repository locked")


def test_missing_evidence_is_given_grace_then_fails(tmp_path: Path) -> None:
    within = evidence.evidence(evidence_params(tmp_path), 5)
    after = evidence.evidence(evidence_params(tmp_path, since=time.time() - 3700), 5)
    assert (within.ok, after.ok, after.value) == (None, False, "never")


# security watch ------------------------------------------------------------------------------


def test_allow_entries_match_port_address_and_protocol() -> None:
    socket_line = "tcp 127.0.0.1:631 (cupsd)"
    assert [security.allowed(socket_line, [entry]) for entry in
            ("631", "127.0.0.1:631", "tcp/631", "udp/631", "0.0.0.0:631", "22")] == \
        [True, True, True, False, False, False]


@pytest.mark.host
def test_a_new_listening_socket_is_reported_after_the_baseline(tmp_path: Path,
                                                               listening_socket: socket.socket) -> None:
    if sockets.only_loopback():
        pytest.skip("this host shows only a loopback interface: the listening watch is not judged here")
    baseline = tmp_path / "baseline.json"
    listening_socket.close()
    first = security.listening({"baseline": str(baseline)}, 5)
    newcomer = socket.socket()
    newcomer.bind(("127.0.0.1", 0))
    newcomer.listen(1)
    port = newcomer.getsockname()[1]
    try:
        second = security.listening({"baseline": str(baseline)}, 5)
        allowed = security.listening({"baseline": str(baseline), "allow": [f"127.0.0.1:{port}"]}, 5)
    finally:
        newcomer.close()
    assert (first.ok, first.threshold, second.ok, allowed.ok) == (True, "baseline", False, True)
    assert f"tcp 127.0.0.1:{port}" in second.summary


def test_a_burst_of_failed_logins_fails(tmp_path: Path) -> None:
    lines = "\\n".join(["Failed password for root from 10.0.0.1"] * 5 + ["Accepted publickey for alice"])
    script = fake_command(tmp_path, "journalctl", f"print('{lines}')")
    over = security.failed_logins({"command": [script], "max_count": 4}, 5)
    under = security.failed_logins({"command": [script], "max_count": 5}, 5)
    assert (over.ok, over.value, under.ok) == (False, "5", True)


def test_integrity_without_a_manifest_is_not_judged(tmp_path: Path) -> None:
    outcome = security.integrity_check({"root": str(tmp_path), "manifest": str(tmp_path / "m.json")}, 5)
    assert outcome == Outcome(None, f"no manifest at {tmp_path / 'm.json'} yet (written by install or the rails)")


def test_listening_endpoints_are_decoded_from_proc_net_files(tmp_path: Path) -> None:
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    (tmp_path / "tcp").write_text(header +
        "   0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n"   # 127.0.0.1:631 listen
        "   1: 0100007F:9C40 0100007F:0277 01 00000000:00000000 00:00000000 00000000 0 0 2\n")  # established
    (tmp_path / "tcp6").write_text(header +
        "   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 0 0 0 0 0 3\n")
    (tmp_path / "udp").write_text(header +
        "   0: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 4\n"   # 0.0.0.0:53
        "   1: 0100007F:A000 0100007F:0035 01 00000000:00000000 00:00000000 00000000 0 0 5\n")  # client
    assert sockets.proc_endpoints(tmp_path) == ["tcp 127.0.0.1:631", "tcp [::]:22", "udp 0.0.0.0:53"]


def test_sock_diag_and_proc_net_agree_on_real_sockets() -> None:
    opened = [socket.socket(socket.AF_INET6), socket.socket(socket.AF_INET6, socket.SOCK_DGRAM),
              socket.socket(socket.AF_INET, socket.SOCK_DGRAM)]
    opened[0].bind(("::1", 0))
    opened[0].listen(1)
    opened[1].bind(("::1", 0))
    opened[2].connect(("127.0.0.1", 9))  # a connected UDP client is not a listener
    try:
        through_netlink, through_proc = sockets.diag_endpoints(), sockets.proc_endpoints()
        tcp_port, udp_port = opened[0].getsockname()[1], opened[1].getsockname()[1]
        client = f"udp 127.0.0.1:{opened[2].getsockname()[1]}"
    finally:
        for item in opened:
            item.close()
    assert through_netlink == through_proc
    assert (f"tcp [::1]:{tcp_port}" in through_netlink, f"udp [::1]:{udp_port}" in through_netlink,
            client in through_netlink) == (True, True, False)


def test_a_private_network_namespace_is_recognised_by_its_lone_loopback(tmp_path: Path) -> None:
    header = ("Inter-|   Receive                                                |  Transmit\n"
              " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets\n")
    (tmp_path / "dev").write_text(header + "    lo:       0       0    0    0    0     0          0         0        0       0\n")
    private = sockets.only_loopback(tmp_path)
    (tmp_path / "dev").write_text(header + "    lo: 0 0 0 0 0 0 0 0 0 0\n  eth0: 1 1 0 0 0 0 0 0 1 1\n")
    assert (private, sockets.only_loopback(tmp_path)) == (True, False)
