"""One pass of rotation: recover, then for each rule and file decide, rotate, prune, account.

`run_pass` does the work and returns a RunReport; service.py wraps it with config, lock,
journal, evidence and exit code. Every file is handled on its own: one failure is reported and
the others still rotate.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from unconscious.events import EventSpool
from unconscious.globs import GlobError, Skipped
from unconscious.globs import expand as expand_glob
from unconscious.rotate import state as states
from unconscious.rotate.batch import rotate_all
from unconscious.rotate.codecs import Codec
from unconscious.rotate.dirsafety import creator, make_olddir, replacer, su_advice
from unconscious.rotate.env import Rotated, RotateEnv
from unconscious.rotate.finish import prune
from unconscious.rotate.fsutil import RotationError
from unconscious.rotate.intent import Intent
from unconscious.rotate.intent import load_all as load_intents
from unconscious.rotate.naming import (
    archive_dir,
    checked_archive_dir,
    date_pattern,
    final_archive,
    is_work_file,
    shift_plan,
    staging_path,
    tail_path,
    temp_path,
    uncompressed_older,
)
from unconscious.rotate.pending import compress_archive
from unconscious.rotate.recovery import recover_all
from unconscious.rotate.rules import Rule
from unconscious.rotate.triggers import due, limit


@dataclass
class RunReport:
    """What one pass did, for the journal, the evidence and `--json`."""

    examined: int = 0
    rotated: list[Rotated] = field(default_factory=list)
    planned: list[dict[str, str | int]] = field(default_factory=list)  # dry run: what would rotate
    compressed: list[Rotated] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def bytes_in(self) -> int:
        return sum(item.bytes_in for item in self.rotated)

    @property
    def bytes_out(self) -> int:
        return sum(item.bytes_out for item in self.rotated)


def expand(rule: Rule) -> tuple[list[Path], list[str]]:
    """Return (existing log files matched by the rule, problems for missing ones)."""
    found: list[Path] = []
    problems: list[str] = []
    for pattern in rule.paths:
        skipped: list[Skipped] = []
        try:
            matches = [Path(match) for match in expand_glob(pattern, skipped)]
        except GlobError as error:
            problems.append(f"rule {rule.name}: {error}")
            continue
        problems.extend(_skipped_problems(rule, skipped))
        matches = [path for path in matches
                   if (path.is_symlink() or path.is_file()) and not is_work_file(path)
                   and not path.name.endswith((".gz", ".zst")) and not is_plain_archive(rule, path)]
        if not matches and not rule.missingok:
            problems.append(f"rule {rule.name}: {pattern} matches no log file (set missingok to allow)")
        found.extend(path.absolute() for path in matches)
    return list(dict.fromkeys(found)), problems


def _skipped_problems(rule: Rule, skipped: list[Skipped]) -> list[str]:
    """Problems for what a rule's glob did not enter: an unreadable directory, or a link to a
    directory in a directory others may write (someone may have planted it; the glob never
    follows it, and says so). A link placed where only root writes is not followed, silently."""
    problems: list[str] = []
    for item in skipped:
        if item.reason != "symlink":
            problems.append(f"rule {rule.name}: {item.path}: {item.reason}")
        elif writer := _writer_of_parent(item.path):
            problems.append(f"rule {rule.name}: {item.path} is a symbolic link in a directory {writer}; "
                            f"a glob never follows it (name the real directory in the rule)")
    return problems


def _writer_of_parent(path: str) -> str:
    try:
        return creator(os.stat(os.path.dirname(path)))
    except OSError:
        return ""  # gone meanwhile: nothing left to plant a link in


def refusal(source: Path, vouched: bool = False) -> tuple[str | None, bool]:
    """Return (why `source` must not be rotated, whether that is an error), as logrotate decides
    and stricter where root could be steered.

    A symbolic link is skipped (its target could be any file, e.g. /etc/shadow); a file with
    several hard links is skipped (copytruncate would empty the other name too, a rename would
    leave it behind); both are warnings, as logrotate skips them without failing. Unless the
    rule has `su` (`vouched`), these are errors: a log whose directory is not root's or that
    anyone but root (or group root) may write, sticky or not (logrotate refuses the group- and
    world-writable too, but never looks at the owner); a directory above it whose entries
    another user may swap; a directory link on its path in a directory others may write to.
    """
    info = source.lstat()
    if stat.S_ISLNK(info.st_mode):
        return f"{source}: is a symbolic link; not rotated (as logrotate: rotate its target instead)", False
    if info.st_nlink != 1:
        return (f"{source}: has {info.st_nlink} hard links; not rotated (as logrotate): another name "
                f"would keep or lose the bytes"), False
    if vouched:
        return None, False
    directory = source.parent.stat()
    writer = creator(directory)
    if writer:
        return (f"{source}: its directory {source.parent} is {writer}; not rotated as root (whoever "
                f"else may write there could steer root's renames and prunes): {su_advice(directory)}"), True
    above = _ancestor_others_control(source.parent)
    if above is not None:
        return (f"{source}: {above[0]}, above its directory, is {above[1]}: its entries can be swapped "
                f"for links; not rotated as root (name a path only root controls, or set `su`)"), True
    link = _link_in_open_directory(source)
    if link is not None:
        return (f"{source}: {link} is a symbolic link in a directory "
                f"{creator(link.parent.stat())}: whoever can write there chooses where root "
                f"rotates; not rotated (name the real directory in the rule, or tighten the mode)"), True
    return None, False


def _ancestor_others_control(directory: Path) -> tuple[Path, str] | None:
    """Return (the first directory above `directory`, who else controls it) when another user
    may rename or remove its entries (so swap the way to the log for a link); else None."""
    for above in reversed(directory.parents):
        who = replacer(above.stat())
        if who:
            return above, who
    return None


def _link_in_open_directory(source: Path) -> Path | None:
    """Return the first directory link on `source`'s path that sits in a directory others may write.

    logrotate checks only the log's own (resolved) directory, so `/var/log/app/*/x.log` with a
    writable `/var/log/app` lets its writer plant `app/evil -> /etc` and have root rotate
    `/etc/x.log`. A link placed by root in a root-only directory is fine.
    """
    reached = Path(source.anchor)
    for part in source.parent.parts[1:]:
        entry = reached / part
        if entry.is_symlink() and creator(reached.stat()):
            return entry
        reached = entry
    return None


def is_plain_archive(rule: Rule, path: Path) -> bool:
    """True for `app.log.1` or `app.log-20261121` beside an existing `app.log` (or, with
    `extension: .log`, `app.1.log` and `app-20261121.log`): a glob like `*` or `*.log` must not
    rotate the archives of another log (logrotate's classic pitfall)."""
    names = [(path.name, "")]
    if rule.extension and path.name.endswith(rule.extension):
        names.append((path.name[: -len(rule.extension)], rule.extension))
    dated = date_pattern(rule.dateformat)
    for name, file_extension in names:
        numbered = re.fullmatch(r"(.+)\.\d+", name)
        if numbered and (path.parent / f"{numbered.group(1)}{file_extension}").is_file():
            return True
        for cut in range(1, len(name)):
            if dated.fullmatch(name[cut:]) and (path.parent / f"{name[:cut]}{file_extension}").is_file():
                return True
    return False


def plan(rule: Rule, source: Path, now: float) -> tuple[Intent, Codec]:
    """Return the intent of rotating `source` under `rule`, and the codec it will use."""
    codec = Codec("none" if rule.delaycompress or rule.compress == "none" else rule.compress,
                  rule.level, rule.threads)
    final = final_archive(rule, source, codec.extension, now)
    return Intent(
        kind="rotate", source=str(source), mode=rule.mode, codec=codec.name, level=codec.level,
        threads=codec.threads, staging=str(staging_path(source)) if rule.mode == "create" else "",
        tail_file=str(tail_path(source)) if rule.mode == "copytruncate" else "",
        temp_archive=str(temp_path(final)), final_archive=str(final),
        shifts=shift_plan(rule, source), prune_keep=rule.keep,
        archive_dir=str(archive_dir(rule, source)), rule=rule.name, started=now,
    ), codec


def run_pass(env: RotateEnv, rules: list[Rule], spool: EventSpool | None,
             dry_run: bool = False, force: bool = False, workers: int = 2) -> RunReport:
    """Recover, then rotate what is due. Return the report; never raise for one file's failure."""
    report = RunReport(pruned=env.pruned)
    by_name = {rule.name: rule for rule in rules}
    claimed: dict[Path, str] = {}
    stuck: set[str] = set()
    if not dry_run:
        report.recovered, problems = recover_all(env, by_name)
        report.errors.extend(problems)
        # A log whose interrupted rotation could not be finished is left alone until it is.
        stuck = {item.source for item in load_intents(env.state_dir)[0]}
    state, warning = states.load(env.state_dir, expected=env.ran_before)
    if warning:
        report.warnings.append(warning)
        env.log.warning("state_rebuilt", msg=warning)
    for rule in rules:
        files, problems = expand(rule)
        report.errors.extend(problems)
        candidates: list[Path] = []
        for source in files:
            if source in claimed:
                # Rotating it again would shift (and with keep: 1 remove) the archive just made.
                text = (f"{source}: matched by rules {claimed[source]} and {rule.name}; "
                        f"only {claimed[source]} rotates it (see `hostmind config validate`)")
                report.warnings.append(text)
                env.log.warning("rule_overlap", file=str(source), rule=rule.name, msg=text)
                continue
            claimed[source] = rule.name
            report.examined += 1
            try:
                refused, is_error = refusal(source, vouched=rule.su)
            except OSError as error:  # the log went away since the glob saw it
                refused, is_error = f"{source}: {error.strerror}", not rule.missingok
            if refused is not None:
                (report.errors if is_error else report.warnings).append(refused)
                (env.log.error if is_error else env.log.warning)("rotation_refused", file=str(source),
                                                                 rule=rule.name, msg=refused)
            elif str(source) in stuck:
                report.errors.append(f"{source}: not rotated while its interrupted rotation is unfinished")
            else:
                candidates.append(source)
        if rule.su_user in (None, "root", "0"):
            _rule_pass(env, rule, candidates, state, report, spool, dry_run, force, workers)
        else:  # every file operation of the rule as that user (su_pass.py)
            # Imported here, in root's process before any fork: a run without `su` rules skips
            # its ~5 ms (ctypes for prctl); the child still has every module it needs loaded.
            from unconscious.rotate.su_pass import rule_pass_as

            rule_pass_as(env, rule, candidates, state, report, _rule_pass, spool, (dry_run, force, workers))
    if not dry_run:
        states.save(env.state_dir, state)
    return report


def _failed(env: RotateEnv, rule: Rule, report: RunReport, message: str, source: Path | None = None) -> None:
    report.errors.append(message)
    env.log.error("rotation_failed", file=str(source or ""), rule=rule.name, msg=message)


def _rule_pass(env: RotateEnv, rule: Rule, candidates: list[Path], state: states.RotateState,
               report: RunReport, spool: EventSpool | None, dry_run: bool, force: bool, workers: int) -> None:
    """Decide which of `rule`'s logs are due, rotate those side by side, then compress and prune."""
    now = env.clock()
    planned: list[tuple[Path, str, Intent, Codec]] = []
    for source in candidates:
        try:
            reason = _decide(env, rule, source, state, spool, now, force, dry_run)
            if reason is None:
                continue
            _make_olddir(rule, source, dry_run)
            intent, codec = plan(rule, source, now)
            if dry_run:
                report.planned.append({"file": str(source), "rule": rule.name, "reason": reason,
                                       "archive": intent.final_archive, "mode": rule.mode,
                                       "bytes": source.stat().st_size})
            else:
                planned.append((source, reason, intent, codec))
        except (OSError, RotationError, ValueError) as error:
            _failed(env, rule, report, f"{source}: {error}", source)
    if dry_run:
        return
    if planned:
        outcomes, stopped = rotate_all(env, rule, planned, workers)
        if stopped is not None:
            _failed(env, rule, report, stopped)
        for outcome in outcomes:
            if outcome.rotated is None:
                _failed(env, rule, report, outcome.error or f"{outcome.source}: failed", outcome.source)
                continue
            state.get(rule, outcome.source, now).last_rotated = now
            _account(env, rule, report, outcome.rotated, outcome.reason)
    for source in candidates:
        try:
            _after(env, rule, source, state, report, now)
        except (OSError, RotationError, ValueError) as error:
            _failed(env, rule, report, f"{source}: {error}", source)


def _decide(env: RotateEnv, rule: Rule, source: Path, state: states.RotateState, spool: EventSpool | None,
            now: float, force: bool, dry_run: bool) -> str | None:
    """Return why `source` rotates now, or None; watch its growth on the way."""
    size = source.stat().st_size
    remembered = state.get(rule, source, now)
    _watch_growth(env, rule, source, size, remembered, spool, dry_run)
    if rule.mode != "create" and size == 0:
        return None  # nothing to copy; an empty head also could not be told from a truncate
    return due(rule, size, remembered.last_rotated, now, force)


def _make_olddir(rule: Rule, source: Path, dry_run: bool) -> None:
    """Check the olddir's path (`checked_archive_dir`: no link; as root without `su`, no
    directory another user controls), then create what is missing when the rule says so (0750,
    the run's user, one component at a time refusing links; not in a dry run); else leave a
    missing olddir to fail the rotation. Raise RotationError naming the directory."""
    if rule.olddir is None:
        return
    checked_archive_dir(rule, source)
    if rule.createolddir and not dry_run:
        make_olddir(source.parent, rule.olddir)  # `plan` checks the result again


def _account(env: RotateEnv, rule: Rule, report: RunReport, done: Rotated, reason: str) -> None:
    report.rotated.append(done)
    # The rotation is complete and no byte is lost, but a writer that was not told to reopen
    # (or a failing postrotate) is an operator problem: it fails the run so it is seen.
    report.errors.extend(done.warnings)
    for text in done.warnings:
        env.log.error("reopen_failed", file=done.source, msg=text)
    env.log.info("log_rotated", file=done.source, archive=done.archive, rule=rule.name,
                 bytes_in=done.bytes_in, bytes_out=done.bytes_out, reason=reason,
                 seconds=round(done.seconds, 3), window_us=round(done.window_seconds * 1e6, 1),
                 msg=f"rotated {done.source} ({done.bytes_in} bytes) to {done.archive} "
                     f"({done.bytes_out} bytes): {reason}")


def _after(env: RotateEnv, rule: Rule, source: Path, state: states.RotateState, report: RunReport,
           now: float) -> None:
    """Remember the size, compress what delaycompress left plain, prune."""
    state.get(rule, source, now).last_size = source.stat().st_size if source.exists() else 0
    if rule.compress != "none":
        for plain in uncompressed_older(rule, source):
            codec = Codec(rule.compress, rule.level, rule.threads)
            compressed = compress_archive(env, plain, codec, rule.name)
            if compressed is not None:
                report.compressed.append(compressed)
                env.log.info("archive_compressed", file=compressed.source, archive=compressed.archive,
                             bytes_in=compressed.bytes_in, bytes_out=compressed.bytes_out)
    prune(env, rule, source)


def _watch_growth(env: RotateEnv, rule: Rule, source: Path, size: int, remembered: states.LogState,
                  spool: EventSpool | None, dry_run: bool) -> None:
    """Emit an event when a log is found past its size limit on two runs in a row."""
    ceiling = limit(rule)
    if ceiling is None or dry_run:
        return
    if size <= ceiling:
        remembered.over_limit_runs = 0
        return
    remembered.over_limit_runs += 1
    if remembered.over_limit_runs < 2:
        return
    summary = (f"{source} grew to {size} bytes, past its limit of {ceiling}, on "
               f"{remembered.over_limit_runs} runs in a row: rotate more often or lower its volume")
    env.log.warning("log_outgrowing_rotation", file=str(source), rule=rule.name, size=size,
                    limit=ceiling, runs=remembered.over_limit_runs, msg=summary)
    if spool is not None:
        spool.emit("rotate", "log_outgrowing_rotation", "warning", summary,
                   {"file": str(source), "rule": rule.name, "size": size, "limit": ceiling,
                    "runs": remembered.over_limit_runs},
                   dedup_key=f"rotate:growth:{source}")

