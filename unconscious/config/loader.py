"""Load the config layers in order, merge them, validate once, report every problem.

Order: packaged defaults (of the running package: the trusted base in every trusted process)
-> the live tree's layers (its config/hostmind.yaml where it differs from the defaults, its
config/hostmind.d/*.yaml: where the rails put a config change the conscious layer proposed;
only model-writable keys count, see `writers`) -> {config_dir}/hostmind.yaml ->
{config_dir}/hostmind.d/*.yaml (lexical) -> {runtime_dir}/hostmind.d/*.yaml. The operator's
files come last, so the operator always overrides a change the model made, and rail settings
come only from the defaults and the operator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from unconscious.config import writers
from unconscious.config.errors import ConfigError, ConfigProblem
from unconscious.config.merge import MergedConfig, merge_documents
from unconscious.config.validation import PACKAGED_DEFAULTS_NAME as PACKAGED_DEFAULTS_NAME
from unconscious.config.validation import check_and_type, locate
from unconscious.config.yaml_source import KeyPath, YamlDocument, load_yaml_file, load_yaml_text
from unconscious.package_data import config_dir
from unconscious.paths import Paths

if TYPE_CHECKING:
    # Types only: the TypedDict classes cost the long-lived health service memory.
    from unconscious.config.sections import TypedConfig


@dataclass
class LoadedConfig:
    """A merged, validated config and where each value came from."""

    value: dict[str, object]
    origins: dict[KeyPath, tuple[str, int | None]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    #: Operator-only keys a live-tree layer tried to set: dropped, reported with file:line.
    ignored: list[ConfigProblem] = field(default_factory=list)
    #: The live tree whose layers were read (`conscious.tree`, else {state}/live).
    live_tree: Path | None = None
    #: `value` typed (config.typed), computed with the checks; on first use when not given.
    typed_value: dict[str, object] | None = None

    def section(self, name: str) -> dict[str, object]:
        """Return the top-level section `name` (a dict; empty if absent)."""
        section = self.value.get(name, {})
        return section if isinstance(section, dict) else {}

    @property
    def typed(self) -> TypedConfig:
        """Return the typed view: schema defaults filled in, durations in s, sizes in bytes.

        Its shape is `unconscious.config.sections.TypedConfig` (checked against the schema by
        a test). Computed with the checks when the config was loaded, else here on first use.
        """
        if self.typed_value is None:
            from unconscious.config.typed import typed_config

            self.typed_value = typed_config(self.value)
        # The typed view's shape is TypedConfig by construction (tests/unit/config/test_sections.py).
        return cast("TypedConfig", self.typed_value)

    def origin(self, path: KeyPath) -> tuple[str, int | None]:
        """Return the (file, line) that set `path`, or of its nearest set parent."""
        return locate(self.origins, path)


def packaged_defaults_text() -> str:
    """Return the text of the packaged config/hostmind.yaml."""
    return (config_dir() / "hostmind.yaml").read_text(encoding="utf-8")


def packaged_dropin_files() -> list[Path]:
    """Return the drop-ins beside the running package's defaults (config/hostmind.d/*.yaml).

    In the always-on services (which run the live tree) and in the rails' staged config check
    (which runs the staged copy) these are the live tree's: where a config change the conscious
    layer proposed lands, reviewable and taken back by `hostmind rollback` like code. They are
    a live-tree layer wherever they come from: only model-writable keys count.
    """
    return _yaml_files(config_dir() / "hostmind.d")


def _yaml_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(entry for entry in directory.iterdir() if entry.name.endswith(".yaml"))


def operator_files(paths: Paths) -> list[Path]:
    """Return the operator's config files that exist, in load order (/etc, then /run)."""
    files: list[Path] = []
    if paths.config_file.exists():
        files.append(paths.config_file)
    for directory in (paths.dropin_dir, paths.runtime_dropin_dir):
        files.extend(_yaml_files(directory))
    return files


def live_layer_files(tree: Path) -> list[Path]:
    """Return the live-tree layers: its defaults (when not the running ones) and drop-ins.

    Each file appears once, even when the running package is the live tree itself.
    """
    running_defaults = config_dir() / "hostmind.yaml"
    candidates = [tree / "config" / "hostmind.yaml", *packaged_dropin_files(),
                  *_yaml_files(tree / "config" / "hostmind.d")]
    seen = {_identity(running_defaults)}
    files: list[Path] = []
    for candidate in candidates:
        identity = _identity(candidate)
        if identity in seen or not candidate.is_file():
            continue
        seen.add(identity)
        files.append(candidate)
    return files


def _identity(path: Path) -> str:
    try:
        return str(path.resolve())
    except OSError:
        return str(path)


def config_files(paths: Paths) -> list[Path]:
    """Return the config files that exist, in load order (live-tree layers first)."""
    defaults, _ = load_yaml_text(packaged_defaults_text(), PACKAGED_DEFAULTS_NAME)
    operator_documents, _ = _load_documents(operator_files(paths))
    tree = live_tree_of(defaults, operator_documents, paths)
    return [*live_layer_files(tree), *operator_files(paths)]


def live_tree_of(defaults: YamlDocument | None, operator_documents: list[YamlDocument],
                 paths: Paths) -> Path:
    """Return the live tree: `conscious.tree` as the trusted layers set it, else the default.

    `conscious.tree` is operator-only, so only the packaged defaults and the operator's files
    are asked (a later file wins; null means the default, {state}/live).
    """
    tree: object = None
    for document in [*([defaults] if defaults else []), *operator_documents]:
        section = document.value.get("conscious") if isinstance(document.value, dict) else None
        if isinstance(section, dict) and "tree" in section:
            tree = section["tree"]
    return Path(tree) if isinstance(tree, str) and tree else paths.live_tree


def _load_documents(files: list[Path]) -> tuple[list[YamlDocument], list[ConfigProblem]]:
    documents: list[YamlDocument] = []
    problems: list[ConfigProblem] = []
    for file in files:
        document, file_problems = load_yaml_file(file)
        problems.extend(file_problems)
        if document is None:
            continue
        if not isinstance(document.value, dict):
            kind = "a list" if isinstance(document.value, list) else type(document.value).__name__
            problems.append(ConfigProblem(str(file), 1, "", f"top level must be a mapping, not {kind}"))
            continue
        documents.append(document)
    return documents, problems


def _without_defaults(document: YamlDocument, defaults: YamlDocument) -> None:
    """Drop from `document` every leaf equal to the packaged default (in place).

    The live tree's config/hostmind.yaml is a copy of the defaults plus what the rails changed:
    only the changes are a layer, so `config show --origin` names it only for those.
    """
    if not isinstance(document.value, dict):
        return  # a leaf path needs a mapping at the top (anything else is reported elsewhere)
    default_leaves = dict(writers.leaves(defaults.value))
    for path, value in list(writers.leaves(document.value)):
        if path and path in default_leaves and default_leaves[path] == value:
            writers.prune(document.value, path)


def load_config(paths: Paths) -> LoadedConfig:
    """Load, merge and validate the config under `paths`.

    Layers, later wins: the running package's defaults -> the live tree's layers (only
    model-writable keys; operator-only ones are dropped and listed in `ignored`) -> the
    operator's /etc/hostmind files -> /run/hostmind/hostmind.d. Return a LoadedConfig. Raise
    ConfigError listing every problem, each with file, line and key path, when any file cannot
    be parsed or the merged result breaks the schema.
    """
    defaults, problems = load_yaml_text(packaged_defaults_text(), PACKAGED_DEFAULTS_NAME)
    if defaults is None:
        raise ConfigError(problems)
    operator_documents, problems = _load_documents(operator_files(paths))
    tree = live_tree_of(defaults, operator_documents, paths)
    live_files = live_layer_files(tree)
    live_documents, live_problems = _load_documents(live_files)
    problems = live_problems + problems
    ignored: list[ConfigProblem] = []
    for document in live_documents:
        if document.file == str(tree / "config" / "hostmind.yaml"):
            _without_defaults(document, defaults)
        ignored.extend(writers.restrict(
            document, above=[layer.value for layer in reversed(operator_documents)],
            below=[defaults.value]))
    merged: MergedConfig = merge_documents(defaults, live_documents + operator_documents)

    # Semantic checks only when every file parsed (a file that did not is missing from the
    # merge); on what the schema accepted, so both kinds of problem come out in one run.
    found, typed = check_and_type(merged.value, merged.origins, semantic=not problems)
    problems.extend(found)
    if problems:
        raise ConfigError(problems)
    files = [str(file) for file in live_files + operator_files(paths)]
    return LoadedConfig(value=merged.value, origins=merged.origins, files=files, ignored=ignored,
                        live_tree=tree, typed_value=typed)
