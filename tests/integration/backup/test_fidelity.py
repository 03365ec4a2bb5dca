"""Restore fidelity on a corpus of awkward files: hostmind's tar engine, GNU tar
(`--xattrs --xattrs-include='*' --acls --sparse --format=posix`) and raw restic, side by side.

Each tool backs the same tree up and restores it; every property of the corpus is then
checked on each restore. The table is printed (run with -s to see it; docs/backup.md holds a
copy) and the test asserts hostmind keeps every property GNU tar keeps. Needs root: device
nodes, foreign owners and security.* xattrs cannot be made otherwise.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import struct
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.backup.conftest import settings_for
from unconscious.backup.tar_engine import TarEngine
from unconscious.backup.walk import Problems

GIB = 1 << 30
ODD = b"caf\xe9\nline two -x"  # not UTF-8, a newline, a dash
NS = 1_600_000_000_123_456_789
CAPABILITY = struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0)  # cap_net_bind_service=ep
TIMEOUT = 300


@pytest.fixture(autouse=True)
def as_root() -> None:
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("CI runs as root; the fidelity test must not be skipped there")
        pytest.skip("needs root: device nodes, foreign owners and security.* xattrs")
    for tool in ("restic", "setfacl", "tar"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")


def raw(path: Path, name: bytes) -> Path:
    return Path(os.fsdecode(os.fsencode(path) + b"/" + name))


def make_corpus(root: Path) -> Path:
    """The awkward files; return `root`."""
    root.mkdir()
    (root / "plain").write_bytes(b"content\n" * 100)
    (root / "hard-a").write_bytes(b"linked twice\n")
    os.link(root / "hard-a", root / "hard-b")
    with open(root / "sparse", "wb") as handle:
        handle.truncate(GIB)
        handle.seek(GIB // 2)
        handle.write(b"data in the middle")
    (root / "xattrs").write_text("attributes\n")
    os.setxattr(root / "xattrs", "user.color", b"blue\x00binary")
    os.setxattr(root / "xattrs", "security.capability", CAPABILITY)
    (root / "acl").write_text("acl\n")
    subprocess.run(["setfacl", "-m", "u:1000:r,g:100:rw", str(root / "acl")], check=True, timeout=30)
    (root / "acl-dir").mkdir()
    subprocess.run(["setfacl", "-d", "-m", "u:1000:rx", str(root / "acl-dir")], check=True, timeout=30)
    os.mknod(root / "chardev", stat.S_IFCHR | 0o640, os.makedev(1, 3))
    os.mknod(root / "blockdev", stat.S_IFBLK | 0o600, os.makedev(7, 200))
    os.mkfifo(root / "fifo", 0o620)
    raw(root, ODD).write_bytes(b"odd name\n")
    (root / "setuid").write_text("#!/bin/sh\n")
    os.chmod(root / "setuid", 0o4755)
    (root / "no-access").write_text("nobody reads me\n")
    os.chmod(root / "no-access", 0)
    (root / "sticky").mkdir()
    os.chmod(root / "sticky", 0o1777)
    (root / "foreign").write_text("owned by nobody we know\n")
    os.chown(root / "foreign", 12345, 54321)
    (root / "ns-time").write_text("time\n")
    os.utime(root / "ns-time", ns=(NS, NS))
    (root / "symlink").symlink_to("does-not-exist")
    os.utime(root / "symlink", ns=(NS, NS), follow_symlinks=False)
    (root / "empty-dir").mkdir()
    return root


def restore_hostmind(tmp_path: Path, corpus: Path) -> tuple[Path, str]:
    engine = TarEngine(settings_for(tmp_path, corpus))
    problems = Problems()
    snapshot = engine.backup(problems)
    result = engine.restore(snapshot, tmp_path / "out-hostmind", None)
    said = " ".join(item.path + " " + item.detail for item in problems.items) + " ".join(result.differences)
    return tmp_path / "out-hostmind" / "data", said


def restore_gnu_tar(tmp_path: Path, corpus: Path) -> tuple[Path, str]:
    archive, out = tmp_path / "gnu.tar", tmp_path / "out-gnu"
    out.mkdir()
    flags = ["--xattrs", "--xattrs-include=*", "--acls", "--sparse"]
    made = subprocess.run(["tar", *flags, "--format=posix", "-C", str(corpus), "-cf", str(archive), "."],
                          capture_output=True, timeout=TIMEOUT, check=False)
    taken = subprocess.run(["tar", *flags, "--numeric-owner", "-xpf", str(archive), "-C", str(out)],
                           capture_output=True, timeout=TIMEOUT, check=False)
    return out, (made.stderr + taken.stderr).decode("utf-8", "replace")


def restore_restic(tmp_path: Path, corpus: Path, repository: Path) -> tuple[Path, str]:
    secret = tmp_path / "restic-password"
    secret.write_text("correct horse battery staple\n")
    env = {**os.environ, "RESTIC_PASSWORD_FILE": str(secret), "RESTIC_CACHE_DIR": str(tmp_path / "cache")}
    # Not the 1 GiB sparse file: restic 0.14 has no sparse restore (`restore --sparse` came in
    # 0.15), so it would write 1 GiB of zeros for a known answer. Its row says "n/a".
    made = subprocess.run(["restic", "--repo", str(repository), "backup", "--quiet", "--exclude",
                           str(corpus / "sparse"), str(corpus)], env=env,
                          capture_output=True, timeout=TIMEOUT, check=False)
    taken = subprocess.run(["restic", "--repo", str(repository), "restore", "latest", "--target",
                            str(tmp_path / "out-restic")], env=env, capture_output=True, timeout=TIMEOUT,
                           check=False)
    return tmp_path / "out-restic" / str(corpus).lstrip("/"), (made.stderr + taken.stderr).decode("utf-8",
                                                                                                     "replace")


def xattr(path: Path, name: str) -> bytes | None:
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError:
        return None


def same(original: Path, restored: Path, check: Callable[[Path], object]) -> bool:
    try:
        return check(original) == check(restored)
    except OSError:
        return False


def properties(corpus: Path) -> Iterator[tuple[str, Callable[[Path, str], bool]]]:
    """(property, check(restored root, what the tool said)) for every property of the corpus."""
    def kept(name: str | bytes, check: Callable[[Path], object]) -> Callable[[Path, str], bool]:
        def test(out: Path, said: str) -> bool:
            relative = name if isinstance(name, bytes) else os.fsencode(name)
            return same(raw(corpus, relative), raw(out, relative), check)
        return test

    def sparse(out: Path, said: str) -> bool:
        status = (out / "sparse").stat()
        return status.st_size == GIB and status.st_blocks * 512 < GIB // 16 and \
            (out / "sparse").read_bytes()[GIB // 2:GIB // 2 + 18] == b"data in the middle"

    def hard_link(out: Path, said: str) -> bool:
        return (out / "hard-a").stat().st_ino == (out / "hard-b").stat().st_ino

    def socket_reported(out: Path, said: str) -> bool:
        return "control.sock" in said or (out / "control.sock").is_socket()

    content = lambda path: path.read_bytes()  # noqa: E731
    yield "content", kept("plain", content)
    yield "hard links (one inode)", hard_link
    yield "sparse 1 GiB restores sparse", sparse
    yield "xattr user.*", kept("xattrs", lambda path: xattr(path, "user.color"))
    yield "xattr security.capability", kept("xattrs", lambda path: xattr(path, "security.capability"))
    yield "POSIX ACL (access)", kept("acl", lambda path: xattr(path, "system.posix_acl_access"))
    yield "POSIX ACL (default, dir)", kept("acl-dir", lambda path: xattr(path, "system.posix_acl_default"))
    yield "char device", kept("chardev", lambda path: (stat.S_IFMT(path.lstat().st_mode), path.lstat().st_rdev))
    yield "block device", kept("blockdev", lambda path: (stat.S_IFMT(path.lstat().st_mode),
                                                        path.lstat().st_rdev))
    yield "fifo", kept("fifo", lambda path: path.lstat().st_mode)
    yield "socket (restored or reported)", socket_reported
    yield "non-UTF-8 + newline name", kept(ODD, content)
    yield "setuid mode", kept("setuid", lambda path: path.lstat().st_mode)
    yield "mode 0000", kept("no-access", lambda path: path.lstat().st_mode)
    yield "sticky dir", kept("sticky", lambda path: path.lstat().st_mode)
    yield "unknown uid/gid", kept("foreign", lambda path: (path.lstat().st_uid, path.lstat().st_gid))
    yield "ns mtime", kept("ns-time", lambda path: path.lstat().st_mtime_ns)
    yield "symlink target", kept("symlink", os.readlink)
    yield "symlink mtime", kept("symlink", lambda path: path.lstat().st_mtime_ns)
    yield "empty dir", kept("empty-dir", lambda path: path.is_dir())


def passes(check: Callable[[Path, str], bool], out: Path, said: str) -> bool:
    try:
        return check(out, said)
    except OSError:
        return False  # not restored at all


def test_hostmind_restores_every_property_gnu_tar_restores(tmp_path: Path, template_repository: Path) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(corpus / "control.sock"))
    try:
        shutil.copytree(template_repository, tmp_path / "repo")
        outs = {"hostmind tar": restore_hostmind(tmp_path, corpus),
                "GNU tar": restore_gnu_tar(tmp_path, corpus),
                "restic": restore_restic(tmp_path, corpus, tmp_path / "repo")}
    finally:
        server.close()

    table = {name: {tool: passes(check, *out) for tool, out in outs.items()} for name, check in properties(corpus)}
    not_run = {("sparse 1 GiB restores sparse", "restic")}

    print("\n| property | " + " | ".join(outs) + " |\n|---|" + "---|" * len(outs))
    for name, row in table.items():
        print(f"| {name} | " + " | ".join("n/a" if (name, tool) in not_run else ("yes" if row[tool] else "**no**")
                                         for tool in outs) + " |")
    worse = [name for name, row in table.items() if row["GNU tar"] and not row["hostmind tar"]]
    assert [] == worse
    assert all(row["hostmind tar"] for row in table.values())
