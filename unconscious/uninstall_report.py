"""What `hostmind uninstall` leaves behind, and how to remove each piece by hand.

uninstall removes exactly the units it recorded; `--purge` also deletes state, config and
runtime files. Backups are kept on purpose (they may be the only copy of something), and the
program itself, credentials and an operator's drop-ins are not uninstall's to delete. Saying
so is the point of this module: `leftovers()` lists what is still there after the run, each
with what it is and the command that removes it.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from unconscious.config import ConfigError, load_config
from unconscious.default_config import without_broken_files
from unconscious.paths import Paths

#: Credentials hostmind reads (systemd credential names), plain and encrypted stores.
CREDENTIALS = ("anthropic-api-key", "restic-password")
CREDENTIAL_STORES = ("/etc/credstore", "/etc/credstore.encrypted")
#: Where systemd keeps unit drop-ins an operator (or `systemctl edit`) wrote.
DROPIN_DIRS = ("/etc/systemd/system", "/run/systemd/system")
DEFAULT_BACKUPS = "/var/backups/hostmind"


@dataclass(frozen=True)
class Leftover:
    """One thing still on disk after uninstall: where, what it is, how to remove it."""

    path: str
    what: str
    remove: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def _inside(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


def _present(path: Path) -> bool:
    return path.exists() or path.is_symlink()  # a dangling link is still left behind


def _kept_state(purge: bool) -> list[tuple[str, str, str]]:
    if purge:
        return []
    return [
        ("/etc/hostmind", "config (yours; kept without --purge)", "rm -r /etc/hostmind"),
        ("/var/lib/hostmind", "state: evidence, change history, snapshots, audit log, budget "
         "(kept without --purge)", "rm -r /var/lib/hostmind"),
        ("/run/hostmind", "runtime config drop-ins (gone at reboot)", "rm -r /run/hostmind"),
    ]


def _program(root: Path) -> list[tuple[str, str, str]]:
    found = [("/usr/local/bin/hostmind", "the `hostmind` command (a link into the venv)",
              "rm /usr/local/bin/hostmind"),
             ("/opt/hostmind", "the program: venv and live tree (scripts/quickstart.sh)",
              "rm -r /opt/hostmind")]
    venv = Path(sys.prefix)
    # Installed elsewhere than the quick start's /opt/hostmind: name the venv actually used.
    if root == Path("/") and sys.prefix != sys.base_prefix and not venv.is_relative_to("/opt/hostmind"):
        found.append((str(venv), "the Python venv hostmind runs from", f"rm -r {venv}"))
    return found


def _backups(backup_paths: list[str]) -> list[tuple[str, str, str]]:
    return [(path, "backups: kept on purpose, even with --purge (they may be the only copy)",
             f"check you no longer need them, then: rm -r {path}") for path in backup_paths]


def _credentials() -> list[tuple[str, str, str]]:
    return [(f"{store}/{name}", "credential (secret)", f"shred -u {store}/{name}")
            for store in CREDENTIAL_STORES for name in CREDENTIALS]


def _dropins(root: Path) -> list[tuple[str, str, str]]:
    found = []
    for directory in DROPIN_DIRS:
        base = _inside(root, directory)
        if base.is_dir():
            for dropin in sorted(base.glob("hostmind*.d")):
                path = f"{directory}/{dropin.name}"
                found.append((path, "unit drop-ins (`systemctl edit`): yours, not recorded by install",
                              f"rm -r {path} && systemctl daemon-reload"))
    return found


def leftovers(root: Path, *, purge: bool, backup_paths: list[str] | None = None) -> list[Leftover]:
    """Return what exists under `root` after uninstall (with `purge` or not), in that order:
    state and config, backups, the program, drop-ins, credentials."""
    candidates = [*_kept_state(purge), *_backups(backup_paths or [DEFAULT_BACKUPS]),
                  *_program(root), *_dropins(root), *_credentials()]
    seen: set[str] = set()
    found: list[Leftover] = []
    for path, what, remove in candidates:
        if path in seen or not _present(_inside(root, path)):
            continue
        seen.add(path)
        found.append(Leftover(path, what, remove))
    return found


def render(left: list[Leftover]) -> list[str]:
    """Return the lines `hostmind uninstall` prints about what it left."""
    if not left:
        return ["nothing of hostmind is left on disk (journal entries age out with journald's "
                "retention)"]
    width = max(len(item.path) for item in left)
    lines = ["left in place (remove by hand if you want them gone):"]
    lines.extend(f"  {item.path:<{width}}  {item.what}\n  {'':<{width}}  -> {item.remove}"
                 for item in left)
    lines.append("journal entries (journalctl SYSLOG_IDENTIFIER=hostmind-health ...) age out "
                 "with journald's retention")
    return lines


def backup_paths(paths: Paths) -> list[str]:
    """Return the local backup locations the config names (tar destination, local restic
    repository), read before uninstall runs; a broken config is read without its broken files."""
    try:
        config = load_config(paths)
    except ConfigError:
        config = without_broken_files(paths).config
    backup = config.typed["backup"]
    found = [backup["destination"] or DEFAULT_BACKUPS]
    repository = backup["restic"].get("repository")
    if isinstance(repository, str) and repository.startswith("/"):
        found.append(repository)
    return found
