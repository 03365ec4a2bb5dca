"""`hostmind backup run|list|verify|restore|prune`: backups by hand, with --json everywhere.

Exit codes: 0 ok; 1 the operation failed or found differences; 2 usage (e.g. unknown backup
id); 75 not run now, retry later (the restic repository is locked by a live process); 78
configuration error.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from unconscious import exitcodes
from unconscious.backup.lock import backup_lock
from unconscious.backup.restic_cli import RepositoryLocked
from unconscious.backup.run import BackupRun
from unconscious.backup.settings import BackupSettings
from unconscious.backup.snapshot import BackupError, CheckResult, Snapshot, annotate
from unconscious.cli.output import error, format_age, print_json
from unconscious.config import ConfigError
from unconscious.context import Context
from unconscious.globs import first_match, pattern_problem
from unconscious.log import configure, get_logger

if TYPE_CHECKING:
    from unconscious.cli.registry import Subparsers

TEMPFAIL = 75  # EX_TEMPFAIL (sysexits.h): nothing is wrong, try again later


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("backup", help="make, list, verify, restore and prune backups")
    commands = parser.add_subparsers(dest="backup_command", metavar="ACTION", required=True)
    run = commands.add_parser("run", help="make a backup now (what the timer does)")
    run.set_defaults(func=run_command)
    listing = commands.add_parser("list", help="list backups, oldest first, with verification state")
    listing.set_defaults(func=list_command)
    verify = commands.add_parser("verify", help="verify a backup (default: the newest)")
    verify.add_argument("backup", nargs="?", default="latest", help="backup id, or 'latest'")
    verify.add_argument("--all", action="store_true",
                        help="verify every backup; also fails on damaged or orphaned backup files")
    verify.add_argument("--full", action="store_true",
                        help="restic: a full check (`check --read-data`, all pack data), the only kind "
                             "that clears an earlier failed verification (tar: always full by hand)")
    verify.add_argument("--restore-test", action="store_true",
                        help="also restore a sample into a temporary directory and compare it")
    verify.add_argument("--percent", type=float, default=None,
                        help="share of files the restore test restores (default: from config)")
    verify.set_defaults(func=verify_command)
    restore = commands.add_parser("restore", help="restore a backup into a directory")
    restore.add_argument("backup", help="backup id, or 'latest'")
    restore.add_argument("--target", type=Path, required=True,
                         help="directory to restore into (must not exist, or be empty)")
    restore.add_argument("--include", action="append", default=None, metavar="GLOB", type=_glob_argument,
                         help="only members (SOURCE/relative/path) matching GLOB: '*' stays inside one "
                              "directory, '**' spans them, a GLOB without '/' matches the file name "
                              "anywhere; e.g. 'etc/nginx/**' or '*.conf' (repeatable)")
    restore.set_defaults(func=restore_command)
    prune = commands.add_parser("prune", help="apply the keep policy now")
    prune.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    prune.set_defaults(func=prune_command)
    for sub in (run, listing, verify, restore, prune):
        sub.add_argument("--json", action="store_true", help="print JSON")


def _runner(context: Context) -> BackupRun:
    configure("backup", target="manual")
    config = context.load_config()
    settings = BackupSettings.from_config(config.section("backup"), context.paths)
    return BackupRun(context.paths, settings, get_logger(service="backup"))


def _guard(args: argparse.Namespace, context: Context, action: Callable[[BackupRun], int]) -> int:
    try:
        return action(_runner(context))
    except ConfigError as problem:
        for item in problem.problems:
            error(str(item))
        return exitcodes.CONFIG_ERROR
    except RepositoryLocked as problem:
        error(str(problem))
        return TEMPFAIL
    except (BackupError, OSError) as problem:
        error(str(problem))
        return exitcodes.FAILURE
    except LookupError as problem:
        error(str(problem.args[0]))
        return exitcodes.USAGE


def _find(runner: BackupRun, wanted: str) -> Snapshot:
    snapshots = annotate(runner.paths, runner.engine.snapshots())
    if not snapshots:
        raise LookupError("there are no backups yet")
    if wanted == "latest":
        return snapshots[-1]
    matching = [snapshot for snapshot in snapshots if snapshot.id == wanted or snapshot.id.startswith(wanted)]
    if len(matching) != 1:
        raise LookupError(f"no single backup matches {wanted!r}; see `hostmind backup list`")
    return matching[0]


def run_command(args: argparse.Namespace, context: Context) -> int:
    def action(runner: BackupRun) -> int:
        report = runner.run()
        if args.json:
            print_json(report.to_json())
        else:
            if report.snapshot:
                print(f"backup {report.snapshot.id}: {report.snapshot.files} files, "
                      f"{report.snapshot.bytes} bytes in {report.duration:.1f}s")
            for line in report.warnings:
                print(f"warning: {line}")
            for line in report.deferred:
                print(f"not run now (retried at the next run): {line}")
            for line in report.errors:
                error(line)
        if not report.ok:
            return exitcodes.FAILURE
        return TEMPFAIL if report.deferred else exitcodes.OK
    return _guard(args, context, action)


def _state(snapshot: Snapshot) -> str:
    verified = {True: "verified", False: "FAILED", None: "never verified"}[snapshot.verify_ok]
    restored = {True: ", restore-tested", False: ", restore test FAILED", None: ""}[snapshot.restore_ok]
    return verified + restored


def list_command(args: argparse.Namespace, context: Context) -> int:
    def action(runner: BackupRun) -> int:
        snapshots = annotate(runner.paths, runner.engine.snapshots())
        for unreadable in runner.engine.unreadable:
            error(f"unreadable backup: {unreadable}")
        if args.json:
            print_json([snapshot.to_json() for snapshot in snapshots])
            return exitcodes.FAILURE if runner.engine.unreadable else exitcodes.OK
        now = time.time()
        for snapshot in snapshots:
            print(f"{snapshot.id}  {format_age(now - snapshot.time):>5} ago  {snapshot.files:>8} files  "
                  f"{snapshot.bytes:>14} bytes  {_state(snapshot)}")
        if not snapshots:
            print(f"no backups ({runner.engine.name} engine)")
        return exitcodes.FAILURE if runner.engine.unreadable else exitcodes.OK
    return _guard(args, context, action)


def verify_command(args: argparse.Namespace, context: Context) -> int:
    def action(runner: BackupRun) -> int:
        with backup_lock(runner.paths):
            targets = annotate(runner.paths, runner.engine.snapshots()) if args.all \
                else [_find(runner, args.backup)]
            results: dict[str, dict[str, bool]] = {}
            for snapshot in targets:
                # tar: by hand always the deep check (decompress, compare every member).
                full = args.full or not runner.engine.repository_wide
                outcome = {"verified": runner.verify(snapshot, full=full)}
                if args.restore_test:
                    outcome["restore_tested"] = runner.restore_test(snapshot, percent=args.percent)
                results[snapshot.id] = outcome
        unreadable = list(runner.engine.unreadable) if args.all else []
        good = all(all(outcome.values()) for outcome in results.values()) and not unreadable
        if args.json:
            print_json({"ok": good, "backups": results, "unreadable": unreadable})
        else:
            for line in unreadable:
                error(f"not a whole backup: {line}")
            for backup_id, outcome in results.items():
                words = ", ".join(f"{key} {'ok' if value else 'FAILED'}" for key, value in outcome.items())
                print(f"{backup_id}: {words}")
        return exitcodes.OK if good else exitcodes.FAILURE
    return _guard(args, context, action)


def _glob_argument(text: str) -> str:
    """argparse type of --include: the glob itself, or a clear error naming it (unconscious.globs)."""
    problem = pattern_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"glob {text[:200]!r} {problem}")
    return text


def restore_command(args: argparse.Namespace, context: Context) -> int:
    def action(runner: BackupRun) -> int:
        target: Path = args.target
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise LookupError(f"{target} exists and is not an empty directory; restore refuses to mix")
        with backup_lock(runner.paths):
            snapshot = _find(runner, args.backup)
            names = None
            if args.include:
                names = [name for name in runner.engine.sample_files(snapshot)
                         if first_match(name, args.include) is not None]
                if not names:
                    raise LookupError(f"no file in {snapshot.id} matches {args.include}")
            result: CheckResult = runner.engine.restore(snapshot, target, names)
        if args.json:
            print_json({"ok": result.ok, "backup": snapshot.id, "target": str(target),
                        "restored": result.checked, "bytes": result.bytes,
                        "differences": result.differences})
        else:
            print(f"restored {result.checked} members ({result.bytes} bytes) of {snapshot.id} into {target}")
            for line in result.differences:
                error(line)
        return exitcodes.OK if result.ok else exitcodes.FAILURE
    return _guard(args, context, action)


def prune_command(args: argparse.Namespace, context: Context) -> int:
    def action(runner: BackupRun) -> int:
        with backup_lock(runner.paths):
            removed = runner.prune(dry_run=args.dry_run)
        if args.json:
            print_json({"dry_run": args.dry_run, "removed": removed})
        else:
            verb = "would remove" if args.dry_run else "removed"
            print(f"{verb} {len(removed)} backup(s)" + (f": {', '.join(removed)}" if removed else ""))
        return exitcodes.OK
    return _guard(args, context, action)
