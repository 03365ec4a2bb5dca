"""`su USER GROUP`: a directory the user may write cannot turn root's writes against other files.

Hostile cases first: the user (here `nobody`, who owns the log directory) plants a symbolic link
at the name of the temp archive, or swaps the log for a link between the check and the open; the
link points at a root-only file standing in for /etc/shadow. Whatever hostmind does, that file
must keep its bytes. Then: archives and new logs are the su user's, the user's intents live in
its own state directory, and the result matches the real logrotate's `su` on an identical tree.
"""

from __future__ import annotations

import gzip
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

from tests.integration.rotate.harness import REPO, Tree, make_tree, work_files
from unconscious.rotate.fsutil import RotationError
from unconscious.rotate.naming import temp_path
from unconscious.rotate.su import Identity, identity, run_as

NOBODY = pwd.getpwnam("nobody")
SECRET = b"root:$y$j9T$not-a-real-hash:20000:0:99999:7:::\n"
TEXT = b"".join(b"Nov 30 07:00:%02d host app[7]: line %d\n" % (n % 60, n) for n in range(2000))

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another user needs root")


@pytest.fixture
def tree() -> Iterator[Tree]:
    """A tree the user `nobody` can traverse (pytest's own temp dirs are 0700), removed after."""
    root = Path(tempfile.mkdtemp(prefix="hostmind-su-"))
    os.chmod(root, 0o755)
    made = make_tree(root)
    os.chown(made.logs, NOBODY.pw_uid, NOBODY.pw_gid)  # the user's own log directory
    try:
        yield made
    finally:
        shutil.rmtree(root)


def _secret(tree: Tree) -> Path:
    """A root-only file outside the log directory, standing in for /etc/shadow."""
    secret = tree.root / "shadow"
    secret.write_bytes(SECRET)
    os.chmod(secret, 0o600)
    return secret


def _log(tree: Tree, group: int = NOBODY.pw_gid) -> Path:
    log = tree.logs / "app.log"
    log.write_bytes(TEXT)
    os.chown(log, NOBODY.pw_uid, group)
    os.chmod(log, 0o640)
    return log


def _rule(log: Path, su: bool, **extra: object) -> dict[str, object]:
    rule: dict[str, object] = {"paths": [str(log)], "size": 1, "reopen": {"settle": "10ms"}, **extra}
    # Root without `su` refuses a directory nobody owns; `su: root` is the operator vouching for
    # it, so the as-root cases still show what root's own opens do with a planted link.
    rule["su"] = {"user": "nobody", "group": "nogroup"} if su else {"user": "root"}
    return rule


def _untouched(secret: Path) -> tuple[bytes, int, int]:
    info = secret.lstat()
    return secret.read_bytes(), stat.S_IMODE(info.st_mode), info.st_uid


@pytest.mark.parametrize("su", [True, False], ids=["su-nobody", "as-root"])
def test_a_link_planted_at_the_temp_archive_name_is_never_written_through(tree: Tree, su: bool) -> None:
    secret, log = _secret(tree), _log(tree)
    (tree.logs / temp_path(tree.logs / "app.log.1.zst").name).symlink_to(secret)
    tree.configure({"app": _rule(log, su)})
    result = tree.rotate("--force")
    assert (SECRET, 0o600, 0) == _untouched(secret)
    assert (1, TEXT) == (result.returncode, log.read_bytes()), result.stderr
    assert "cannot write the archive" in result.stderr


@pytest.mark.parametrize("su", [True, False], ids=["su-nobody", "as-root"])
def test_the_log_swapped_for_a_link_between_the_check_and_the_open_is_not_followed(tree: Tree, su: bool) -> None:
    secret, log = _secret(tree), _log(tree)
    # The attacker's move, made between hostmind's check of the log and its open: the prerotate
    # hook runs after the check, as the su user (as in logrotate) or as root without su.
    swap = ["/bin/sh", "-c", f"mv {log} {log}.mine && ln -s {secret} {log}"]
    tree.configure({"app": _rule(log, su, mode="copytruncate", prerotate={"command": swap})})
    result = tree.rotate("--force")
    assert (SECRET, 0o600, 0) == _untouched(secret)
    assert (1, TEXT) == (result.returncode, (tree.logs / "app.log.mine").read_bytes()), result.stderr
    assert [] == sorted(path.name for path in tree.logs.iterdir() if path.name.endswith(".zst"))


def test_archive_new_log_and_intents_belong_to_the_su_user(tree: Tree) -> None:
    log = _log(tree)
    tree.configure({"app": _rule(log, True)})
    result = tree.rotate("--force")
    assert 0 == result.returncode, result.stderr
    archive = tree.logs / "app.log.1.zst"
    owners = {path.name: (path.stat().st_uid, path.stat().st_gid) for path in (archive, log)}
    assert {"app.log.1.zst": (NOBODY.pw_uid, NOBODY.pw_gid), "app.log": (NOBODY.pw_uid, NOBODY.pw_gid)} == owners
    assert TEXT == zstandard.ZstdDecompressor().stream_reader(archive.read_bytes()).read()
    assert (0, 0o640) == (log.stat().st_size, stat.S_IMODE(log.stat().st_mode))
    private = tree.root / "state" / "rotate" / "su" / str(NOBODY.pw_uid)
    assert (NOBODY.pw_uid, 0o700) == (private.stat().st_uid, stat.S_IMODE(private.stat().st_mode))
    assert [] == work_files(tree.logs)


def test_the_archive_takes_the_su_group_not_the_logs_group(tree: Tree) -> None:
    log = _log(tree, group=0)  # nobody:root: root would give the archive group root
    tree.configure({"app": _rule(log, True, mode="copytruncate")})
    result = tree.rotate("--force")
    assert 0 == result.returncode, result.stderr
    archive = tree.logs / "app.log.1.zst"
    assert (NOBODY.pw_uid, NOBODY.pw_gid) == (archive.stat().st_uid, archive.stat().st_gid)
    assert (0, 0) == (log.stat().st_size, log.stat().st_gid)


def test_a_new_log_the_user_could_not_own_is_refused_before_anything_is_touched(tree: Tree) -> None:
    log = _log(tree)
    tree.configure({"app": _rule(log, True, create={"owner": "root", "group": "root"})})
    result = tree.rotate("--force")
    assert 1 == result.returncode
    assert "the new log could not be given owner 0:0" in result.stderr
    assert (TEXT, ["app.log"]) == (log.read_bytes(), sorted(path.name for path in tree.logs.iterdir()))


def test_an_unknown_su_user_is_an_error_naming_the_rule(tree: Tree) -> None:
    log = _log(tree)
    tree.configure({"app": {**_rule(log, False), "su": {"user": "no-such-user-hostmind"}}})
    result = tree.rotate("--force")
    assert 1 == result.returncode
    assert "rule app: su no-such-user-hostmind" in result.stderr and "unknown user" in result.stderr
    assert TEXT == log.read_bytes()


def test_the_child_has_dropped_every_id_and_cannot_get_root_back() -> None:
    who = identity("nobody", "nogroup")
    assert who is not None

    def inside() -> dict[str, object]:
        try:
            os.setuid(0)
            regained = True
        except PermissionError:
            regained = False
        return {"uids": list(os.getresuid()), "gids": list(os.getresgid()), "groups": os.getgroups(),
                "regained": regained}

    ids = [NOBODY.pw_uid] * 3
    assert {"uids": ids, "gids": [NOBODY.pw_gid] * 3, "groups": [NOBODY.pw_gid], "regained": False} == run_as(
        who, inside, timeout=30)


def test_a_child_that_runs_over_is_killed_with_its_process_group() -> None:
    who = Identity(user="nobody", uid=NOBODY.pw_uid, gid=NOBODY.pw_gid)
    marker = Path(tempfile.mkdtemp(prefix="hostmind-su-"))
    os.chmod(marker, 0o777)
    try:
        def hang() -> dict[str, object]:
            # A grandchild in the same process group must die with it.
            grandchild = subprocess.Popen(["sleep", "300"])
            (marker / "pid").write_text(str(grandchild.pid))
            while True:
                time.sleep(1)

        with pytest.raises(RotationError, match="ran past 1s; its process group was killed"):
            run_as(who, hang, timeout=1)
        pid = int((marker / "pid").read_text())
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(pid)
    finally:
        shutil.rmtree(marker)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(shutil.which("logrotate") is None, reason="logrotate is not installed")
def test_su_side_by_side_with_logrotate(tree: Tree) -> None:
    """The same log under `su nobody nogroup` rotated by logrotate 3.21 and by hostmind (the rules
    `rotate import` makes of the same file): the same names, owners, modes and content."""
    peer = tree.root / "peer"
    peer.mkdir(mode=0o755)
    os.chown(peer, NOBODY.pw_uid, NOBODY.pw_gid)
    for directory in (peer, tree.logs):
        (directory / "app.log").write_bytes(TEXT)
        os.chown(directory / "app.log", NOBODY.pw_uid, 0)
        os.chmod(directory / "app.log", 0o640)
    body = "  su nobody nogroup\n  rotate 2\n  compress\n  create\n"
    conf = tree.root / "logrotate.conf"
    conf.write_text(f"{peer}/app.log {{\n{body}}}\n")
    ours = tree.root / "ours.conf"
    ours.write_text(f"{tree.logs}/app.log {{\n{body}  compresscmd /usr/bin/zstd\n  compressext .zst\n}}\n")
    subprocess.run(["logrotate", "-f", "-s", str(tree.root / "lr.state"), str(conf)], check=True, timeout=60)
    dropin = tree.root / "etc" / "hostmind.d" / "40-imported.yaml"
    dropin.parent.mkdir(parents=True, exist_ok=True)
    imported = subprocess.run([sys.executable, "-m", "unconscious.cli.main", "rotate", "import", "--config",
                               str(ours), "--output", str(dropin)], env=tree.environment(), cwd=REPO,
                              capture_output=True, text=True, timeout=60, check=False)
    assert (0, "su:") == (imported.returncode, "su:" if "su:" in dropin.read_text() else ""), imported.stderr
    result = tree.rotate("--force")
    assert 0 == result.returncode, result.stderr
    assert _listing(peer, gzip.decompress, ".gz") == _listing(
        tree.logs, lambda data: zstandard.ZstdDecompressor().stream_reader(data).read(), ".zst")


def _listing(directory: Path, unpack: object, extension: str) -> dict[str, tuple[int, int, int, bytes]]:
    found = {}
    for path in sorted(directory.iterdir()):
        info = path.stat()
        data = path.read_bytes()
        name = path.name
        if name.endswith(extension):
            data, name = unpack(data), name[: -len(extension)]  # type: ignore[operator]
        found[name] = (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode), data)
    return found


def test_a_reply_larger_than_the_cap_is_refused() -> None:
    who = Identity(user="nobody", uid=NOBODY.pw_uid, gid=NOBODY.pw_gid)
    with pytest.raises(RotationError, match="reply is larger than"):
        run_as(who, lambda: {"padding": "x" * (9 << 20)}, timeout=60)
