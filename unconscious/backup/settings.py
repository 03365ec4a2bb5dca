"""The `backup:` config section as typed settings, with the defaults the schema documents.

`BackupSettings.from_config(section, paths)` turns the validated section into dataclasses;
sources and hooks come from maps whose entries may omit optional keys, so their defaults
are applied here. hostmind's own state is added as two sources when asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unconscious.backup.dumps import Database
from unconscious.config.duration import parse_duration
from unconscious.paths import Paths

KEEP_KINDS = ("last", "hourly", "daily", "weekly", "monthly", "yearly")
STATE_SOURCE = "hostmind-state"
CONFIG_SOURCE = "hostmind-config"
DATABASES_SOURCE = "databases"


@dataclass(frozen=True)
class Source:
    """One named tree to back up, with its include/exclude globs."""

    name: str
    path: Path
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    shrink_tolerance: float | None = None
    #: hostmind's own directories: absent before `hostmind install` made them, which is not a fault.
    optional: bool = False
    #: Skip the content of directories tagged with a valid CACHEDIR.TAG (the tag itself is kept).
    exclude_caches: bool = False
    #: Do not descend into directories on another file system (the mount point itself is kept).
    one_file_system: bool = False


@dataclass(frozen=True)
class Hook:
    """Commands run before and after a backup, each bounded by `timeout` seconds."""

    name: str
    pre: tuple[str, ...] | None
    post: tuple[str, ...] | None
    timeout: float


@dataclass(frozen=True)
class ResticSettings:
    binary: str = "restic"
    repository: str | None = None
    password_credential: str = "restic-password"  # noqa: S105 (a credential name, not a secret)
    password_file: Path | None = None
    repository_credential: str = "restic-repository"
    init: bool = False
    timeout: float = 4 * 3600.0
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class BackupSettings:
    """Everything a backup run needs to know."""

    engine: str = "tar"
    destination: Path = Path("/var/backups/hostmind")
    compression: str = "zstd"
    compression_level: int = 3
    compression_threads: int = 0
    sources: tuple[Source, ...] = ()
    hooks: tuple[Hook, ...] = ()
    databases: tuple[Database, ...] = ()
    dumps_dir: Path | None = None  # where database dumps are written (a source of its own)
    copy_to: str | None = None  # tar: a second directory; restic: a second repository
    age_recipients: tuple[str, ...] = ()  # tar: encrypt archives to these age public keys
    age_identity_credential: str = "age-identity"  # tar: the credential to read them back
    keep: dict[str, int] = field(default_factory=lambda: {kind: 0 for kind in KEEP_KINDS})
    prune_after_backup: bool = True
    verify_after_backup: bool = True
    read_data_subset: str = "5%"
    read_data_parts: int = 0
    full_check_every: float = 30 * 86400.0
    restore_test_every: float = 7 * 86400.0
    restore_sample_percent: float = 10.0
    restore_dir: Path | None = None
    spot_check: bool = True
    count_tolerance: float = 0.05
    sample_files: int = 20
    shrink_tolerance: float = 0.2
    restic: ResticSettings = field(default_factory=ResticSettings)

    @classmethod
    def from_config(cls, section: dict[str, Any], paths: Paths) -> BackupSettings:
        """Build settings from the validated `backup:` section; `paths` locates hostmind state."""
        destination = Path(section.get("destination", "/var/backups/hostmind"))
        sources = [
            Source(
                name=name,
                path=Path(entry["path"]),
                include=tuple(entry.get("include") or ()),
                exclude=tuple(entry.get("exclude") or ()) + _inside(destination, Path(entry["path"])),
                shrink_tolerance=entry.get("shrink_tolerance"),
                exclude_caches=bool(section.get("exclude_caches", False)),
                one_file_system=bool(section.get("one_file_system", False)),
            )
            for name, entry in sorted((section.get("sources") or {}).items())
        ]
        if section.get("include_hostmind_state", True):
            sources.extend(hostmind_sources(paths, destination))
        databases = _databases(section.get("databases") or {})
        dumps_dir = paths.state_dir / "backup" / "dumps"
        if databases:
            sources.append(Source(name=DATABASES_SOURCE, path=dumps_dir))
        hooks = tuple(
            Hook(name=name, pre=_argv(entry.get("pre")), post=_argv(entry.get("post")),
                 timeout=parse_duration(entry.get("timeout", "5m")))
            for name, entry in sorted((section.get("hooks") or {}).items())
        )
        verify = section.get("verify") or {}
        spot = section.get("spot_check") or {}
        restic = section.get("restic") or {}
        keep = section.get("keep") or {}
        encryption = section.get("encryption") or {}
        restore_dir = verify.get("restore_dir")
        password_file = restic.get("password_file")
        return cls(
            engine=section.get("engine", "tar"),
            destination=destination,
            compression=section.get("compression", "zstd"),
            compression_level=int(section.get("compression_level", 3)),
            compression_threads=int(section.get("compression_threads", 0)),
            sources=tuple(sources),
            hooks=hooks,
            databases=databases,
            dumps_dir=dumps_dir,
            copy_to=section.get("copy_to"),
            age_recipients=tuple(str(item) for item in encryption.get("recipients") or ()),
            age_identity_credential=str(encryption.get("identity_credential", "age-identity")),
            keep={kind: int(keep.get(kind, 0) or 0) for kind in KEEP_KINDS},
            prune_after_backup=bool(section.get("prune_after_backup", True)),
            verify_after_backup=bool(verify.get("after_backup", True)),
            read_data_subset=str(verify.get("read_data_subset", "5%")),
            read_data_parts=int(verify.get("read_data_parts", 0)),
            full_check_every=parse_duration(verify.get("full_check_every", "30d")),
            restore_test_every=parse_duration(verify.get("restore_test_every", "7d")),
            restore_sample_percent=float(verify.get("restore_sample_percent", 10)),
            restore_dir=Path(restore_dir) if restore_dir else None,
            spot_check=bool(spot.get("enabled", True)),
            count_tolerance=float(spot.get("count_tolerance", 0.05)),
            sample_files=int(spot.get("sample_files", 20)),
            shrink_tolerance=float(spot.get("shrink_tolerance", 0.2)),
            restic=ResticSettings(
                binary=str(restic.get("binary", "restic")),
                repository=restic.get("repository"),
                password_credential=str(restic.get("password_credential", "restic-password")),
                password_file=Path(password_file) if password_file else None,
                repository_credential=str(restic.get("repository_credential", "restic-repository")),
                init=bool(restic.get("init", False)),
                timeout=parse_duration(restic.get("timeout", "4h")),
                extra_args=tuple(restic.get("extra_args") or ()),
            ),
        )


def hostmind_sources(paths: Paths, destination: Path) -> list[Source]:
    """hostmind's config and state directories as sources (metrics and the archives left out)."""
    # metrics are regenerated; restic's cache is a copy of repository data.
    exclude = ("metrics", "backup/restic-cache", "backup/dumps", *_inside(destination, paths.state_dir))
    return [
        Source(name=CONFIG_SOURCE, path=paths.config_dir, optional=True),
        Source(name=STATE_SOURCE, path=paths.state_dir, exclude=exclude, optional=True),
    ]


def _inside(destination: Path, root: Path) -> tuple[str, ...]:
    """Return the exclusion that keeps the archives out of a source that contains them."""
    # A backup that reads its own growing `.partial` never ends well.
    try:
        relative = destination.relative_to(root)
    except ValueError:
        return ()
    return (str(relative),) if str(relative) != "." else ()


def _argv(value: Any) -> tuple[str, ...] | None:
    return tuple(str(part) for part in value) if value else None


def _databases(section: dict[str, Any]) -> tuple[Database, ...]:
    return tuple(
        Database(name=name, kind=str(entry["kind"]), path=Path(entry["path"]) if entry.get("path") else None,
                 database=entry.get("database"), run_as=entry.get("run_as"),
                 options=tuple(str(option) for option in entry.get("options") or ()),
                 timeout=parse_duration(entry.get("timeout", "1h")))
        for name, entry in sorted(section.items()))
