"""Kill the rotator with SIGKILL at every step while a writer appends numbered lines.

For each crash point: a real writer process appends `line NNNNNNNNN` lines; a real rotation
subprocess is killed there (HOSTMIND_FAULT, unconscious/faults.py); every archive left looking valid must
decompress; the next run recovers (and rotates again); then the live log plus every archive,
decompressed, must hold each line the writer wrote exactly once, with no working file or
intent left behind. The scenarios run side by side (they are mostly waiting on processes).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.integration.rotate.harness import Writer, accounting, all_lines, make_tree, prefill, work_files
from unconscious.rotate.codecs import codec_for_name
from unconscious.rotate.crash import POINTS

PREFILL_LINES = 100_000  # 1.5 MB: more than one compression chunk, so "during" points fire
CREATE_POINTS = [name for name in POINTS if name.startswith(("create_", "finish_"))]
COPY_POINTS = [name for name in POINTS if name.startswith(("copy_", "finish_"))]
PENDING_POINTS = [name for name in POINTS if name.startswith("pending_")]


VARIANT_POINTS = ["create_after_rename", "create_after_verify", "finish_after_final_rename",
                  "finish_after_source_removed", "copy_after_truncate", "copy_after_tail_frame"]
# Dated gzip archives in another directory: the final name is chosen once, in the intent.
VARIANT = {"compress": "gzip", "dateext": True, "dateformat": "-%Y%m%d", "olddir": "archive"}


def _rule(mode: str, writer_pid: int, log: Path, delaycompress: bool = False,
          variant: dict[str, object] | None = None) -> dict[str, object]:
    rule: dict[str, object] = {"paths": [str(log)], "keep": 50, "mode": mode, "delaycompress": delaycompress,
                               **(variant or {})}
    if mode == "create":
        rule["reopen"] = {"command": ["kill", "-HUP", str(writer_pid)], "settle": "50ms", "timeout": "5s"}
    else:
        rule["pause_writers"] = True
    return rule


def _valid_looking_archives_decompress(log: Path, directory: Path) -> list[str]:
    broken = []
    for path in directory.iterdir():
        if path.name.startswith(log.name + ".") and ".hostmind-" not in path.name:
            try:
                with open(path, "rb") as raw:
                    for _chunk in codec_for_name(path.name).chunks(raw):
                        pass
            except Exception as error:  # any failure at all means a broken archive
                broken.append(f"{path.name}: {error}")
    return broken


def _scenario(root: Path, mode: str, point: str, delaycompress: bool = False,
              variant: dict[str, object] | None = None) -> str | None:
    """Run one crash scenario; return a description of what went wrong, or None."""
    tree = make_tree(root)
    log = tree.logs / "app.log"
    archives = tree.logs / "archive" if variant else tree.logs
    archives.mkdir(exist_ok=True)
    writer = Writer(log, prefill(log, PREFILL_LINES), pause=0.002)
    try:
        tree.configure({"app": _rule(mode, writer.pid, log, delaycompress, variant)})
        time.sleep(0.05)
        if point.startswith(("finish_", "pending_")):
            # A first rotation leaves an older archive, so the crash run has one to shift.
            first = tree.rotate("--force")
            if first.returncode != 0:
                return f"first run exited {first.returncode}: {first.stderr[-500:]}"
        crashed = tree.rotate("--force", crash_at=point)
        if crashed.returncode != -9:
            return f"crash point not reached (exit {crashed.returncode}): {crashed.stderr[-300:]}"
        broken = _valid_looking_archives_decompress(log, archives)
        if broken:
            return f"archives that look valid but are not after the crash: {broken}"
        recovered = tree.rotate("--force")
        if recovered.returncode != 0 or "recovered" not in recovered.stderr:
            return f"recovery run exited {recovered.returncode}: {recovered.stderr[-800:]}"
    finally:
        written = writer.stop()
    missing, duplicated, foreign = accounting(all_lines(log, archives), written)
    leftovers = work_files(tree.logs, archives) + [path.name for path in (tree.state / "rotate" / "intents").glob("*")]
    if missing or duplicated or foreign or leftovers:
        return (f"{len(missing)} lost (first {missing[:3]}), {len(duplicated)} duplicated "
                f"(first {duplicated[:3]}), {foreign} broken lines, left behind {leftovers}")
    return None


def _run_all(tmp_path: Path, mode: str, points: list[str], delaycompress: bool = False,
             variant: dict[str, object] | None = None) -> dict[str, str]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {point: pool.submit(_scenario, tmp_path / point, mode, point, delaycompress, variant)
                   for point in points}
    return {point: result for point, future in futures.items() if (result := future.result())}


def test_the_crash_points_cover_at_least_twenty_steps() -> None:
    assert len(set(CREATE_POINTS) | set(COPY_POINTS) | set(PENDING_POINTS)) >= 20
    assert set(POINTS) == set(CREATE_POINTS) | set(COPY_POINTS) | set(PENDING_POINTS)


def test_create_mode_killed_at_any_step_loses_and_duplicates_no_line(tmp_path: Path) -> None:
    assert {} == _run_all(tmp_path, "create", CREATE_POINTS)


def test_copytruncate_killed_at_any_step_loses_and_duplicates_no_line(tmp_path: Path) -> None:
    assert {} == _run_all(tmp_path, "copytruncate", COPY_POINTS)


def test_delayed_compression_killed_at_any_step_loses_and_duplicates_no_line(tmp_path: Path) -> None:
    assert {} == _run_all(tmp_path, "create", PENDING_POINTS, delaycompress=True)


def test_dated_gzip_archives_in_another_directory_survive_a_kill_at_key_steps(tmp_path: Path) -> None:
    create_points = [point for point in VARIANT_POINTS if not point.startswith("copy_")]
    copy_points = [point for point in VARIANT_POINTS if point.startswith("copy_")]
    assert {} == {**_run_all(tmp_path / "create", "create", create_points, variant=VARIANT),
                  **_run_all(tmp_path / "copy", "copytruncate", copy_points, variant=VARIANT)}
