"""Build a settings dataclass from a typed config mapping: the one dict-to-dataclass builder.

The dataclass is the only place a settings field list is written: `build_settings` takes each
field from the typed view (`LoadedConfig.typed`: schema defaults filled in, durations in
seconds, sizes in bytes) by its name and converts it to the field's annotated type: a list to
`tuple[...]`, text to `Path`, a mapping to a nested dataclass, `X | None` and `dict[str, X]`
inside out; an empty text or list in an optional field is None (unset). A field the schema
does not have, or one derived from other keys, is passed in `derived`. Every value is
checked against its annotation, so a typed view that does not match the dataclass fails
here with the key path named, not later where the value is used.
(tests/unit/config/test_settings_match_schema.py ties each dataclass's fields to its schema.)
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


class SettingsShapeError(ValueError):
    """A typed config value does not fit the settings field it is built into (names the key)."""


def build_settings(cls: type[T], values: Mapping[str, object], where: str, **derived: object) -> T:
    """Return `cls(...)` with each field from `values[name]` (converted), or from `derived`.

    `cls` is a dataclass, `where` the key path of `values` for messages ("conscious.api").
    A field missing from both takes the dataclass's own default if it has one.
    Raise SettingsShapeError if a value does not fit its field or a field has no value.
    """
    hints = _hints(cls)
    arguments: dict[str, object] = {}
    for item in dataclasses.fields(cls):
        if item.name in derived:
            arguments[item.name] = derived.pop(item.name)
        elif item.name in values:
            arguments[item.name] = _convert(values[item.name], hints[item.name], f"{where}.{item.name}")
        elif item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
            raise SettingsShapeError(f"{where}.{item.name}: missing from the typed config")
    if derived:
        raise SettingsShapeError(f"{where}: {cls.__name__} has no field {sorted(derived)}")
    return cls(**arguments)


_HINTS: dict[type, dict[str, object]] = {}


def _hints(cls: type) -> dict[str, object]:
    # Resolved once per class: the modules use `from __future__ import annotations`.
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _convert(value: object, hint: object, where: str) -> object:
    """Return `value` as the type `hint` describes; raise SettingsShapeError if it does not fit."""
    origin = typing.get_origin(hint)
    if origin is types.UnionType or origin is typing.Union:
        return _convert_union(value, typing.get_args(hint), where)
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise _misfit(value, hint, where)
        arguments = typing.get_args(hint)
        if origin is tuple and arguments[1:] != (Ellipsis,):
            raise TypeError(f"{where}: a settings field is tuple[X, ...], not {hint}")  # a coding error
        item_hint = arguments[0]
        items = [_convert(item, item_hint, f"{where}[{index}]") for index, item in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise _misfit(value, hint, where)
        value_hint = typing.get_args(hint)[1]
        return {str(key): _convert(item, value_hint, f"{where}.{key}") for key, item in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise _misfit(value, hint, where)
        return build_settings(hint, value, where)
    return _convert_plain(value, hint, where)


def _convert_union(value: object, options: tuple[object, ...], where: str) -> object:
    if type(None) in options and value in (None, "", []):
        return None  # an optional field left empty is unset (`tree: ""`, `pre: []`)
    present = [option for option in options if option is not type(None)]
    if len(present) == 1:
        return _convert(value, present[0], where)  # its own error names the item that misfits
    for option in present:
        try:
            return _convert(value, option, where)
        except SettingsShapeError:
            continue
    raise _misfit(value, " | ".join(_name(option) for option in options), where)


def _convert_plain(value: object, hint: object, where: str) -> object:
    """Convert to bool, int, float, str or Path (an int is a float too; a bool is neither)."""
    if hint is bool and isinstance(value, bool):
        return value
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint is str and isinstance(value, str):
        return value
    if hint is Path and isinstance(value, str) and value:
        return Path(value)
    if hint is object:
        return value
    raise _misfit(value, hint, where)


def _name(hint: object) -> str:
    if hint is type(None):
        return "null"
    if isinstance(hint, str):
        return hint
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("pathlib.", "")


def _misfit(value: object, hint: object, where: str) -> SettingsShapeError:
    return SettingsShapeError(f"{where}: expected {_name(hint)}, got {value!r}")


def build_named(cls: type[T], section: Mapping[str, object], where: str, **derived: object) -> tuple[T, ...]:
    """Return `cls` built from each entry of the named map `section` ("backup.hooks"), sorted by
    name; the entry's name is the field `name`. Raise SettingsShapeError as `build_settings`."""
    built: list[T] = []
    for name, entry in sorted(section.items()):
        if not isinstance(entry, Mapping):
            raise SettingsShapeError(f"{where}.{name}: expected a mapping, got {entry!r}")
        built.append(build_settings(cls, entry, f"{where}.{name}", name=name, **derived))
    return tuple(built)
