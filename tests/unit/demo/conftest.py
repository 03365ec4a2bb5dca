"""The demo lives in the source checkout (demo/), not in the wheel: where hostmind runs from a
wheel install (the live tree the rails' ratchet tests), there is no demo to test."""

import importlib.util

if importlib.util.find_spec("demo") is None:
    collect_ignore_glob = ["test_*.py"]
