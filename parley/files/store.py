"""The files folder (``DATA/files/``): blobs named by their SHA-256, thumbnails, uploads in progress, the key.

* ``blobs/<sha[:2]>/<sha>``: the bytes; the same bytes are stored once;
* ``thumbs/<sha[:2]>/<sha>.png``: the thumbnail, when the blob decoded as an image;
* ``tmp/<random>.part``: an upload being received, renamed into ``blobs/`` once whole;
* ``secret``: 32 random bytes (mode 0600), the key of every signature (links.py).

Every method is synchronous and short except the writes of a ``Part``, which
callers on an event loop run in a thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from pathlib import Path
from types import TracebackType
from typing import Self

SECRET_BYTES = 32
_SHA = re.compile(r"[0-9a-f]{64}")


def is_sha(text: str) -> bool:
    """Whether ``text`` is a SHA-256 in lower-case hex, as blobs are named."""
    return _SHA.fullmatch(text) is not None


class BlobStore:
    """The files folder at ``root`` (created as needed)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.thumbs = root / "thumbs"
        self.tmp = root / "tmp"

    def blob_path(self, sha: str) -> Path:
        return self.blobs / sha[:2] / sha

    def thumb_path(self, sha: str) -> Path:
        return self.thumbs / sha[:2] / f"{sha}.png"

    def has(self, sha: str) -> bool:
        """Whether the bytes of ``sha`` are stored."""
        return is_sha(sha) and self.blob_path(sha).is_file()

    def delete(self, sha: str) -> int:
        """Remove the blob of ``sha`` and its thumbnail; return the bytes freed (0 if there were none)."""
        if not is_sha(sha):
            return 0
        freed = 0
        for path in (self.blob_path(sha), self.thumb_path(sha)):
            try:
                size = path.stat().st_size
                path.unlink()
                freed += size
            except FileNotFoundError:
                pass
        return freed

    def secret(self) -> bytes:
        """The signing key, created (mode 0600) on first use; two processes creating it at once agree."""
        path = self.root / "secret"
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        self.root.mkdir(parents=True, exist_ok=True)
        draft = self.root / f".secret-{secrets.token_hex(8)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(secrets.token_bytes(SECRET_BYTES))
                file.flush()
                os.fsync(file.fileno())
            # A link is atomic and never replaces: whoever links first made the key.
            try:
                os.link(draft, path)
            except FileExistsError:
                pass
        finally:
            draft.unlink(missing_ok=True)
        return path.read_bytes()

    def used_bytes(self) -> int:
        """The sum of the blobs' sizes."""
        if not self.blobs.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.blobs.glob("*/*") if p.is_file())

    def receive(self) -> Part:
        """A new upload in ``tmp/``: write its chunks, then ``keep()`` it or ``discard()`` it."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        return Part(self, self.tmp / f"{secrets.token_hex(16)}.part")

    def clear_tmp(self, older_than: float, now: float) -> int:
        """Remove uploads left in ``tmp/`` by a process that stopped (modified before ``now - older_than``)."""
        removed = 0
        for path in self.tmp.glob("*.part") if self.tmp.is_dir() else ():
            try:
                if path.stat().st_mtime < now - older_than:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
        return removed


class Part:
    """One upload being received into ``tmp/``, hashed as it is written.

    ``write`` and ``keep`` do disk I/O (run them in a thread on an event loop);
    an OSError from them (ENOSPC on a full disk) leaves the part for
    ``discard``. Used as a context manager, the part file is removed on the
    way out unless it was kept.
    """

    def __init__(self, store: BlobStore, path: Path) -> None:
        self.store = store
        self.path = path
        self.size = 0
        self._hash = hashlib.sha256()
        self._head = b""
        self._file = path.open("xb")
        self.kept = False

    @property
    def head(self) -> bytes:
        """The first bytes written (up to 512), for sniffing the type."""
        return self._head

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``. Raises OSError (a full disk)."""
        self._file.write(chunk)
        self._hash.update(chunk)
        if len(self._head) < 512:
            self._head += chunk[: 512 - len(self._head)]
        self.size += len(chunk)

    def finish(self) -> str:
        """Flush the bytes to disk; return their SHA-256. Raises OSError (a full disk)."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return self._hash.hexdigest()

    def keep(self, sha: str) -> bool:
        """Move the finished part into ``blobs/`` as ``sha``; False if those bytes were stored already."""
        dest = self.store.blob_path(sha)
        self.kept = True
        if dest.is_file():
            self.path.unlink(missing_ok=True)
            return False
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, dest)
        return True

    def discard(self) -> None:
        """Remove the part file (whatever state it is in)."""
        with contextlib.suppress(OSError):  # closing flushes, which fails again on a full disk
            self._file.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if not self.kept:
            self.discard()
