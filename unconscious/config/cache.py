"""The validated-config cache: a config that passed every check, reused while nothing changed.

Loading the config parses YAML, validates the merged result against the schema (jsonschema) and
runs every feature's semantic checks: ~0.2 CPU-s of a rotation run that itself may take less.
A service that opts in (`load_config(paths, cache_file)`) keeps the outcome of a successful
load in `cache_file` (JSON, never pickle): the merged value, its typed view, the origin of
every key, the files read and the live-tree keys that were ignored. The next load takes it
only when the entry's key equals the key of what is there now, the SHA-256 of:

- every config file the loader would read, in load order, by name and bytes (the packaged
  defaults, the live tree's layers, the operator's /etc and /run files; an added, removed,
  renamed or edited drop-in changes it);
- the code that validates: every .py file of the running `unconscious` package (the rails may
  change it in the live tree without a version change), the schema files, the Python version
  and the installed jsonschema and PyYAML (their file's size and mtime);
- the paths (config, runtime, state, packaged config directory) and the live tree.

and the entry's body still has the SHA-256 its header names (a hand edit of the value is a
miss). Anything else (no entry, another format, unreadable, malformed, a file that cannot be
read now) is a miss: the full load runs, with every check, and a config it refuses raises
ConfigError as always and is never cached. The entry is trusted only when this process's user
owns it and it is not group- or world-writable, nor is its directory: anyone else who could
write it could make a config pass that validation would refuse. What it does not defend
against: this same user (root for the rotation) writing a forged entry with a matching key;
such a writer could equally change the config or the code.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from pathlib import Path

import unconscious
from unconscious.config.errors import ConfigProblem
from unconscious.config.keypath import KeyPath
from unconscious.config.layers import live_layer_files, operator_files, packaged_defaults_file
from unconscious.config.loaded import PACKAGED_DEFAULTS_NAME, LoadedConfig
from unconscious.package_data import config_dir
from unconscious.paths import Paths

FORMAT = 1
#: Largest cache entry read (a config is a few hundred KiB at most).
MAX_ENTRY_BYTES = 8 << 20
#: Largest config file hashed (the loader refuses larger ones: yaml_source.MAX_FILE_BYTES).
MAX_FILE_BYTES = (1 << 20) + 1
#: Files whose size and mtime stand for an installed dependency that takes part in validation.
_DEPENDENCIES = ("jsonschema", "yaml")


def load_config(paths: Paths, cache_file: Path) -> LoadedConfig:
    """Return the config under `paths`: the cached entry when it is current, else a full load.

    A full load that succeeds is stored in `cache_file` for the next run (when its directory
    exists and is writable; a failure to store is not an error). Raise ConfigError exactly
    as `loader.load_config` does: a refused config is never taken from or put in the cache.
    """
    hit = lookup(paths, cache_file)
    if hit is not None:
        return hit
    from unconscious.config import loader

    before = _static_or_none()
    reads: list[tuple[str, bytes]] = []
    loaded = loader.load_config(paths, reads)
    # A schema or code swapped while loading: this result may be of either; do not keep it.
    if before is not None and _static_or_none() == before:
        store(paths, cache_file, loaded, reads, before)
    return loaded


def _static_or_none() -> str | None:
    """static_digest, or None when a file of the package or schema cannot be read (no caching)."""
    try:
        return static_digest()
    except OSError:
        return None


def static_digest() -> str:
    """Return the SHA-256 of what validates: the package's .py files, the schema, Python, deps."""
    digest = hashlib.sha256(f"{FORMAT}\0{sys.version}\0".encode())
    for directory, subdirectories, files in os.walk(package_dir()):
        subdirectories[:] = sorted(name for name in subdirectories if name != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                _add_file(digest, Path(directory) / name)
    schema_dir = config_dir() / "schema"
    for entry in sorted(schema_dir.iterdir()) if schema_dir.is_dir() else []:
        _add_file(digest, entry)
    for module in _DEPENDENCIES:
        digest.update(_dependency_stamp(module).encode())
    return digest.hexdigest()


def package_dir() -> Path:
    """Return the directory of the running `unconscious` package (whose code validates)."""
    return Path(unconscious.__file__).resolve().parent


def _add_file(digest: hashlib._Hash, path: Path) -> None:
    with open(path, "rb") as handle:
        content = handle.read()
    digest.update(f"{path}\0{len(content)}\0".encode())
    digest.update(content)


def _dependency_stamp(module: str) -> str:
    """Return "name path size mtime" of `module`'s file, found without importing it."""
    from importlib.util import find_spec

    spec = find_spec(module)
    origin = spec.origin if spec is not None else None
    if origin is None:
        return f"{module} missing\0"
    found = os.stat(origin)
    return f"{module} {origin} {found.st_size} {found.st_mtime_ns}\0"


def input_key(paths: Paths, static: str, reads: list[tuple[str, bytes]], tree: Path | None) -> str:
    """Return the key of a load: `static` (static_digest), the paths, the live tree and every
    file read (name and SHA-256 of its bytes, in order)."""
    parts = [FORMAT, static, str(config_dir()), str(paths.config_dir), str(paths.runtime_dir),
             str(paths.state_dir), str(tree),
             [[name, hashlib.sha256(raw).hexdigest()] for name, raw in reads]]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def current_reads(paths: Paths, tree: Path) -> list[tuple[str, bytes]] | None:
    """Return (name, bytes) of every file the loader would read now with live tree `tree`, in
    its order; None when one cannot be read (the full load then says why)."""
    reads = []
    try:
        reads.append((PACKAGED_DEFAULTS_NAME, packaged_defaults_file().read_bytes()))
        for file in [*operator_files(paths), *live_layer_files(tree)]:
            with open(file, "rb") as handle:
                reads.append((str(file), handle.read(MAX_FILE_BYTES)))
    except OSError:
        return None
    return reads


def lookup(paths: Paths, cache_file: Path) -> LoadedConfig | None:
    """Return the cached config when the entry is trusted and current, else None."""
    data = read_trusted(cache_file)
    if data is None:
        return None
    header_line, _, body = data.partition(b"\n")
    try:
        header = json.loads(header_line)
    except ValueError:
        return None
    if not (isinstance(header, dict) and header.get("format") == FORMAT
            and isinstance(header.get("live_tree"), str) and isinstance(header.get("key"), str)
            and header.get("body") == hashlib.sha256(body).hexdigest()):
        return None
    tree = Path(header["live_tree"])
    reads = current_reads(paths, tree)
    static = _static_or_none()
    if reads is None or static is None or header["key"] != input_key(paths, static, reads, tree):
        return None
    return decode_body(body, tree)


def read_trusted(cache_file: Path) -> bytes | None:
    """Return the bytes of `cache_file` if this user owns it and its directory, and neither is
    writable by group or others; else (or when missing, a link, not a regular file) None."""
    try:
        fd = os.open(cache_file, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        found = os.fstat(fd)
        directory = os.stat(cache_file.parent)
        if not (stat.S_ISREG(found.st_mode) and _owned_and_closed(found)
                and stat.S_ISDIR(directory.st_mode) and _owned_and_closed(directory)
                and found.st_size <= MAX_ENTRY_BYTES):
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            if sum(len(part) for part in chunks) > MAX_ENTRY_BYTES:
                return None
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _owned_and_closed(found: os.stat_result) -> bool:
    return found.st_uid == os.geteuid() and not found.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def encode_body(loaded: LoadedConfig) -> bytes | None:
    """Return the JSON body of an entry for `loaded`, or None if JSON cannot carry it unchanged."""
    payload = {
        "value": loaded.value,
        "typed": loaded.typed_value,
        "origins": [[list(path), file, line] for path, (file, line) in loaded.origins.items()],
        "files": loaded.files,
        "ignored": [[problem.file, problem.line, problem.key_path, problem.message]
                    for problem in loaded.ignored],
    }
    try:
        body = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError):
        return None  # a value JSON cannot hold (a date, NaN): such a config is not cached
    # Integer keys would come back as text: only a value that survives the trip unchanged.
    return body if json.loads(body) == payload else None


def store(paths: Paths, cache_file: Path, loaded: LoadedConfig, reads: list[tuple[str, bytes]],
          static: str) -> bool:
    """Write the entry of a successful load to `cache_file` (atomic, mode 0600). Return True
    when written; False (nothing written) when the typed view is missing, JSON cannot carry the
    config, or the directory is missing or unwritable."""
    body = encode_body(loaded) if loaded.typed_value is not None else None
    if body is None or not cache_file.parent.is_dir():
        return False
    header = {"format": FORMAT, "key": input_key(paths, static, reads, loaded.live_tree),
              "body": hashlib.sha256(body).hexdigest(), "live_tree": str(loaded.live_tree)}
    from unconscious.atomic import atomic_write

    try:
        atomic_write(cache_file, json.dumps(header).encode() + b"\n" + body, mode=0o600)
    except OSError:
        return False
    return True


def decode_body(body: bytes, tree: Path) -> LoadedConfig | None:
    """Return the LoadedConfig an entry's body holds, or None if any part is malformed."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or set(data) != {"value", "typed", "origins", "files", "ignored"}:
        return None
    value, typed, files = data["value"], data["typed"], data["files"]
    origins = _origins(data["origins"])
    ignored = _problems(data["ignored"])
    if not (isinstance(value, dict) and isinstance(typed, dict) and isinstance(files, list)
            and all(isinstance(file, str) for file in files)) or origins is None or ignored is None:
        return None
    return LoadedConfig(value=value, origins=origins, files=files, ignored=ignored, live_tree=tree,
                        typed_value=typed)


def _origins(items: object) -> dict[KeyPath, tuple[str, int | None]] | None:
    if not isinstance(items, list):
        return None
    origins: dict[KeyPath, tuple[str, int | None]] = {}
    for item in items:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], list)
                and all(isinstance(part, (str, int)) and not isinstance(part, bool) for part in item[0])
                and isinstance(item[1], str) and _line(item[2])):
            return None
        origins[tuple(item[0])] = (item[1], item[2])
    return origins


def _problems(items: object) -> list[ConfigProblem] | None:
    if not isinstance(items, list):
        return None
    problems = []
    for item in items:
        if not (isinstance(item, list) and len(item) == 4 and isinstance(item[0], str) and _line(item[1])
                and isinstance(item[2], str) and isinstance(item[3], str)):
            return None
        problems.append(ConfigProblem(item[0], item[1], item[2], item[3]))
    return problems


def _line(value: object) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))
