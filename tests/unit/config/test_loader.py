"""The layered config: order, merge rules, origins, and every error located at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from unconscious.config import ConfigError, load_config
from unconscious.config.generate import generate_default_config
from unconscious.config.loader import packaged_dropin_files
from unconscious.context import Context

WriteDropin = Callable[[str, str], Path]


def problems_of(context: Context) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(context.paths)
    return [str(problem) for problem in caught.value.problems]


def packaged() -> list[str]:
    """The packaged drop-ins this tree ships (config/hostmind.d/*.yaml), as load_config lists them."""
    return [str(path) for path in packaged_dropin_files()]


def test_packaged_defaults_alone_are_valid(context: Context) -> None:
    config = load_config(context.paths)
    assert config.section("health")["interval"] == "30s"
    # Only the live tree's packaged drop-ins (none in a fresh checkout; a committed change
    # proposed by the conscious layer adds one): no operator file was read.
    assert config.files == packaged()


def test_dropins_apply_in_lexical_order_after_the_main_file(
    context: Context, write_dropin: WriteDropin
) -> None:
    context.paths.config_file.write_text("health:\n  interval: 10s\n")
    write_dropin("20-late.yaml", "health:\n  interval: 20s\n")
    write_dropin("10-early.yaml", "health:\n  interval: 15s\n")
    config = load_config(context.paths)
    assert config.section("health")["interval"] == "20s"
    assert config.origin(("health", "interval")) == (str(context.paths.dropin_dir / "20-late.yaml"), 2)


def test_runtime_dropins_win_over_etc(context: Context, write_dropin: WriteDropin) -> None:
    write_dropin("50-etc.yaml", "log:\n  level: debug\n")
    context.paths.runtime_dropin_dir.mkdir(parents=True)
    (context.paths.runtime_dropin_dir / "10-run.yaml").write_text("log:\n  level: error\n")
    assert load_config(context.paths).section("log")["level"] == "error"


def test_maps_merge_deeply_and_keep_sibling_defaults(context: Context, write_dropin: WriteDropin) -> None:
    write_dropin("10.yaml", "evidence:\n  max_age:\n    backup: 3d\n")
    max_age = load_config(context.paths).section("evidence")["max_age"]
    assert max_age == {"health": "5m", "rotate": "26h", "backup": "3d", "backup_verified": "26h"}


def test_null_resets_a_key_to_its_packaged_default(context: Context, write_dropin: WriteDropin) -> None:
    write_dropin("10.yaml", "health:\n  interval: 5s\n")
    write_dropin("20.yaml", "health:\n  interval: null\n")
    config = load_config(context.paths)
    assert config.section("health")["interval"] == "30s"
    assert config.origin(("health", "interval"))[0] == "<packaged>/config/hostmind.yaml"


def test_every_error_is_reported_at_once_with_file_line_and_key(
    context: Context, write_dropin: WriteDropin
) -> None:
    first = write_dropin("20-health.yaml", "health:\n  interval: 7x\n  chekcs: {}\n")
    second = write_dropin("30-log.yaml", "log:\n  level: loud\n")
    assert sorted(problems_of(context)) == sorted(
        [
            f"{first}:2: health.interval: '7x' is not valid: expected seconds as a number, or text like 30s, 5m, 1h, 7d",
            f"{first}:3: health.chekcs: unknown key (did you mean 'checks'?)",
            f"{second}:2: log.level: 'loud' is not one of 'debug', 'info', 'warning', 'error'",
        ]
    )


def test_wrong_type_names_the_expected_type(context: Context, write_dropin: WriteDropin) -> None:
    path = write_dropin("10.yaml", "events:\n  keep_processed: many\n")
    assert problems_of(context) == [f"{path}:2: events.keep_processed: 'many' is not an integer"]


def test_unknown_top_level_section_suggests_the_nearest(context: Context, write_dropin: WriteDropin) -> None:
    path = write_dropin("10.yaml", "heath:\n  interval: 5\n")
    assert problems_of(context) == [f"{path}:1: heath: unknown key (did you mean 'health'?)"]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "tabs.yaml",
            b"health:\n\tinterval: 5\n",
            ":2: invalid YAML: found a tab character: YAML does not allow tabs for indentation",
        ),
        ("dup.yaml", b"log:\n  level: info\n  level: debug\n", ":3: log.level: duplicate key"),
        ("binary.yaml", b"log:\n  level: \xff\n", ":2: is not valid UTF-8"),
        ("list.yaml", b"- log\n- health\n", ":1: top level must be a mapping, not a list"),
        (
            "python.yaml",
            b"log: !!python/object/apply:os.system ['true']\n",
            ":1: log: tag tag:yaml.org,2002:python/object/apply:os.system is not allowed",
        ),
        (
            "bomb.yaml",
            b"a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n",
            ": expands to more than 100000 nodes (alias bomb?)",
        ),
    ],
)
def test_bad_yaml_is_a_located_problem_not_a_traceback(
    context: Context, name: str, content: bytes, expected: str
) -> None:
    path = context.paths.dropin_dir / name
    path.write_bytes(content)
    assert problems_of(context) == [f"{path}{expected}"]


def test_a_directory_named_yaml_is_reported(context: Context) -> None:
    (context.paths.dropin_dir / "odd.yaml").mkdir()
    assert problems_of(context) == [
        f"{context.paths.dropin_dir / 'odd.yaml'}: is a directory, not a YAML file"
    ]


def test_an_unreadable_file_is_reported(context: Context, write_dropin: WriteDropin, tmp_path: Path) -> None:
    path = write_dropin("10.yaml", "log:\n  level: info\n")
    path.unlink()
    path.symlink_to(tmp_path / "missing-target")
    assert problems_of(context) == [f"{path}: cannot be read: No such file or directory"]


def test_files_not_ending_in_yaml_are_ignored(context: Context, write_dropin: WriteDropin) -> None:
    write_dropin("10.yaml.disabled", "not: [valid\n")
    write_dropin("README", "anything")
    assert load_config(context.paths).files == packaged()


def test_an_empty_dropin_is_an_empty_mapping(context: Context, write_dropin: WriteDropin) -> None:
    write_dropin("10.yaml", "")
    assert load_config(context.paths).section("log") == {"level": "info"}


def test_the_packaged_defaults_file_is_what_the_schema_generates() -> None:
    packaged = Path(__file__).resolve().parents[3] / "config" / "hostmind.yaml"
    assert packaged.read_text(encoding="utf-8") == generate_default_config(), (
        "config/hostmind.yaml is out of date: run `hostmind config generate > config/hostmind.yaml`"
    )


def test_every_schema_key_has_a_description() -> None:
    from unconscious.config.schema import load_schema

    missing: list[str] = []

    def walk(node: object, path: str) -> None:
        if not isinstance(node, dict):
            return
        for name, child in node.get("properties", {}).items():
            if isinstance(child, dict) and "description" not in child:
                missing.append(f"{path}{name}")
            walk(child, f"{path}{name}.")

    walk(load_schema(), "")
    assert missing == []
