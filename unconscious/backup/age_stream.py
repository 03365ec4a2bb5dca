"""age encryption of a byte stream, through pyrage, without the plaintext ever touching disk.

pyrage's `encrypt_io(reader, writer, recipients)` / `decrypt_io(reader, writer, identities)`
pull from a reader and push to a writer. To slot them into a stream (compressor -> encryption
-> file, and file -> decryption -> decompressor), each runs in a thread on one end of a pipe:
`Encrypting(raw, recipients)` is a writable object whose bytes come out encrypted into `raw`;
`decrypting(raw, identity)` returns a readable object of the plaintext. Errors of the thread are
raised by `close()` / `finish()` in the caller's thread.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from types import ModuleType
from typing import IO

from unconscious.backup.credentials import credential
from unconscious.backup.snapshot import BackupError

AGE_SUFFIX = ".age"


def _pyrage() -> ModuleType:
    try:
        import pyrage  # type: ignore[import-untyped]
    except ImportError as error:
        raise BackupError("backup.encryption needs the Python package pyrage (pip install pyrage)") from error
    module: ModuleType = pyrage
    return module


def parse_recipients(recipients: tuple[str, ...]) -> list[object]:
    """Return pyrage recipients for `age1...` public keys (opaque: only handed back to pyrage).
    Raise BackupError naming a bad one."""
    pyrage = _pyrage()
    parsed: list[object] = []
    for text in recipients:
        try:
            parsed.append(pyrage.x25519.Recipient.from_str(text))
        except Exception as error:
            raise BackupError(f"backup.encryption.recipients: {text!r} is not an age public key") from error
    return parsed


def load_identity(name: str) -> object:
    """Return the age identity from the systemd credential `name` (opaque: only handed back
    to pyrage). Raise BackupError."""
    path = credential(name)
    if path is None:
        raise BackupError(f"this archive is encrypted: reading it needs the age identity in the systemd "
                          f"credential {name!r} (LoadCredential={name})")
    try:
        identity: object = _pyrage().x25519.Identity.from_str(
            path.read_text(encoding="utf-8").strip())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise BackupError(f"systemd credential {name} ({path}) is not an age identity: {error}") from error
    except Exception as error:
        raise BackupError(f"systemd credential {name} ({path}) is not an age identity") from error
    return identity


def sealer(recipients: list[object]) -> Callable[[bytes], bytes]:
    """Return a function encrypting a small whole plaintext (a manifest's members) to `recipients`."""
    pyrage = _pyrage()
    return lambda plaintext: bytes(pyrage.encrypt(plaintext, recipients))


def opener(identity: object) -> Callable[[bytes], bytes]:
    """Return a function decrypting what `sealer` made; it raises ValueError when it cannot."""
    pyrage = _pyrage()

    def open_sealed(ciphertext: bytes) -> bytes:
        try:
            return bytes(pyrage.decrypt(ciphertext, [identity]))
        except Exception as error:  # pyrage raises its own DecryptError types
            raise ValueError(f"age: {error}") from error
    return open_sealed


class Encrypting:
    """A writer whose bytes land in `raw` encrypted to `recipients` (write, then close())."""

    def __init__(self, raw: object, recipients: list[object]) -> None:
        read_end, write_end = os.pipe()
        self._source = os.fdopen(read_end, "rb")
        self._sink: IO[bytes] = os.fdopen(write_end, "wb", buffering=0)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(raw, recipients), daemon=True,
                                        name="hostmind-backup-encrypt")
        self._thread.start()

    def _run(self, raw: object, recipients: list[object]) -> None:
        try:
            _pyrage().encrypt_io(self._source, raw, recipients)
        except BaseException as error:  # noqa: BLE001 (raised in the caller's thread by close())
            self._error = error
        finally:
            self._source.close()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data)
        while view:
            written = self._sink.write(view)
            view = view[written or 0:]
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        """End the stream and wait for the encryption to finish. Raise OSError if it failed."""
        self._sink.close()
        self._thread.join()
        if self._error is not None:
            raise OSError(f"age encryption failed: {self._error}")


class Decrypting:
    """A reader of the plaintext of the age stream `raw` (read until b"", then finish())."""

    def __init__(self, raw: object, identity: object) -> None:
        read_end, write_end = os.pipe()
        self._plain = os.fdopen(read_end, "rb")
        self._sink = os.fdopen(write_end, "wb")
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(raw, identity), daemon=True,
                                        name="hostmind-backup-decrypt")
        self._thread.start()

    def _run(self, raw: object, identity: object) -> None:
        try:
            _pyrage().decrypt_io(raw, self._sink, [identity])
        except BaseException as error:  # noqa: BLE001 (raised in the caller's thread by finish())
            self._error = error
        finally:
            try:
                self._sink.close()
            except OSError:
                pass  # the reader went away early (a restore that found all it wanted)

    def read(self, size: int = -1) -> bytes:
        return self._plain.read(size)

    def finish(self) -> None:
        """Stop reading; wait for the thread. Raise OSError if decryption failed."""
        self._plain.close()
        self._thread.join()
        if self._error is not None and not isinstance(self._error, BrokenPipeError):
            raise OSError(f"age decryption failed: {self._error}")
