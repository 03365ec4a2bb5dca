"""The typed view's shape, section by section: what `LoadedConfig.typed` holds.

Written from config/schema/*.yaml (a test checks every key, and which ones are always
present, against the schema): a key the schema gives a default (or a group of keys with
defaults) is always present in the typed view, any other is `NotRequired`. Durations are
float seconds, sizes int bytes. (No `from __future__ import annotations` here: Python 3.11
reads NotRequired only from evaluated annotations.) A part a settings dataclass describes
(`Built`: conscious, apply, rotation rules, alert sinks, backup sources, hooks, databases,
restic) has no TypedDict here: the dataclass is its one field list. Sections no settings
module reads through the typed view yet (log, events) are plain mappings.
"""

from typing import NotRequired, TypedDict

#: A part of the typed view that a settings dataclass describes instead of a TypedDict: it is
#: read only by `unconscious.config.build.build_settings`, which checks each value against the
#: dataclass's field (the dataclass named beside it; tests/unit/config/test_settings_match_schema.py).
Built = dict[str, object]


class HealthSection(TypedDict):
    """`health`."""

    interval: float
    timeout: float
    consecutive: int
    workers: int
    max_hung: int
    checks: dict[str, "CheckEntry"]


class CheckEntry(TypedDict):
    """`health.checks.NAME`."""

    kind: NotRequired[str]
    enabled: bool
    interval: NotRequired[float]
    timeout: NotRequired[float]
    severity: str
    consecutive: NotRequired[int]
    depends_on: NotRequired[list[str]]
    description: NotRequired[str]
    path: NotRequired[str]
    max_percent: NotRequired[float]
    require_mount: bool
    max_per_cpu: NotRequired[float]
    command: NotRequired[list[str]]
    ignore: NotRequired[list[str]]
    max_count: NotRequired[int]
    name: NotRequired[str]
    pidfile: NotRequired[str]
    min_count: NotRequired[int]
    host: NotRequired[str]
    port: NotRequired[int]
    url: NotRequired[str]
    expect_status: NotRequired[int | list[int]]
    body_match: NotRequired[str]
    verify_tls: bool
    max_age: NotRequired[float]
    argv: NotRequired[list[str]]
    expect_exit: int
    match: NotRequired[str]
    max_output: int
    unit: NotRequired[str]
    window: NotRequired[float]
    method: str
    allow: NotRequired[list[str | int]]
    baseline: bool
    pattern: NotRequired[str]
    root: NotRequired[str]
    manifest: NotRequired[str]
    service: NotRequired[str]
    min_duration: NotRequired[float]


class EvidenceSection(TypedDict):
    """`evidence`."""

    max_age: dict[str, float]


class AlertsSection(TypedDict):
    """`alerts`."""

    sinks: dict[str, Built]  # unconscious.alerts.sinks.Sink
    rate_limit: float
    queue_size: int
    pings: dict[str, "PingEntry"]
    heartbeat_interval: float


class PingEntry(TypedDict):
    """`alerts.pings.NAME`."""

    url: NotRequired[str]
    timeout: float
    retries: int


class BackupSection(TypedDict):
    """`backup`."""

    engine: str
    destination: str
    compression: str
    compression_level: int
    compression_threads: int
    encryption: "EncryptionSection"
    copy_to: str | None
    databases: dict[str, Built]  # unconscious.backup.dumps.Database
    exclude_caches: bool
    one_file_system: bool
    include_hostmind_state: bool
    sources: dict[str, Built]  # unconscious.backup.settings.Source
    hooks: dict[str, Built]  # unconscious.backup.settings.Hook
    keep: "KeepSection"
    prune_after_backup: bool
    verify: "VerifySection"
    spot_check: "SpotCheckSection"
    restic: Built  # unconscious.backup.settings.ResticSettings


class EncryptionSection(TypedDict):
    """`backup.encryption`."""

    recipients: list[str]
    identity_credential: str


class KeepSection(TypedDict):
    """`backup.keep`."""

    last: int
    hourly: int
    daily: int
    weekly: int
    monthly: int
    yearly: int


class VerifySection(TypedDict):
    """`backup.verify`."""

    after_backup: bool
    read_data_subset: str
    read_data_parts: int
    full_check_every: float
    restore_test_every: float
    restore_sample_percent: float
    restore_dir: str | None


class SpotCheckSection(TypedDict):
    """`backup.spot_check`."""

    enabled: bool
    count_tolerance: float
    sample_files: int
    shrink_tolerance: float


class TypedConfig(TypedDict):
    """The whole typed view (unconscious.config.typed.typed_config of a valid config)."""

    health: "HealthSection"
    evidence: "EvidenceSection"
    conscious: Built  # conscious.settings.ConsciousSettings
    apply: Built  # conscious.rails.settings.RailSettings
    alerts: "AlertsSection"
    backup: "BackupSection"
    rotate: "RotateSection"
    log: dict[str, object]
    events: dict[str, object]


class RotateSection(TypedDict):
    """`rotate`."""

    lock_wait: float
    systemctl: str
    logrotate_conf: str
    workers: int
    rules: dict[str, Built]  # unconscious.rotate.rules.Rule
    journal: "VacuumSection"


class VacuumSection(TypedDict):
    """`rotate.journal`."""

    max_use: int | None
    max_age: float | None
    journalctl: list[str]
    timeout: float


#: Each TypedDict above and the schema node it describes ("*": any entry of a named map).
SCHEMA_PATHS: dict[str, tuple[str, ...]] = {
    "HealthSection": ("health",),
    "CheckEntry": ("health", "checks", "*"),
    "EvidenceSection": ("evidence",),
    "AlertsSection": ("alerts",),
    "PingEntry": ("alerts", "pings", "*"),
    "BackupSection": ("backup",),
    "EncryptionSection": ("backup", "encryption"),
    "KeepSection": ("backup", "keep"),
    "VerifySection": ("backup", "verify"),
    "SpotCheckSection": ("backup", "spot_check"),
    "RotateSection": ("rotate",),
    "VacuumSection": ("rotate", "journal"),
}
