"""Health config checks the schema cannot express: keys per kind, regexes, dependencies.

Listed in unconscious/semantic_checks.py. The schema already checked types
(a threshold of the wrong type, an unknown kind); here each check may only use the keys of its
kind, must have the ones its kind needs, its regexes must compile, and `depends_on` must name
enabled checks without forming a cycle (the cycle is named: a -> b -> a).
"""

from __future__ import annotations

import re
from typing import Any

from unconscious.config.errors import ConfigProblem
from unconscious.config.semantic import Locator
from unconscious.health.kinds import COMMON_KEYS, KINDS
from unconscious.health.specs import automatic_evidence_service

_REGEX_KEYS = ("match", "body_match", "pattern")


def check(value: dict[str, Any], locate: Locator) -> list[ConfigProblem]:
    """Return problems in the health section of the merged config `value`."""
    checks = value.get("health", {}).get("checks", {}) or {}
    max_ages = value.get("evidence", {}).get("max_age", {}) or {}
    problems: list[ConfigProblem] = []

    def problem(path: tuple[str, ...], message: str) -> None:
        key_path = ("health", "checks", *path)
        file, line = locate(key_path)
        problems.append(ConfigProblem(file, line, ".".join(key_path), message))

    enabled = {
        name
        for name, spec in checks.items()
        if isinstance(spec, dict) and spec.get("enabled", True) is not False
    }
    for name in sorted(enabled):
        spec = checks[name]
        if "kind" not in spec:
            service = automatic_evidence_service(name, max_ages)
            if service is None:
                problem((name,), f"check {name!r} needs 'kind' (one of {', '.join(KINDS)})")
                continue
            spec = {"kind": "evidence", "service": service, **spec}  # tuning an automatic check
        kind = KINDS.get(str(spec.get("kind")))
        if kind is None:
            continue  # the schema's enum already reported it
        allowed = set(COMMON_KEYS) | set(kind.required) | set(kind.optional)
        takes = ", ".join(kind.required + kind.optional) or "no extra keys"
        for key in sorted(set(spec) - allowed):
            problem(
                (name, key),
                f"not a key of kind {spec['kind']!r} (it takes: {takes})",
            )
        for key in kind.required:
            if key not in spec:
                problem((name,), f"kind {spec['kind']!r} needs '{key}'")
        if spec["kind"] == "process" and ("name" in spec) == ("pidfile" in spec):
            problem((name,), "kind 'process' needs exactly one of 'name' or 'pidfile'")
        for key in _REGEX_KEYS:
            if isinstance(spec.get(key), str):
                try:
                    re.compile(spec[key])
                except re.error as error:
                    problem((name, key), f"{spec[key]!r} is not a valid regular expression: {error}")
        for dependency in spec.get("depends_on", []) or []:
            if dependency == name:
                problem((name, "depends_on"), f"check {name!r} depends on itself")
            elif dependency not in checks:
                problem((name, "depends_on"), f"unknown check {dependency!r}")
            elif dependency not in enabled:
                problem((name, "depends_on"), f"check {dependency!r} is disabled")
    for cycle in _cycles(
        {
            name: [d for d in checks[name].get("depends_on", []) or [] if d in enabled and d != name]
            for name in enabled
        }
    ):
        problem((cycle[0], "depends_on"), "dependency cycle: " + " -> ".join(cycle))
    return problems


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Return each dependency cycle once, as [a, b, ..., a], starting at its smallest name."""
    found: dict[tuple[str, ...], list[str]] = {}
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "active"
        for target in graph.get(node, []):
            if state.get(target) == "active":
                loop = trail[trail.index(target) :]
                start = loop.index(min(loop))
                rotated = loop[start:] + loop[:start]
                found.setdefault(tuple(rotated), [*rotated, rotated[0]])
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return list(found.values())
