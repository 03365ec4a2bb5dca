"""The validated-config cache: reused only while nothing changed, never for a refused config.

Hostile cases first: a changed drop-in, a changed schema or code, a hand-edited entry, an entry
or directory another user owns or others may write; each must fall back to the full load,
which refuses what validation refuses.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from unconscious import package_data
from unconscious.config import ConfigError
from unconscious.config import cache as config_cache
from unconscious.config.loader import load_config as full_load
from unconscious.config.schema import load_schema
from unconscious.context import Context

ROOT = Path(__file__).resolve().parents[3]
WriteDropin = Callable[[str, str], Path]


@pytest.fixture
def cache_file(context: Context) -> Path:
    directory = context.paths.state_dir / "rotate"
    directory.mkdir(mode=0o755)
    return directory / "config-cache.json"


@pytest.fixture
def staged_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the packaged config directory this process reads instead (schema and defaults)."""
    staged = tmp_path / "packaged-config"
    shutil.copytree(ROOT / "config", staged)
    monkeypatch.setattr(package_data, "_chosen", {})
    package_data.use_config_dir(staged)
    load_schema.cache_clear()
    yield staged
    load_schema.cache_clear()


def test_a_current_entry_gives_the_same_config_as_the_full_load(
        context: Context, write_dropin: WriteDropin, cache_file: Path) -> None:
    write_dropin("20-rotate.yaml", "rotate:\n  rules:\n    app:\n      paths: [/var/log/app/*.log]\n")
    first = config_cache.load_config(context.paths, cache_file)
    assert cache_file.is_file()
    assert 0o600 == cache_file.stat().st_mode & 0o777
    hit = config_cache.lookup(context.paths, cache_file)
    assert hit is not None
    full = full_load(context.paths)
    for loaded in (first, hit):
        assert (full.value, full.typed_value, full.origins, full.files, full.ignored, full.live_tree) == (
            loaded.value, loaded.typed_value, loaded.origins, loaded.files, loaded.ignored, loaded.live_tree)
    assert hit.origin(("rotate", "rules", "app", "paths")) == (str(context.paths.dropin_dir / "20-rotate.yaml"), 4)


def test_a_changed_dropin_is_validated_again_and_refused(
        context: Context, write_dropin: WriteDropin, cache_file: Path) -> None:
    dropin = write_dropin("20-log.yaml", "log:\n  level: warning\n")
    config_cache.load_config(context.paths, cache_file)
    assert config_cache.lookup(context.paths, cache_file) is not None
    dropin.write_text("log:\n  level: loud\n")
    assert config_cache.lookup(context.paths, cache_file) is None
    with pytest.raises(ConfigError, match=r"20-log\.yaml:2: log\.level"):
        config_cache.load_config(context.paths, cache_file)


def test_an_added_or_removed_dropin_is_a_miss(context: Context, write_dropin: WriteDropin,
                                              cache_file: Path) -> None:
    config_cache.load_config(context.paths, cache_file)
    added = write_dropin("30-empty.yaml", "")
    assert config_cache.lookup(context.paths, cache_file) is None
    config_cache.load_config(context.paths, cache_file)
    assert config_cache.lookup(context.paths, cache_file) is not None
    added.rename(added.with_name("31-empty.yaml"))
    assert config_cache.lookup(context.paths, cache_file) is None
    config_cache.load_config(context.paths, cache_file)
    (context.paths.dropin_dir / "31-empty.yaml").unlink()
    assert config_cache.lookup(context.paths, cache_file) is None


def test_a_refused_config_is_never_cached(context: Context, write_dropin: WriteDropin,
                                          cache_file: Path) -> None:
    write_dropin("20-log.yaml", "log:\n  level: loud\n")
    with pytest.raises(ConfigError):
        config_cache.load_config(context.paths, cache_file)
    assert not cache_file.exists()


def test_a_changed_schema_is_a_miss_and_the_full_load_applies_it(
        context: Context, write_dropin: WriteDropin, cache_file: Path, staged_config: Path) -> None:
    write_dropin("20-log.yaml", "log:\n  level: warning\n")
    config_cache.load_config(context.paths, cache_file)
    assert config_cache.lookup(context.paths, cache_file) is not None
    fragment = staged_config / "schema" / "log.yaml"
    narrowed = fragment.read_text().replace("enum: [debug, info, warning, error]", "enum: [debug, info, error]")
    assert narrowed != fragment.read_text()
    fragment.write_text(narrowed)
    assert config_cache.lookup(context.paths, cache_file) is None
    load_schema.cache_clear()  # a new process reads the schema afresh
    with pytest.raises(ConfigError, match=r"log\.level"):
        config_cache.load_config(context.paths, cache_file)


def test_changed_validation_code_is_a_miss(context: Context, cache_file: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # The rails may change the live tree's code (a semantic check) without a version change.
    code = tmp_path / "package"
    (code / "config").mkdir(parents=True)
    check = code / "config" / "checks.py"
    check.write_text("def check(value, locate):\n    return []\n")
    monkeypatch.setattr(config_cache, "package_dir", lambda: code)
    config_cache.load_config(context.paths, cache_file)
    assert config_cache.lookup(context.paths, cache_file) is not None
    check.write_text("def check(value, locate):\n    return ['refused']\n")
    assert config_cache.lookup(context.paths, cache_file) is None


def _edit_entry(cache_file: Path, edit: Callable[[dict[str, object], bytes], tuple[dict[str, object], bytes]]) -> None:
    header_line, _, body = cache_file.read_bytes().partition(b"\n")
    header, body = edit(json.loads(header_line), body)
    cache_file.write_bytes(json.dumps(header).encode() + b"\n" + body)


def test_a_hand_edited_entry_is_a_miss(context: Context, write_dropin: WriteDropin,
                                       cache_file: Path) -> None:
    write_dropin("20-log.yaml", "log:\n  level: warning\n")
    config_cache.load_config(context.paths, cache_file)
    # The value edited to one the schema refuses, without the body's digest: refused.
    _edit_entry(cache_file, lambda header, body: (header, body.replace(b'"level":"warning"', b'"level":"loud"')))
    assert b'"level":"loud"' in cache_file.read_bytes()
    assert config_cache.lookup(context.paths, cache_file) is None
    # A key that does not match the files: refused.
    config_cache.load_config(context.paths, cache_file)
    _edit_entry(cache_file, lambda header, body: ({**header, "key": "0" * 64}, body))
    assert config_cache.lookup(context.paths, cache_file) is None
    # Another format, a truncated entry, garbage: refused.
    config_cache.load_config(context.paths, cache_file)
    _edit_entry(cache_file, lambda header, body: ({**header, "format": 0}, body))
    assert config_cache.lookup(context.paths, cache_file) is None
    for damaged in (cache_file.read_bytes()[:100], b"\x00" * 40, b"[]\n{}"):
        cache_file.write_bytes(damaged)
        assert config_cache.lookup(context.paths, cache_file) is None
    assert "warning" == config_cache.load_config(context.paths, cache_file).section("log")["level"]


def test_an_entry_with_a_malformed_body_under_a_matching_digest_is_a_miss(
        context: Context, cache_file: Path) -> None:
    import hashlib

    config_cache.load_config(context.paths, cache_file)

    def swap_origins(header: dict[str, object], body: bytes) -> tuple[dict[str, object], bytes]:
        data = json.loads(body)
        data["origins"] = [[["log"], "x", "not a line"]]
        new_body = json.dumps(data).encode()
        return {**header, "body": hashlib.sha256(new_body).hexdigest()}, new_body

    _edit_entry(cache_file, swap_origins)
    assert config_cache.lookup(context.paths, cache_file) is None


@pytest.mark.host  # root on the host: in the ratchet's sandbox (nobody) it would skip, and a skip blocks the first baseline
@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_an_entry_another_user_owns_is_a_miss(context: Context, cache_file: Path) -> None:
    config_cache.load_config(context.paths, cache_file)
    os.chown(cache_file, 65534, -1)
    assert config_cache.lookup(context.paths, cache_file) is None
    os.chown(cache_file, os.geteuid(), -1)
    assert config_cache.lookup(context.paths, cache_file) is not None
    os.chown(cache_file.parent, 65534, -1)
    assert config_cache.lookup(context.paths, cache_file) is None


@pytest.mark.parametrize("target", ["file", "directory"])
@pytest.mark.parametrize("bits", [0o020, 0o002])
def test_an_entry_others_may_write_is_a_miss(context: Context, cache_file: Path, target: str,
                                              bits: int) -> None:
    config_cache.load_config(context.paths, cache_file)
    path = cache_file if target == "file" else cache_file.parent
    path.chmod(path.stat().st_mode & 0o777 | bits)
    assert config_cache.lookup(context.paths, cache_file) is None


def test_a_symlinked_entry_is_a_miss(context: Context, cache_file: Path, tmp_path: Path) -> None:
    config_cache.load_config(context.paths, cache_file)
    real = tmp_path / "elsewhere.json"
    cache_file.rename(real)
    cache_file.symlink_to(real)
    assert config_cache.lookup(context.paths, cache_file) is None


def test_no_entry_is_written_without_its_directory(context: Context) -> None:
    missing = context.paths.state_dir / "absent" / "config-cache.json"
    assert "info" == config_cache.load_config(context.paths, missing).section("log")["level"]
    assert not missing.parent.exists()


def test_a_value_json_cannot_carry_is_not_cached(context: Context, write_dropin: WriteDropin,
                                                 cache_file: Path) -> None:
    loaded = full_load(context.paths)
    loaded.value["extra"] = {1: "an integer key comes back as text"}
    assert config_cache.encode_body(loaded) is None


def test_a_hit_loads_neither_yaml_nor_jsonschema(context: Context, cache_file: Path) -> None:
    # What makes a hit cheap: a fresh interpreter taking the cached config imports no parser
    # and no validator (the full load imports both).
    import subprocess
    import sys

    code = ("import sys, json; from pathlib import Path; from unconscious import semantic_checks; "
            "from unconscious.context import Context; from unconscious.paths import Paths; "
            "semantic_checks.install(); "
            "Context(Paths.from_environment()).load_config(cache=Path(sys.argv[1])); "
            "print(json.dumps(sorted(sys.modules)))")

    def modules() -> set[str]:
        result = subprocess.run([sys.executable, "-c", code, str(cache_file)], capture_output=True,
                                text=True, timeout=60, check=True, cwd=ROOT)
        return set(json.loads(result.stdout))

    assert {"yaml", "jsonschema"} <= modules()  # a miss: the full load, which stores the entry
    assert cache_file.is_file()
    assert set() == {"yaml", "jsonschema"} & modules()


def test_an_unreadable_package_file_means_no_cache_not_a_failure(
        context: Context, cache_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = tmp_path / "package"
    code.mkdir()
    (code / "dangling.py").symlink_to(tmp_path / "missing.py")  # open() fails: ENOENT
    monkeypatch.setattr(config_cache, "package_dir", lambda: code)
    assert "info" == config_cache.load_config(context.paths, cache_file).section("log")["level"]
    assert not cache_file.exists()
    assert config_cache.lookup(context.paths, cache_file) is None
