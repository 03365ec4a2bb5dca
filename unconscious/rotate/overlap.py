"""The rules whose logs logrotate also rotates: a warning of every run and of `config validate`.

Its own module (not adopt.py, which renders YAML) so that a rotation run reads logrotate's
configuration without loading the import and adopt machinery.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from unconscious.rotate.config_checks import covers
from unconscious.rotate.logrotate_conf import parse

DEFAULT_CONF = Path("/etc/logrotate.conf")


def logrotate_overlaps(rules: Mapping[str, object], conf: Path = DEFAULT_CONF) -> list[str]:
    """Return a warning for each rule path that a live logrotate block also names (same text or
    a literal path its glob covers); adopted (`.disabled`) files are not read by logrotate."""
    if not conf.exists():
        return []
    parsed = parse(conf)
    warnings: list[str] = []
    for name, rule in sorted(rules.items()):
        if not isinstance(rule, dict) or rule.get("enabled", True) is False:
            continue
        paths = rule.get("paths")
        for pattern in paths if isinstance(paths, list) else []:
            if not isinstance(pattern, str):
                continue  # the schema check reports it
            for block in parsed.blocks:
                if any(pattern == other or covers(other, pattern) or covers(pattern, other)
                       for other in block.patterns):
                    warnings.append(f"rotate.rules.{name}: {pattern} is also rotated by logrotate "
                                    f"({block.file}:{block.line}); see `hostmind rotate adopt`")
    return warnings


def logrotate_warnings(section: Mapping[str, object]) -> list[str]:
    """Warnings for the `rotate` section's rule paths that logrotate also rotates, read from
    `rotate.logrotate_conf` (default /etc/logrotate.conf)."""
    conf = Path(str(section.get("logrotate_conf", DEFAULT_CONF)))
    rules = section.get("rules")
    return logrotate_overlaps(rules if isinstance(rules, dict) else {}, conf)
