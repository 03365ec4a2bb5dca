"""Disk, inodes, memory, swap, load and CPU checks.

disk and inodes call statvfs, which can hang on a dead network mount: they run in a worker.
memory, swap, load and cpu only read /proc files the kernel serves from memory, so they run
inline (see `unconscious.health.kinds.KINDS`).
"""

from __future__ import annotations

import os

import psutil

from unconscious.health.model import CheckParams, Outcome, percent


def _mount_problem(path: str, require_mount: bool) -> Outcome | None:
    if not os.path.exists(path):
        return Outcome(False, f"{path} does not exist (mount gone?)", value="missing")
    # Without this, a vanished mount reports the usage of the filesystem underneath it.
    if require_mount and not os.path.ismount(path):
        return Outcome(False, f"{path} is not a mount point (mount gone?)", value="not mounted")
    return None


def disk(params: CheckParams, timeout: float) -> Outcome:
    """Fail when the filesystem at `path` is fuller than `max_percent`."""
    path = str(params.get("path", "/"))
    limit = float(params.get("max_percent", 90))
    problem = _mount_problem(path, bool(params.get("require_mount", True)))
    if problem is not None:
        return problem
    stats = os.statvfs(path)
    total = stats.f_blocks * stats.f_frsize
    available = stats.f_bavail * stats.f_frsize
    used = total - stats.f_bfree * stats.f_frsize
    # Same formula as df: the reserved blocks count as neither used nor available.
    usage = 100.0 * used / (used + available) if used + available else 0.0
    return Outcome(usage <= limit, f"disk {path} {percent(usage)}", percent(usage), percent(limit))


def inodes(params: CheckParams, timeout: float) -> Outcome:
    """Fail when more than `max_percent` of the inodes at `path` are used."""
    path = str(params.get("path", "/"))
    limit = float(params.get("max_percent", 90))
    problem = _mount_problem(path, bool(params.get("require_mount", True)))
    if problem is not None:
        return problem
    stats = os.statvfs(path)
    if stats.f_files == 0:
        return Outcome(None, f"inodes {path}: filesystem has no inode limit")
    usage = 100.0 * (stats.f_files - stats.f_ffree) / stats.f_files
    return Outcome(usage <= limit, f"inodes {path} {percent(usage)}", percent(usage), percent(limit))


def memory(params: CheckParams, timeout: float) -> Outcome:
    """Fail when used memory (total minus available) exceeds `max_percent`."""
    limit = float(params.get("max_percent", 90))
    usage = float(psutil.virtual_memory().percent)
    return Outcome(usage <= limit, f"memory {percent(usage)}", percent(usage), percent(limit))


def swap(params: CheckParams, timeout: float) -> Outcome:
    """Fail when swap use exceeds `max_percent` (no swap at all is fine)."""
    limit = float(params.get("max_percent", 80))
    usage = psutil.swap_memory()
    if usage.total == 0:
        return Outcome(True, "no swap configured", "0%", percent(limit))
    return Outcome(
        usage.percent <= limit, f"swap {percent(usage.percent)}", percent(usage.percent), percent(limit)
    )


def load(params: CheckParams, timeout: float) -> Outcome:
    """Fail when the 5-minute load average per CPU exceeds `max_per_cpu`."""
    limit = float(params.get("max_per_cpu", 2.0))
    cpus = os.cpu_count() or 1
    per_cpu = os.getloadavg()[1] / cpus
    return Outcome(per_cpu <= limit, f"load {per_cpu:.2f} per CPU", f"{per_cpu:.2f}", f"{limit:g}")


def cpu(params: CheckParams, timeout: float) -> Outcome:
    """Fail when CPU use since the previous run exceeds `max_percent` (first run: since boot)."""
    limit = float(params.get("max_percent", 95))
    usage = float(psutil.cpu_percent(interval=None))
    return Outcome(usage <= limit, f"cpu {percent(usage)}", percent(usage), percent(limit))
