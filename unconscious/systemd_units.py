"""hostmind's packaged systemd unit templates, and rendering them for one installation.

The files in the `units` package hold placeholders: `@PYTHON@` (the interpreter of the trusted
base, the one the `hostmind` command runs: every ExecStart= starts it, with `-I` for trusted
code and `-P` plus PYTHONPATH for the live tree), `@HOSTMIND@` (the `hostmind` executable) and
`@LIVE_TREE@` (the live tree: the copy of hostmind that apply and rollback may rewrite and the
always-on services run).
"""

from __future__ import annotations

import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from unconscious.package_data import units_dir

UNIT_SUFFIXES = (".service", ".timer", ".path", ".target", ".socket")
PLACEHOLDER = re.compile(r"@[A-Z_]+@")
#: The unit `install --now` enables; it Wants= every other long-lived unit.
TARGET = "hostmind.target"


class UnitTemplateError(ValueError):
    """A unit template could not be rendered (unknown or unfilled placeholder)."""


@dataclass(frozen=True)
class RenderValues:
    """What the placeholders become on this machine."""

    hostmind: Path
    live_tree: Path
    python: Path = field(default_factory=lambda: Path(sys.executable))

    def mapping(self) -> dict[str, str]:
        return {"@HOSTMIND@": str(self.hostmind), "@LIVE_TREE@": str(self.live_tree),
                "@PYTHON@": str(self.python)}


def packaged_units() -> dict[str, str]:
    """Return {unit file name: template text} for every unit template the install ships."""
    found: dict[str, str] = {}
    for entry in units_dir().iterdir():
        if entry.name.endswith(UNIT_SUFFIXES) and entry.is_file():
            found[entry.name] = entry.read_text(encoding="utf-8")
    return dict(sorted(found.items()))


def render(template: str, values: RenderValues) -> str:
    """Fill the placeholders of one unit template.

    Raise UnitTemplateError if a placeholder is unknown, or a value would break the unit
    (relative path, whitespace: systemd would split it).
    """
    mapping = values.mapping()
    for placeholder, value in mapping.items():
        if not value.startswith("/") or any(character.isspace() for character in value):
            raise UnitTemplateError(
                f"{placeholder} must be an absolute path without spaces: {value!r}"
            )

    def substitute(match: re.Match[str]) -> str:
        try:
            return mapping[match.group(0)]
        except KeyError:
            raise UnitTemplateError(f"unknown placeholder {match.group(0)}") from None

    return PLACEHOLDER.sub(substitute, template)


def render_all(values: RenderValues) -> dict[str, str]:
    """Return {unit file name: rendered text} for every packaged unit. Raise UnitTemplateError."""
    return {name: render(text, values) for name, text in packaged_units().items()}


def find_hostmind_executable(argv0: str | None = None) -> Path:
    """Return the absolute path of the `hostmind` executable that units should start.

    Prefer the script running now (so a venv install points at its own venv), then the one
    beside this interpreter, then $PATH.
    Raise FileNotFoundError if neither is found.
    """
    candidate = Path(argv0 if argv0 is not None else sys.argv[0])
    if candidate.name == "hostmind":
        resolved = candidate if candidate.is_absolute() else Path.cwd() / candidate
        if resolved.is_file():
            # Not .resolve(): a venv's bin/hostmind must stay the venv's, not its interpreter's.
            return Path(resolved).absolute()
    # The script pip installed next to this interpreter (a venv's bin/), then $PATH.
    beside = Path(sys.executable).parent / "hostmind"
    if beside.is_file():
        return beside.absolute()
    found = shutil.which("hostmind")
    if found:
        return Path(found).absolute()
    raise FileNotFoundError("cannot find the `hostmind` executable (not argv[0], not on $PATH)")


def trusted_python(hostmind: Path) -> Path:
    """Return the interpreter the units start: the one in `hostmind`'s shebang, else this one.

    A venv's bin/hostmind names the venv's python, which sees the trusted base's packages.
    """
    try:
        with open(hostmind, "rb") as handle:
            first = handle.readline(4096).decode("utf-8", errors="replace").strip()
    except OSError:
        return Path(sys.executable)
    if first.startswith("#!"):
        words = first[2:].split()
        if words and words[0].startswith("/") and "python" in Path(words[0]).name:
            return Path(words[0])
    return Path(sys.executable)
