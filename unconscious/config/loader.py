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

from pathlib import Path

from unconscious.config import writers
from unconscious.config.errors import ConfigError, ConfigProblem
from unconscious.config.layers import live_layer_files as live_layer_files
from unconscious.config.layers import operator_files as operator_files
from unconscious.config.layers import packaged_defaults_file
from unconscious.config.layers import packaged_dropin_files as packaged_dropin_files
from unconscious.config.loaded import LoadedConfig as LoadedConfig
from unconscious.config.merge import MergedConfig, merge_documents
from unconscious.config.validation import PACKAGED_DEFAULTS_NAME as PACKAGED_DEFAULTS_NAME
from unconscious.config.validation import check_and_type
from unconscious.config.yaml_source import YamlDocument, load_yaml_bytes, load_yaml_text, read_yaml_bytes
from unconscious.paths import Paths

#: What a load read, in order: (file name, its bytes). The validated-config cache (cache.py)
#: keys its entry on exactly these bytes, so a file changed during the load is never cached
#: under its new content.
Reads = list[tuple[str, bytes]]


def packaged_defaults_text() -> str:
    """Return the text of the packaged config/hostmind.yaml."""
    return packaged_defaults_file().read_text(encoding="utf-8")


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


def _load_documents(files: list[Path], reads: Reads | None = None
                    ) -> tuple[list[YamlDocument], list[ConfigProblem]]:
    documents: list[YamlDocument] = []
    problems: list[ConfigProblem] = []
    for file in files:
        raw, file_problems = read_yaml_bytes(file)
        document = None
        if raw is not None:
            if reads is not None:
                reads.append((str(file), raw))
            document, file_problems = load_yaml_bytes(raw, str(file))
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


def load_config(paths: Paths, reads: Reads | None = None) -> LoadedConfig:
    """Load, merge and validate the config under `paths`.

    Layers, later wins: the running package's defaults -> the live tree's layers (only
    model-writable keys; operator-only ones are dropped and listed in `ignored`) -> the
    operator's /etc/hostmind files -> /run/hostmind/hostmind.d. Return a LoadedConfig. Raise
    ConfigError listing every problem, each with file, line and key path, when any file cannot
    be parsed or the merged result breaks the schema. `reads`, when given, receives each file's
    name and the bytes parsed (the packaged defaults first, under PACKAGED_DEFAULTS_NAME).
    """
    raw_defaults = packaged_defaults_file().read_bytes()
    if reads is not None:
        reads.append((PACKAGED_DEFAULTS_NAME, raw_defaults))
    # The packaged defaults are the trusted base's own file: text it must be (as before).
    defaults, problems = load_yaml_text(raw_defaults.decode("utf-8"), PACKAGED_DEFAULTS_NAME)
    if defaults is None:
        raise ConfigError(problems)
    operator_documents, problems = _load_documents(operator_files(paths), reads)
    tree = live_tree_of(defaults, operator_documents, paths)
    live_files = live_layer_files(tree)
    live_documents, live_problems = _load_documents(live_files, reads)
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
