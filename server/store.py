"""SQLite storage for accounts and message history. Synchronous, no asyncio.

One ``Store`` is used from one thread at a time (the server gives it a thread
of its own; the ``parley user`` commands use it directly). The schema carries
its version in ``PRAGMA user_version`` and migrates forward on open.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path
from typing import Iterable, Sequence

from parley.protocol.names import lookalike_keys, name_key
from parley.startup import StartupError

from .datafolder import create_private_file, make_folder
from .records import ROLES, Account, AccountExists, NewMessage, StoredMessage

DATABASE_NAME = "parley.sqlite3"
MESSAGES_PER_INSERT = 500  # 9 values a row, well under SQLite's 32,766 variables a statement
MESSAGE_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?)"

_MIGRATIONS: list[str] = [
    # Version 1.
    """
    CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        name_key TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'member')),
        password_hash TEXT NOT NULL,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        ts_ms INTEGER NOT NULL,
        time_text TEXT NOT NULL,
        sender TEXT NOT NULL,
        color TEXT NOT NULL,
        rec TEXT NOT NULL,
        content TEXT NOT NULL,
        sender_ident TEXT NOT NULL,
        rec_ident TEXT            -- NULL for a public message
    );
    CREATE INDEX messages_public ON messages (id) WHERE rec_ident IS NULL;
    CREATE INDEX messages_by_sender ON messages (sender_ident, id) WHERE rec_ident IS NOT NULL;
    CREATE INDEX messages_by_recipient ON messages (rec_ident, id);
    """,
    # Version 2: each account's UTS #39 look-alike keys (names.lookalike_keys),
    # indexed, so a new name is checked against every registered one without
    # a scan. Filled in (and kept up to date with the confusables data) by
    # _refresh_lookalikes.
    """
    ALTER TABLE accounts ADD COLUMN lookalike_typed TEXT NOT NULL DEFAULT '';
    ALTER TABLE accounts ADD COLUMN lookalike_upper TEXT NOT NULL DEFAULT '';
    ALTER TABLE accounts ADD COLUMN lookalike_folded TEXT NOT NULL DEFAULT '';
    CREATE INDEX accounts_by_lookalike_typed ON accounts (lookalike_typed);
    CREATE INDEX accounts_by_lookalike_upper ON accounts (lookalike_upper);
    CREATE INDEX accounts_by_lookalike_folded ON accounts (lookalike_folded);
    """,
]
SCHEMA_VERSION = len(_MIGRATIONS)
# Any key of the name is any key of an account. Each column indexed (SQLite
# answers the OR from the three indexes): no scan at each CON.
LOOKALIKE_QUERY = (
    "SELECT name FROM accounts WHERE (lookalike_typed IN (:k0, :k1, :k2) OR lookalike_upper IN (:k0, :k1, :k2)"
    " OR lookalike_folded IN (:k0, :k1, :k2)) AND name_key != :name_key AND id IS NOT :except_id"
    " ORDER BY id LIMIT 1"
)


class NewerDatabase(StartupError):
    """The database was written by a newer Parley, with a schema this one does not know."""


def database_path(data_dir: Path) -> Path:
    return Path(data_dir) / DATABASE_NAME


def check_usable(path: Path) -> None:
    """Create the database's folder (0700) if missing. Raises StartupError naming why it cannot be used."""
    make_folder(path.parent)
    # Asked of the system first: SQLite's own answer ("unable to open database
    # file") names neither the file nor the cause.
    why_not = _unwritable(path)
    if why_not:
        raise StartupError(f"cannot open the database {path}: {why_not}")


def _connect(path: Path) -> sqlite3.Connection:
    """Connect to ``path``, creating its folder (0700) and file (0600). Raises StartupError naming what cannot be used."""
    check_usable(path)
    try:
        # Made private before SQLite opens it: its -wal and -shm files take its permissions.
        create_private_file(path)
    except OSError as error:
        raise StartupError(f"cannot open the database {path}: {error.strerror or error}") from None
    try:
        return sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as error:
        raise StartupError(f"cannot open the database {path}: {error}") from None


def _unwritable(path: Path) -> str | None:
    """Why this process cannot write the database at ``path``, or None.

    The folder must be writable even for an existing file: SQLite keeps its
    write-ahead log and shared-memory index beside it.
    """
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return f"no permission to write in the folder {path.parent}"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return "no permission to read and write the file"
    return None


class Store:
    """Accounts and history in one SQLite file (WAL, fsync on every commit)."""

    def __init__(self, path: Path, *, durable: bool = True) -> None:
        """Open (or create) the database at ``path`` and bring its schema up to date.

        Raises StartupError naming the path when the folder or the file cannot
        be used, and NewerDatabase for a database a newer Parley wrote.
        """
        self.path = Path(path)
        self._db = _connect(self.path)
        try:
            self._db.execute("PRAGMA busy_timeout=5000")
            # Before anything writes: a newer Parley's database is left as it is.
            version = self._schema_version()
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk before we deliver what it holds, so no
            # message a client has seen can be lost, by a crash or a power cut.
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'OFF'}")
            self._migrate(version)
            self._refresh_lookalikes()
        except sqlite3.Error as error:
            self._db.close()
            raise StartupError(f"cannot open the database {self.path}: {error}") from None
        except BaseException:
            self._db.close()
            raise

    def _schema_version(self) -> int:
        """The database's schema version. Raises NewerDatabase when this Parley does not know it."""
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise NewerDatabase(
                f"the database {self.path} is from a newer Parley (schema version {version}; this one"
                f" knows versions up to {SCHEMA_VERSION}): upgrade Parley to use it; the file is left as it was"
            )
        return version

    def _migrate(self, version: int) -> None:
        for number in range(version, SCHEMA_VERSION):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={number + 1}")
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        """Undo the open transaction, if SQLite has not already.

        After a full disk or an I/O error SQLite may roll back by itself; a
        ROLLBACK then fails ("no transaction is active") and would hide the
        error that matters, which the caller re-raises.
        """
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def _refresh_lookalikes(self) -> None:
        """Store each account's look-alike key where it is missing or was made from other confusables data."""
        rows = self._db.execute(
            "SELECT id, name, lookalike_typed, lookalike_upper, lookalike_folded FROM accounts").fetchall()
        changed = [(*lookalike_keys(name), account_id) for account_id, name, *stored in rows
                   if lookalike_keys(name) != tuple(stored)]
        if changed:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "UPDATE accounts SET lookalike_typed = ?, lookalike_upper = ?, lookalike_folded = ? WHERE id = ?",
                    changed)
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def close(self) -> None:
        self._db.close()

    def integrity_check(self) -> str:
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    # Accounts -----------------------------------------------------------

    def get_account(self, nickname: str) -> Account | None:
        row = self._db.execute(
            "SELECT id, name, role, password_hash FROM accounts WHERE name_key = ?",
            (name_key(nickname),),
        ).fetchone()
        return Account(*row) if row else None

    def find_lookalike(self, nickname: str, except_id: int | None = None) -> str | None:
        """The name of an account other than ``except_id`` that ``nickname`` imitates (UTS #39), or None.

        An account of the very name (rule 2 of CON) is no look-alike of it.
        """
        keys = {f"k{at}": key for at, key in enumerate(lookalike_keys(nickname))}
        row = self._db.execute(
            LOOKALIKE_QUERY, {**keys, "name_key": name_key(nickname), "except_id": except_id}).fetchone()
        return str(row[0]) if row else None

    def add_account(self, name: str, role: str, password_hash: str, *, adopt: str | None = None) -> Account:
        """Create an account. Raises AccountExists.

        ``adopt``: a guest's ident whose private messages become the account's,
        in the same transaction (a guest registering keeps them, or nothing is done).
        """
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self._db.execute("BEGIN IMMEDIATE")
        try:
            cursor = self._db.execute(
                "INSERT INTO accounts (name, name_key, lookalike_typed, lookalike_upper, lookalike_folded, role,"
                " password_hash, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (name, name_key(name), *lookalike_keys(name), role, password_hash, int(time.time() * 1000)),
            )
            account = Account(int(cursor.lastrowid or 0), name, role, password_hash)
            if adopt is not None:
                self.move_private_messages(adopt, account.ident)
            self._db.execute("COMMIT")
        except sqlite3.IntegrityError:
            self._rollback()
            raise AccountExists(name) from None
        except BaseException:
            self._rollback()
            raise
        return account

    def set_password(self, account_id: int, password_hash: str) -> None:
        self._db.execute(
            "UPDATE accounts SET password_hash = ? WHERE id = ?", (password_hash, account_id)
        )

    def upgrade_password(self, account_id: int, old_hash: str, new_hash: str) -> bool:
        """Store ``new_hash`` (a stronger hash of the same password) if the account still has ``old_hash``.

        Returns whether it was stored: a password changed since ``old_hash``
        was read is kept.
        """
        cursor = self._db.execute(
            "UPDATE accounts SET password_hash = ? WHERE id = ? AND password_hash = ?",
            (new_hash, account_id, old_hash),
        )
        return cursor.rowcount > 0

    def set_role(self, account_id: int, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self._db.execute("UPDATE accounts SET role = ? WHERE id = ?", (role, account_id))

    def rename_account(self, account_id: int, name: str) -> None:
        """Give an account a new name. Raises AccountExists."""
        try:
            self._db.execute(
                "UPDATE accounts SET name = ?, name_key = ?, lookalike_typed = ?, lookalike_upper = ?,"
                " lookalike_folded = ? WHERE id = ?",
                (name, name_key(name), *lookalike_keys(name), account_id),
            )
        except sqlite3.IntegrityError:
            raise AccountExists(name) from None

    def remove_account(self, nickname: str) -> bool:
        cursor = self._db.execute("DELETE FROM accounts WHERE name_key = ?", (name_key(nickname),))
        return cursor.rowcount > 0

    def list_accounts(self) -> list[Account]:
        rows = self._db.execute("SELECT id, name, role, password_hash FROM accounts ORDER BY id")
        return [Account(*row) for row in rows]

    def admin_names(self) -> list[str]:
        rows = self._db.execute("SELECT name FROM accounts WHERE role = 'admin' ORDER BY id")
        return [row[0] for row in rows]

    # History ------------------------------------------------------------

    def append_messages(self, messages: Sequence[NewMessage]) -> list[int]:
        """Store messages in one transaction (one fsync); return their ids in order.

        The ids are chosen here (the next after the largest) and the rows go in
        with one INSERT per MESSAGES_PER_INSERT: SQLite releases Python's lock
        on every statement step, and each time taking it back can wait for a
        busy event loop, so a commit takes four steps, not one per message.
        """
        self._db.execute("BEGIN IMMEDIATE")
        try:
            (last,) = self._db.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()
            ids = list(range(last + 1, last + 1 + len(messages)))
            for start in range(0, len(messages), MESSAGES_PER_INSERT):
                chunk = messages[start : start + MESSAGES_PER_INSERT]
                values: list[object] = []
                for message_id, m in zip(ids[start:], chunk):
                    values += (message_id, m.ts_ms, m.time_text, m.sender, m.color, m.rec, m.content,
                               m.sender_ident, m.rec_ident)
                self._db.execute(
                    "INSERT INTO messages (id, ts_ms, time_text, sender, color, rec, content, sender_ident,"
                    " rec_ident) VALUES " + ", ".join([MESSAGE_ROW] * len(chunk)),
                    values,
                )
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return ids

    def recent_messages(self, viewer_idents: Iterable[str], limit: int) -> list[StoredMessage]:
        """The last ``limit`` messages a viewer may see, oldest first.

        A viewer sees every public message and the private ones it sent or
        received under any of ``viewer_idents``.
        """
        idents = list(viewer_idents)
        columns = "id, ts_ms, time_text, sender, color, rec, content"
        parts = [f"SELECT {columns} FROM messages WHERE rec_ident IS NULL ORDER BY id DESC LIMIT :n"]
        params: dict[str, object] = {"n": limit}
        for i, ident in enumerate(idents):
            params[f"i{i}"] = ident
            parts.append(
                f"SELECT {columns} FROM messages WHERE sender_ident = :i{i}"
                f" AND rec_ident IS NOT NULL ORDER BY id DESC LIMIT :n"
            )
            parts.append(
                f"SELECT {columns} FROM messages WHERE rec_ident = :i{i} ORDER BY id DESC LIMIT :n"
            )
        union = " UNION ".join(f"SELECT * FROM ({part})" for part in parts)
        rows = self._db.execute(
            f"SELECT * FROM ({union}) ORDER BY id DESC LIMIT :n", params
        ).fetchall()
        return [StoredMessage(*row) for row in reversed(rows)]

    def move_private_messages(self, old_ident: str, new_ident: str) -> None:
        """Re-tag a guest's private messages (inside ``add_account``'s transaction when it adopts them)."""
        self._db.execute(
            "UPDATE messages SET sender_ident = ? WHERE sender_ident = ?", (new_ident, old_ident)
        )
        self._db.execute(
            "UPDATE messages SET rec_ident = ? WHERE rec_ident = ?", (new_ident, old_ident)
        )
