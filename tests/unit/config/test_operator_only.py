"""Operator-only keys: for every key of the schema and every config layer of the live tree.

For each leaf key path of the schema a different, valid value is made from the schema itself.
It is set in each layer the live tree has (its config/hostmind.yaml, a config/hostmind.d drop-in)
and the config is loaded the way a trusted process loads it. An operator-only key must keep its
effective value (and be reported as ignored, with file and line); a model-writable key must take
the new value. The same change as a proposal must be refused by the rails' validate check
exactly when the key is operator-only.

Keys inside named map entries (a check, a rotation rule, a sink) need an entry to live in: the
entry's other required keys come from the operator's /etc layer (never the key under test, so
the live layer has the last word on it unless the loader drops it).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from conscious.rails.change import FileChange, Refused
from conscious.rails.operator_keys import check_operator_keys
from unconscious.config import ConfigError, load_config
from unconscious.config.loader import packaged_defaults_text
from unconscious.config.schema import load_schema
from unconscious.config.writers import MODEL, OPERATOR, lookup_in, writer_of
from unconscious.config.yaml_source import KeyPath, format_key_path
from unconscious.health.kinds import KINDS
from unconscious.paths import Paths

ENTRY = "probe"
#: A valid value for each required key of a check kind (the entry's other keys).
CHECK_REQUIRED = {"port": 22, "url": "http://127.0.0.1:9/", "path": "/tmp", "max_age": "1h",
                  "argv": ["/bin/true"], "unit": "ssh.service", "service": "rotate"}
#: The other required keys of named entries outside health.checks.
ENTRY_TEMPLATES: dict[KeyPath, dict[str, Any]] = {
    ("rotate", "rules"): {"paths": ["/var/log/probe.log"]},
    ("backup", "sources"): {"path": "/srv"},
    ("backup", "hooks"): {"pre": ["/bin/true"]},
    ("alerts", "sinks"): {"kind": "webhook", "url": "http://127.0.0.1:9/hook"},
    ("alerts", "pings"): {"url": "http://127.0.0.1:9/ping"},
}
#: Values the schema alone cannot make valid (a semantic check needs more).
OVERRIDES: dict[str, Any] = {
    "evidence.max_age.probe": "3h",
    "health.checks.probe.service": "backup",
    "health.checks.probe.depends_on": ["memory"],
    "backup.sources.probe.path": "/opt",
    "apply.unit_paths.probe": ["unconscious/**"],
    "rotate.rules.probe.dateformat": "-%Y%m%d%H",
    "rotate.rules.probe.create.mode": "0640",
    "rotate.rules.probe.extension": ".txt",
}


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> tuple[dict[str, Any], str]:
    reference = ""
    while "$ref" in node:
        reference = str(node["$ref"]).rsplit("/", 1)[-1]
        target: Any = schema
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{key: value for key, value in node.items() if key != "$ref"}}
    return node, reference


def schema_leaves() -> list[tuple[KeyPath, dict[str, Any], str]]:
    """Every leaf key path of the schema (named map entries as ENTRY), its node, its $ref."""
    schema = load_schema()
    found: list[tuple[KeyPath, dict[str, Any], str]] = []

    def walk(node: dict[str, Any], path: KeyPath) -> None:
        node, reference = _resolve(schema, node)
        properties = node.get("properties")
        extra = node.get("additionalProperties")
        if properties:
            for key, child in properties.items():
                walk(child, (*path, key))
        elif isinstance(extra, dict):
            walk(extra, (*path, ENTRY))
        else:
            found.append((path, node, reference))

    for name, section in schema["properties"].items():
        walk(section, (name,))
    return found


def different_value(path: KeyPath, node: dict[str, Any], reference: str, current: Any) -> Any:
    """Return a value for `path`, valid under `node`, that differs from `current`."""
    text = format_key_path(path)
    if text in OVERRIDES:
        return OVERRIDES[text]
    if reference == "argv" or (node.get("oneOf") and "argv" in str(node.get("oneOf"))):
        return ["/bin/echo", "changed"]
    if reference == "duration" or "duration" in str(node.get("oneOf", "")):
        return "17s" if current != "17s" else "19s"
    if reference == "size" or "size" in str(node.get("oneOf", "")):
        return "17K" if current != "17K" else "19K"
    kinds = node.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "enum" in node:
        return next(choice for choice in node["enum"] if choice != current)
    if "boolean" in kinds:
        return not bool(current)
    if "integer" in kinds or "number" in kinds:
        low = node.get("minimum", 0)
        high = node.get("maximum", 10_000)
        candidate = (current if isinstance(current, int | float) else low) + 1
        return candidate if candidate <= high else high - 1
    examples = node.get("examples") or []
    if examples and examples[0] != current:
        return examples[0]
    if "array" in kinds:
        return ["changed-*"]
    return "/tmp/hostmind-changed"


def entry_template(path: KeyPath) -> tuple[KeyPath, dict[str, Any]] | None:
    """The /etc entry a key inside a named map entry needs: (entry path, its other keys)."""
    if ENTRY not in path:
        return None
    entry = path[: path.index(ENTRY) + 1]
    key = path[len(entry)] if len(path) > len(entry) else None
    if entry[:-1] == ("health", "checks"):
        kind = next((name for name, spec in KINDS.items() if key in spec.required + spec.optional
                     and name not in ("command", "integrity", "listening", "failed_logins")),
                    None) or next((name for name, spec in KINDS.items()
                                   if key in spec.required + spec.optional), "memory")
        template = {"kind": kind} if key != "kind" else {}
        template.update({name: CHECK_REQUIRED[name] for name in KINDS[kind].required
                         if name != key})
        if kind == "process" and key not in ("name", "pidfile"):
            template["name"] = "sshd"  # a process check names its process one way or the other
        return entry, template
    template = {name: value for name, value in ENTRY_TEMPLATES.get(entry[:-1], {}).items()
                if name != key}
    return entry, template


def nested(path: KeyPath, value: Any) -> dict[str, Any]:
    result: Any = value
    for part in reversed(path):
        result = {part: result}
    return dict(result)


def value_at(config: dict[str, Any], path: KeyPath) -> Any:
    node: Any = config
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return "<absent>"
        node = node[part]
    return node


def make_paths(root: Path) -> Paths:
    """The operator's /etc and an empty live tree under `root`; their Paths."""
    paths = Paths(config_dir=root / "etc", runtime_dir=root / "run", state_dir=root / "state")
    paths.dropin_dir.mkdir(parents=True)
    (paths.live_tree / "config" / "hostmind.d").mkdir(parents=True)
    return paths


def plan_layers(path: KeyPath, value: Any) -> tuple[dict[str, Any] | None, dict[str, Any], str]:
    """Return (the operator's /etc layer or None, the live layer's fragment, the key's writer).

    An operator-only key comes with a whole entry of its own in the live layer: if the loader
    did not drop it, the entry would appear. A model-writable key of an entry whose other
    required keys the model may set too gets its whole entry in the live layer; otherwise the
    entry (without the key) is the operator's, in /etc.
    """
    template = entry_template(path)
    fragment = nested(path, value)
    if template is None:
        return None, fragment, writer_of(path, value, None, lookup_in(fragment, DEFAULTS))
    entry, others = template
    whole = merged(nested(entry, dict(others)), fragment)
    writer = writer_of(path, value, None, lookup_in(whole, DEFAULTS))
    others_writers = {writer_of((*entry, key), item, None, lookup_in(whole, DEFAULTS))
                      for key, item in others.items()}
    if writer == OPERATOR or others_writers <= {MODEL}:
        return None, whole, writer
    return nested(entry, others), fragment, writer


LEAVES = schema_leaves()
DEFAULTS: dict[str, Any] = yaml.safe_load(packaged_defaults_text())


def test_the_schema_has_leaves_of_both_writers() -> None:
    writers = {writer_of(path) for path, _, _ in LEAVES}
    assert {MODEL, OPERATOR} == writers
    assert len(LEAVES) > 150


@pytest.mark.parametrize("layer", ["live defaults", "live drop-in"])
@pytest.mark.parametrize("path", [path for path, _, _ in LEAVES], ids=format_key_path)
def test_a_live_layer_changes_a_key_only_if_the_model_may_set_it(
        path: KeyPath, layer: str, tmp_path: Path) -> None:
    node, reference = next((node, ref) for leaf, node, ref in LEAVES if leaf == path)
    paths = make_paths(tmp_path)
    value = different_value(path, node, reference, value_at(DEFAULTS, path))
    etc, fragment, writer = plan_layers(path, value)
    if etc is not None:
        (paths.dropin_dir / "10-entry.yaml").write_text(yaml.safe_dump(etc))
    before = load_config(paths).value
    assert value != value_at(before, path)
    if layer == "live defaults":
        document = merged(copy.deepcopy(DEFAULTS), fragment)
        file = paths.live_tree / "config" / "hostmind.yaml"
    else:
        document = fragment
        file = paths.live_tree / "config" / "hostmind.d" / "50-model.yaml"
    file.write_text(yaml.safe_dump(document))
    try:
        after = load_config(paths)
    except ConfigError as error:
        pytest.fail(f"{format_key_path(path)} = {value!r} ({writer}): {error}")
    if writer == OPERATOR:
        assert before == after.value
        assert any(problem.key_path == format_key_path(path) and problem.file == str(file)
                   and problem.line for problem in after.ignored), after.ignored
    else:
        assert value == value_at(after.value, path)
        assert [] == after.ignored
    # The same change proposed through the rails: refused exactly when operator-only.
    change = FileChange("config/hostmind.d/50-model.yaml", None,
                        yaml.safe_dump(fragment).encode())
    if writer == OPERATOR:
        with pytest.raises(Refused, match=re.escape(format_key_path(path))):
            check_operator_keys([change], paths)
    else:
        check_operator_keys([change], paths)


def merged(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    for key, item in overlay.items():
        if isinstance(item, dict) and isinstance(base.get(key), dict):
            merged(base[key], item)
        else:
            base[key] = item
    return base


@pytest.mark.parametrize("rail_key", ["apply.test_command", "apply.unit_paths",
                                      "apply.health_command", "conscious.tree",
                                      "conscious.allowed_paths", "conscious.api.base_url",
                                      "conscious.daily_token_budget", "conscious.model",
                                      "backup.destination", "alerts.sinks",
                                      "conscious.journal.command"])
def test_the_keys_the_issue_names_are_operator_only(rail_key: str) -> None:
    assert OPERATOR == writer_of(tuple(rail_key.split(".")))


def test_a_check_that_runs_a_command_is_the_operators_in_every_key(tmp_path: Path) -> None:
    paths = make_paths(tmp_path)
    (paths.dropin_dir / "10-probe.yaml").write_text(
        "health:\n  checks:\n    probe:\n      kind: command\n      argv: [/bin/false]\n")
    (paths.live_tree / "config" / "hostmind.d" / "50-model.yaml").write_text(
        "health:\n  checks:\n    probe:\n      match: ''\n      expect_exit: 1\n"
        "    integrity:\n      enabled: false\n")
    loaded = load_config(paths)
    probe = loaded.value["health"]["checks"]["probe"]
    assert {"kind": "command", "argv": ["/bin/false"]} == probe
    assert loaded.value["health"]["checks"]["integrity"].get("enabled", True) is True
    assert {"health.checks.probe.match", "health.checks.probe.expect_exit",
            "health.checks.integrity.enabled"} == {problem.key_path for problem in loaded.ignored}


def test_a_half_allowed_entry_is_dropped_whole(tmp_path: Path) -> None:
    paths = make_paths(tmp_path)
    (paths.live_tree / "config" / "hostmind.d" / "50-model.yaml").write_text(
        "health:\n  checks:\n    phone_home:\n      kind: http\n      url: http://evil.example/\n"
        "      interval: 5s\n")
    loaded = load_config(paths)
    assert "phone_home" not in loaded.value["health"]["checks"]
    assert ["health.checks.phone_home.url"] == [problem.key_path for problem in loaded.ignored]
    assert 5 == loaded.ignored[0].line


#: Leaf names that run something, reach outside or name who to run as: never the model's.
_REACHES_OUTSIDE = re.compile(r"(^|_)(command|shell|script|hook|hooks|url|webhook|ping|su|user|"
                              r"credential|password|token|repository|destination|prerotate|"
                              r"postrotate)($|_)")


def test_every_key_that_runs_something_or_reaches_outside_is_operator_only() -> None:
    # A rule or check map marked `x-writer: model` passes that on to keys added under it later;
    # this is the guard that a new command, hook, URL or user key is annotated back to operator.
    offenders = []
    for path, node, reference in schema_leaves():
        runs = reference == "argv" or "#/$defs/argv" in repr(node)
        named = bool(_REACHES_OUTSIDE.search(str(path[-1])))
        if (runs or named) and writer_of(path) != OPERATOR:
            offenders.append(format_key_path(path))
    assert [] == offenders
