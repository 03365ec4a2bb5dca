"""The type a CLI command module registers itself on (for the type checker only)."""

from __future__ import annotations

import argparse
from typing import TypeAlias

#: What `ArgumentParser.add_subparsers()` returns; typeshed makes it generic, the runtime does not.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
