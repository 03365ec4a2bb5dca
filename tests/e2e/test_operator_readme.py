"""The README's operator sections, run as written under the real systemd, and a fresh install's status.

The commands come from the README itself (the first ```sh block under each heading), so a
README that drifts from the code fails here. `sudo` is dropped (the suite is root inside the
container); the two interactive steps are driven the way an operator's editor would be:
`systemctl edit` through a pseudo-terminal with an editor that writes a drop-in, and `sudoedit`
by writing the README's own example drop-in to the path it names.

The removal test then goes further than the README's two commands: it runs every removal
command that `uninstall --purge` lists for backups and credentials, so what follows is a fresh
install on a machine with hostmind's history gone, whose status must say "due", not "failed".
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.nspawn import HEALTH, HOSTMIND, Container, now_usec, wait_active

README = Path(__file__).resolve().parents[2] / "README.md"
EDITOR = "/usr/local/sbin/e2e-systemd-editor"
EDITED_ENV = "HOSTMIND_E2E_EDITED=1"
OVERRIDE_DIR = "/etc/systemd/system/hostmind-health.service.d"


def commands_under(heading: str) -> list[str]:
    """Return the commands of the first ```sh block after `heading` (comments and `sudo` dropped)."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    block = re.search(r"```sh\n(.*?)```", text[start:], re.DOTALL)
    assert block, f"README: no ```sh block under {heading!r}"
    commands = []
    for line in block.group(1).splitlines():
        command = line.split(" #", 1)[0].strip()
        if command:
            commands.append(command)
    return commands


def argv_of(command: str) -> list[str]:
    words = shlex.split(command)
    return words[1:] if words[0] == "sudo" else words


def readme_example_dropin() -> tuple[str, str]:
    """Return (path, text) of the README's example drop-in (the yaml block naming its path)."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```yaml\n# (/etc/hostmind/hostmind\.d/\S+\.yaml)\n(.*?)```", text, re.DOTALL)
    assert block, "README: no example drop-in"
    return block.group(1), block.group(2)


def snapshot_tree(container: Container, top: str) -> dict[str, str]:
    """Return {path inside: text} of every file under `top` (to put the session's config back)."""
    root = container.path(top)
    return {f"{top}/{path.relative_to(root)}": path.read_text(encoding="utf-8")
            for path in root.rglob("*") if path.is_file()}


@pytest.fixture
def editor(container: Container) -> Iterator[str]:
    """An editor for `systemctl edit` that writes a one-line drop-in; removed afterwards."""
    container.write(EDITOR, f'#!/bin/sh\nprintf "[Service]\\nEnvironment={EDITED_ENV}\\n" > "$1"\n',
                    mode=0o755)
    yield EDITOR
    container.remove(EDITOR)
    container.remove(f"{OVERRIDE_DIR}/override.conf")
    container.run("systemctl", "daemon-reload", timeout=120)


def run_operating_command(container: Container, command: str, editor: str) -> str:
    """Run one line of "Operating it day to day" as the README writes it; return its output."""
    argv = argv_of(command)
    if argv[:2] == ["systemctl", "edit"]:
        # systemctl 252 refuses to edit without a terminal; `script` gives it one.
        line = shlex.join(["env", f"SYSTEMD_EDITOR={editor}", *argv])
        result = container.run("script", "-qec", line, "/dev/null", timeout=120)
        environment = container.show(argv[2] + ".service", "Environment")["Environment"]
        assert EDITED_ENV in environment, (result.stdout, environment)
        return result.stdout
    if argv[0] == "sudoedit":
        edited, _, then = command.partition("&&")
        path, text = readme_example_dropin()
        assert argv_of(edited)[1] == path, "the README edits another file than its example"
        container.write(path, text)
        try:
            return container.run(*argv_of(then.strip()), timeout=120).stdout
        finally:
            container.remove(path)
            container.run("systemctl", "reload", HEALTH, timeout=120)
    result = container.run(*argv, timeout=300, check=False)
    if argv[:2] == ["hostmind", "status"]:
        # 0 all good or 1 needs attention; the last line says which and why.
        assert result.returncode in (0, 1), result.stdout + result.stderr
        last = result.stdout.splitlines()[-1]
        assert last == "all good" or last.startswith("needs attention: "), last
    else:
        assert result.returncode == 0, (command, result.stdout, result.stderr)
    return result.stdout


def checks_lines(container: Container) -> list[str]:
    """Return the lines of the checks section of `hostmind status` (text, as an operator reads it)."""
    return section_lines(container.run(HOSTMIND, "status", check=False).stdout, "checks")


def test_the_operating_section_runs_as_written(container: Container, editor: str) -> None:
    commands = commands_under("### Operating it day to day")
    assert len(commands) >= 5, commands
    since = now_usec()
    for command in commands:
        run_operating_command(container, command, editor)
    # What the README promises of the manual runs (the same events as the timers') and of rearm.
    for event in ("rotate_run", "backup_done", "backup_verified", "rearm"):
        assert container.journal(f"HOSTMIND_EVENT={event}", since_usec=since), event
    wait_active(container, HEALTH, timeout=60)


def test_the_checks_section_leads_with_what_the_unit_says_and_says_when_it_is_not_running(
        container: Container) -> None:
    wait_active(container, HEALTH, timeout=60)
    said = container.show(HEALTH, "StatusText")["StatusText"]
    first = checks_lines(container)[0]
    # The unit may have finished a round between the two reads; then read both again.
    if first != f"now (STATUS=): {said}":
        said = container.show(HEALTH, "StatusText")["StatusText"]
        first = checks_lines(container)[0]
    assert first == f"now (STATUS=): {said}", (first, said)

    container.run("systemctl", "stop", HEALTH, timeout=120)
    try:
        stopped = container.run(HOSTMIND, "status", check=False)
        assert stopped.returncode == 1
        assert "hostmind-health is inactive (dead): NOT RUNNING" in stopped.stdout, stopped.stdout
        assert "hostmind-health not running" in stopped.stdout.splitlines()[-1]
    finally:
        container.run("systemctl", "start", HEALTH, timeout=120)
        wait_active(container, HEALTH, timeout=60)


def section_lines(output: str, title: str) -> list[str]:
    """Return the lines of section `title` of `hostmind status`'s text output."""
    lines = output.splitlines()
    start = next(index for index, line in enumerate(lines) if line[3:] == title)
    body = []
    for line in lines[start + 1:]:
        if not line.startswith("     "):
            break
        body.append(line[5:])
    return body


def remove_history(container: Container) -> list[str]:
    """Uninstall as the README says, then remove the backups and credentials it lists; return paths."""
    for command in commands_under("### Removing hostmind"):
        said = container.run(*argv_of(command), timeout=180).stdout
        assert "left in place" in said, (command, said)
    left = json.loads(container.run(HOSTMIND, "uninstall", "--purge", "--json", timeout=180).stdout)["left"]
    listed = {item["path"]: item["remove"] for item in left}
    # --purge deletes config and state; backups are kept, and said to be.
    assert "/var/backups/hostmind" in listed, listed
    assert not {"/etc/hostmind", "/var/lib/hostmind"} & set(listed), listed
    removed = []
    for path, remove in listed.items():
        if path.startswith(("/var/backups/", "/etc/credstore")):
            # "check you no longer need them, then: rm -r ..." for the backups: the command is last.
            container.run(*shlex.split(remove.rpartition("then: ")[2]), timeout=120)
            assert not container.path(path).exists(), (path, remove)
            removed.append(path)
    assert not container.path("/var/lib/hostmind").exists()
    return removed


def test_removal_as_written_then_a_fresh_install_says_the_first_backup_is_due_not_failed(
        container: Container) -> None:
    commands = [argv_of(command) for command in commands_under("### Removing hostmind")]
    assert commands == [["hostmind", "uninstall"], ["hostmind", "uninstall", "--purge"]], commands
    session_config = snapshot_tree(container, "/etc/hostmind")
    try:
        assert "/var/backups/hostmind" in remove_history(container)
    finally:
        # The session's own config (the e2e fault threshold) goes back before the reinstall.
        for path, text in session_config.items():
            container.write(path, text)
        container.run(HOSTMIND, "install", "--now", timeout=180)
        wait_active(container, HEALTH, timeout=60)

    output = container.run(HOSTMIND, "status", check=False).stdout
    summary = output.splitlines()[-1]
    assert "backup" not in summary, summary
    backups = section_lines(output, "backups")
    assert backups[0].startswith("no backups yet (tar engine): the first is due within"), backups
    evidence = [line.split() for line in section_lines(output, "evidence")]
    assert ["backup", "due"] in [words[:2] for words in evidence], evidence
    units = [line for line in section_lines(output, "units") if line.startswith("services")]
    assert not any("last run ok" in line and "backup" in line for line in units), units
