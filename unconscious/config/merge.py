"""Merging config layers: maps merge deeply, lists and scalars replace, null resets to default."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from unconscious.config.yaml_source import KeyPath, YamlDocument


@dataclass
class MergedConfig:
    """The merged value and, for every key path, the (file, line) that set it."""

    #: A YAML document the schema has not checked yet: any shape may be in it.
    value: dict[str, object] = field(default_factory=dict)
    origins: dict[KeyPath, tuple[str, int | None]] = field(default_factory=dict)


def merge_documents(defaults: YamlDocument, overlays: list[YamlDocument]) -> MergedConfig:
    """Merge `overlays` in order on top of `defaults`; return the value and its origins."""
    merged = MergedConfig(value=copy.deepcopy(defaults.value) if isinstance(defaults.value, dict) else {})
    _record_origins(merged, defaults, (), merged.value)
    for overlay in overlays:
        if not isinstance(overlay.value, dict):
            continue  # reported by the loader as "top level must be a mapping"
        _merge_into(merged, merged.value, overlay.value, (), overlay, defaults)
    return merged


def _record_origins(merged: MergedConfig, document: YamlDocument, path: KeyPath, value: object) -> None:
    merged.origins[path] = (document.file, document.lines.get(path))
    if isinstance(value, dict):
        for key, child in value.items():
            _record_origins(merged, document, (*path, key), child)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _record_origins(merged, document, (*path, index), child)


def _forget_origins(merged: MergedConfig, path: KeyPath) -> None:
    for key in [key for key in merged.origins if key[: len(path)] == path and len(key) > len(path)]:
        del merged.origins[key]


def _default_at(defaults: YamlDocument, path: KeyPath) -> tuple[bool, object]:
    node: object = defaults.value
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False, None
    return True, copy.deepcopy(node)


def _merge_into(
    merged: MergedConfig,
    target: dict[str, object],  # unchecked YAML (see MergedConfig.value)
    overlay: dict[str, object],
    path: KeyPath,
    document: YamlDocument,
    defaults: YamlDocument,
) -> None:
    for key, value in overlay.items():
        key_path = (*path, key)
        if value is None:
            # null means "back to the packaged default", so an operator can undo a drop-in.
            exists, default = _default_at(defaults, key_path)
            _forget_origins(merged, key_path)
            if exists:
                target[key] = default
                _record_origins(merged, defaults, key_path, default)
            else:
                target.pop(key, None)
                merged.origins.pop(key_path, None)
            continue
        below = target.get(key)
        if isinstance(value, dict) and isinstance(below, dict):
            merged.origins[key_path] = (document.file, document.lines.get(key_path))
            _merge_into(merged, below, value, key_path, document, defaults)
            continue
        _forget_origins(merged, key_path)
        target[key] = copy.deepcopy(value)
        _record_origins(merged, document, key_path, target[key])
