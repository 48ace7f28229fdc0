"""SQLite storage for accounts, message history, rooms, read state and sessions. Synchronous, no asyncio.

One ``Store`` is used from one thread at a time (the server gives it a thread
of its own; the ``parley user`` commands use it directly). The schema carries
its version in ``PRAGMA user_version`` and migrates forward on open.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from parley.protocol import names
from parley.protocol.names import lookalike_keys, name_key
from parley.startup import StartupError

from .datafolder import create_private_file, make_folder
from .records import (
    RESTRICTION_KINDS,
    ROLES,
    Account,
    AccountExists,
    AuditEntry,
    Member,
    Membership,
    MessageRecord,
    NewMessage,
    Report,
    Restriction,
    Room,
    RoomExists,
    RoomSummary,
    Session,
    StoredMessage,
    FileRecord,
    Summary,
)

DATABASE_NAME = "parley.sqlite3"
MESSAGES_PER_INSERT = 500  # 10 values a row, well under SQLite's 32,766 variables a statement
MESSAGE_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
# A StoredMessage: its columns, then its file's (NULL when it shares none) as one JSON array.
FILE_COLUMN = ("(SELECT json_array(f.sha, f.size, f.type, f.name, f.width, f.height) FROM files f"
               " WHERE f.message_id = {m}.id)")
MESSAGE_COLUMNS = "id, ts_ms, time_text, sender, color, rec, content, edited_ms, " + FILE_COLUMN.format(m="messages")
UNREAD_CAP = 1000  # CONV's unread: "counted up to 1000"
NO_LIMIT = 2**63 - 1  # an id above every message's
LOBBY = "lobby"  # the lobby's conversation in read_markers
# The lobby's messages: what the index messages_public covers (its WHERE, word for word).
IN_LOBBY = "rec_ident IS NULL AND room_id IS NULL"
LIVE = "deleted = 0"  # not a deleted message's tombstone
ConversationKind = Literal["lobby", "room", "private"]
RESTRICTION_COLUMNS = "id, kind, target, target_key, ident, room_id, room, reason, banned_by, created_ms, until_ms"
AUDIT_COLUMNS = "id, at_ms, actor, action, target, room, reason, detail"
REPORT_TEXT = 300  # REPORTS' text: "the message's first 300 characters"
# A Report: the report and the message it is about, as the message is now.
REPORTS_QUERY = (
    "SELECT r.id, r.at_ms, r.reporter, r.message_id, coalesce(m.sender, ''), coalesce(m.rec, ''),"
    f" substr(coalesce(m.content, ''), 1, {REPORT_TEXT}), r.reason FROM reports r"
    " LEFT JOIN messages m ON m.id = r.message_id"
)



def _scope_words(row: str) -> str:
    """SQL for the scope words of the message ``row`` in messages_fts (schema version 4: never change it).

    Where a message may be read, as words the index can intersect with the
    searched ones: ``lobby``; ``r<room id>``; for a private message ``p<ident>``
    for each party and ``c<ident>x<ident>`` for the conversation (the two in
    order), an ident's ``:`` left out (``a:7`` is ``pa7``). A search within a
    room or a conversation then reads only its matches, not every match of
    every conversation; _search_words builds the same words.
    """
    sender, rec = f"replace({row}.sender_ident, ':', '')", f"replace({row}.rec_ident, ':', '')"
    return (f"CASE WHEN {row}.room_id IS NOT NULL THEN 'r' || {row}.room_id WHEN {row}.rec_ident IS NULL THEN 'lobby'"
            f" ELSE 'p' || {sender} || ' p' || {rec} || ' c' || min({sender}, {rec}) || 'x' || max({sender}, {rec})"
            " END")


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
    # Version 3: rooms and their members, read markers, offline private
    # messages, remembered sessions (issue 13). A room's messages carry its
    # room_id (rec_ident NULL), so the lobby's index leaves them out. The
    # recipients' index leaves out every message without one: else SQLite
    # (with no statistics) answers "rec_ident IS NULL" from it and walks
    # through every room message to find the lobby's. messages_between finds
    # one private conversation's messages (its unread, its pages) without
    # reading every other conversation of either party. Existing accounts
    # start with the lobby read up to its newest message, as a new account does.
    """
    CREATE TABLE rooms (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        name_key TEXT NOT NULL UNIQUE,
        topic TEXT NOT NULL,
        private INTEGER NOT NULL,
        created_ms INTEGER NOT NULL,
        created_by TEXT NOT NULL
    );
    CREATE TABLE room_members (
        room_id INTEGER NOT NULL,
        ident TEXT NOT NULL,
        name TEXT NOT NULL,
        op INTEGER NOT NULL,
        joined_ms INTEGER NOT NULL,
        PRIMARY KEY (room_id, ident)
    );
    CREATE INDEX room_members_by_ident ON room_members (ident);
    ALTER TABLE messages ADD COLUMN room_id INTEGER;
    CREATE INDEX messages_by_room ON messages (room_id, id) WHERE room_id IS NOT NULL;
    DROP INDEX messages_public;
    CREATE INDEX messages_public ON messages (id) WHERE rec_ident IS NULL AND room_id IS NULL;
    DROP INDEX messages_by_recipient;
    CREATE INDEX messages_by_recipient ON messages (rec_ident, id) WHERE rec_ident IS NOT NULL;
    CREATE INDEX messages_between ON messages (rec_ident, sender_ident, id) WHERE rec_ident IS NOT NULL;
    CREATE TABLE read_markers (
        account_id INTEGER NOT NULL,
        conv TEXT NOT NULL,
        message_id INTEGER NOT NULL,
        PRIMARY KEY (account_id, conv)
    ) WITHOUT ROWID;
    CREATE TABLE offline_messages (
        account_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        PRIMARY KEY (account_id, message_id)
    ) WITHOUT ROWID;
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL,
        last_used_ms INTEGER NOT NULL,
        address TEXT NOT NULL
    );
    CREATE INDEX sessions_by_account ON sessions (account_id);
    INSERT INTO read_markers (account_id, conv, message_id)
        SELECT id, 'lobby', (SELECT coalesce(max(id), 0) FROM messages WHERE rec_ident IS NULL) FROM accounts;
    """,
    # Version 4: moderation, editing and search (issue 14). Bans and mutes
    # (lifted ones kept, for the record), the audit log, users' reports (one
    # open report of a message per reporter). A deleted message stays as a
    # tombstone (content '', deleted 1) so that its id is never given again.
    # messages_fts indexes each live message's words (external content: the
    # text is kept once, in messages, seen through messages_search) and its
    # scope (_SCOPE_WORDS); the triggers keep it in step, and a tombstone has
    # no row in it. unicode61 with remove_diacritics 2 finds "cafe" in "Café";
    # the prefix index answers a word's beginning ("he" for "hello") from one
    # list instead of merging every word that starts so.
    f"""
    CREATE TABLE bans (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('user', 'address', 'room', 'mute')),
        target TEXT NOT NULL,
        target_key TEXT NOT NULL,
        ident TEXT,
        room_id INTEGER,
        room TEXT NOT NULL,
        reason TEXT NOT NULL,
        banned_by TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        until_ms INTEGER NOT NULL,   -- 0: for good
        lifted_ms INTEGER NOT NULL DEFAULT 0,
        lifted_by TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX bans_active ON bans (id) WHERE lifted_ms = 0;
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at_ms INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        room TEXT NOT NULL,
        reason TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE TABLE reports (
        id INTEGER PRIMARY KEY,
        at_ms INTEGER NOT NULL,
        reporter TEXT NOT NULL,
        reporter_ident TEXT NOT NULL,
        message_id INTEGER NOT NULL,
        reason TEXT NOT NULL,
        resolved_ms INTEGER NOT NULL DEFAULT 0,
        resolved_by TEXT NOT NULL DEFAULT ''
    );
    CREATE UNIQUE INDEX reports_open ON reports (message_id, reporter_ident) WHERE resolved_ms = 0;
    CREATE INDEX reports_open_by_id ON reports (id) WHERE resolved_ms = 0;
    ALTER TABLE messages ADD COLUMN edited_ms INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
    CREATE VIEW messages_search AS SELECT id, content, {_scope_words("messages")} AS scope
        FROM messages WHERE deleted = 0;
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, scope, content='messages_search', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2', prefix='1 2 3'
    );
    CREATE TABLE search_state (indexed_up_to INTEGER NOT NULL);
    INSERT INTO search_state SELECT coalesce(max(id), 0) FROM messages;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, deleted, sender_ident, rec_ident, room_id
        ON messages WHEN old.id <= (SELECT indexed_up_to FROM search_state) BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, content, scope)
            SELECT 'delete', old.id, old.content, {_scope_words("old")} WHERE old.deleted = 0;
        INSERT INTO messages_fts (rowid, content, scope)
            SELECT new.id, new.content, {_scope_words("new")} WHERE new.deleted = 0;
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
        WHEN old.deleted = 0 AND old.id <= (SELECT indexed_up_to FROM search_state) BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, content, scope)
            VALUES ('delete', old.id, old.content, {_scope_words("old")});
    END;
    INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
    """,
    # Version 5: shared files (issue 15). A file is one message's: it has the
    # message's id, and goes with it. Its bytes are the blob named by their
    # SHA-256 in the data folder's files/ (the same bytes are stored once,
    # whoever sends them where: files_by_sha finds whether another message
    # still holds a blob). files_by_uploader: a user's quota at each UPLOAD.
    """
    CREATE TABLE files (
        message_id INTEGER PRIMARY KEY,
        sha TEXT NOT NULL,
        size INTEGER NOT NULL,
        type TEXT NOT NULL,
        name TEXT NOT NULL,
        width INTEGER NOT NULL DEFAULT 0,
        height INTEGER NOT NULL DEFAULT 0,
        uploader_ident TEXT NOT NULL,
        created_ms INTEGER NOT NULL
    );
    CREATE INDEX files_by_sha ON files (sha);
    CREATE INDEX files_by_uploader ON files (uploader_ident);
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




def _statements(script: str) -> Iterator[str]:
    """The SQL statements of ``script``, one by one (a trigger's body holds semicolons of its own)."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""
    if pending.strip(" \n;"):
        raise ValueError(f"incomplete SQL statement: {pending!r}")


def _quoted(word: str) -> str:
    """``word`` as an FTS5 string: whatever it holds is text to look for, never FTS5 syntax.

    A NUL would end the query where FTS5 reads it: it separates words as a space does.
    """
    return '"' + word.replace('"', '""').replace("\x00", " ") + '"'


def fts_query(words: Sequence[str], scope_words: Sequence[str]) -> str:
    """An FTS5 query for the messages whose text has a word beginning with each of ``words``, and whose scope
    is any of ``scope_words``: ``{content} : ("a"* "b"*) AND {scope} : ("lobby" OR "r5")``.

    Each word is quoted (its quotes doubled), so ``OR``, ``NEAR``, ``*``,
    ``^``, ``-`` or ``"`` in it are looked for, never obeyed.
    """
    text = " ".join(_quoted(word) + "*" for word in words)
    return f"{{content}} : ({text}) AND {{scope}} : ({' OR '.join(map(_quoted, scope_words))})"


def _search_words(viewers: Sequence[str], lobby: bool, room_ids: Sequence[int], private: bool,
                  other_ident: str | None) -> list[str]:
    """The scope words (as _scope_words writes them) of the messages a search may find."""
    def bare(ident: str) -> str:
        return ident.replace(":", "")

    found = ["lobby"] if lobby else []
    found += [f"r{room_id}" for room_id in room_ids]
    if private:
        if other_ident is None:
            found += [f"p{bare(viewer)}" for viewer in viewers]
        else:
            pairs = [sorted((bare(viewer), bare(other_ident))) for viewer in viewers]
            found += [f"c{first}x{second}" for first, second in pairs]
    return found


def _search_scope(viewers: list[str], lobby: bool, room_ids: list[int], private: bool, other_ident: str | None,
                  params: dict[str, object]) -> str:
    """The WHERE condition on ``m`` (messages) of what a search may find; '' when nothing."""
    scope: list[str] = []
    if lobby:
        scope.append(f"(m.{IN_LOBBY.replace(' AND ', ' AND m.')})")
    if room_ids:
        scope.append(f"m.room_id IN ({_marks('r', room_ids, params)})")
    if private and viewers:
        own = _marks("v", viewers, params)
        if other_ident is None:
            scope.append(f"(m.sender_ident IN ({own}) AND m.rec_ident IS NOT NULL) OR m.rec_ident IN ({own})")
        else:
            params["other"] = other_ident
            scope.append(f"(m.sender_ident IN ({own}) AND m.rec_ident = :other)"
                         f" OR (m.sender_ident = :other AND m.rec_ident IN ({own}))")
    return " OR ".join(scope)


def _bare(room_name: str) -> str:
    """A room's name without the ``#`` the wire writes before it."""
    return room_name.removeprefix("#")


def _marks(prefix: str, values: Sequence[object], params: dict[str, object]) -> str:
    """Named placeholders for ``values`` (added to ``params``), joined for an IN (...) list."""
    keys = [f"{prefix}{at}" for at in range(len(values))]
    params.update(zip(keys, values))
    return ", ".join(f":{key}" for key in keys) or "NULL"


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


class Cursor(Protocol):
    """What Store reads of a statement's result (sqlite3's cursor; PgStore's gives the same)."""

    @property
    def rowcount(self) -> int: ...
    @property
    def lastrowid(self) -> int | None: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What Store asks of its database connection: sqlite3's, or PgStore's PostgreSQL one."""

    @property
    def in_transaction(self) -> bool: ...
    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...
    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor: ...
    def close(self) -> None: ...


class Store:
    """Accounts and history in one SQLite file (WAL, fsync on every commit)."""

    # What the database raises for a broken UNIQUE constraint (a name taken, a report made already).
    _conflict: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)

    def __init__(self, path: Path, *, durable: bool = True) -> None:
        """Open (or create) the database at ``path`` and bring its schema up to date.

        Raises StartupError naming the path when the folder or the file cannot
        be used, and NewerDatabase for a database a newer Parley wrote.
        """
        self.path = Path(path)
        self._db: Connection = _connect(self.path)
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
                for statement in _statements(_MIGRATIONS[number]):
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

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction: committed at the end of the block, rolled back if it raises."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

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
            "SELECT id, name, role, password_hash, created_ms FROM accounts WHERE name_key = ?",
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

        ``adopt``: a guest's ident whose private messages and room memberships
        become the account's, in the same transaction (a guest registering
        keeps them, or nothing is done).
        """
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        created_ms = int(time.time() * 1000)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            cursor = self._db.execute(
                "INSERT INTO accounts (name, name_key, lookalike_typed, lookalike_upper, lookalike_folded, role,"
                " password_hash, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (name, name_key(name), *lookalike_keys(name), role, password_hash, created_ms),
            )
            account = Account(int(cursor.lastrowid or 0), name, role, password_hash, created_ms)
            # "a new account's lobby marker is the last lobby id at creation"
            self._db.execute(
                f"INSERT INTO read_markers (account_id, conv, message_id) SELECT ?, ?, coalesce(max(id), 0)"
                f" FROM messages WHERE {IN_LOBBY}", (account.id, LOBBY))
            if adopt is not None:
                self.move_private_messages(adopt, account.ident)
            self._db.execute("COMMIT")
        except self._conflict:
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
        """Give an account a new name, in its rooms' member lists too. Raises AccountExists."""
        try:
            with self._transaction():
                self._db.execute(
                    "UPDATE accounts SET name = ?, name_key = ?, lookalike_typed = ?, lookalike_upper = ?,"
                    " lookalike_folded = ? WHERE id = ?",
                    (name, name_key(name), *lookalike_keys(name), account_id),
                )
                self.rename_member(f"a:{account_id}", name)
        except self._conflict:
            raise AccountExists(name) from None

    def remove_account(self, nickname: str) -> bool:
        """Delete an account with its sessions, room memberships, read markers and offline notes.

        Returns whether there was one. Its messages stay in the history.
        (Foreign keys are off in Parley: each dependent table is cleared here.)
        """
        with self._transaction():
            row = self._db.execute("SELECT id FROM accounts WHERE name_key = ?", (name_key(nickname),)).fetchone()
            if row is None:
                return False
            account_id = int(row[0])
            for table in ("sessions", "read_markers", "offline_messages"):
                self._db.execute(f"DELETE FROM {table} WHERE account_id = ?", (account_id,))
            self._db.execute("DELETE FROM room_members WHERE ident = ?", (f"a:{account_id}",))
            self._db.execute("DELETE FROM accounts WHERE id = ?", (account_id,))
        return True

    def list_accounts(self) -> list[Account]:
        """Every account (with when it was created), oldest first."""
        rows = self._db.execute("SELECT id, name, role, password_hash, created_ms FROM accounts ORDER BY id")
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
                               m.sender_ident, m.rec_ident, m.room_id)
                self._db.execute(
                    "INSERT INTO messages (id, ts_ms, time_text, sender, color, rec, content, sender_ident,"
                    " rec_ident, room_id) VALUES " + ", ".join([MESSAGE_ROW] * len(chunk)),
                    values,
                )
            files = [(message_id, m.file.sha, m.file.size, m.file.type, m.file.name, m.file.width, m.file.height,
                      m.sender_ident, m.ts_ms) for message_id, m in zip(ids, messages) if m.file is not None]
            if files:
                self._db.executemany("INSERT INTO files (message_id, sha, size, type, name, width, height,"
                                     " uploader_ident, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", files)
            offline = [(m.offline_for, message_id) for message_id, m in zip(ids, messages) if m.offline_for is not None]
            if offline:
                self._db.executemany("INSERT INTO offline_messages (account_id, message_id) VALUES (?, ?)", offline)
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return ids

    def append_sequenced(self, messages: Sequence[NewMessage]) -> list[tuple[int, int]]:
        """Like ``append_messages``, returning each message's ``(id, seq)``: its place in its conversation
        (records.conversation_key). One SQLite file is one node: a message's id orders it, so seq is its id."""
        return [(message_id, message_id) for message_id in self.append_messages(messages)]

    def recent_messages(self, viewer_idents: Iterable[str], limit: int) -> list[StoredMessage]:
        """The last ``limit`` messages a viewer may see, oldest first.

        A viewer sees every message of the lobby and the private ones it sent
        or received under any of ``viewer_idents``; never a room's (REF
        replays the lobby and private messages only), nor a deleted one.
        """
        idents = list(viewer_idents)
        columns = MESSAGE_COLUMNS
        parts = [f"SELECT {columns} FROM messages WHERE {IN_LOBBY} AND {LIVE} ORDER BY id DESC LIMIT :n"]
        params: dict[str, object] = {"n": limit}
        for i, ident in enumerate(idents):
            params[f"i{i}"] = ident
            parts.append(
                f"SELECT {columns} FROM messages WHERE sender_ident = :i{i}"
                f" AND rec_ident IS NOT NULL AND {LIVE} ORDER BY id DESC LIMIT :n"
            )
            parts.append(
                f"SELECT {columns} FROM messages WHERE rec_ident = :i{i} AND {LIVE} ORDER BY id DESC LIMIT :n"
            )
        union = " UNION ".join(f"SELECT * FROM ({part}) AS p{at}" for at, part in enumerate(parts))
        rows = self._db.execute(
            f"SELECT * FROM ({union}) AS recent ORDER BY id DESC LIMIT :n", params
        ).fetchall()
        return [_stored(row) for row in reversed(rows)]

    def move_private_messages(self, old_ident: str, new_ident: str) -> None:
        """Re-tag a guest's messages and room memberships (inside ``add_account``'s transaction when it adopts them).

        Its rooms' read markers start at each room's newest message, as when
        an account joins.
        """
        self._db.execute(
            "UPDATE messages SET sender_ident = ? WHERE sender_ident = ?", (new_ident, old_ident)
        )
        self._db.execute(
            "UPDATE messages SET rec_ident = ? WHERE rec_ident = ?", (new_ident, old_ident)
        )
        self._db.execute("UPDATE room_members SET ident = ? WHERE ident = ?", (new_ident, old_ident))
        self._db.execute("UPDATE files SET uploader_ident = ? WHERE uploader_ident = ?", (new_ident, old_ident))
        if new_ident.startswith("a:"):
            self._db.execute(
                "INSERT OR REPLACE INTO read_markers (account_id, conv, message_id)"
                " SELECT ?, 'r:' || room_id, (SELECT coalesce(max(id), 0) FROM messages WHERE messages.room_id ="
                " room_members.room_id) FROM room_members WHERE ident = ?",
                (int(new_ident[2:]), new_ident))

    # Paged history (HISTORY) -----------------------------------------------

    def lobby_history(self, before: int | None, limit: int,
                      after: int | None = None) -> tuple[list[StoredMessage], bool]:
        """Up to ``limit`` lobby messages with ids below ``before`` (None: the newest), oldest first, and whether
        older ones exist. With ``after``: the oldest ``limit`` above it, and whether newer ones exist."""
        return self._page([f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE {IN_LOBBY}"], {}, before, limit, after)

    def room_history(self, room_id: int, before: int | None, limit: int,
                     after: int | None = None) -> tuple[list[StoredMessage], bool]:
        """Like lobby_history, for a room's messages."""
        return self._page([f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE room_id = :room"], {"room": room_id},
                          before, limit, after)

    def private_history(self, viewer_idents: Sequence[str], other_ident: str, before: int | None,
                        limit: int, after: int | None = None) -> tuple[list[StoredMessage], bool]:
        """Like lobby_history, for the messages between any of ``viewer_idents`` and ``other_ident``, either way.

        When ``other_ident`` is one of ``viewer_idents`` it is the
        conversation with oneself.
        """
        params: dict[str, object] = {"other": other_ident}
        viewers = _marks("v", list(viewer_idents), params)
        return self._page([
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE sender_ident IN ({viewers}) AND rec_ident = :other",
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE sender_ident = :other AND rec_ident IN ({viewers})",
        ], params, before, limit, after)

    def private_partner(self, viewer_idents: Sequence[str], nickname: str, scan: int = 2000) -> str | None:
        """The ident of whoever ``viewer_idents`` last talked to privately under ``nickname`` (compared as
        nicknames are), among their ``scan`` latest private messages; None if none. How a conversation
        with a guest who has left is still found by its name."""
        params: dict[str, object] = {"n": scan}
        viewers = _marks("v", list(viewer_idents), params)
        rows = self._db.execute(
            f"SELECT * FROM (SELECT id, rec, rec_ident FROM messages WHERE sender_ident IN ({viewers})"
            f" AND rec_ident IS NOT NULL ORDER BY id DESC LIMIT :n) AS sent"
            f" UNION ALL SELECT * FROM (SELECT id, sender, sender_ident FROM messages WHERE rec_ident IN ({viewers})"
            f" ORDER BY id DESC LIMIT :n) AS received ORDER BY id DESC", params).fetchall()
        key = name_key(nickname)
        return next((str(ident) for _, name, ident in rows if name_key(name) == key), None)

    def _page(self, selects: list[str], params: dict[str, object], before: int | None,
              limit: int, after: int | None = None) -> tuple[list[StoredMessage], bool]:
        """The newest ``limit`` rows below ``before`` of the union of ``selects``, oldest first, and whether there
        are older ones; with ``after``, the oldest ``limit`` rows above it (and below ``before``) and whether there
        are newer ones. Deleted messages are left out.

        Each select ends with a WHERE clause; each is ordered and cut on its
        own (from its index) before the union is.
        """
        order = "DESC" if after is None else "ASC"
        params = {**params, "before": NO_LIMIT if before is None else before, "after": after or 0,
                  "n": max(limit, 0) + 1}
        parts = [f"SELECT * FROM ({select} AND id < :before AND id > :after AND {LIVE} ORDER BY id {order} LIMIT :n)"
                 f" AS p{at}" for at, select in enumerate(selects)]
        rows = self._db.execute(f"{' UNION '.join(parts)} ORDER BY id {order} LIMIT :n", params).fetchall()
        page = [_stored(row) for row in rows[:limit]]
        return (page if after is not None else page[::-1]), len(rows) > limit

    # Rooms -------------------------------------------------------------------

    def create_room(self, name: str, topic: str, private: bool, creator_ident: str, creator_name: str,
                    now_ms: int) -> Room:
        """Create a room (``name`` with or without its ``#``; the caller has checked it), its creator its first member and operator.

        Raises RoomExists when a room of that name (compared as nicknames are) exists.
        """
        bare = _bare(name)
        try:
            with self._transaction():
                cursor = self._db.execute(
                    "INSERT INTO rooms (name, name_key, topic, private, created_ms, created_by)"
                    " VALUES (?, ?, ?, ?, ?, ?)", (bare, name_key(bare), topic, int(private), now_ms, creator_ident))
                room = Room(int(cursor.lastrowid or 0), bare, topic, private, now_ms)
                self._db.execute("INSERT INTO room_members (room_id, ident, name, op, joined_ms) VALUES (?, ?, ?, 1, ?)",
                                 (room.id, creator_ident, creator_name, now_ms))
        except self._conflict:
            raise RoomExists(bare) from None
        return room

    def get_room(self, name: str) -> Room | None:
        """The room named ``name`` (with or without its ``#``, compared as nicknames are), or None."""
        row = self._db.execute("SELECT id, name, topic, private, created_ms FROM rooms WHERE name_key = ?",
                               (name_key(_bare(name)),)).fetchone()
        return _room(row) if row else None

    def _room_by_id(self, room_id: int) -> Room | None:
        row = self._db.execute("SELECT id, name, topic, private, created_ms FROM rooms WHERE id = ?",
                               (room_id,)).fetchone()
        return _room(row) if row else None

    def public_rooms(self, limit: int = 500) -> list[RoomSummary]:
        """The public rooms, most members first, then by name; at most ``limit``."""
        rows = self._db.execute(
            "SELECT r.name, r.topic, count(m.ident) AS members FROM rooms r LEFT JOIN room_members m"
            " ON m.room_id = r.id WHERE r.private = 0 GROUP BY r.id ORDER BY members DESC, r.name_key LIMIT ?",
            (limit,))
        return [RoomSummary(name, topic, int(members)) for name, topic, members in rows]

    def rooms_of(self, ident: str) -> list[Membership]:
        """The rooms ``ident`` is in, in the order it joined them."""
        return self._memberships([ident])

    def _memberships(self, idents: Sequence[str]) -> list[Membership]:
        """The rooms any of ``idents`` is in, in join order, each once (an operator if any of them is)."""
        params: dict[str, object] = {}
        rows = self._db.execute(
            "SELECT r.id, r.name, r.topic, r.private, r.created_ms, m.op FROM room_members m"
            f" JOIN rooms r ON r.id = m.room_id WHERE m.ident IN ({_marks('i', list(idents), params)})"
            " ORDER BY m.rowid", params)
        found: dict[int, Membership] = {}
        for *room, op in rows:
            earlier = found.get(room[0])
            found[room[0]] = Membership(_room(room), bool(op) or (earlier is not None and earlier.op))
        return list(found.values())

    def add_member(self, room_id: int, ident: str, name: str, op: bool, now_ms: int) -> bool:
        """Make ``ident`` a member of the room; False if it is one already.

        "Joining a room sets the marker to its last id": an account has read
        what was said before it joined.
        """
        with self._transaction():
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO room_members (room_id, ident, name, op, joined_ms) VALUES (?, ?, ?, ?, ?)",
                (room_id, ident, name, int(op), now_ms))
            if cursor.rowcount and ident.startswith("a:"):
                self._db.execute(
                    "INSERT OR REPLACE INTO read_markers (account_id, conv, message_id)"
                    " SELECT ?, ?, coalesce(max(id), 0) FROM messages WHERE room_id = ?",
                    (int(ident[2:]), f"r:{room_id}", room_id))
        return cursor.rowcount > 0

    def remove_member(self, room_id: int, ident: str) -> bool:
        """Take ``ident`` out of the room; False if it was not in it."""
        cursor = self._db.execute("DELETE FROM room_members WHERE room_id = ? AND ident = ?", (room_id, ident))
        return cursor.rowcount > 0

    def set_op(self, room_id: int, ident: str, op: bool) -> bool:
        """Name or unname a member an operator; False if ``ident`` is not a member."""
        cursor = self._db.execute("UPDATE room_members SET op = ? WHERE room_id = ? AND ident = ?",
                                  (int(op), room_id, ident))
        return cursor.rowcount > 0

    def set_topic(self, room_id: int, topic: str) -> None:
        self._db.execute("UPDATE rooms SET topic = ? WHERE id = ?", (topic, room_id))

    def room_members(self, room_id: int) -> list[Member]:
        """Every member of the room, in the order they joined."""
        rows = self._db.execute("SELECT name, ident, op FROM room_members WHERE room_id = ? ORDER BY rowid",
                                (room_id,))
        return [Member(name, ident, bool(op)) for name, ident, op in rows]

    def member_op(self, room_id: int, ident: str) -> bool | None:
        """Whether the member ``ident`` is an operator of the room; None if it is not a member."""
        row = self._db.execute("SELECT op FROM room_members WHERE room_id = ? AND ident = ?",
                               (room_id, ident)).fetchone()
        return bool(row[0]) if row else None

    def rename_member(self, ident: str, name: str) -> None:
        """Show ``ident`` as ``name`` in every room it is in."""
        self._db.execute("UPDATE room_members SET name = ? WHERE ident = ?", (name, ident))

    def drop_guest(self, ident: str) -> None:
        """Take a guest that left for good out of every room. Raises ValueError for an account's ident."""
        if not ident.startswith("g:"):
            raise ValueError(f"not a guest's ident: {ident!r}")
        self._db.execute("DELETE FROM room_members WHERE ident = ?", (ident,))

    def drop_all_guests(self) -> int:
        """Take every guest out of every room (at the server's start); return how many memberships went."""
        # A range on the index rather than LIKE, whose "_" and case rules do not apply here.
        return self._db.execute("DELETE FROM room_members WHERE ident >= 'g:' AND ident < 'g;'").rowcount

    # Conversations and read state (CONV) ------------------------------------

    def summaries(self, account_id: int | None, idents: Sequence[str], nickname: str,
                  private_limit: int = 100) -> list[Summary]:
        """What a user needs to list its conversations: the lobby, its rooms in join order, then its
        ``private_limit`` most recent private conversations, most recent first.

        ``account_id`` None is a guest: nothing is read from markers (read =
        last, no unread). ``nickname`` is the user's, for mentions.
        """
        found = [self._lobby_summary(account_id, idents, nickname)]
        found += [self._room_summary(account_id, idents, nickname, m.room, m.op) for m in self._memberships(idents)]
        for other, last in self._private_conversations(idents, private_limit):
            found.append(self._private_summary(account_id, idents, nickname, other, last,
                                               self._party_name(other, last)))
        return found

    def summary(self, account_id: int | None, idents: Sequence[str], nickname: str, rec_kind: ConversationKind,
                key: int | str) -> Summary | None:
        """One conversation's summary, as in ``summaries``: the lobby, the room of id ``key``, or the private
        conversation with the ident ``key``. None: no such room, or no such party (no account, no message)."""
        if rec_kind == "lobby":
            return self._lobby_summary(account_id, idents, nickname)
        if rec_kind == "room":
            room = self._room_by_id(int(key))
            if room is None:
                return None
            ops = [self.member_op(room.id, ident) for ident in idents]
            return self._room_summary(account_id, idents, nickname, room, any(ops))
        other = str(key)
        last = self._private_last(idents, other)
        name = self._party_name(other, last)
        return None if name is None else self._private_summary(account_id, idents, nickname, other, last, name)

    def _lobby_summary(self, account_id: int | None, idents: Sequence[str], nickname: str) -> Summary:
        (last,) = self._db.execute(f"SELECT coalesce(max(id), 0) FROM messages WHERE {IN_LOBBY}").fetchone()
        read, unread, mentioned = self._read_state(account_id, LOBBY, int(last), IN_LOBBY, {}, idents, nickname)
        return Summary("-ALL", int(last), read, unread, mentioned)

    def _room_summary(self, account_id: int | None, idents: Sequence[str], nickname: str, room: Room,
                      op: bool) -> Summary:
        (last,) = self._db.execute("SELECT coalesce(max(id), 0) FROM messages WHERE room_id = ?",
                                   (room.id,)).fetchone()
        read, unread, mentioned = self._read_state(account_id, f"r:{room.id}", int(last), "room_id = :room",
                                                   {"room": room.id}, idents, nickname)
        (members,) = self._db.execute("SELECT count(*) FROM room_members WHERE room_id = ?", (room.id,)).fetchone()
        return Summary(room.rec, int(last), read, unread, mentioned, room.topic, room.private, op, int(members))

    def _private_summary(self, account_id: int | None, idents: Sequence[str], nickname: str, other: str, last: int,
                         name: str | None) -> Summary:
        params: dict[str, object] = {"other": other}
        where = f"sender_ident = :other AND rec_ident IN ({_marks('v', list(idents), params)})"
        read, unread, mentioned = self._read_state(account_id, other, last, where, params, idents, nickname)
        return Summary(name or other, last, read, unread, mentioned)

    def _read_state(self, account_id: int | None, conv: str, last: int, where: str, params: dict[str, object],
                    idents: Sequence[str], nickname: str) -> tuple[int, int, int]:
        """(read, unread, mentions) of one conversation, whose messages are those matching ``where``."""
        if account_id is None:
            return last, 0, 0  # a guest's marker lives in its connection, not here
        row = self._db.execute("SELECT message_id FROM read_markers WHERE account_id = ? AND conv = ?",
                               (account_id, conv)).fetchone()
        read = int(row[0]) if row else 0
        params = {**params, "read": read, "cap": UNREAD_CAP}
        own = _marks("own", list(idents), params)
        contents = [content for (content,) in self._db.execute(
            f"SELECT content FROM messages WHERE {where} AND id > :read AND sender_ident NOT IN ({own}) AND {LIVE}"
            " ORDER BY id LIMIT :cap", params)]
        return read, len(contents), sum(1 for content in contents if names.mentions(content, nickname))

    def _private_conversations(self, idents: Sequence[str], limit: int) -> list[tuple[str, int]]:
        """(other party's ident, newest message id) of the private conversations of ``idents``, most recent first."""
        params: dict[str, object] = {"n": limit}
        own = _marks("v", list(idents), params)
        rows = self._db.execute(
            "SELECT other, max(last) AS newest FROM ("
            f" SELECT rec_ident AS other, max(id) AS last FROM messages WHERE sender_ident IN ({own})"
            " AND rec_ident IS NOT NULL GROUP BY rec_ident"
            f" UNION ALL SELECT sender_ident, max(id) FROM messages WHERE rec_ident IN ({own}) GROUP BY sender_ident"
            ") AS parties GROUP BY other ORDER BY newest DESC LIMIT :n", params)
        return [(str(other), int(newest)) for other, newest in rows]

    def _private_last(self, idents: Sequence[str], other: str) -> int:
        page, _ = self.private_history(idents, other, None, 1)
        return page[-1].id if page else 0

    def _party_name(self, other: str, last: int) -> str | None:
        """The other party's name: its account's current one, else the one in the conversation's newest message."""
        if other.startswith("a:") and other[2:].isdigit():
            row = self._db.execute("SELECT name FROM accounts WHERE id = ?", (int(other[2:]),)).fetchone()
            if row:
                return str(row[0])
        row = self._db.execute("SELECT sender, rec, sender_ident FROM messages WHERE id = ?", (last,)).fetchone()
        if row is None:
            return None
        sender, rec, sender_ident = row
        return str(sender if sender_ident == other else rec)

    def set_read(self, account_id: int, conv: str, message_id: int) -> int:
        """Mark conversation ``conv`` (``lobby``, ``r:ROOMID`` or the other party's ident) read up to ``message_id``.

        The marker never moves back, nor past the conversation's newest
        message (an id from the future would hide every message yet to come).
        Returns the marker kept.
        """
        with self._transaction():
            wanted = min(message_id, self._conversation_last(account_id, conv))
            self._db.execute(
                "INSERT INTO read_markers (account_id, conv, message_id) VALUES (?, ?, ?) ON CONFLICT"
                " (account_id, conv) DO UPDATE SET message_id = max(message_id, excluded.message_id)",
                (account_id, conv, wanted))
            (kept,) = self._db.execute("SELECT message_id FROM read_markers WHERE account_id = ? AND conv = ?",
                                       (account_id, conv)).fetchone()
        return int(kept)

    def _conversation_last(self, account_id: int, conv: str) -> int:
        params: tuple[object, ...] = ()
        if conv == LOBBY:
            query, params = f"SELECT coalesce(max(id), 0) FROM messages WHERE {IN_LOBBY}", ()
        elif conv.startswith("r:") and conv[2:].isdigit():
            query, params = "SELECT coalesce(max(id), 0) FROM messages WHERE room_id = ?", (int(conv[2:]),)
        else:
            return self._private_last([f"a:{account_id}"], conv)
        return int(self._db.execute(query, params).fetchone()[0])

    def take_offline_count(self, account_id: int) -> int:
        """How many private messages reached the account while it was offline; forgets them."""
        with self._transaction():
            (count,) = self._db.execute("SELECT count(*) FROM offline_messages WHERE account_id = ?",
                                        (account_id,)).fetchone()
            self._db.execute("DELETE FROM offline_messages WHERE account_id = ?", (account_id,))
        return int(count)

    # Editing and deleting (EDIT, DELETE, REPORT) -------------------------------

    def get_message(self, message_id: int) -> MessageRecord | None:
        """The message of id ``message_id``, or None when there is none or it was deleted."""
        row = self._db.execute(
            "SELECT id, ts_ms, sender, rec, content, sender_ident, rec_ident, room_id, edited_ms,"
            f" (SELECT sha FROM files WHERE message_id = messages.id) FROM messages WHERE id = ? AND {LIVE}",
            (message_id,)).fetchone()
        return MessageRecord(*row) if row else None

    def index_pending(self, limit: int | None = None) -> int:
        """Put the messages stored since the last call (at most ``limit``; None: all) in the search index,
        in one transaction; return how many were looked at.

        A message is committed without its words (storing it costs what it cost
        before there was an index: ``append_messages``); the database thread
        indexes them when no message waits for a commit (database.py), in
        batches, and before anything reads or changes the index (a search, an
        edit, a delete, a registration moving a guest's messages). Messages up
        to ``search_state.indexed_up_to`` are in the index; the triggers keep
        those in step, and leave the ones above it to this.
        """
        (mark,) = self._db.execute("SELECT indexed_up_to FROM search_state").fetchone()
        (newest,) = self._db.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()
        if newest <= mark:
            return 0  # nothing waits: no write transaction (this runs after every burst of commits)
        with self._transaction():
            (mark,) = self._db.execute("SELECT indexed_up_to FROM search_state").fetchone()
            row = self._db.execute(
                "SELECT count(*), max(id) FROM (SELECT id FROM messages WHERE id > ? ORDER BY id LIMIT ?)",
                (mark, -1 if limit is None else limit)).fetchone()
            count, upto = row
            if not count:
                return 0
            self._db.execute("INSERT INTO messages_fts (rowid, content, scope) SELECT id, content, scope"
                             " FROM messages_search WHERE id > ? AND id <= ?", (mark, upto))
            self._db.execute("UPDATE search_state SET indexed_up_to = ?", (upto,))
        return int(count)

    def edit_message(self, message_id: int, content: str, now_ms: int) -> bool:
        """Give a message new text, edited at ``now_ms``; False if there is no such message (or it was deleted).

        Its words in the search index change with it (trigger messages_fts_update).
        """
        return self._db.execute(f"UPDATE messages SET content = ?, edited_ms = ? WHERE id = ? AND {LIVE}",
                                (content, now_ms, message_id)).rowcount > 0

    def delete_message(self, message_id: int) -> bool:
        """Make a message a tombstone (no text, left out of history and search; its id is never given again).

        False if there is no such message or it was deleted already.
        """
        with self._transaction():
            deleted = self._db.execute(f"UPDATE messages SET content = '', deleted = 1 WHERE id = ? AND {LIVE}",
                                       (message_id,)).rowcount > 0
            if deleted:  # no longer counted as waiting for its recipient
                self._db.execute("DELETE FROM offline_messages WHERE message_id = ?", (message_id,))
                self._db.execute("DELETE FROM files WHERE message_id = ?", (message_id,))
        return deleted

    def blob_unused(self, sha: str) -> bool:
        """Whether no message shares the blob ``sha`` any more (its bytes may go)."""
        return self._db.execute("SELECT 1 FROM files WHERE sha = ? LIMIT 1", (sha,)).fetchone() is None

    def file_usage(self, ident: str) -> tuple[int, int]:
        """Bytes of the files ``ident`` shared (each message counts), and of every blob stored (each once)."""
        (mine,) = self._db.execute("SELECT coalesce(sum(size), 0) FROM files WHERE uploader_ident = ?",
                                   (ident,)).fetchone()
        (total,) = self._db.execute(
            "SELECT coalesce(sum(size), 0) FROM (SELECT max(size) AS size FROM files GROUP BY sha) AS blobs").fetchone()
        return int(mine), int(total)

    # Search (SEARCH) ----------------------------------------------------------

    def search(self, words: Sequence[str], viewer_idents: Sequence[str], lobby: bool, room_ids: Sequence[int],
               private: bool, other_ident: str | None, before: int | None,
               limit: int) -> tuple[list[StoredMessage], bool]:
        """Up to ``limit`` messages below ``before`` holding every one of ``words`` (each as a word or a word's
        beginning, case and accents aside), newest first, and whether there are more.

        Only from where the caller says the viewer may read: the lobby if
        ``lobby``, the rooms ``room_ids``, and if ``private`` the private
        messages sent or received under ``viewer_idents`` (only those with
        ``other_ident`` when it is given). Deleted messages are never found.
        The arguments may be given by position: a StoreCall's are.
        """
        self.index_pending()
        viewers = list(viewer_idents)
        scope_words = _search_words(viewers, lobby, room_ids, private, other_ident)
        if not words or not scope_words:
            return [], False
        params: dict[str, object] = {"query": fts_query(words, scope_words),
                                     "before": NO_LIMIT if before is None else before, "n": max(limit, 0) + 1}
        scope = _search_scope(viewers, lobby, list(room_ids), private, other_ident, params)
        columns = "m.id, m.ts_ms, m.time_text, m.sender, m.color, m.rec, m.content, m.edited_ms, " + FILE_COLUMN.format(m="m")
        # The index finds the matches in scope, newest first (its scope words
        # intersected with the searched ones), and each is checked again
        # against the messages' own columns. CROSS JOIN: from the index to the
        # messages, never the other way round.
        rows = self._db.execute(
            f"SELECT {columns} FROM messages_fts CROSS JOIN messages m ON m.id = messages_fts.rowid"
            f" WHERE messages_fts MATCH :query AND messages_fts.rowid < :before AND m.{LIVE} AND ({scope})"
            " ORDER BY messages_fts.rowid DESC LIMIT :n", params).fetchall()
        return [_stored(row) for row in rows[:limit]], len(rows) > limit

    # Moderation: bans and mutes, the audit log, reports ------------------------

    def add_restriction(self, kind: str, target: str, target_key: str, ident: str | None, room_id: int | None,
                        reason: str, by: str, now_ms: int, until_ms: int) -> Restriction:
        """Record a ban or a mute (see records.Restriction); ``until_ms`` 0: for good.

        Raises ValueError for an unknown kind or room.
        """
        if kind not in RESTRICTION_KINDS:
            raise ValueError(f"unknown restriction kind {kind!r}")
        with self._transaction():
            room = self._restriction_room(kind, room_id)
            cursor = self._db.execute(
                f"INSERT INTO bans ({RESTRICTION_COLUMNS.removeprefix('id, ')}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (kind, target, target_key, ident, room_id, room, reason, by, now_ms, until_ms))
        return Restriction(int(cursor.lastrowid or 0), kind, target, target_key, ident, room_id, room, reason, by,
                           now_ms, until_ms)

    def _restriction_room(self, kind: str, room_id: int | None) -> str:
        """The ``room`` of a restriction: ``#name`` of its room, ``-ALL`` for a lobby mute, else ''."""
        if room_id is None:
            if kind == "room":
                raise ValueError("a room ban needs a room")
            return "-ALL" if kind == "mute" else ""
        room = self._room_by_id(room_id)
        if room is None or kind not in ("room", "mute"):
            raise ValueError(f"no room {room_id} for a {kind} restriction")
        return room.rec

    def lift_restriction(self, restriction_id: int, by: str, now_ms: int) -> Restriction | None:
        """Lift an active ban or mute (``by`` whom, when); return it, or None if none of that id is active."""
        with self._transaction():
            row = self._db.execute(
                f"SELECT {RESTRICTION_COLUMNS} FROM bans WHERE id = ? AND lifted_ms = 0"
                " AND (until_ms = 0 OR until_ms > ?)", (restriction_id, now_ms)).fetchone()
            if row is None:
                return None
            self._db.execute("UPDATE bans SET lifted_ms = ?, lifted_by = ? WHERE id = ?",
                             (max(now_ms, 1), by, restriction_id))
        return Restriction(*row)

    def active_restrictions(self, now_ms: int) -> list[Restriction]:
        """The bans and mutes neither lifted nor ended by ``now_ms``, newest first."""
        rows = self._db.execute(
            f"SELECT {RESTRICTION_COLUMNS} FROM bans WHERE lifted_ms = 0 AND (until_ms = 0 OR until_ms > ?)"
            " ORDER BY id DESC", (now_ms,))
        return [Restriction(*row) for row in rows]

    def add_audit(self, now_ms: int, actor: str, action: str, target: str, room: str, reason: str,
                  detail: str) -> int:
        """Write a row of the audit log; return its id."""
        cursor = self._db.execute(
            f"INSERT INTO audit ({AUDIT_COLUMNS.removeprefix('id, ')}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (now_ms, actor, action, target, room, reason, detail))
        return int(cursor.lastrowid or 0)

    def audit_log(self, before: int | None, limit: int) -> tuple[list[AuditEntry], bool]:
        """Up to ``limit`` audit rows with ids below ``before`` (None: the newest), newest first, and whether
        older ones exist."""
        rows = self._db.execute(
            f"SELECT {AUDIT_COLUMNS} FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?",
            (NO_LIMIT if before is None else before, max(limit, 0) + 1)).fetchall()
        return [AuditEntry(*row) for row in rows[:limit]], len(rows) > limit

    def add_report(self, message_id: int, reporter: str, reporter_ident: str, reason: str,
                   now_ms: int) -> Report | None:
        """Record ``reporter``'s report of a message; None if ``reporter_ident`` has an open report of it already."""
        try:
            with self._transaction():
                cursor = self._db.execute(
                    "INSERT INTO reports (at_ms, reporter, reporter_ident, message_id, reason) VALUES (?, ?, ?, ?, ?)",
                    (now_ms, reporter, reporter_ident, message_id, reason))
                report = self._report(int(cursor.lastrowid or 0))
        except self._conflict:  # reports_open: one open report of a message per reporter
            return None
        return report

    def _report(self, report_id: int) -> Report:
        return Report(*self._db.execute(f"{REPORTS_QUERY} WHERE r.id = ?", (report_id,)).fetchone())

    def open_reports(self, limit: int) -> list[Report]:
        """The reports not yet resolved, newest first, at most ``limit``."""
        rows = self._db.execute(f"{REPORTS_QUERY} WHERE r.resolved_ms = 0 ORDER BY r.id DESC LIMIT ?", (limit,))
        return [Report(*row) for row in rows]

    def resolve_report(self, report_id: int, by: str, now_ms: int) -> Report | None:
        """Mark an open report resolved (``by`` whom, when); return it, or None if no open report has that id."""
        with self._transaction():
            resolved = self._db.execute(
                "UPDATE reports SET resolved_ms = ?, resolved_by = ? WHERE id = ? AND resolved_ms = 0",
                (max(now_ms, 1), by, report_id)).rowcount > 0
            return self._report(report_id) if resolved else None

    # Sessions (remembered resume tokens) ------------------------------------

    def add_session(self, account_id: int, token_hash: str, now_ms: int, expires_ms: int, address: str) -> int:
        """Remember a resume token's hash for an account until ``expires_ms``; return the session's id."""
        cursor = self._db.execute(
            "INSERT INTO sessions (account_id, token_hash, created_ms, expires_ms, last_used_ms, address)"
            " VALUES (?, ?, ?, ?, ?, ?)", (account_id, token_hash, now_ms, expires_ms, now_ms, address))
        return int(cursor.lastrowid or 0)

    def find_session(self, token_hash: str, now_ms: int) -> tuple[int, Account] | None:
        """The session of an unexpired token hash and its account (its last use set to ``now_ms``), or None."""
        with self._transaction():
            row = self._db.execute(
                "SELECT s.id, a.id, a.name, a.role, a.password_hash, a.created_ms FROM sessions s JOIN accounts a"
                " ON a.id = s.account_id WHERE s.token_hash = ? AND s.expires_ms > ?", (token_hash, now_ms)).fetchone()
            if row is None:
                return None
            self._db.execute("UPDATE sessions SET last_used_ms = ? WHERE id = ?", (now_ms, row[0]))
        return int(row[0]), Account(*row[1:])

    def revoke_token(self, token_hash: str) -> bool:
        """Forget the session of a token hash; False if there was none."""
        return self._db.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,)).rowcount > 0

    def revoke_sessions(self, account_id: int, except_hash: str | None = None) -> int:
        """Forget every session of an account but the one of ``except_hash``; return how many went."""
        return self._db.execute("DELETE FROM sessions WHERE account_id = ? AND token_hash IS NOT ?",
                                (account_id, except_hash)).rowcount

    def revoke_session(self, account_id: int, session_id: int) -> bool:
        """Forget one session of an account; False if the account has no session of that id."""
        return self._db.execute("DELETE FROM sessions WHERE account_id = ? AND id = ?",
                                (account_id, session_id)).rowcount > 0

    def list_sessions(self, account_id: int) -> list[Session]:
        """An account's remembered sessions, oldest first (expired ones too, until purged)."""
        rows = self._db.execute(
            "SELECT id, account_id, created_ms, expires_ms, last_used_ms, address FROM sessions"
            " WHERE account_id = ? ORDER BY id", (account_id,))
        return [Session(*row) for row in rows]

    def purge_expired_sessions(self, now_ms: int) -> int:
        """Forget the sessions expired by ``now_ms``; return how many."""
        return self._db.execute("DELETE FROM sessions WHERE expires_ms <= ?", (now_ms,)).rowcount


def _room(row: Sequence[object]) -> Room:
    room_id, name, topic, private, created_ms = row
    return Room(int(str(room_id)), str(name), str(topic), bool(private), int(str(created_ms)))


def _stored(row: Sequence[Any]) -> StoredMessage:
    """A StoredMessage from a row of MESSAGE_COLUMNS."""
    message_id, ts_ms, time_text, sender, color, rec, content, edited_ms, file_json = row
    file = None
    if file_json is not None:
        sha, size, kind, name, width, height = json.loads(str(file_json))
        file = FileRecord(sha, size, kind, name, width, height)
    return StoredMessage(message_id, ts_ms, time_text, sender, color, rec, content, edited_ms, file)
