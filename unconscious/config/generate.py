"""Generate the commented default config (config/hostmind.yaml) from the schema.

The schema is the single source: this file is checked in, and a test asserts it equals what
this module generates, so docs and defaults cannot drift apart.
"""

from __future__ import annotations

import textwrap
from typing import Any

import yaml

from unconscious.config.schema import load_schema

HEADER = """\
# hostmind packaged defaults. GENERATED from config/schema/*.yaml by
# `hostmind config generate`; do not edit by hand.
#
# Do not copy this file to /etc: put only what you change in /etc/hostmind/hostmind.yaml or in
# a drop-in /etc/hostmind/hostmind.d/NN-name.yaml. Maps merge, lists replace, null resets a key
# to the default shown here.
"""


def generate_default_config() -> str:
    """Return the commented YAML of every key's default, in schema order."""
    schema = load_schema()
    lines = [HEADER]
    for name, section in schema["properties"].items():
        lines.append("")
        lines.extend(_render_key(name, _resolve(schema, section), schema, 0))
    return "\n".join(lines).rstrip() + "\n"


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        target: Any = schema
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        return {**target, **{key: value for key, value in node.items() if key != "$ref"}}
    return node


def _comment(text: str, indent: int) -> list[str]:
    prefix = " " * indent + "# "
    return textwrap.wrap(text, width=96, initial_indent=prefix, subsequent_indent=prefix)


def _render_key(name: str, node: dict[str, Any], schema: dict[str, Any], indent: int) -> list[str]:
    pad = " " * indent
    lines = _comment(str(node.get("description", "")), indent)
    if "default" not in node and "properties" in node:
        lines.append(f"{pad}{name}:")
        for child_name, child in node["properties"].items():
            lines.extend(_render_key(child_name, _resolve(schema, child), schema, indent + 2))
        return lines
    if "default" not in node:
        example = node.get("examples", [None])[0]
        dumped = yaml.safe_dump({name: example}, default_flow_style=False, sort_keys=False).rstrip()
        lines.extend(f"{pad}# {line}" for line in dumped.splitlines())
        return lines
    default = node["default"]
    if isinstance(default, dict | list) and default:
        dumped = yaml.safe_dump({name: default}, default_flow_style=False, sort_keys=False).rstrip()
        lines.extend(f"{pad}{line}" for line in dumped.splitlines())
    else:
        rendered = yaml.safe_dump(default, default_flow_style=True).strip()
        rendered = rendered.removesuffix("...").strip()
        lines.append(f"{pad}{name}: {rendered}")
    return lines
