"""compression_threads -> zstd's worker count: 1 compresses in one thread, 0 one worker per
CPU up to MAX_AUTO_WORKERS, N >= 2 that many workers."""

from __future__ import annotations

import pytest

from unconscious.backup.tar_write import MAX_AUTO_WORKERS, zstd_workers


@pytest.mark.parametrize(("threads", "cpus", "workers"), [
    (1, 2, 0), (1, 16, 0),
    (0, 1, 1), (0, 2, 2), (0, 4, MAX_AUTO_WORKERS), (0, 64, MAX_AUTO_WORKERS),
    (2, 2, 2), (6, 2, 6),
])
def test_the_setting_maps_to_zstds_workers(threads: int, cpus: int, workers: int) -> None:
    assert workers == zstd_workers(threads, cpus)
