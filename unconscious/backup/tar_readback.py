"""Read a written archive back from disk and hash it, beside other work.

`hash_file(path, name)` returns the hex hash (`name`: "blake3" or "sha256", see manifest.py)
of the file's bytes, read by `unconscious.atomic.digest_file` (one reused buffer, no new
bytes object per chunk).
`ReadBack(path, name)` does the same in a thread started at once, so the caller can build the
manifest meanwhile (the hashes and os.readv release the GIL: on two cores the read-back then
costs about the longer of the two, not their sum); `result()` waits for it and returns the
hash or raises the OSError the read met.
"""

from __future__ import annotations

import threading
from pathlib import Path

from unconscious.atomic import digest_file
from unconscious.backup.manifest import new_hasher

READ_CHUNK = 4 << 20


def hash_file(path: Path, name: str) -> str:
    """Return the hex hash `name` of the bytes of `path`. Raise OSError (KeyError for an
    unknown `name`)."""
    return digest_file(path, new_hasher(name), READ_CHUNK).hexdigest()


class ReadBack:
    """`hash_file(path, name)` running in a thread from construction until `result()`."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name
        self._digest = ""
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="hostmind-backup-readback", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._digest = hash_file(self.path, self.name)
        except OSError as error:
            self._error = error

    def join(self) -> None:
        """Wait for the read-back to end, whatever its outcome (after a failure elsewhere)."""
        self._thread.join()

    def result(self) -> str:
        """Wait for the read-back; return the hex hash of what was read. Raise the OSError it met."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._digest
