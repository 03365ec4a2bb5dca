"""Health config checks the schema cannot express: keys per kind, regexes, dependencies.

Listed in unconscious/semantic_checks.py. The schema already checked types
(a threshold of the wrong type, an unknown kind); here each check may only use the keys of its
kind, must have the ones its kind needs, its regexes must compile, and `depends_on` must name
enabled checks without forming a cycle (the cycle is named: a -> b -> a).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from unconscious.config.errors import ConfigProblem
from unconscious.config.semantic import Locator, mapping_at, texts
from unconscious.health.kinds import COMMON_KEYS, KINDS
from unconscious.health.specs import automatic_evidence_service

_REGEX_KEYS = ("match", "body_match", "pattern")


def check(value: dict[str, object], locate: Locator) -> list[ConfigProblem]:
    """Return problems in the health section of the merged config `value`."""
    checks = mapping_at(value, "health", "checks")
    max_ages = mapping_at(value, "evidence", "max_age")
    problems: list[ConfigProblem] = []

    def problem(path: tuple[str, ...], message: str) -> None:
        key_path = ("health", "checks", *path)
        file, line = locate(key_path)
        problems.append(ConfigProblem(file, line, ".".join(key_path), message))

    specs = {name: spec for name, spec in checks.items() if isinstance(spec, dict)}
    enabled = {name for name, spec in specs.items() if spec.get("enabled", True) is not False}
    for name in sorted(enabled):
        spec = specs[name]
        if "kind" not in spec:
            service = automatic_evidence_service(name, max_ages)
            if service is None:
                problem((name,), f"check {name!r} needs 'kind' (one of {', '.join(KINDS)})")
                continue
            spec = {"kind": "evidence", "service": service, **spec}  # tuning an automatic check
        _kind_problems(name, spec, problem)
        for dependency in texts(spec.get("depends_on")):
            if dependency == name:
                problem((name, "depends_on"), f"check {name!r} depends on itself")
            elif dependency not in checks:
                problem((name, "depends_on"), f"unknown check {dependency!r}")
            elif dependency not in enabled:
                problem((name, "depends_on"), f"check {dependency!r} is disabled")
    graph = {name: [target for target in texts(specs[name].get("depends_on"))
                    if target in enabled and target != name] for name in enabled}
    for cycle in _cycles(graph):
        problem((cycle[0], "depends_on"), "dependency cycle: " + " -> ".join(cycle))
    return problems


Report = Callable[[tuple[str, ...], str], None]


def _kind_problems(name: str, spec: dict[str, object], problem: Report) -> None:
    """Report the keys `spec` may not have or lacks for its kind, and regexes that do not compile."""
    kind = KINDS.get(str(spec.get("kind")))
    if kind is None:
        return  # the schema's enum already reported it
    allowed = set(COMMON_KEYS) | set(kind.required) | set(kind.optional)
    takes = ", ".join(kind.required + kind.optional) or "no extra keys"
    for key in sorted(set(spec) - allowed):
        problem((name, key), f"not a key of kind {spec['kind']!r} (it takes: {takes})")
    for key in kind.required:
        if key not in spec:
            problem((name,), f"kind {spec['kind']!r} needs '{key}'")
    if spec["kind"] == "process" and ("name" in spec) == ("pidfile" in spec):
        problem((name,), "kind 'process' needs exactly one of 'name' or 'pidfile'")
    for key in _REGEX_KEYS:
        pattern = spec.get(key)
        if isinstance(pattern, str):
            try:
                re.compile(pattern)
            except re.error as error:
                problem((name, key), f"{pattern!r} is not a valid regular expression: {error}")


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
