"""``parley db migrate`` and ``parley db copy``: a PostgreSQL database for several nodes, and moving to it.

``copy`` reads a data folder's SQLite database in one read transaction (a
snapshot, a running server may keep writing) and writes it into an empty
PostgreSQL schema in one transaction, table by table with COPY, ids kept;
each message gets its conversation's next seq (in id order) and its search
words. Then every table's rows are counted on both sides and printed; a
difference is exit status 1, and so is a target that holds rows already.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from parley.startup import StartupError

if TYPE_CHECKING:
    import psycopg

    from server.pgstore import PgStore

BATCH = 1000  # rows read from SQLite at a time
# Each table copied: its columns on both sides, and the order it is read in.
TABLES: list[tuple[str, str, str]] = [
    ("accounts", ("id, name, name_key, role, password_hash, created_ms, lookalike_typed, lookalike_upper,"
                  " lookalike_folded"), "id"),
    ("rooms", "id, name, name_key, topic, private, created_ms, created_by", "id"),
    ("room_members", "room_id, ident, name, op, joined_ms", "rowid"),
    ("read_markers", "account_id, conv, message_id", "account_id, conv"),
    ("offline_messages", "account_id, message_id", "account_id, message_id"),
    ("sessions", "id, account_id, token_hash, created_ms, expires_ms, last_used_ms, address", "id"),
    ("bans", ("id, kind, target, target_key, ident, room_id, room, reason, banned_by, created_ms, until_ms,"
              " lifted_ms, lifted_by"), "id"),
    ("audit", "id, at_ms, actor, action, target, room, reason, detail", "id"),
    ("reports", "id, at_ms, reporter, reporter_ident, message_id, reason, resolved_ms, resolved_by", "id"),
    ("files", "message_id, sha, size, type, name, width, height, uploader_ident, created_ms", "message_id"),
]
MESSAGE_COLUMNS = "id, ts_ms, time_text, sender, color, rec, content, sender_ident, rec_ident, room_id, edited_ms, deleted"
COUNTED = ["accounts", "messages", "rooms", "room_members", "read_markers", "offline_messages", "sessions", "bans",
           "audit", "reports", "files"]
# Sequences set past the ids copied: (table, column).
SEQUENCES = [("accounts", "id"), ("messages", "id"), ("rooms", "id"), ("room_members", "row_order"),
             ("sessions", "id"), ("bans", "id"), ("audit", "id"), ("reports", "id")]


def run_db_command(args: argparse.Namespace) -> int:
    """``parley db ACTION``; return the exit status. Raises StartupError for a database that cannot be used."""
    from server.pgstore import PgStore, describe
    from server.stores import is_postgres

    url = args.database
    if not is_postgres(url):
        print("parley: give the PostgreSQL database: --database postgresql://USER@HOST:PORT/DB"
              " (or PARLEY_DATABASE)", file=sys.stderr)
        return 2
    store = PgStore(url)  # creates or upgrades the schema
    try:
        if args.db_command == "migrate":
            print(f"{describe(url)}: schema version {store.schema_version()}")
            return 0
        return copy_data_folder(args, store)
    finally:
        store.close()


def copy_data_folder(args: argparse.Namespace, target: PgStore) -> int:
    """Copy ``args.data_dir``'s database into ``target`` (empty); print the counts; return the exit status."""
    from server.store import Store, database_path

    path = database_path(args.data_dir)
    if not path.exists():
        raise StartupError(f"no database to copy: {path} does not exist")
    Store(path).close()  # brought up to this Parley's schema, as a server start would
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        source.execute("BEGIN")  # one snapshot of every table
        conn = target._pg.connection()
        filled = [table for table in COUNTED + ["conversations"] if _count(conn, table)]
        if filled:
            print(f"parley: the target database is not empty ({', '.join(filled)} hold rows): copy only into an"
                  " empty one", file=sys.stderr)
            return 1
        with conn.transaction():
            for table, columns, order in TABLES:
                _copy_table(source, conn, table, columns, order)
            _copy_messages(source, conn)
            for table, column in SEQUENCES:
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                             f" (SELECT coalesce(max({column}), 0) + 1 FROM {table}), false)")
        counts = [(table, _count(source, table), _count(conn, table)) for table in COUNTED]
        source.execute("COMMIT")
    finally:
        source.close()
    print(f"{'table':<18}{'sqlite':>10}{'postgresql':>12}")
    for table, before, after in counts:
        print(f"{table:<18}{before:>10}{after:>12}{'' if before == after else '  MISMATCH'}")
    if any(before != after for _, before, after in counts):
        print("parley: the copy differs from its source", file=sys.stderr)
        return 1
    print(f"copied {path} into the PostgreSQL database")
    return 0


def _count(db: sqlite3.Connection | psycopg.Connection[Any], table: str) -> int:
    row = db.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _rows(source: sqlite3.Connection, query: str) -> Iterator[tuple[Any, ...]]:
    cursor = source.execute(query)
    while batch := cursor.fetchmany(BATCH):
        yield from batch


def _copy_table(source: sqlite3.Connection, conn: psycopg.Connection[Any], table: str, columns: str,
                order: str) -> None:
    target_columns = columns + (", row_order" if table == "room_members" else "")
    read = columns + (", rowid" if table == "room_members" else "")  # join order kept
    with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({target_columns}) FROM STDIN") as copy:
        for row in _rows(source, f"SELECT {read} FROM {table} ORDER BY {order}"):
            copy.write_row(row)


def _copy_messages(source: sqlite3.Connection, conn: psycopg.Connection[Any]) -> None:
    """The messages in id order, each its conversation's next seq and its words; then the conversations."""
    from server.pgstore import array_literal
    from server.records import conversation_key
    from server.searchwords import message_words

    tops: dict[str, tuple[int, int]] = {}  # conv: (seq, newest ts_ms)
    with conn.cursor() as cursor, cursor.copy(
            f"COPY messages ({MESSAGE_COLUMNS}, conv, seq, words) FROM STDIN") as copy:
        for row in _rows(source, f"SELECT {MESSAGE_COLUMNS} FROM messages ORDER BY id"):
            ts_ms, content, sender_ident, rec_ident, room_id, deleted = (row[1], row[6], row[7], row[8], row[9],
                                                                         row[11])
            conv = conversation_key(sender_ident, rec_ident, room_id)
            seq = tops.get(conv, (0, 0))[0] + 1
            tops[conv] = (seq, max(ts_ms, tops.get(conv, (0, 0))[1]))
            words = message_words(content, sender_ident, rec_ident, room_id, bool(deleted))
            copy.write_row((*row, conv, seq, array_literal(words)))
    with conn.cursor() as cursor, cursor.copy("COPY conversations (conv, seq, updated_ms) FROM STDIN") as copy:
        for conv, (seq, updated_ms) in sorted(tops.items()):
            copy.write_row((conv, seq, updated_ms))
