"""PostgreSQL storage: the Store of several nodes (``--database postgresql://...``). Synchronous, no asyncio.

``PgStore`` is a ``Store`` whose connection is PostgreSQL's: every public
method keeps its meaning (the store test suites run against both). The
SQL Store writes is SQLite's; ``_PgConnection`` speaks it to PostgreSQL
(placeholders, the few phrases the two spell differently, an INSERT's new
id), and PgStore itself does what SQLite did with its own machinery: the
search index (a ``words text[]`` column with a GIN index instead of FTS5),
ids from sequences, and the conversations' order (``append_sequenced``).

Connections are in autocommit, as Store's SQLite one is: a statement on its
own commits, and Store opens a transaction (BEGIN ... COMMIT) where several
must go together. A connection that broke (PostgreSQL restarted, the
network went) is replaced on the next call; the call that met the break
raises psycopg.Error, which database.store_request reports as StoreFailed.
"""

from __future__ import annotations

import functools
import logging
import re
import select
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg import errors, pq
from psycopg.conninfo import conninfo_to_dict

from parley.startup import StartupError

from .records import NewMessage, SequencedMessage, StoredMessage, conversation_key
from .searchwords import SCOPE_MARK, message_words, query_words
from .store import (
    FILE_COLUMN,
    LIVE,
    MESSAGE_COLUMNS,
    NO_LIMIT,
    NewerDatabase,
    Store,
    _search_scope,
    _search_words,
    _stored,
)

log = logging.getLogger("parley.server")
SCHEMA_LOCK = 0x7061726C  # "parl": one node migrates at a time
CONNECT_TIMEOUT = 10  # seconds
T = 'text COLLATE "C"'  # compared and ordered as SQLite does (bytes), whatever the database's locale

_MIGRATIONS: list[str] = [
    # Version 1: the SQLite schema (version 5) in PostgreSQL's types, plus what
    # several nodes share: each conversation's order (conversations, and each
    # message's conv and seq), the resume tokens held in memory by a single
    # node (held_tokens), and who is online where (the cluster hub writes those).
    # room_members.row_order stands for SQLite's rowid (join order).
    f"""
    CREATE TABLE parley_schema (version int NOT NULL);
    INSERT INTO parley_schema VALUES (0);
    CREATE TABLE accounts (
        id bigserial PRIMARY KEY,
        name {T} NOT NULL,
        name_key {T} NOT NULL UNIQUE,
        role {T} NOT NULL CHECK (role IN ('admin', 'member')),
        password_hash {T} NOT NULL,
        created_ms bigint NOT NULL,
        lookalike_typed {T} NOT NULL DEFAULT '',
        lookalike_upper {T} NOT NULL DEFAULT '',
        lookalike_folded {T} NOT NULL DEFAULT ''
    );
    CREATE INDEX accounts_by_lookalike_typed ON accounts (lookalike_typed);
    CREATE INDEX accounts_by_lookalike_upper ON accounts (lookalike_upper);
    CREATE INDEX accounts_by_lookalike_folded ON accounts (lookalike_folded);
    CREATE TABLE messages (
        id bigserial PRIMARY KEY,
        ts_ms bigint NOT NULL,
        time_text {T} NOT NULL,
        sender {T} NOT NULL,
        color {T} NOT NULL,
        rec {T} NOT NULL,
        content {T} NOT NULL,
        sender_ident {T} NOT NULL,
        rec_ident {T},
        room_id bigint,
        edited_ms bigint NOT NULL DEFAULT 0,
        deleted int NOT NULL DEFAULT 0,
        conv {T} NOT NULL,
        seq bigint NOT NULL,
        words text[] NOT NULL DEFAULT '{{}}',
        UNIQUE (conv, seq)
    );
    CREATE INDEX messages_public ON messages (id) WHERE rec_ident IS NULL AND room_id IS NULL;
    CREATE INDEX messages_by_sender ON messages (sender_ident, id) WHERE rec_ident IS NOT NULL;
    CREATE INDEX messages_by_recipient ON messages (rec_ident, id) WHERE rec_ident IS NOT NULL;
    CREATE INDEX messages_between ON messages (rec_ident, sender_ident, id) WHERE rec_ident IS NOT NULL;
    CREATE INDEX messages_by_room ON messages (room_id, id) WHERE room_id IS NOT NULL;
    CREATE INDEX messages_words ON messages USING gin (words);
    CREATE TABLE conversations (conv {T} PRIMARY KEY, seq bigint NOT NULL, updated_ms bigint NOT NULL);
    CREATE INDEX conversations_by_update ON conversations (updated_ms);
    CREATE TABLE rooms (
        id bigserial PRIMARY KEY,
        name {T} NOT NULL,
        name_key {T} NOT NULL UNIQUE,
        topic {T} NOT NULL,
        private int NOT NULL,
        created_ms bigint NOT NULL,
        created_by {T} NOT NULL
    );
    CREATE TABLE room_members (
        room_id bigint NOT NULL,
        ident {T} NOT NULL,
        name {T} NOT NULL,
        op int NOT NULL,
        joined_ms bigint NOT NULL,
        row_order bigserial NOT NULL,
        PRIMARY KEY (room_id, ident)
    );
    CREATE INDEX room_members_by_ident ON room_members (ident);
    CREATE TABLE read_markers (
        account_id bigint NOT NULL,
        conv {T} NOT NULL,
        message_id bigint NOT NULL,
        PRIMARY KEY (account_id, conv)
    );
    CREATE TABLE offline_messages (
        account_id bigint NOT NULL,
        message_id bigint NOT NULL,
        PRIMARY KEY (account_id, message_id)
    );
    CREATE TABLE sessions (
        id bigserial PRIMARY KEY,
        account_id bigint NOT NULL,
        token_hash {T} NOT NULL UNIQUE,
        created_ms bigint NOT NULL,
        expires_ms bigint NOT NULL,
        last_used_ms bigint NOT NULL,
        address {T} NOT NULL
    );
    CREATE INDEX sessions_by_account ON sessions (account_id);
    CREATE TABLE bans (
        id bigserial PRIMARY KEY,
        kind {T} NOT NULL CHECK (kind IN ('user', 'address', 'room', 'mute')),
        target {T} NOT NULL,
        target_key {T} NOT NULL,
        ident {T},
        room_id bigint,
        room {T} NOT NULL,
        reason {T} NOT NULL,
        banned_by {T} NOT NULL,
        created_ms bigint NOT NULL,
        until_ms bigint NOT NULL,
        lifted_ms bigint NOT NULL DEFAULT 0,
        lifted_by {T} NOT NULL DEFAULT ''
    );
    CREATE INDEX bans_active ON bans (id) WHERE lifted_ms = 0;
    CREATE TABLE audit (
        id bigserial PRIMARY KEY,
        at_ms bigint NOT NULL,
        actor {T} NOT NULL,
        action {T} NOT NULL,
        target {T} NOT NULL,
        room {T} NOT NULL,
        reason {T} NOT NULL,
        detail {T} NOT NULL
    );
    CREATE TABLE reports (
        id bigserial PRIMARY KEY,
        at_ms bigint NOT NULL,
        reporter {T} NOT NULL,
        reporter_ident {T} NOT NULL,
        message_id bigint NOT NULL,
        reason {T} NOT NULL,
        resolved_ms bigint NOT NULL DEFAULT 0,
        resolved_by {T} NOT NULL DEFAULT ''
    );
    CREATE UNIQUE INDEX reports_open ON reports (message_id, reporter_ident) WHERE resolved_ms = 0;
    CREATE INDEX reports_open_by_id ON reports (id) WHERE resolved_ms = 0;
    CREATE TABLE files (
        message_id bigint PRIMARY KEY,
        sha {T} NOT NULL,
        size bigint NOT NULL,
        type {T} NOT NULL,
        name {T} NOT NULL,
        width int NOT NULL DEFAULT 0,
        height int NOT NULL DEFAULT 0,
        uploader_ident {T} NOT NULL,
        created_ms bigint NOT NULL
    );
    CREATE INDEX files_by_sha ON files (sha);
    CREATE INDEX files_by_uploader ON files (uploader_ident);
    CREATE TABLE held_tokens (
        token_hash {T} PRIMARY KEY,
        ident {T} NOT NULL,
        account_id bigint,
        created_ms bigint NOT NULL
    );
    CREATE INDEX held_tokens_by_ident ON held_tokens (ident);
    CREATE TABLE cluster_nodes (id {T} PRIMARY KEY, started_ms bigint NOT NULL,
                                seen timestamptz NOT NULL DEFAULT now());
    CREATE TABLE online_users (key {T} PRIMARY KEY, nickname {T} NOT NULL, ident {T} NOT NULL UNIQUE,
                               is_admin boolean NOT NULL, since bigserial);
    CREATE TABLE online_sessions (
        key {T} NOT NULL REFERENCES online_users(key) ON DELETE CASCADE ON UPDATE CASCADE,
        node {T} NOT NULL REFERENCES cluster_nodes(id) ON DELETE CASCADE,
        sessions int NOT NULL,
        PRIMARY KEY (key, node)
    );
    """,
]
SCHEMA_VERSION = len(_MIGRATIONS)
# The tables whose ids PostgreSQL chooses: an INSERT into one returns its id (SQLite's lastrowid).
ID_TABLES = ("accounts", "rooms", "bans", "audit", "reports", "sessions")
# SQLite's spelling in Store's SQL, and PostgreSQL's.
PHRASES = [
    ("BEGIN IMMEDIATE", "BEGIN"),
    ("max(message_id, excluded.message_id)", "greatest(read_markers.message_id, excluded.message_id)"),
    ("json_array(f.sha, f.size, f.type, f.name, f.width, f.height)",
     "json_build_array(f.sha, f.size, f.type, f.name, f.width, f.height)::text"),
    ("ORDER BY m.rowid", "ORDER BY m.row_order"),
    ("ORDER BY rowid", "ORDER BY row_order"),
]
NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
IS_NOT = re.compile(r"IS NOT (\?|:[A-Za-z_]\w*)")
INSERT_ID = re.compile(rf"^\s*INSERT INTO ({'|'.join(ID_TABLES)})\b")


@functools.lru_cache(maxsize=512)
def translate(sql: str) -> tuple[str, bool]:
    """Store's SQLite SQL as PostgreSQL SQL (psycopg placeholders), and whether it returns a new row's id."""
    for sqlite, postgres in PHRASES:
        sql = sql.replace(sqlite, postgres)
    sql = IS_NOT.sub(r"IS DISTINCT FROM \1", sql)
    if sql.lstrip().startswith("INSERT OR IGNORE INTO"):
        sql = sql.replace("INSERT OR IGNORE INTO", "INSERT INTO", 1) + " ON CONFLICT DO NOTHING"
    if sql.lstrip().startswith("INSERT OR REPLACE INTO read_markers"):
        sql = (sql.replace("INSERT OR REPLACE INTO", "INSERT INTO", 1)
               + " ON CONFLICT (account_id, conv) DO UPDATE SET message_id = excluded.message_id")
    returns_id = bool(INSERT_ID.match(sql)) and "RETURNING" not in sql
    if returns_id:
        sql += " RETURNING id"
    sql = sql.replace("%", "%%").replace("?", "%s")
    return NAMED.sub(r"%(\1)s", sql), returns_id


class _Cursor:
    """A statement's result as Store reads sqlite3's: rows, ``rowcount``, ``lastrowid`` (an INSERT's new id)."""

    def __init__(self, cursor: psycopg.Cursor[Any], returns_id: bool) -> None:
        self.rowcount = cursor.rowcount
        self.lastrowid: int | None = None
        self._rows: list[Any] = cursor.fetchall() if cursor.description is not None else []
        if returns_id:
            self.lastrowid = int(self._rows[0][0]) if self._rows else None
            self._rows = []

    def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


def describe(url: str) -> str:
    """``url`` without its password, to name the database in messages and logs."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the PostgreSQL database (its URL does not parse)"
    host = parts.get("host") or "localhost"
    return f"postgresql://{parts.get('user') or ''}@{host}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}"


class _PgConnection:
    """One PostgreSQL connection (autocommit; Store writes BEGIN and COMMIT), replaced when it broke."""

    def __init__(self, url: str, *, durable: bool = True) -> None:
        self.url = url
        self.durable = durable
        self._conn: psycopg.Connection[Any] | None = None
        self._block = False  # inside BEGIN ... COMMIT: a break there fails the block, never reconnects
        self.reconnects = 0
        self.connection()

    def connection(self) -> psycopg.Connection[Any]:
        """The open connection; a new one when there is none or the last one broke (not within a transaction)."""
        if (self._conn is not None and not self._conn.closed and not self._conn.broken
                and (self._block or not server_went_away(self._conn))):
            return self._conn
        if self._conn is not None:
            if self._block:
                raise psycopg.OperationalError("the connection to PostgreSQL broke within a transaction")
            self._conn.close()
            self.reconnects += 1
            log.info("reconnecting to %s", describe(self.url))
        self._conn = None
        self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
        if not self.durable:  # --fsync off: a commit returns before its WAL is flushed (a crash may lose the last)
            self._conn.execute("SET synchronous_commit = off")
        return self._conn

    @property
    def in_transaction(self) -> bool:
        conn = self._conn
        if conn is None or conn.closed:
            return False
        return conn.info.transaction_status != pq.TransactionStatus.IDLE

    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        statement, returns_id = translate(sql)
        keyword = sql.lstrip()[:8].upper()
        conn = self.connection()
        if keyword.startswith("BEGIN"):
            self._block = True
        elif keyword.startswith(("COMMIT", "ROLLBACK")):
            self._block = False
        return _Cursor(conn.execute(statement, parameters), returns_id)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> _Cursor:
        with self.connection().cursor() as cursor:
            cursor.executemany(translate(sql)[0], list(parameters))
            return _Cursor(cursor, False)

    def rollback(self) -> None:
        """End the open transaction, if there is one (a broken connection has none)."""
        self._block = False
        if self.in_transaction and self._conn is not None and not self._conn.broken:
            try:
                self._conn.execute("ROLLBACK")
            except psycopg.Error:
                pass

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def server_went_away(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    """Whether an idle connection was closed by its server meanwhile (PostgreSQL restarted, or a backend
    ended): it was not used since, so psycopg does not know yet, and its next statement would fail. An idle
    connection (no LISTEN here) has nothing to read unless the server said goodbye: a poll of its socket,
    no round trip."""
    if conn.info.transaction_status != pq.TransactionStatus.IDLE:
        return False
    poller = select.poll()
    poller.register(conn.pgconn.socket, select.POLLIN)
    return bool(poller.poll(0))


class PgStore(Store):
    """Accounts, history, rooms, moderation and sessions in one PostgreSQL database, shared by every node."""

    _conflict = (errors.UniqueViolation,)

    def __init__(self, url: str, *, durable: bool = True) -> None:
        """Connect to ``url`` and bring its schema up to date. ``durable`` False: commits do not wait for
        PostgreSQL's WAL to reach the disk (``--fsync off``).

        Raises StartupError (naming the database, never its password) when it
        cannot be reached, and NewerDatabase for a schema a newer Parley wrote.
        """
        self.url = url
        self.path = None  # type: ignore[assignment]  # no file: see ``url``
        try:
            self._pg = _PgConnection(url, durable=durable)
        except psycopg.Error as error:
            raise StartupError(f"cannot connect to the database {describe(url)}: {_reason(error)}") from None
        self._db = self._pg
        try:
            self._migrate_pg()
            self._refresh_lookalikes()
        except psycopg.Error as error:
            self._pg.close()
            raise StartupError(f"cannot open the database {describe(url)}: {_reason(error)}") from None
        except BaseException:
            self._pg.close()
            raise

    def _migrate_pg(self) -> None:
        conn = self._pg.connection()
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            exists = conn.execute("SELECT to_regclass('parley_schema') IS NOT NULL").fetchone()
            version = 0
            if exists and exists[0]:
                row = conn.execute("SELECT version FROM parley_schema").fetchone()
                version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise NewerDatabase(
                    f"the database {describe(self.url)} is from a newer Parley (schema version {version}; this one"
                    f" knows versions up to {SCHEMA_VERSION}): upgrade Parley to use it; it is left as it was")
            for number in range(version, SCHEMA_VERSION):
                conn.execute(_MIGRATIONS[number])
                conn.execute("UPDATE parley_schema SET version = %s", (number + 1,))

    def schema_version(self) -> int:
        row = self._pg.connection().execute("SELECT version FROM parley_schema").fetchone()
        return int(row[0]) if row else 0

    def _rollback(self) -> None:
        self._pg.rollback()

    def close(self) -> None:
        self._pg.close()

    def integrity_check(self) -> str:
        """``ok`` when the database answers (PostgreSQL checks its own pages; amcheck is the operator's)."""
        self._db.execute("SELECT 1").fetchone()
        return "ok"

    @property
    def reconnects(self) -> int:
        return self._pg.reconnects

    # History ------------------------------------------------------------

    def append_messages(self, messages: Sequence[NewMessage]) -> list[int]:
        """Store messages in one transaction; return their ids in order."""
        return [message_id for message_id, _ in self.append_sequenced(messages)]

    def append_sequenced(self, messages: Sequence[NewMessage]) -> list[tuple[int, int]]:
        """Store messages in one transaction; return each one's ``(id, seq)``.

        Each conversation's row in ``conversations`` is taken first (its lock
        held until the commit, conversations in name order so that two nodes
        never wait for each other), then the ids: within a conversation, seq
        order, id order and commit order are one. The rows go in with COPY.
        """
        if not messages:
            return []
        convs = [conversation_key(m.sender_ident, m.rec_ident, m.room_id) for m in messages]
        counts: dict[str, int] = {}
        for conv in convs:
            counts[conv] = counts.get(conv, 0) + 1
        names = sorted(counts)
        conn = self._pg.connection()
        try:
            with conn.transaction():
                tops = dict(conn.execute(
                    "INSERT INTO conversations (conv, seq, updated_ms) SELECT c, n,"
                    " (extract(epoch FROM clock_timestamp()) * 1000)::bigint"
                    " FROM unnest(%s::text[], %s::bigint[]) AS u(c, n) ORDER BY c"
                    " ON CONFLICT (conv) DO UPDATE SET seq = conversations.seq + excluded.seq,"
                    " updated_ms = greatest(conversations.updated_ms, excluded.updated_ms) RETURNING conv, seq",
                    (names, [counts[name] for name in names])).fetchall())
                ids = [int(row[0]) for row in conn.execute(
                    "SELECT nextval('messages_id_seq') FROM generate_series(1, %s)", (len(messages),))]
                next_seq = {conv: int(tops[conv]) - counts[conv] + 1 for conv in names}
                seqs = []
                for conv in convs:
                    seqs.append(next_seq[conv])
                    next_seq[conv] += 1
                self._copy_messages(conn, messages, ids, convs, seqs)
        except BaseException:
            self._pg.rollback()
            raise
        return list(zip(ids, seqs))

    @staticmethod
    def _copy_messages(conn: psycopg.Connection[Any], messages: Sequence[NewMessage], ids: list[int],
                       convs: list[str], seqs: list[int]) -> None:
        with conn.cursor() as cursor:
            with cursor.copy("COPY messages (id, ts_ms, time_text, sender, color, rec, content, sender_ident,"
                             " rec_ident, room_id, conv, seq, words) FROM STDIN") as copy:
                for message_id, m, conv, seq in zip(ids, messages, convs, seqs):
                    copy.write_row((message_id, m.ts_ms, m.time_text, m.sender, m.color, m.rec, m.content,
                                    m.sender_ident, m.rec_ident, m.room_id, conv, seq,
                                    array_literal(message_words(m.content or "", m.sender_ident, m.rec_ident,
                                                                m.room_id))))
            files = [(message_id, m.file.sha, m.file.size, m.file.type, m.file.name, m.file.width, m.file.height,
                      m.sender_ident, m.ts_ms) for message_id, m in zip(ids, messages) if m.file is not None]
            if files:
                cursor.executemany("INSERT INTO files (message_id, sha, size, type, name, width, height,"
                                   " uploader_ident, created_ms) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", files)
            offline = [(m.offline_for, message_id) for message_id, m in zip(ids, messages)
                       if m.offline_for is not None]
            if offline:
                cursor.executemany("INSERT INTO offline_messages (account_id, message_id) VALUES (%s, %s)", offline)

    def messages_after(self, conv: str, after_seq: int, limit: int) -> list[SequencedMessage]:
        """Up to ``limit`` messages of conversation ``conv`` after ``after_seq``, in seq order (tombstones too)."""
        rows = self._db.execute(
            f"SELECT seq, sender_ident, rec_ident, room_id, deleted, {MESSAGE_COLUMNS} FROM messages"
            " WHERE conv = ? AND seq > ? ORDER BY seq LIMIT ?", (conv, after_seq, max(limit, 0))).fetchall()
        return [SequencedMessage(conv, int(seq), _stored(rest), sender, rec, room, bool(deleted))
                for seq, sender, rec, room, deleted, *rest in rows]

    def conversation_seqs(self, since_ms: int) -> list[tuple[str, int]]:
        """The conversations whose last message was stored at or after ``since_ms`` (0: all), with their top seq."""
        rows = self._db.execute("SELECT conv, seq FROM conversations WHERE updated_ms >= ? ORDER BY conv",
                                (since_ms,))
        return [(str(conv), int(seq)) for conv, seq in rows]

    def move_private_messages(self, old_ident: str, new_ident: str) -> None:
        """As Store's; the moved messages' scope words change with their idents (their conversation's order,
        ``conv`` and ``seq``, stays as it was delivered)."""
        super().move_private_messages(old_ident, new_ident)
        self._rewrite_words("(sender_ident = ? OR rec_ident = ?) AND rec_ident IS NOT NULL",
                            (new_ident, new_ident))

    def _rewrite_words(self, where: str, params: tuple[object, ...]) -> None:
        rows = self._db.execute(f"SELECT id, content, sender_ident, rec_ident, room_id, deleted FROM messages"
                                f" WHERE {where}", params).fetchall()
        if rows:
            self._db.executemany("UPDATE messages SET words = ? WHERE id = ?", [
                (message_words(content, sender, rec, room, bool(deleted)), message_id)
                for message_id, content, sender, rec, room, deleted in rows])

    def index_pending(self, limit: int | None = None) -> int:
        """Nothing waits to be indexed: a message's words are stored with it."""
        return 0

    def edit_message(self, message_id: int, content: str, now_ms: int) -> bool:
        """As Store's; the message's words change with its text."""
        row = self._db.execute(f"SELECT sender_ident, rec_ident, room_id FROM messages WHERE id = ? AND {LIVE}",
                               (message_id,)).fetchone()
        if row is None:
            return False
        return self._db.execute(
            f"UPDATE messages SET content = ?, edited_ms = ?, words = ? WHERE id = ? AND {LIVE}",
            (content, now_ms, message_words(content, *row), message_id)).rowcount > 0

    def delete_message(self, message_id: int) -> bool:
        """As Store's; a tombstone has no words."""
        with self._transaction():
            deleted = self._db.execute(
                f"UPDATE messages SET content = '', deleted = 1, words = '{{}}' WHERE id = ? AND {LIVE}",
                (message_id,)).rowcount > 0
            if deleted:
                self._db.execute("DELETE FROM offline_messages WHERE message_id = ?", (message_id,))
                self._db.execute("DELETE FROM files WHERE message_id = ?", (message_id,))
        return deleted

    def search(self, words: Sequence[str], viewer_idents: Sequence[str], lobby: bool, room_ids: Sequence[int],
               private: bool, other_ident: str | None, before: int | None,
               limit: int) -> tuple[list[StoredMessage], bool]:
        """As Store's, from the ``words`` column: every word's first three letters (GIN), the scope words any
        of (GIN), a longer beginning checked against the message's whole words."""
        viewers = list(viewer_idents)
        scope_words = _search_words(viewers, lobby, room_ids, private, other_ident)
        entries, longer = query_words(list(words))
        if not scope_words or not entries:  # a searched word without letters nor digits asks for nothing
            return [], False
        params: dict[str, object] = {"entries": entries, "scopes": [SCOPE_MARK + w for w in scope_words],
                                     "before": NO_LIMIT if before is None else before, "n": max(limit, 0) + 1}
        scope = _search_scope(viewers, lobby, list(room_ids), private, other_ident, params)
        checks = ""
        for at, word in enumerate(longer):
            params[f"w{at}"] = word
            params[f"l{at}"] = len(word)
            checks += f" AND EXISTS (SELECT 1 FROM unnest(m.words) AS x WHERE left(x, :l{at}) = :w{at})"
        columns = ("m.id, m.ts_ms, m.time_text, m.sender, m.color, m.rec, m.content, m.edited_ms, "
                   + FILE_COLUMN.format(m="m"))
        rows = self._db.execute(
            f"SELECT {columns} FROM messages m WHERE m.words @> :entries::text[] AND m.words && :scopes::text[]"
            f" AND m.id < :before AND m.{LIVE} AND ({scope}){checks} ORDER BY m.id DESC LIMIT :n", params).fetchall()
        return [_stored(row) for row in rows[:limit]], len(rows) > limit

    # Resume tokens held for a while (core.tokens), shared by the nodes ------------

    def hold_token(self, token_hash: str, ident: str, account_id: int | None, now_ms: int) -> None:
        """Hold a resume token's hash for ``ident`` (and its account, if any), as of ``now_ms``."""
        self._db.execute(
            "INSERT INTO held_tokens (token_hash, ident, account_id, created_ms) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (token_hash) DO UPDATE SET ident = excluded.ident, account_id = excluded.account_id,"
            " created_ms = excluded.created_ms", (token_hash, ident, account_id, now_ms))

    def find_held_token(self, token_hash: str) -> tuple[str, int | None] | None:
        """The ident and account id a held token hash stands for, or None."""
        row = self._db.execute("SELECT ident, account_id FROM held_tokens WHERE token_hash = ?",
                               (token_hash,)).fetchone()
        return None if row is None else (str(row[0]), None if row[1] is None else int(row[1]))

    def drop_held_tokens(self, ident: str, keep: str | None) -> None:
        """Forget every token held for ``ident`` but the hash ``keep``."""
        self._db.execute("DELETE FROM held_tokens WHERE ident = ? AND token_hash IS NOT ?", (ident, keep))

    def purge_held_tokens(self, before_ms: int) -> int:
        """Forget tokens held since before ``before_ms``; return how many."""
        return self._db.execute("DELETE FROM held_tokens WHERE created_ms < ?", (before_ms,)).rowcount


def array_literal(words: list[str]) -> str:
    """``words`` as PostgreSQL writes a text[] (COPY takes it as text: psycopg's own list dumper costs more than
    the rest of a message's row). Each is quoted ("null" is no NULL)."""
    if any('"' in word or "\\" in word for word in words):
        words = [word.replace("\\", "\\\\").replace('"', '\\"') for word in words]
    joined = '","'.join(words)
    return '{"' + joined + '"}' if words else "{}"


def _reason(error: BaseException) -> str:
    """PostgreSQL's words for ``error``, on one line."""
    return " ".join(str(error).split()) or type(error).__name__

