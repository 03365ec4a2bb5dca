"""The typed view's shape, section by section: what `LoadedConfig.typed` holds.

Written from config/schema/*.yaml (a test checks every key, and which ones are always
present, against the schema): a key the schema gives a default (or a group of keys with
defaults) is always present in the typed view, any other is `NotRequired`. Durations are
float seconds, sizes int bytes. (No `from __future__ import annotations` here: Python 3.11
reads NotRequired only from evaluated annotations.) Sections no settings module reads through the typed view
yet (log, events) are plain mappings.
"""

from typing import Any, NotRequired, TypedDict


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


class ConsciousSection(TypedDict):
    """`conscious`."""

    enabled: bool
    model: str
    max_output_tokens: int
    daily_token_budget: int
    daily_change_cap: int
    max_context_tokens: int
    journal: "JournalSection"
    goals: list[str]
    tree: str | None
    allowed_paths: list[str]
    context_files: list[str]
    max_file_bytes: int
    secret_paths: list[str]
    secret_files: list[str]
    secret_env_names: list[str]
    api: "ApiSection"
    anchor_every: float
    thinking: "ThinkingSection"
    review_interval: float
    failing_retry: float


class JournalSection(TypedDict):
    """`conscious.journal`."""

    command: list[str]
    since: float
    max_lines: int
    max_bytes: int
    timeout: float


class ApiSection(TypedDict):
    """`conscious.api`."""

    base_url: str | None
    timeout: float
    max_attempts: int
    backoff_initial: float
    backoff_max: float
    deadline: float
    prompt_caching: str
    cache_window: float


class ThinkingSection(TypedDict):
    """`conscious.thinking`."""

    enabled: bool
    effort: str
    max_tokens: int


class ApplySection(TypedDict):
    """`apply`."""

    staging_dir: str | None
    stage_include: list[str]
    stage_exclude: list[str]
    test_command: list[str]
    test_timeout: float
    max_files: int
    max_bytes: int
    probation: float
    gate_timeout: float
    poll_interval: float
    keep_snapshots: int
    max_consecutive_rollbacks: int
    systemctl_command: list[str]
    systemctl_timeout: float
    health_command: list[str] | None
    health_timeout: float
    unit_paths: dict[str, list[str]]
    watch_window: float
    sandbox_tasks: int
    sandbox_memory: int


class AlertsSection(TypedDict):
    """`alerts`."""

    sinks: dict[str, "SinkEntry"]
    rate_limit: float
    queue_size: int
    pings: dict[str, "PingEntry"]
    heartbeat_interval: float


class SinkEntry(TypedDict):
    """`alerts.sinks.NAME`."""

    kind: NotRequired[str]
    url: NotRequired[str]
    enabled: bool
    timeout: float
    retries: int
    backoff: float
    headers: dict[str, str]
    events: list[str]
    min_severity: str


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
    databases: dict[str, "DatabaseEntry"]
    exclude_caches: bool
    one_file_system: bool
    include_hostmind_state: bool
    sources: dict[str, "SourceEntry"]
    hooks: dict[str, "HookEntry"]
    keep: "KeepSection"
    prune_after_backup: bool
    verify: "VerifySection"
    spot_check: "SpotCheckSection"
    restic: "ResticSection"


class EncryptionSection(TypedDict):
    """`backup.encryption`."""

    recipients: list[str]
    identity_credential: str


class DatabaseEntry(TypedDict):
    """`backup.databases.NAME`."""

    kind: NotRequired[str]
    path: NotRequired[str]
    database: NotRequired[str]
    run_as: str | None
    options: list[str]
    timeout: float


class SourceEntry(TypedDict):
    """`backup.sources.NAME`."""

    path: NotRequired[str]
    include: list[str]
    exclude: list[str]
    shrink_tolerance: float | None


class HookEntry(TypedDict):
    """`backup.hooks.NAME`."""

    pre: list[str] | None
    post: list[str] | None
    timeout: float


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


class ResticSection(TypedDict):
    """`backup.restic`."""

    binary: str
    repository: str | None
    password_credential: str
    repository_credential: str
    password_file: str | None
    init: bool
    timeout: float
    extra_args: list[str]


class TypedConfig(TypedDict):
    """The whole typed view (unconscious.config.typed.typed_config of a valid config)."""

    health: "HealthSection"
    evidence: "EvidenceSection"
    conscious: "ConsciousSection"
    apply: "ApplySection"
    alerts: "AlertsSection"
    backup: "BackupSection"
    rotate: "RotateSection"
    log: dict[str, Any]
    events: dict[str, Any]


class RotateSection(TypedDict):
    """`rotate`."""

    lock_wait: float
    systemctl: str
    logrotate_conf: str
    workers: int
    rules: dict[str, "RuleEntry"]
    journal: "VacuumSection"


class VacuumSection(TypedDict):
    """`rotate.journal`."""

    max_use: int | None
    max_age: float | None
    journalctl: list[str]
    timeout: float


class RuleEntry(TypedDict):
    """`rotate.rules.NAME`. `every` is a calendar period (a word) or seconds."""

    enabled: bool
    paths: NotRequired[list[str]]
    size: int | None
    every: str | float | None
    weekday: int
    minsize: int | None
    maxsize: int | None
    keep: int
    maxage: float | None
    missingok: bool
    notifempty: bool
    dateext: bool
    dateformat: str | None
    compress: str
    level: int | None
    threads: int
    delaycompress: bool
    olddir: str | None
    mode: str
    pause_writers: bool
    create: "CreateEntry"
    recreate: bool
    start: int
    dateyesterday: bool
    extension: str | None
    createolddir: bool
    su: "SuEntry | None"
    sharedscripts: bool
    prerotate: "ScriptEntry | None"
    postrotate: "ScriptEntry | None"
    reopen: "ReopenEntry"


class CreateEntry(TypedDict):
    """`rotate.rules.NAME.create`."""

    mode: str | None
    owner: str | None
    group: str | None


class SuEntry(TypedDict):
    """`rotate.rules.NAME.su` when set (a oneOf branch: not in SCHEMA_PATHS)."""

    user: str
    group: NotRequired[str | None]


class ScriptEntry(TypedDict):
    """`rotate.rules.NAME.prerotate` / `postrotate` when set (a oneOf branch)."""

    command: NotRequired[list[str]]
    shell: NotRequired[str]
    timeout: float


class ReopenEntry(TypedDict):
    """`rotate.rules.NAME.reopen`."""

    signal_unit: str | None
    signal: str
    reload_unit: str | None
    command: list[str] | None
    timeout: float
    settle: float


#: Each TypedDict above and the schema node it describes ("*": any entry of a named map).
SCHEMA_PATHS: dict[str, tuple[str, ...]] = {
    "HealthSection": ("health",),
    "CheckEntry": ("health", "checks", "*"),
    "EvidenceSection": ("evidence",),
    "ConsciousSection": ("conscious",),
    "JournalSection": ("conscious", "journal"),
    "ApiSection": ("conscious", "api"),
    "ThinkingSection": ("conscious", "thinking"),
    "ApplySection": ("apply",),
    "AlertsSection": ("alerts",),
    "SinkEntry": ("alerts", "sinks", "*"),
    "PingEntry": ("alerts", "pings", "*"),
    "BackupSection": ("backup",),
    "EncryptionSection": ("backup", "encryption"),
    "DatabaseEntry": ("backup", "databases", "*"),
    "SourceEntry": ("backup", "sources", "*"),
    "HookEntry": ("backup", "hooks", "*"),
    "KeepSection": ("backup", "keep"),
    "VerifySection": ("backup", "verify"),
    "SpotCheckSection": ("backup", "spot_check"),
    "ResticSection": ("backup", "restic"),
    "RotateSection": ("rotate",),
    "VacuumSection": ("rotate", "journal"),
    "RuleEntry": ("rotate", "rules", "*"),
    "CreateEntry": ("rotate", "rules", "*", "create"),
    "ReopenEntry": ("rotate", "rules", "*", "reopen"),
}
