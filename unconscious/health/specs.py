"""Turn the `health.checks` map of the merged config into CheckSpecs.

Durations become seconds, per-check defaults come from the section (`interval`, `timeout`,
`consecutive`), and kinds that need to know where hostmind keeps its files get those paths
(evidence: the state directory; integrity: the live tree and its manifest).
"""

from __future__ import annotations

from typing import Any

from unconscious.config import LoadedConfig
from unconscious.config.duration import parse_duration
from unconscious.health.integrity import manifest_path
from unconscious.health.kinds import COMMON_KEYS
from unconscious.health.model import CheckSpec
from unconscious.paths import Paths

#: How often the automatic dead-man's switches look at evidence.
EVIDENCE_INTERVAL = 300.0


def build_specs(config: LoadedConfig, paths: Paths, since: float) -> dict[str, CheckSpec]:
    """Return the enabled checks of `config` by name. `since` is when the service started.

    The config was validated (schema and `config_checks`), so values have the right types.
    """
    section = config.section("health")
    default_interval = parse_duration(section.get("interval", 30))
    default_timeout = parse_duration(section.get("timeout", 10))
    default_consecutive = int(section.get("consecutive", 2))
    max_ages = config.section("evidence").get("max_age", {})
    specs: dict[str, CheckSpec] = {}
    for name, raw in sorted(section.get("checks", {}).items()):
        if not isinstance(raw, dict) or raw.get("enabled", True) is False:
            continue
        if "kind" not in raw:
            service = automatic_evidence_service(name, max_ages)
            if service is None:
                continue  # refused by config_checks; never reached with a validated config
            # Tuning an automatic dead-man's switch (`evidence_backup: {interval: 1m}`).
            raw = {"kind": "evidence", "service": service, "interval": EVIDENCE_INTERVAL, **raw}
        kind = str(raw["kind"])
        params: dict[str, Any] = {key: value for key, value in raw.items() if key not in COMMON_KEYS}
        if kind == "evidence":
            params.setdefault("max_age", max_ages.get(str(raw["service"]), "26h"))
            params["state_dir"] = str(paths.state_dir)
            params["since"] = since
        elif kind == "integrity":
            # The live tree, {state}/live: the same in the health service (which runs it) and
            # in `hostmind check` (the rails' gate, which runs the trusted base).
            params["root"] = str(params.get("root") or paths.live_tree)
            params["manifest"] = str(params.get("manifest") or manifest_path(paths))
        elif kind == "listening":
            wanted = params.pop("baseline", True)
            params["baseline"] = (
                str(paths.state_dir / "health" / "listening-baseline.json") if wanted else None
            )
        specs[name] = CheckSpec(
            name=name,
            kind=kind,
            interval=parse_duration(raw.get("interval", default_interval)),
            timeout=parse_duration(raw.get("timeout", default_timeout)),
            severity=str(raw.get("severity", "warning")),
            consecutive=int(raw.get("consecutive", default_consecutive)),
            depends_on=tuple(str(dependency) for dependency in raw.get("depends_on", [])),
            params=params,
        )
    _add_missing_evidence_checks(specs, section, max_ages, paths, since, default_timeout, default_consecutive)
    return specs


def automatic_evidence_service(name: str, max_ages: dict[str, Any]) -> str | None:
    """Return X when `name` is `evidence_X` for a service X of `evidence.max_age`, else None."""
    service = name.removeprefix("evidence_")
    return service if name.startswith("evidence_") and service in max_ages and service != "health" else None


def _add_missing_evidence_checks(
    specs: dict[str, CheckSpec],
    section: dict[str, Any],
    max_ages: dict[str, Any],
    paths: Paths,
    since: float,
    timeout: float,
    consecutive: int,
) -> None:
    """Give every service of `evidence.max_age` a dead-man's switch, unless a check covers it.

    So a service added there (conscious, apply, ...) is watched without a second config edit.
    The health service's own evidence is watched from outside (pings, `hostmind status`).
    A check turned off with `enabled: false` counts as covering its service.
    """
    covered = {
        str(raw.get("service"))
        for raw in section.get("checks", {}).values()
        if isinstance(raw, dict) and raw.get("kind") == "evidence"
    }
    for service, max_age in sorted(max_ages.items()):
        name = f"evidence_{service}"
        if service == "health" or service in covered or name in section.get("checks", {}):
            continue
        specs[name] = CheckSpec(
            name=name,
            kind="evidence",
            interval=EVIDENCE_INTERVAL,
            timeout=timeout,
            consecutive=consecutive,
            params={
                "service": service,
                "max_age": max_age,
                "state_dir": str(paths.state_dir),
                "since": since,
            },
        )
