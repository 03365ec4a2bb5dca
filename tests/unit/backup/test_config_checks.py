"""The backup checks the schema cannot express, on merged YAML of any shape."""

from __future__ import annotations

from unconscious.backup.config_checks import check
from unconscious.config.yaml_source import KeyPath


def locate(path: KeyPath) -> tuple[str, int | None]:
    return "hostmind.yaml", len(path)


def messages(value: dict[str, object]) -> list[str]:
    return [f"{problem.key_path}: {problem.message}" for problem in check(value, locate)]


def test_restic_without_a_repository_gzip_above_9_and_a_bare_root_are_each_reported() -> None:
    value: dict[str, object] = {"backup": {
        "engine": "restic", "restic": {}, "compression": "gzip", "compression_level": 12,
        "sources": {"all": {"path": "/"}}}}
    assert messages(value) == [
        "backup.restic.repository: required when backup.engine is 'restic'",
        "backup.compression_level: 12 is above 9, gzip's highest level",
        "backup.sources.all.exclude: backing up / needs exclusions (at least the destination, /proc, /sys, /dev)",
    ]


def test_a_root_with_exclusions_and_a_repository_are_fine() -> None:
    value: dict[str, object] = {"backup": {
        "engine": "restic", "restic": {"repository": "/srv/repo"}, "compression": "gzip",
        "compression_level": 9, "sources": {"all": {"path": "/", "exclude": ["proc"]}}}}
    assert messages(value) == []


def test_parts_of_the_wrong_shape_are_left_to_the_schema_check_and_do_not_crash() -> None:
    value: dict[str, object] = {"backup": {
        "engine": "restic", "restic": ["not", "a", "mapping"], "compression": "gzip",
        "compression_level": "nine", "sources": {"odd": "/", "list": ["/"]}}}
    assert messages(value) == ["backup.restic.repository: required when backup.engine is 'restic'"]
    assert messages({"backup": "text"}) == []
    assert messages({}) == []
