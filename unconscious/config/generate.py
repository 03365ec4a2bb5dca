"""Generate the commented default config (config/hostmind.yaml) from the schema.

The schema is the single source: this file is checked in, and a test asserts it equals what
this module generates, so docs and defaults cannot drift apart.
"""

from __future__ import annotations

import textwrap

import yaml

from unconscious.config.schema import SchemaNode, load_schema, mapping, resolve

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
    for name, section in mapping(schema["properties"]).items():
        lines.append("")
        lines.extend(_render_key(name, resolve(schema, section) or {}, schema, 0))
    return "\n".join(lines).rstrip() + "\n"


def _comment(text: str, indent: int) -> list[str]:
    prefix = " " * indent + "# "
    return textwrap.wrap(text, width=96, initial_indent=prefix, subsequent_indent=prefix)


def _render_key(name: str, node: SchemaNode, schema: SchemaNode, indent: int) -> list[str]:
    pad = " " * indent
    lines = _comment(str(node.get("description", "")), indent)
    if "default" not in node and "properties" in node:
        lines.append(f"{pad}{name}:")
        for child_name, child in mapping(node["properties"]).items():
            lines.extend(_render_key(child_name, resolve(schema, child) or {}, schema, indent + 2))
        return lines
    if "default" not in node:
        examples = node.get("examples")
        example = examples[0] if isinstance(examples, list) and examples else None
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
