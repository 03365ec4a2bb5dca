"""The part of a merged config the schema accepted: what the semantic checks look at.

So one `config validate` run reports schema problems and semantic ones together (a bad
interval and a dependency cycle at once). Each value the schema refused is replaced by the
schema's default for that key, or removed when the key has none (an unknown key, a missing
required one, a bad value of a key without a default); the repaired copy is validated again,
a few rounds at most. Imported only where validation runs (it needs jsonschema).
"""

from __future__ import annotations

import copy

from unconscious.config.errors import ConfigProblem
from unconscious.config.schema import load_schema, schema_at
from unconscious.config.validate import RawProblem, raw_problems
from unconscious.config.writers import entry_of
from unconscious.config.yaml_source import KeyPath, format_key_path

#: Repair rounds before giving up (each round can only remove or reset keys, so two suffice
#: in practice: a reset section whose default is itself incomplete needs the second).
MAX_ROUNDS = 3


def accepted_part(value: object, problems: list[RawProblem],
                  removed: list[KeyPath] | None = None) -> dict[str, object] | None:
    """Return a copy of the merged config `value` with every refused value repaired.

    `problems` are `value`'s schema problems (validate.raw_problems). The result passes the
    schema, so semantic checks may trust its types. Return None when no such part exists
    (the top level is not a mapping, or repairs do not converge). `value` is not changed.
    The paths of removed keys are appended to `removed` (see `echoes_a_removed_key`).
    """
    if not isinstance(value, dict):
        return None
    accepted: dict[str, object] = copy.deepcopy(value)
    schema = load_schema()
    for _ in range(MAX_ROUNDS):
        if not problems:
            return accepted
        for path, _message in problems:
            outcome = _repair(accepted, _without_list_items(path), schema)
            if outcome is None:
                return None
            if outcome and removed is not None:
                removed.append(_without_list_items(path))
        problems = raw_problems(accepted)
    return accepted if not problems else None


def _without_list_items(path: KeyPath) -> KeyPath:
    """Cut `path` at its first list index: lists replace as a whole, so they repair as a whole."""
    for index, part in enumerate(path):
        if isinstance(part, int):
            return path[:index]
    return path


def _repair(value: dict[str, object], path: KeyPath, schema: dict[str, object]) -> bool | None:
    """Reset `path` to its schema default (False) or delete it (True); None for the root."""
    if not path:
        return None
    parent: object = value
    for part in path[:-1]:
        if not isinstance(parent, dict) or part not in parent:
            return False  # an earlier repair already removed or reset the branch
        parent = parent[part]
    if not isinstance(parent, dict):
        return False
    node = schema_at(schema, path)
    if node is not None and "default" in node:
        parent[path[-1]] = copy.deepcopy(node["default"])
        return False
    parent.pop(path[-1], None)
    return True


def echoes_a_removed_key(problem: ConfigProblem, removed: list[KeyPath]) -> bool:
    """True when semantic `problem` is only the echo of a key the repair removed.

    Removing a refused `kind: telepathy` makes the health check say "needs 'kind'": the
    schema problem already said what is wrong there. A semantic problem located at a removed
    key, or at one of its parents inside the same named entry (a check, a rule), is such an
    echo; problems elsewhere (a dependency cycle through that check) are kept.
    """
    schema = load_schema()
    for path in removed:
        entry = entry_of(path, schema)
        for length in range(len(entry), len(path) + 1):
            if problem.key_path == format_key_path(path[:length]):
                return True
    return False
