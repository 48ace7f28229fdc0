"""The data folder: private to its owner, and used by one server at a time.

The folder holds password hashes and private messages, so it is made 0700
and the database 0600. SQLite gives its ``-wal`` and ``-shm`` files the
database file's own permissions, so creating the database file 0600 before
SQLite opens it keeps those private too. A folder or file that is already
more open is left as its owner made it, with a warning naming the fix.

One server per folder: two servers on one database would both accept the
same nickname and each keep its own idea of who is online. A server holds an
exclusive ``flock`` on ``parley.lock`` for its whole life; the system drops
it when the process ends in any way, ``kill -9`` included, so a lock is never
stale. ``parley user`` commands take no lock: SQLite serialises their writes
with the server's.
"""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path

from parley.startup import StartupError

FOLDER_MODE = 0o700
FILE_MODE = 0o600
LOCK_NAME = "parley.lock"
SQLITE_SIDE_FILES = ("-wal", "-shm")


def make_folder(folder: Path) -> None:
    """Create ``folder`` (mode 0700) and its parents if missing. Raises StartupError naming why it cannot."""
    try:
        folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    except OSError as error:
        why = "it is not a folder" if folder.exists() else error.strerror
        raise StartupError(f"cannot use the data folder {folder}: {why}") from None


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (an existing file is left alone). Raises OSError."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
    except FileExistsError:
        pass


def _too_open(path: Path) -> int | None:
    """``path``'s permission bits when users other than its owner have any, else None (also when it is missing)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    return mode if mode & 0o077 else None


def permission_warnings(database: Path) -> list[str]:
    """One line for the database's folder and for each of its files that others on this machine may open."""
    lines = []
    folder = database.parent
    mode = _too_open(folder)
    if mode is not None:
        lines.append(f"the data folder {folder} is open to other users of this machine (mode {mode:o}), "
                     f"who may read password hashes and private messages; fix: chmod 700 {folder}")
    for path in (database, *(Path(f"{database}{suffix}") for suffix in SQLITE_SIDE_FILES)):
        mode = _too_open(path)
        if mode is not None:
            lines.append(f"the database file {path} is open to other users of this machine (mode {mode:o}); "
                         f"fix: chmod 600 {path}")
    return lines


class FolderLock:
    """An exclusive lock on a data folder, held until ``release()`` or the process's end."""

    def __init__(self, folder: Path) -> None:
        """Take the lock, creating the folder if missing.

        Raises StartupError when another process holds it or the folder or lock file cannot be made.
        """
        make_folder(Path(folder))
        self.path = Path(folder) / LOCK_NAME
        try:
            self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        except OSError as error:
            raise StartupError(f"cannot create the lock file {self.path}: {error.strerror or error}") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder()
            os.close(self._fd)
            self._fd = None
            raise StartupError(
                f"another Parley server{holder} is running on the data folder {folder}; "
                "stop it first, or give this one another --data-dir") from None
        # Who holds it, for the message above (informative only: the lock is the flock).
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode("ascii"))

    def _holder(self) -> str:
        """`` (process N)`` from the lock file, or nothing when it names none."""
        assert self._fd is not None
        try:
            text = os.pread(self._fd, 32, 0).decode("ascii").strip()
        except (OSError, UnicodeDecodeError):
            return ""
        return f" (process {text})" if text.isdigit() else ""

    def release(self) -> None:
        """Let another server use the folder (the file stays: removing it could race a new locker)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
