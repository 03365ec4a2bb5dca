"""Turn the `health.checks` map of the typed config into CheckSpecs.

The typed view (`LoadedConfig.typed`) already holds seconds, bytes and the schema's defaults;
here a check without its own interval, timeout or consecutive takes the section's, each check
gets the parameters of its kind (`KINDS`), and kinds that need to know where hostmind keeps
its files get those paths (evidence: the state directory; integrity: the live tree and its
manifest).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from unconscious.config import LoadedConfig
from unconscious.health.integrity import manifest_path
from unconscious.health.kinds import KINDS
from unconscious.health.model import CheckParams, CheckSpec
from unconscious.paths import Paths

if TYPE_CHECKING:
    from unconscious.config.sections import CheckEntry, HealthSection

#: How often the automatic dead-man's switches look at evidence.
EVIDENCE_INTERVAL = 300.0


def build_specs(config: LoadedConfig, paths: Paths, since: float) -> dict[str, CheckSpec]:
    """Return the enabled checks of `config` by name. `since` is when the service started.

    The config was validated (schema and `config_checks`), so its typed view is complete.
    """
    section = config.typed["health"]
    max_ages = config.typed["evidence"]["max_age"]
    specs: dict[str, CheckSpec] = {}
    for name, raw in sorted(section["checks"].items()):
        if not raw["enabled"]:
            continue
        if "kind" not in raw:
            service = automatic_evidence_service(name, max_ages)
            if service is None:
                continue  # refused by config_checks; never reached with a validated config
            # Tuning an automatic dead-man's switch (`evidence_backup: {interval: 1m}`).
            raw = cast("CheckEntry", {"kind": "evidence", "service": service, "interval": EVIDENCE_INTERVAL,
                                    **raw})
        kind = str(raw["kind"])
        specs[name] = CheckSpec(
            name=name,
            kind=kind,
            interval=float(raw.get("interval", section["interval"])),
            timeout=float(raw.get("timeout", section["timeout"])),
            severity=str(raw["severity"]),
            consecutive=int(raw.get("consecutive", section["consecutive"])),
            depends_on=tuple(str(dependency) for dependency in raw.get("depends_on", [])),
            params=_params(kind, raw, max_ages, paths, since),
        )
    _add_missing_evidence_checks(specs, section, max_ages, paths, since)
    return specs


def _params(kind: str, raw: CheckEntry, max_ages: dict[str, float], paths: Paths,
            since: float) -> CheckParams:
    """Return the parameters of one check: the keys its kind takes, and hostmind's paths."""
    accepted = KINDS[kind].required + KINDS[kind].optional
    # Every key of KINDS is a CheckParams key (a test ties them), so the filtered entry is one.
    params = cast("CheckParams", {key: value for key, value in raw.items() if key in accepted})
    if kind == "evidence":
        if str(raw["service"]) in max_ages:
            params.setdefault("max_age", max_ages[str(raw["service"])])
        params["state_dir"] = str(paths.state_dir)
        params["since"] = since
    elif kind == "integrity":
        # The live tree, {state}/live: the same in the health service (which runs it) and
        # in `hostmind check` (the rails' gate, which runs the trusted base).
        params["root"] = str(params.get("root") or paths.live_tree)
        params["manifest"] = str(params.get("manifest") or manifest_path(paths))
    elif kind == "listening":
        wanted = params.pop("baseline")
        params["baseline"] = (
            str(paths.state_dir / "health" / "listening-baseline.json") if wanted else None
        )
    return params


def automatic_evidence_service(name: str, max_ages: Mapping[str, object]) -> str | None:
    """Return X when `name` is `evidence_X` for a service X of `evidence.max_age`, else None."""
    service = name.removeprefix("evidence_")
    return service if name.startswith("evidence_") and service in max_ages and service != "health" else None


def _add_missing_evidence_checks(
    specs: dict[str, CheckSpec],
    section: HealthSection,
    max_ages: dict[str, float],
    paths: Paths,
    since: float,
) -> None:
    """Give every service of `evidence.max_age` a dead-man's switch, unless a check covers it.

    So a service added there (conscious, apply, ...) is watched without a second config edit.
    The health service's own evidence is watched from outside (pings, `hostmind status`).
    A check turned off with `enabled: false` counts as covering its service.
    """
    covered = {str(raw.get("service")) for raw in section["checks"].values() if raw.get("kind") == "evidence"}
    for service, max_age in sorted(max_ages.items()):
        name = f"evidence_{service}"
        if service == "health" or service in covered or name in section["checks"]:
            continue
        specs[name] = CheckSpec(
            name=name,
            kind="evidence",
            interval=EVIDENCE_INTERVAL,
            timeout=float(section["timeout"]),
            consecutive=int(section["consecutive"]),
            params={
                "service": service,
                "max_age": max_age,
                "state_dir": str(paths.state_dir),
                "since": since,
            },
        )
