"""Archive names, the shift plan, what expires, and what delaycompress left plain."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.unit.rotate.typed_rule import build_rule
from unconscious.rotate.naming import (
    expired,
    final_archive,
    list_archives,
    shift_plan,
    staging_path,
    uncompressed_older,
)

NOON = 1795262400.0  # a fixed instant, so dated names are predictable


def _touch(path: Path, age_days: float = 0.0) -> Path:
    path.write_bytes(b"x")
    stamp = NOON - age_days * 86400
    os.utime(path, (stamp, stamp))
    return path


def test_only_the_rules_own_numbered_archives_are_listed_in_order(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    for name in ("app.log.2.zst", "app.log.10.zst", "app.log.1", "app.log.3.gz", "app.log.x", "other.log.1",
                 ".app.log.1.zst.hostmind-tmp"):
        _touch(tmp_path / name)
    _touch(staging_path(log))
    rule = build_rule("app", {"paths": [str(log)]})
    assert ["app.log.2.zst", "app.log.10.zst"] == [a.path.name for a in list_archives(rule, log)]


def test_delaycompress_owns_the_plain_archives_too(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    for name in ("app.log.1", "app.log.2.gz", "app.log.3.zst"):
        _touch(tmp_path / name)
    rule = build_rule("app", {"paths": [str(log)], "delaycompress": True})
    assert ["app.log.1", "app.log.3.zst"] == [a.path.name for a in list_archives(rule, log)]


def test_the_shift_plan_moves_each_own_archive_up_by_one_highest_first_keeping_its_extension(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    for name in ("app.log.1", "app.log.2.zst", "app.log.4.zst", "app.log.3.gz"):
        _touch(tmp_path / name)
    rule = build_rule("app", {"paths": [str(log)], "delaycompress": True})
    assert [["app.log.4.zst", "app.log.5.zst"], ["app.log.2.zst", "app.log.3.zst"], ["app.log.1", "app.log.2"]] == [
        [Path(old).name, Path(new).name] for old, new in shift_plan(rule, log)]


def test_dated_archives_sort_by_the_date_in_the_name_then_the_counter(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    for age, name in enumerate(("app.log-01-02-2026.zst", "app.log-01-02-2026.1.zst", "app.log-31-12-2025.zst",
                                "app.log-02-01-2026.zst")):
        _touch(tmp_path / name, age_days=-age)  # mtimes in the opposite order
    rule = build_rule("app", {"paths": [str(log)], "dateext": True, "dateformat": "-%d-%m-%Y"})
    assert ["app.log-01-02-2026.1.zst", "app.log-01-02-2026.zst", "app.log-02-01-2026.zst",
            "app.log-31-12-2025.zst"] == [a.path.name for a in list_archives(rule, log)]


def test_dated_names_follow_the_format_and_never_overwrite(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    rule = build_rule("app", {"paths": [str(log)], "dateext": True, "dateformat": "-%Y%m%d"})
    first = final_archive(rule, log, ".zst", NOON)
    _touch(first)
    second = final_archive(rule, log, ".zst", NOON)
    day = first.name[len("app.log-"):][:8]
    assert (f"app.log-{day}.zst", f"app.log-{day}.1.zst") == (first.name, second.name)
    assert [] == shift_plan(rule, log)


def test_a_dangling_link_at_the_dated_name_counts_as_taken(tmp_path: Path) -> None:
    # A planted link to nothing: exists() says free, the final rename's lexists() says taken,
    # so choosing it made every later run fail (security review, Nov 30).
    log = tmp_path / "app.log"
    rule = build_rule("app", {"paths": [str(log)], "dateext": True, "dateformat": "-%Y%m%d"})
    planted = final_archive(rule, log, ".zst", NOON)
    planted.symlink_to(tmp_path / "nonexistent")
    assert planted.with_name(planted.name.replace(".zst", ".1.zst")) == final_archive(rule, log, ".zst", NOON)


def test_archives_past_keep_expire_oldest_first(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    for number in range(1, 6):
        _touch(tmp_path / f"app.log.{number}.zst", age_days=number)
    rule = build_rule("app", {"paths": [str(log)], "keep": 3})
    assert ["app.log.4.zst", "app.log.5.zst"] == [path.name for path in expired(rule, log, NOON)]


def test_maxage_expires_old_archives_even_within_keep(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    rule = build_rule("app", {"paths": [str(log)], "dateext": True, "keep": 10, "maxage": "7d"})
    _touch(tmp_path / "app.log-20261101.zst", age_days=20)
    _touch(tmp_path / "app.log-20261119.zst", age_days=2)
    assert ["app.log-20261101.zst"] == [path.name for path in expired(rule, log, NOON)]


def test_only_plain_archives_older_than_the_newest_wait_for_compression(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    for name in ("app.log.1", "app.log.2", "app.log.3.zst"):
        _touch(tmp_path / name)
    rule = build_rule("app", {"paths": [str(log)], "delaycompress": True})
    assert ["app.log.2"] == [path.name for path in uncompressed_older(rule, log)]


def test_dateyesterday_names_the_archive_after_the_day_before(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    rule = build_rule("app", {"paths": [str(log)], "dateext": True, "dateyesterday": True})
    yesterday = time.strftime("%Y%m%d", time.localtime(NOON - 86400))
    assert f"app.log-{yesterday}.zst" == final_archive(rule, log, ".zst", NOON).name


def test_start_numbers_the_newest_archive(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    assert "app.log.0.gz" == final_archive(build_rule("app", {"paths": [str(log)], "start": 0}), log, ".gz").name


def test_extension_goes_after_the_number_and_before_the_compression_extension(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    for name in ("app.1.log.zst", "app.2.log.zst", "app.log.3.zst", "app.1.txt.zst", "app.x.log.zst"):
        _touch(tmp_path / name)
    rule = build_rule("app", {"paths": [str(log)], "extension": ".log"})
    assert ["app.1.log.zst", "app.2.log.zst"] == [a.path.name for a in list_archives(rule, log)]
    assert [["app.2.log.zst", "app.3.log.zst"], ["app.1.log.zst", "app.2.log.zst"]] == [
        [Path(old).name, Path(new).name] for old, new in shift_plan(rule, log)]
    assert "app.1.log.zst" == final_archive(rule, log, ".zst").name


def test_extension_goes_after_the_date_and_a_collision_counter(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    rule = build_rule("app", {"paths": [str(log)], "extension": ".log", "dateext": True})
    first = final_archive(rule, log, ".zst", NOON)
    assert time.strftime("app-%Y%m%d.log.zst", time.localtime(NOON)) == first.name
    _touch(first)
    second = final_archive(rule, log, ".zst", NOON)
    assert time.strftime("app-%Y%m%d.1.log.zst", time.localtime(NOON)) == second.name
    _touch(second)
    assert [second.name, first.name] == [a.path.name for a in list_archives(rule, log)]


def test_a_log_not_ending_with_the_extension_is_named_as_usual(tmp_path: Path) -> None:
    log = tmp_path / "app.txt"
    rule = build_rule("app", {"paths": [str(log)], "extension": ".log"})
    assert "app.txt.1.zst" == final_archive(rule, log, ".zst").name
    bare = tmp_path / ".log"  # nothing but the extension: an empty base would claim every file
    assert ".log.1.zst" == final_archive(rule, bare, ".zst").name
