"""Safe, bounded YAML loading that remembers the line of every key.

Only the YAML core types are built (no Python-object tags); duplicate keys, tabs, non-UTF-8,
oversized files and alias bombs are reported as ConfigProblems instead of tracebacks. We walk
the node graph ourselves so each value keeps the file:line that set it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from unconscious.config.errors import ConfigProblem
from unconscious.config.keypath import KeyPath as KeyPath
from unconscious.config.keypath import format_key_path as format_key_path

MAX_FILE_BYTES = 1 << 20
# An alias bomb expands a few lines into billions of nodes; real configs have a few thousand.
MAX_NODES = 100_000

# libyaml's parser when available (same safe constructor, much faster); marks carry lines either way.
_SAFE_LOADER: type[yaml.SafeLoader | yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_ALLOWED_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


@dataclass
class YamlDocument:
    """A parsed file: its value and the line each key path was set on."""

    file: str
    value: object  # whatever the file holds (a mapping when valid); checked by the loader
    lines: dict[KeyPath, int] = field(default_factory=dict)


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0


class _TooLarge(Exception):
    pass


def load_yaml_file(path: Path) -> tuple[YamlDocument | None, list[ConfigProblem]]:
    """Load one YAML file safely.

    Return (document, []) on success or (None, problems) when the file cannot be used. An
    empty file is an empty mapping. Never raises for bad input.
    """
    raw, problems = read_yaml_bytes(path)
    if raw is None:
        return None, problems
    return load_yaml_bytes(raw, str(path))


def read_yaml_bytes(path: Path) -> tuple[bytes | None, list[ConfigProblem]]:
    """Read the bytes of the YAML file `path`: (bytes, []) or (None, why it cannot be read).

    Refuses a directory and a file over MAX_FILE_BYTES. Never raises for bad input.
    """
    name = str(path)
    try:
        if path.is_dir():
            return None, [ConfigProblem(name, None, "", "is a directory, not a YAML file")]
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        return None, [ConfigProblem(name, None, "", f"cannot be read: {error.strerror}")]
    if len(raw) > MAX_FILE_BYTES:
        return None, [ConfigProblem(name, None, "", f"is larger than {MAX_FILE_BYTES} bytes")]
    return raw, []


def load_yaml_bytes(raw: bytes, name: str) -> tuple[YamlDocument | None, list[ConfigProblem]]:
    """Parse the UTF-8 YAML `raw` (named `name` in errors); see load_yaml_file."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        return None, [ConfigProblem(name, line, "", "is not valid UTF-8")]
    return load_yaml_text(text, name)


def load_yaml_text(text: str, name: str) -> tuple[YamlDocument | None, list[ConfigProblem]]:
    """Parse YAML `text` (named `name` in errors); see load_yaml_file."""
    loader = _SAFE_LOADER(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        problem = error.problem or str(error)
        if mark is not None and _tab_at(text, mark.line, mark.column):
            problem = "found a tab character: YAML does not allow tabs for indentation"
        return None, [ConfigProblem(name, line, "", f"invalid YAML: {problem}")]
    except yaml.YAMLError as error:
        return None, [ConfigProblem(name, None, "", f"invalid YAML: {error}")]
    finally:
        loader.dispose()
    document = YamlDocument(file=name, value={})
    if root is None:
        return document, []
    problems: list[ConfigProblem] = []
    try:
        document.value = _build(root, (), document, problems, _Budget(), loader)
    except _TooLarge:
        return None, [ConfigProblem(name, None, "", f"expands to more than {MAX_NODES} nodes (alias bomb?)")]
    if problems:
        return None, problems
    return document, []


def _tab_at(text: str, line: int, column: int) -> bool:
    lines = text.splitlines()
    if line >= len(lines):
        return False
    row = lines[line]
    return "\t" in row[: column + 1] or row[column : column + 1] == "\t"


def _build(
    node: yaml.Node,
    path: KeyPath,
    document: YamlDocument,
    problems: list[ConfigProblem],
    budget: _Budget,
    loader: yaml.SafeLoader | yaml.CSafeLoader,
) -> object:
    budget.nodes += 1
    if budget.nodes > MAX_NODES:
        raise _TooLarge
    line = node.start_mark.line + 1
    document.lines.setdefault(path, line)
    key_text = format_key_path(path)
    if isinstance(node, yaml.MappingNode):
        if node.tag != "tag:yaml.org,2002:map":
            problems.append(ConfigProblem(document.file, line, key_text, f"tag {node.tag} is not allowed"))
            return None
        return _build_mapping(node, path, document, problems, budget, loader)
    if isinstance(node, yaml.SequenceNode):
        if node.tag != "tag:yaml.org,2002:seq":
            problems.append(ConfigProblem(document.file, line, key_text, f"tag {node.tag} is not allowed"))
            return None
        return [
            _build(item, (*path, index), document, problems, budget, loader)
            for index, item in enumerate(node.value)
        ]
    if node.tag not in _ALLOWED_SCALAR_TAGS:
        problems.append(ConfigProblem(document.file, line, key_text, f"tag {node.tag} is not allowed"))
        return None
    try:
        return loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError) as error:
        problems.append(ConfigProblem(document.file, line, key_text, f"bad value: {error}"))
        return None


def _build_mapping(
    node: yaml.MappingNode,
    path: KeyPath,
    document: YamlDocument,
    problems: list[ConfigProblem],
    budget: _Budget,
    loader: yaml.SafeLoader | yaml.CSafeLoader,
) -> dict[str, object]:
    """Build a mapping's value; a merge key, a non-string key or a duplicate is a problem and skipped."""
    result: dict[str, object] = {}
    for key_node, value_node in node.value:
        key_line = key_node.start_mark.line + 1
        if key_node.tag == "tag:yaml.org,2002:merge":
            problems.append(ConfigProblem(document.file, key_line, format_key_path(path),
                                          "merge keys (<<) are not supported"))
            continue
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _ALLOWED_SCALAR_TAGS:
            problems.append(ConfigProblem(document.file, key_line, format_key_path(path),
                                          "keys must be plain strings"))
            continue
        key = str(key_node.value)
        child_path = (*path, key)
        if key in result:
            problems.append(ConfigProblem(document.file, key_line, format_key_path(child_path),
                                          "duplicate key"))
            continue
        document.lines[child_path] = key_line
        result[key] = _build(value_node, child_path, document, problems, budget, loader)
    return result
