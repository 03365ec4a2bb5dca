"""The `backup:` config section as typed settings.

`BackupSettings.from_config(section, paths)` turns the validated section into dataclasses
through its typed view (unconscious.config.typed: the schema's defaults filled in, named
entries included; durations in seconds), so no default is restated here and nothing is
parsed twice. A field built directly (in tests) takes the schema's default too
(`schema_default`). hostmind's own state is added as two sources when asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from unconscious.backup.dumps import Database
from unconscious.config.build import build_named, build_settings
from unconscious.config.typed import schema_default, typed_view
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


def _default(*path: str) -> Any:  # Any: `field()` stands in for a default of the field's own type
    """A dataclass field whose default is the schema's `backup.<path>` (typed)."""
    return field(default_factory=lambda: schema_default("backup", *path))


@dataclass(frozen=True)
class ResticSettings:
    binary: str = _default("restic", "binary")
    repository: str | None = None
    password_credential: str = _default("restic", "password_credential")
    password_file: Path | None = None
    repository_credential: str = _default("restic", "repository_credential")
    init: bool = _default("restic", "init")
    timeout: float = _default("restic", "timeout")
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class BackupSettings:
    """Everything a backup run needs to know."""

    engine: str = _default("engine")
    destination: Path = field(default_factory=lambda: Path(schema_default("backup", "destination")))
    compression: str = _default("compression")
    compression_level: int = _default("compression_level")
    compression_threads: int = _default("compression_threads")
    sources: tuple[Source, ...] = ()
    hooks: tuple[Hook, ...] = ()
    databases: tuple[Database, ...] = ()
    dumps_dir: Path | None = None  # where database dumps are written (a source of its own)
    copy_to: str | None = None  # tar: a second directory; restic: a second repository
    age_recipients: tuple[str, ...] = ()  # tar: encrypt archives to these age public keys
    age_identity_credential: str = _default("encryption", "identity_credential")
    #: Built directly, nothing is pruned (every kind 0); the schema's retention needs a config.
    keep: dict[str, int] = field(default_factory=lambda: {kind: 0 for kind in KEEP_KINDS})
    prune_after_backup: bool = _default("prune_after_backup")
    verify_after_backup: bool = _default("verify", "after_backup")
    read_data_subset: str = _default("verify", "read_data_subset")
    read_data_parts: int = _default("verify", "read_data_parts")
    full_check_every: float = _default("verify", "full_check_every")
    restore_test_every: float = _default("verify", "restore_test_every")
    restore_sample_percent: float = _default("verify", "restore_sample_percent")
    restore_dir: Path | None = None
    spot_check: bool = _default("spot_check", "enabled")
    count_tolerance: float = _default("spot_check", "count_tolerance")
    sample_files: int = _default("spot_check", "sample_files")
    shrink_tolerance: float = _default("spot_check", "shrink_tolerance")
    restic: ResticSettings = field(default_factory=ResticSettings)

    @classmethod
    def from_config(cls, section: dict[str, object], paths: Paths) -> BackupSettings:
        """Build settings from the validated `backup:` section (as written, or typed).

        `paths` locates hostmind state. Raise ValueError for a duration that does not parse.
        """
        backup = typed_view({"backup": section})["backup"]
        destination = Path(backup["destination"])
        sources = [_outside_destination(source, destination) for source in build_named(
            Source, backup["sources"], "backup.sources", exclude_caches=bool(backup["exclude_caches"]),
            one_file_system=bool(backup["one_file_system"]))]
        if backup["include_hostmind_state"]:
            sources.extend(hostmind_sources(paths, destination))
        databases = build_named(Database, backup["databases"], "backup.databases")
        dumps_dir = paths.state_dir / "backup" / "dumps"
        if databases:
            sources.append(Source(name=DATABASES_SOURCE, path=dumps_dir))
        hooks = build_named(Hook, backup["hooks"], "backup.hooks")
        verify, spot, encryption = backup["verify"], backup["spot_check"], backup["encryption"]
        return cls(
            engine=str(backup["engine"]),
            destination=destination,
            compression=str(backup["compression"]),
            compression_level=int(backup["compression_level"]),
            compression_threads=int(backup["compression_threads"]),
            sources=tuple(sources),
            hooks=hooks,
            databases=databases,
            dumps_dir=dumps_dir,
            copy_to=backup["copy_to"],
            age_recipients=tuple(str(item) for item in encryption["recipients"]),
            age_identity_credential=str(encryption["identity_credential"]),
            keep=dict(cast(dict[str, int], backup["keep"])),
            prune_after_backup=bool(backup["prune_after_backup"]),
            verify_after_backup=bool(verify["after_backup"]),
            read_data_subset=str(verify["read_data_subset"]),
            read_data_parts=int(verify["read_data_parts"]),
            full_check_every=verify["full_check_every"],
            restore_test_every=verify["restore_test_every"],
            restore_sample_percent=float(verify["restore_sample_percent"]),
            restore_dir=Path(verify["restore_dir"]) if verify["restore_dir"] else None,
            spot_check=bool(spot["enabled"]),
            count_tolerance=float(spot["count_tolerance"]),
            sample_files=int(spot["sample_files"]),
            shrink_tolerance=float(spot["shrink_tolerance"]),
            restic=build_settings(ResticSettings, backup["restic"], "backup.restic"),
        )


def _outside_destination(source: Source, destination: Path) -> Source:
    """Return `source` with the archives kept out when it contains `destination`."""
    return replace(source, exclude=source.exclude + _inside(destination, source.path))


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
