"""The throw-away sandbox every step that runs proposal code goes through.

`run_sandboxed(argv, scratch, timeout, limits)` runs `argv` with the directory `scratch` as the
only writable place (seen inside as /scratch, also the working directory), as an unprivileged
user, without network, with the system read-only, a private /tmp, no view of the state dir,
config dir, credentials or systemd's socket, and limits on tasks, memory, file size and time.
At the timeout the whole sandbox is killed, including a `setsid` grandchild that holds the
output pipe, and the result says `timed_out`.

Two backends, chosen automatically:
- `systemd`: where systemd is PID 1 and we are root, a transient unit (`systemd-run --wait
  --pipe --collect`) with DynamicUser=, PrivateNetwork=, ProtectSystem=strict, a
  TemporaryFileSystem= over /var /etc /run /home /root /srv /opt /mnt /media, and the scratch
  bound on top, TasksMax=, MemoryMax=, RuntimeMaxSec=; the unit's cgroup is killed at the end.
- `bwrap`: elsewhere (tests, CI, containers), bubblewrap with new PID, network, IPC and UTS
  namespaces and an empty root: /usr, the interpreter and the code the rails run are bound
  read-only, the scratch read-write. Inside, `prlimit` sets the limits and `setpriv` drops to
  uid/gid 65534 with no capabilities; bwrap's init dies with its parent, and with it every
  process of the PID namespace.

What the sandbox does not do: judge the output. Code inside can still forge its own verdict
(write a JUnit file saying every test passed); see docs/rails.md, "What guards what".
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

#: Where the scratch copy is seen inside the sandbox (and the working directory there).
INSIDE = "/scratch"
#: The unprivileged user and group the bwrap backend runs as ("nobody").
SANDBOX_ID = 65534
#: How much of the output (the tail) is kept for error messages.
OUTPUT_TAIL_BYTES = 64 * 1024
#: Directories hidden behind an empty tmpfs by the systemd backend (the scratch and the
#: read-only code are bound back on top). /usr stays as it is, read-only.
HIDDEN_TREES = ("/var", "/etc", "/run", "/home", "/root", "/srv", "/opt", "/mnt", "/media")


class SandboxError(RuntimeError):
    """The sandbox itself could not be started (no backend, bad scratch)."""


@dataclass(frozen=True)
class Limits:
    """What the code in the sandbox may use: tasks, memory (bytes), one file's size (bytes)."""

    tasks: int = 256
    memory: int = 2 * 1024 ** 3
    file_size: int = 512 * 1024 ** 2


@dataclass(frozen=True)
class SandboxResult:
    """How a sandboxed run ended: exit code (None when killed at the timeout) and output tail."""

    exit_code: int | None
    output: str
    timed_out: bool
    seconds: float
    backend: str

    def tail(self, lines: int = 3) -> str:
        """Return the last `lines` lines of the output joined by ' | '."""
        return " | ".join(self.output.strip().splitlines()[-lines:]) or "no output"


def choose_backend() -> str:
    """Return 'systemd' when systemd is PID 1 and we are root, else 'bwrap'."""
    if os.geteuid() == 0 and Path("/run/systemd/system").is_dir() \
            and shutil.which("systemd-run") is not None:
        return "systemd"
    return "bwrap"


def readable_code() -> tuple[Path, ...]:
    """Return what must be readable inside: the interpreter, its environment, the rails' code."""
    import conscious
    import unconscious

    found: list[Path] = [Path(sys.prefix), Path(sys.base_prefix),
                         Path(os.path.realpath(sys.executable)).parent.parent]
    for package in (conscious, unconscious):
        found.append(Path(package.__file__ or ".").resolve().parent.parent)
    unique: list[Path] = []
    for path in found:
        if path != Path("/usr") and path not in unique and not _under(path, unique):
            unique.append(path)
    return tuple(unique)


def _under(path: Path, others: list[Path]) -> bool:
    return any(path == other or other in path.parents for other in others)


def run_sandboxed(argv: Sequence[str], scratch: Path, timeout: float,
                  limits: Limits | None = None, environment: Mapping[str, str] | None = None,
                  backend: str | None = None) -> SandboxResult:
    """Run `argv` in a sandbox whose only writable place is `scratch` (seen as /scratch).

    `environment` adds variables to a minimal one (PATH, HOME=/tmp, LANG). Return how it ended;
    raise SandboxError if no sandbox could be started (nothing ran then).
    """
    limits = limits or Limits()
    chosen = backend or choose_backend()
    if not scratch.is_dir():
        raise SandboxError(f"the sandbox scratch {scratch} is not a directory")
    _open_to_sandbox(scratch)
    # HOME is the sandbox's own private /tmp.
    variables = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp",  # noqa: S108
                 "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", **(environment or {})}
    if chosen == "systemd":
        unit = f"hostmind-sandbox-{uuid.uuid4().hex[:12]}"
        command = _systemd_argv(argv, scratch, timeout, limits, variables, unit)
        return _run(command, timeout, chosen, on_timeout=lambda: _stop_unit(unit))
    if chosen == "bwrap":
        return _run(_bwrap_argv(argv, scratch, limits, variables), timeout, chosen)
    raise SandboxError(f"unknown sandbox backend {chosen!r} (systemd or bwrap)")


def _open_to_sandbox(scratch: Path) -> None:
    """Let the sandbox user write the scratch copy (it is seen only through the bind)."""
    for directory, subdirectories, files in os.walk(scratch):
        os.chmod(directory, 0o777)  # noqa: S103 - reachable only through the sandbox bind
        for name in files:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                mode = os.lstat(path).st_mode
                os.chmod(path, (mode & 0o777) | 0o666)  # noqa: S103 - as above
        subdirectories[:] = [name for name in subdirectories
                             if not os.path.islink(os.path.join(directory, name))]


def _bwrap_argv(argv: Sequence[str], scratch: Path, limits: Limits,
                variables: Mapping[str, str]) -> list[str]:
    command = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
               "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--clearenv",
               "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
               "--symlink", "usr/sbin", "/sbin", "--symlink", "usr/lib", "/lib"]
    if Path("/usr/lib64").is_dir():
        command += ["--symlink", "usr/lib64", "/lib64"]
    made: set[str] = set()
    for path in readable_code():
        # bwrap makes missing mount points 0700: make their parents traversable first.
        for parent in reversed(path.parents[:-1]):
            if str(parent) not in made:
                made.add(str(parent))
                command += ["--perms", "0755", "--dir", str(parent)]
        command += ["--ro-bind", str(path), str(path)]
    # The sandbox's /tmp is its own empty tmpfs, not the host's.
    command += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",  # noqa: S108
                "--bind", str(scratch), INSIDE, "--chdir", INSIDE,
                "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    for name, value in variables.items():
        command += ["--setenv", name, value]
    command += ["--", *_limited(limits), "setpriv", f"--reuid={SANDBOX_ID}",
                f"--regid={SANDBOX_ID}", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all", "--", *argv]
    return command


def _limited(limits: Limits) -> list[str]:
    # Per-process limits: the task count is per user (uid 65534), memory is address space.
    return ["prlimit", f"--nproc={limits.tasks}", f"--as={limits.memory}",
            f"--fsize={limits.file_size}", "--core=0", "--"]


def unit_properties(scratch: Path, timeout: float, limits: Limits) -> list[str]:
    """Return the properties of the transient sandbox unit (also scored by systemd-analyze)."""
    properties = [
        "DynamicUser=yes", "PrivateNetwork=yes", "PrivateTmp=yes", "PrivateDevices=yes",
        "PrivateUsers=yes", "PrivateIPC=yes", "ProtectSystem=strict", "ProtectHome=yes",
        "ProtectKernelTunables=yes", "ProtectKernelModules=yes", "ProtectKernelLogs=yes",
        "ProtectControlGroups=yes", "ProtectClock=yes", "ProtectHostname=yes",
        "ProtectProc=invisible", "NoNewPrivileges=yes", "RestrictNamespaces=yes",
        "RestrictSUIDSGID=yes", "LockPersonality=yes", "CapabilityBoundingSet=",
        # A private network namespace holds only loopback, and the address filter allows only
        # that: the unit tests' own 127.0.0.1 servers and socket-diag checks run (as they do
        # in the bwrap backend's empty netns), nothing else is reachable.
        "IPAddressDeny=any", "IPAddressAllow=localhost",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK", "RestrictRealtime=yes",
        "MemoryDenyWriteExecute=yes", "SystemCallArchitectures=native",
        "SystemCallFilter=@system-service", "SystemCallFilter=~@privileged @resources",
        # No ProcSubset=pid: the health checks' tests read /proc/meminfo, loadavg and stat;
        # ProtectProc=invisible still hides every other process.
        "SystemCallErrorNumber=EPERM", "DevicePolicy=closed",
        # 0022, not 0077: the rails read the JUnit report as root without CAP_DAC_OVERRIDE.
        "KeyringMode=private", "UMask=0022",
        f"TemporaryFileSystem={' '.join(HIDDEN_TREES)}",
        f"BindPaths={scratch}:{INSIDE}", f"WorkingDirectory={INSIDE}",
        f"TasksMax={limits.tasks}", f"MemoryMax={limits.memory}",
        # The same limits as rlimits too: where controllers are not delegated (a container),
        # TasksMax=/MemoryMax= are accepted but not enforced (docs/FACTS.md).
        f"LimitNPROC={limits.tasks}", f"LimitAS={limits.memory}",
        f"LimitFSIZE={limits.file_size}", "LimitCORE=0",
        f"RuntimeMaxSec={max(1, int(timeout) + 1)}", "KillMode=control-group",
        # After everything in the unit is dead (also at the timeout), the sandbox user opens
        # what it created to everyone: the rails run as root WITHOUT CAP_DAC_OVERRIDE and must
        # still read the report and delete the scratch, even a directory made mode 000.
        f"ExecStopPost=-/usr/bin/chmod -R -f a+rwX {INSIDE}",
    ]
    for path in readable_code():
        if str(path).startswith(HIDDEN_TREES):
            properties.append(f"BindReadOnlyPaths={path}")
    return properties


def _systemd_argv(argv: Sequence[str], scratch: Path, timeout: float, limits: Limits,
                  variables: Mapping[str, str], unit: str) -> list[str]:
    properties = unit_properties(scratch, timeout, limits)
    command = ["systemd-run", "--quiet", "--wait", "--pipe", "--collect", f"--unit={unit}",
               "--service-type=exec"]
    for item in properties:
        command.append(f"--property={item}")
    for name, value in variables.items():
        command.append(f"--setenv={name}={value}")
    return [*command, "--", *argv]


def _stop_unit(unit: str) -> None:
    for verb in (["kill", "--signal=SIGKILL"], ["stop"]):
        try:
            subprocess.run(["systemctl", *verb, f"{unit}.service"], capture_output=True,
                           timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired):
            pass


def _run(command: list[str], timeout: float, backend: str,
         on_timeout: Callable[[], None] | None = None) -> SandboxResult:
    started = time.monotonic()
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as error:
        raise SandboxError(f"cannot start the {backend} sandbox ({command[0]}): {error}") \
            from error
    assert process.stdout is not None
    tail = _TailReader(process.stdout)
    timed_out = False
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        if on_timeout is not None:
            on_timeout()
        # bwrap's init dies with its parent (PR_SET_PDEATHSIG), and the PID namespace with it.
        _kill_group(process.pid)
        process.wait()
    # Every process that could hold the pipe is gone; wait a bounded time for the reader.
    tail.join(10.0)
    return SandboxResult(None if timed_out else process.returncode, tail.text(), timed_out,
                         time.monotonic() - started, backend)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class _TailReader(threading.Thread):
    """Reads a pipe to its end in the background, keeping only the last bytes."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.kept = bytearray()
        self.start()

    def run(self) -> None:
        while True:
            chunk = self.stream.read1(65536)  # type: ignore[attr-defined]
            if not chunk:
                return
            self.kept += chunk
            if len(self.kept) > OUTPUT_TAIL_BYTES:
                del self.kept[:-OUTPUT_TAIL_BYTES]

    def text(self) -> str:
        return bytes(self.kept).decode("utf-8", "replace")
