"""`hostmind install`, `uninstall` and `rearm`: put the units in place, take them away, re-arm.

install renders the packaged unit templates for this machine, writes them atomically into
{root}/etc/systemd/system/, creates the config drop-in directory, writes a commented config
stub only if there is no config yet, seeds the live tree from the trusted base if there is none
yet (an existing one is kept: it may hold committed changes; `hostmind live diff` shows them),
and records every file in a manifest, so that uninstall removes exactly that. Paths in the
manifest are as seen from inside `root`, so an image prepared with --root can be uninstalled
later on the booted machine.

Every systemctl call goes through an injectable `Systemctl` (argv list, timeout) and every path
hangs off an injectable root, so all of this runs in unit tests on tmp_path.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from unconscious.atomic import atomic_write_json, atomic_write_text, sha256_bytes, sha256_file
from unconscious.health.integrity import live_files, write_manifest
from unconscious.json_types import JsonValue
from unconscious.live_tree import diff as live_diff
from unconscious.live_tree import seed as seed_live_tree
from unconscious.paths import Paths
from unconscious.pause import clear_pause
from unconscious.rotate.first_run import preview_logrotate_import
from unconscious.systemctl import Systemctl, SystemctlError, UnitState
from unconscious.systemd_units import TARGET, RenderValues, render_all

MANIFEST_FORMAT = 1

CONFIG_STUB = """\
# hostmind configuration (admin layer).
#
# Defaults are packaged with hostmind and need no copy here: this file holds only what you
# change. See them all, with the file:line that set each value:
#     hostmind config show --origin
# Prefer one file per concern in /etc/hostmind/hostmind.d/*.yaml (read in lexical order,
# after this file). Check before reloading:
#     hostmind config validate && systemctl reload hostmind-health
#
# The model API key is not configured here: put it in /etc/credstore/anthropic-api-key
# (mode 0600); systemd hands it to hostmind-conscious as a credential.
"""


class InstallError(RuntimeError):
    """install/uninstall could not do what was asked; the message says why."""


class NotPossibleHere(InstallError):
    """The machine cannot do this (PID 1 is not systemd); exit code 3."""


@dataclass(frozen=True)
class Layout:
    """Where install puts things, under `root` ("/" for the running machine)."""

    root: Path = Path("/")
    #: Tests set this to exercise the systemctl calls against a tree under tmp_path.
    treat_as_live: bool | None = None

    def inside(self, path: str) -> Path:
        """Map an absolute path as seen inside `root` to the real path on this machine."""
        return self.root / path.lstrip("/")

    @property
    def live(self) -> bool:
        """True when installing into the running machine (systemctl then applies)."""
        if self.treat_as_live is not None:
            return self.treat_as_live
        return self.root.resolve() == Path("/")

    @property
    def unit_dir(self) -> Path:
        return self.inside("/etc/systemd/system")

    @property
    def config_dir(self) -> Path:
        return self.inside("/etc/hostmind")

    @property
    def state_dir(self) -> Path:
        return self.inside("/var/lib/hostmind")

    @property
    def runtime_dir(self) -> Path:
        return self.inside("/run/hostmind")

    @property
    def manifest(self) -> Path:
        return self.state_dir / "install-manifest.json"

    def outside(self, path: Path) -> str:
        """Map a real path under `root` back to the absolute path as seen inside it."""
        return "/" + str(path.relative_to(self.root))


@dataclass
class Report:
    """What install/uninstall did (or, with dry_run, would do): one line per action."""

    dry_run: bool
    actions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, verb: str, what: str) -> None:
        self.actions.append(f"{'would ' + verb if self.dry_run else verb} {what}")


@dataclass(frozen=True)
class PreviousInstall:
    """What the install manifest says an earlier install wrote."""

    units: dict[str, str]
    directories: list[str]
    config_stub: str | None


def _read_manifest(layout: Layout) -> PreviousInstall | None:
    """Return what the install manifest records, None if there is none.

    Raise InstallError if it is unreadable or not in the expected format.
    """
    try:
        value: JsonValue = json.loads(layout.manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as problem:
        raise InstallError(
            f"cannot read the install manifest {layout.manifest}: {problem}"
        ) from problem
    units = value.get("units") if isinstance(value, dict) else None
    directories = value.get("directories", []) if isinstance(value, dict) else None
    stub = value.get("config_stub") if isinstance(value, dict) else None
    if (not isinstance(units, dict) or not all(isinstance(item, str) for item in units.values())
            or not isinstance(directories, list) or not all(isinstance(item, str) for item in directories)
            or not (stub is None or isinstance(stub, str))):
        raise InstallError(f"install manifest {layout.manifest} is not in the expected format")
    return PreviousInstall(units={path: str(text) for path, text in units.items()},
                           directories=[str(item) for item in directories], config_stub=stub)


def install(
    layout: Layout,
    values: RenderValues,
    systemctl: Systemctl,
    *,
    systemd_running: bool,
    dry_run: bool = False,
    now: bool = False,
    clock: Callable[[], float] = time.time,
    trusted_base: Path | None = None,
) -> Report:
    """Install hostmind's units under `layout.root`; return what was done.

    `trusted_base` (the directory holding the installed packages) seeds the live tree
    `values.live_tree` (a path as seen inside `root`) when it does not exist; None skips that.
    Raise NotPossibleHere when installing into the running machine while PID 1 is not systemd
    (nothing is written then), InstallError for a bad request (--now with another root),
    UnitTemplateError, AtomicWriteError (a write that did not land) or SystemctlError.
    """
    if now and not layout.live:
        raise InstallError("--now starts the units on this machine; it cannot be used with --root")
    if layout.live and not systemd_running and not dry_run:
        raise NotPossibleHere(
            "PID 1 is not systemd here (no /run/systemd/system), so the units cannot run. "
            "Use --root DIR to prepare an image, or --dry-run to see what would be written."
        )
    report = Report(dry_run=dry_run)
    previous = _read_manifest(layout) or PreviousInstall({}, [], None)
    units = _write_units(layout, render_all(values), report)
    _remove_stale_units(layout, set(previous.units) - set(units), report)
    paths = Paths(
        config_dir=layout.config_dir, runtime_dir=layout.runtime_dir, state_dir=layout.state_dir
    )
    directories = _make_directories(layout, paths, list(previous.directories), report)
    config_stub = _write_config_stub(layout, paths, previous.config_stub, report)
    # Rotation from the first minute: logrotate keeps its logs; a preview of the switch (docs/rotate.md).
    report.actions.extend(preview_logrotate_import(layout.inside("/etc/logrotate.conf"), layout.state_dir,
                                                   dry_run))

    manifest = {
        "format": MANIFEST_FORMAT,
        "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock())),
        "hostmind": str(values.hostmind),
        "live_tree": str(values.live_tree),
        "units": units,
        "directories": directories,
        "config_stub": config_stub,
    }
    report.add("record", layout.outside(layout.manifest))
    if not dry_run:
        atomic_write_json(layout.manifest, manifest, mode=0o644)
    if trusted_base is not None:
        _seed_live_tree(layout, values, trusted_base, report)
    _record_live_tree(layout, values, report)

    _reload_systemd(layout, systemctl, now, report)
    return report


def _reload_systemd(layout: Layout, systemctl: Systemctl, now: bool, report: Report) -> None:
    """daemon-reload (and with `now` enable --now the target) on the running machine only."""
    if not layout.live:
        report.actions.append("skip systemctl (--root: not the running machine)")
        return
    report.add("run", "systemctl daemon-reload")
    if now:
        report.add("run", f"systemctl enable --now {TARGET}")
    if not report.dry_run:
        systemctl.daemon_reload()
        if now:
            systemctl.enable_now(TARGET)


def _write_units(layout: Layout, rendered: dict[str, str], report: Report) -> dict[str, str]:
    """Write each rendered unit that differs; return {unit path as seen outside: SHA-256}."""
    units: dict[str, str] = {}
    if not layout.unit_dir.is_dir():
        report.add("create", layout.outside(layout.unit_dir) + "/")
        if not report.dry_run:
            layout.unit_dir.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        path = layout.unit_dir / name
        digest = sha256_bytes(text.encode("utf-8"))
        units[layout.outside(path)] = digest
        if path.is_file() and sha256_file(path) == digest:
            report.actions.append(f"unchanged {layout.outside(path)}")
            continue
        report.add("replace" if path.exists() else "write", layout.outside(path))
        if not report.dry_run:
            atomic_write_text(path, text, mode=0o644)
    return units


def _remove_stale_units(layout: Layout, stale_units: set[str], report: Report) -> None:
    """Remove units an older version installed and this one no longer ships."""
    for stale in sorted(stale_units):
        stale_path = layout.inside(stale)
        if stale_path.exists():
            report.add("remove stale", stale)
            if not report.dry_run:
                stale_path.unlink()


def _make_directories(layout: Layout, paths: Paths, directories: list[str], report: Report) -> list[str]:
    """Create the drop-in and state directories; return `directories` plus the ones created."""
    for directory in (paths.dropin_dir, layout.state_dir):
        if not directory.is_dir():
            report.add("create", layout.outside(directory) + "/")
            if layout.outside(directory) not in directories:
                directories.append(layout.outside(directory))
            if not report.dry_run:
                directory.mkdir(parents=True, exist_ok=True)
    return directories


def _write_config_stub(layout: Layout, paths: Paths, config_stub: str | None, report: Report) -> str | None:
    """Write the commented config stub if there is no config; return the stub install wrote, if any."""
    if paths.config_file.exists():
        report.actions.append(f"keep {layout.outside(paths.config_file)} (never overwritten)")
        return config_stub
    report.add("write", f"{layout.outside(paths.config_file)} (commented stub)")
    if not report.dry_run:
        atomic_write_text(paths.config_file, CONFIG_STUB, mode=0o644)
    return layout.outside(paths.config_file)


def _seed_live_tree(layout: Layout, values: RenderValues, base: Path, report: Report) -> None:
    # Never discard a live tree: it may hold changes the rails committed. `hostmind live
    # reset` (or `upgrade --reset-live`) replaces it, on the operator's word.
    tree = layout.inside(str(values.live_tree))
    if tree.is_dir():
        changed = live_diff(base, tree)
        note = (f"{changed.count} file(s) differ from the trusted base: `hostmind live diff`"
                if changed.count else "same as the trusted base")
        report.actions.append(f"keep {values.live_tree} (live tree; {note})")
        return
    report.add("seed", f"{values.live_tree} (live tree) from the trusted base {base}")
    if not report.dry_run:
        seed_live_tree(base, tree)


def _record_live_tree(layout: Layout, values: RenderValues, report: Report) -> None:
    # The integrity check compares the live tree with this manifest, so a change made outside
    # the rails is an alert; installing is the operator blessing the tree as it is now.
    tree = layout.inside(str(values.live_tree))
    if not tree.is_dir() and not report.dry_run:
        return
    target = layout.state_dir / "live-manifest.json"
    report.add("record", f"{layout.outside(target)} (integrity manifest of {values.live_tree})")
    if not report.dry_run:
        write_manifest(tree, live_files(tree), target)


def _remove_enablement_links(layout: Layout, unit_names: set[str], report: Report) -> None:
    # `systemctl disable` does this on a live machine; under --root (or if it failed) the
    # *.wants/ symlinks to our units would dangle.
    for wants in sorted(layout.unit_dir.glob("*.wants")) + sorted(
        layout.unit_dir.glob("*.requires")
    ):
        for link in sorted(wants.iterdir()):
            if link.is_symlink() and link.name in unit_names:
                report.add("remove", layout.outside(link))
                if not report.dry_run:
                    link.unlink()


def uninstall(
    layout: Layout,
    systemctl: Systemctl,
    *,
    systemd_running: bool,
    purge: bool = False,
    dry_run: bool = False,
) -> Report:
    """Remove exactly the units the manifest lists; with `purge` also state and config.

    Without `purge`, /var/lib/hostmind and /etc/hostmind are never touched (the manifest
    itself excepted). Raise InstallError if the manifest is unreadable.
    """
    report = Report(dry_run=dry_run)
    manifest = _read_manifest(layout)
    use_systemctl = layout.live and systemd_running
    if manifest is None:
        report.warnings.append(
            f"no install manifest at {layout.outside(layout.manifest)}: no units to remove"
        )
        recorded: dict[str, str] = {}
    else:
        recorded = dict(manifest.units)
    unit_names = {Path(path).name for path in recorded}

    if use_systemctl and unit_names:
        _stop_units(systemctl, unit_names, report)
    _remove_enablement_links(layout, unit_names, report)
    _remove_recorded_units(layout, recorded, report)

    if purge:
        for directory in (layout.state_dir, layout.config_dir, layout.runtime_dir):
            if directory.exists():
                report.add("purge", layout.outside(directory) + "/")
                if not dry_run:
                    shutil.rmtree(directory)
    elif manifest is not None:
        report.add("remove", layout.outside(layout.manifest))
        if not dry_run:
            layout.manifest.unlink()

    if use_systemctl:
        report.add("run", "systemctl daemon-reload and reset-failed")
        if not dry_run:
            systemctl.daemon_reload()
            try:
                systemctl.reset_failed("hostmind*")
            except SystemctlError as problem:
                # Nothing failed is fine; systemctl says so with a non-zero exit on some versions.
                report.warnings.append(str(problem))
    return report


def _stop_units(systemctl: Systemctl, unit_names: set[str], report: Report) -> None:
    """Disable the target and stop its units; a systemctl failure is a warning, not a stop."""
    report.add("run", f"systemctl disable --now {TARGET}, then stop hostmind units")
    if report.dry_run:
        return
    members = sorted(unit_names - {TARGET, "hostmind-rollback@.service"})
    try:
        systemctl.disable_now(TARGET)
    except SystemctlError as problem:
        report.warnings.append(str(problem))
    try:
        systemctl.stop(*members)
    except SystemctlError as problem:
        report.warnings.append(str(problem))


def _remove_recorded_units(layout: Layout, recorded: dict[str, str], report: Report) -> None:
    """Remove each unit file the manifest lists; warn about one that is gone or was edited."""
    for outside_path, digest in sorted(recorded.items()):
        path = layout.inside(outside_path)
        if not path.exists():
            report.warnings.append(f"{outside_path} was already gone")
            continue
        if sha256_file(path) != digest:
            report.warnings.append(
                f"{outside_path} was edited after install; removed anyway "
                "(put local changes in a drop-in: UNIT.d/*.conf)"
            )
        report.add("remove", outside_path)
        if not report.dry_run:
            path.unlink()


@dataclass
class RearmResult:
    """What `rearm` found and did."""

    failed: list[UnitState] = field(default_factory=list)
    tripped: list[str] = field(default_factory=list)
    reset: list[str] = field(default_factory=list)
    started: bool = False
    pause_cleared: bool = False
    hook_messages: list[str] = field(default_factory=list)


RearmHook = Callable[[Paths], str]


def rearm(
    paths: Paths,
    systemctl: Systemctl,
    *,
    start: bool = True,
    hooks: Sequence[RearmHook] = (),
) -> RearmResult:
    """Reset the failed state and start-limit counters of every loaded hostmind unit.

    Then clear the self-modification pause, run `hooks` (each `hook(paths) -> message`: the
    rails audit the re-arm) and, with `start`, start hostmind.target again. Return what was
    found and done. Raise SystemctlError if systemctl fails.
    """
    result = RearmResult()
    names = systemctl.loaded_units()
    states = systemctl.show(*names)
    result.failed = [state for state in states if state.active_state == "failed"]
    result.tripped = [state.name for state in states if state.breaker_tripped]
    if names:
        # reset-failed on every unit, not only failed ones: it also clears the start-limit
        # counter of a unit that is running but has used up part of its burst.
        systemctl.reset_failed(*names)
        result.reset = list(names)
    # The breaker also paused self-modification; re-arming is the person's word to go on.
    result.pause_cleared = clear_pause(paths)
    for hook in hooks:
        result.hook_messages.append(hook(paths))
    if start:
        systemctl.start(TARGET)
        result.started = True
    return result
