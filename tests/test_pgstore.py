"""PgStore's own part (conversation order, held tokens, migrations, reconnecting) on a real PostgreSQL server, and
the search finding on PostgreSQL what SQLite's FTS5 finds."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from services import PostgresServer

from server.database import store_request
from server.pgstore import SCHEMA_VERSION, PgStore
from server.records import NewMessage, StoreFailed, conversation_key
from server.searchwords import tokens
from server.store import NewerDatabase, Store, database_path
from server.stores import open_store

T0 = 1_800_000_000_000
ANN, BOB, CAT = "a:1", "a:2", "a:3"


@pytest.fixture
def pg(pg_url: str) -> Iterator[PgStore]:
    opened = PgStore(pg_url)
    yield opened
    opened.close()


def said(ident: str, content: str, *, to: str | None = None, room_id: int | None = None) -> NewMessage:
    return NewMessage(T0, "12:00", ident, "#ABCDEF", to or ("#r" if room_id else "-ALL"), content, ident, to,
                      room_id=room_id)


def test_conversation_keys_name_the_lobby_a_room_and_a_pair_either_way() -> None:
    assert conversation_key(ANN, None, None) == "lobby"
    assert conversation_key(ANN, None, 7) == "r7"
    assert conversation_key(BOB, ANN, None) == conversation_key(ANN, BOB, None) == "pa:1|a:2"
    assert conversation_key(ANN, ANN, None) == "pa:1|a:1"


def test_each_conversation_counts_its_own_seq_from_one_across_batches(pg: PgStore) -> None:
    first = pg.append_sequenced([said(ANN, "l1"), said(ANN, "r1", room_id=5), said(BOB, "p1", to=ANN),
                                 said(ANN, "l2"), said(ANN, "p2", to=BOB)])
    assert [seq for _, seq in first] == [1, 1, 1, 2, 2]
    assert [message_id for message_id, _ in first] == sorted(message_id for message_id, _ in first)
    second = pg.append_sequenced([said(CAT, "l3"), said(ANN, "r2", room_id=5)])
    assert [seq for _, seq in second] == [3, 2]
    assert pg.conversation_seqs(0) == [("lobby", 3), ("pa:1|a:2", 2), ("r5", 2)]
    assert pg.append_messages([said(ANN, "l4")]) == [second[-1][0] + 1]


def test_sqlite_gives_each_message_its_id_as_seq(tmp_path: Path) -> None:
    store = Store(database_path(tmp_path), durable=False)
    try:
        assert store.append_sequenced([said(ANN, "a"), said(BOB, "b", to=ANN)]) == [(1, 1), (2, 2)]
    finally:
        store.close()


def test_messages_after_gives_a_conversations_order_with_its_tombstones(pg: PgStore) -> None:
    stored = pg.append_sequenced([said(ANN, f"m{n}") for n in range(1, 6)] + [said(ANN, "elsewhere", room_id=1)])
    assert pg.delete_message(stored[2][0])
    after = pg.messages_after("lobby", 1, 3)
    assert [(m.seq, m.message.content, m.deleted) for m in after] == [(2, "m2", False), (3, "", True),
                                                                      (4, "m4", False)]
    assert after[0].message.id == stored[1][0] and (after[0].sender_ident, after[0].rec_ident) == (ANN, None)
    assert [m.seq for m in pg.messages_after("lobby", 5, 10)] == []
    assert [(m.conv, m.room_id) for m in pg.messages_after("r1", 0, 10)] == [("r1", 1)]


def test_conversation_seqs_since_leaves_out_conversations_not_written_since(pg: PgStore) -> None:
    pg.append_sequenced([said(ANN, "old", room_id=1)])
    (now_ms,) = pg._db.execute("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint").fetchone()
    pg.append_sequenced([said(ANN, "new")])
    assert pg.conversation_seqs(int(now_ms)) == [("lobby", 1)]
    assert pg.conversation_seqs(0) == [("lobby", 1), ("r1", 1)]


def test_two_nodes_writing_one_conversation_get_one_gapless_order(pg_url: str) -> None:
    """Two stores (two nodes) append to the lobby at once: seqs 1..N, each once, in id order."""
    nodes = [PgStore(pg_url), PgStore(pg_url)]
    results: list[list[tuple[int, int]]] = [[], []]

    def write(at: int) -> None:
        for batch in range(20):
            results[at] += nodes[at].append_sequenced([said(ANN, f"{at}-{batch}-{n}") for n in range(10)]
                                                      + [said(BOB, "aside", room_id=at)])

    threads = [threading.Thread(target=write, args=(at,)) for at in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        lobby = [pair for pairs in results for pair in pairs]
        rows = nodes[0].messages_after("lobby", 0, 1000)
        assert [m.seq for m in rows] == list(range(1, 401))
        assert [m.message.id for m in rows] == sorted(m.message.id for m in rows)  # seq order is id order
        assert len(lobby) == 2 * 20 * 11
    finally:
        for node in nodes:
            node.close()


def test_held_tokens_are_shared_and_dropped_but_the_one_kept(pg_url: str) -> None:
    one, other = PgStore(pg_url), PgStore(pg_url)
    try:
        one.hold_token("h1", "g:1", None, T0)
        one.hold_token("h2", "a:5", 5, T0)
        one.hold_token("h3", "a:5", 5, T0)
        assert other.find_held_token("h1") == ("g:1", None)
        assert other.find_held_token("h2") == ("a:5", 5)
        other.drop_held_tokens("a:5", keep="h3")
        assert one.find_held_token("h2") is None and one.find_held_token("h3") == ("a:5", 5)
        other.drop_held_tokens("g:1", keep=None)
        assert one.find_held_token("h1") is None
    finally:
        one.close()
        other.close()


def test_the_schema_is_made_once_and_a_newer_one_is_left_alone(pg_url: str) -> None:
    PgStore(pg_url).close()
    again = PgStore(pg_url)  # a second start (or a second node) finds the schema made
    assert again.schema_version() == SCHEMA_VERSION
    again._db.execute("UPDATE parley_schema SET version = ?", (SCHEMA_VERSION + 1,))
    again.close()
    with pytest.raises(NewerDatabase, match="newer Parley"):
        PgStore(pg_url)


def test_a_database_that_cannot_be_reached_is_a_startup_error_without_the_password(postgres_server: PostgresServer,
                                                                                    tmp_path: Path) -> None:
    url = f"postgresql://parley:secret-pw@127.0.0.1:{postgres_server.port}/no_such_database"
    with pytest.raises(Exception, match="no_such_database") as raised:
        open_store(url, tmp_path)
    assert "secret-pw" not in str(raised.value)
    assert isinstance(open_store(None, tmp_path / "data"), Store)


def test_a_store_call_during_an_outage_fails_and_the_next_one_after_reconnects(postgres_server: PostgresServer,
                                                                               pg: PgStore) -> None:
    pg.add_account("Ann", "member", "hash")
    postgres_server.stop()
    try:
        with pytest.raises(psycopg.Error):
            pg.get_account("Ann")
        with pytest.raises(StoreFailed):  # as the server sees it: a store failure, answered to the client
            store_request("test", "reading an account", pg.get_account, "Ann")
    finally:
        postgres_server.start()
    account = pg.get_account("Ann")
    assert account is not None and account.name == "Ann" and pg.reconnects >= 1
    assert pg.append_messages([said(ANN, "after")])


def test_a_restart_between_calls_costs_no_call(postgres_server: PostgresServer, pg: PgStore) -> None:
    """The connection PostgreSQL closed while it was idle is replaced before the next call uses it."""
    pg.add_account("Ann", "member", "hash")
    postgres_server.restart()
    assert pg.get_account("Ann") is not None and pg.reconnects == 1


TEXTS = ["Café au lait", "naïve façade", "ÀÉÎ straße İstanbul", "日本語 テキスト", "x\u0301y e\u0301clair",
         "hello world", "Hello, World!", "help me", "he said hi", "word-with-dashes and_underscores",
         "numbers 12345 6789", "ﬁle Ωmega", "lobby r5 content scope", "a'b c.d"]
QUERIES = [["cafe"], ["CAFÉ"], ["naive", "fac"], ["he"], ["hel"], ["hell"], ["hello", "world"], ["world"],
           ["str"], ["straße"], ["istanbul"], ["日本"], ["テキスト"], ["xy"], ["eclair"], ["with"], ["dashes"],
           ["and_underscores"], ["123"], ["12345"], ["ﬁle"], ["ωmega"], ["lobby"], ["r5"], ["a"], ["b"],
           ["c.d"], ["zzz"], ["he", "wor"], ["word-with"]]


def test_the_search_finds_on_postgresql_what_fts5_finds(tmp_path: Path, pg: PgStore) -> None:
    sqlite = Store(database_path(tmp_path), durable=False)
    try:
        for store in (sqlite, pg):
            room = store.create_room("#r", "", False, ANN, "Ann", T0)
            store.append_messages([said(ANN, text) for text in TEXTS]
                                  + [said(BOB, text, to=CAT) for text in TEXTS[:5]]
                                  + [said(CAT, text, room_id=room.id) for text in TEXTS[5:]])
        for words in QUERIES:
            for viewers, rooms, other in (([ANN], [], None), ([CAT], [1], None), ([BOB], [], CAT), ([ANN], [1], BOB)):
                wanted = sqlite.search(words, viewers, True, rooms, True, other, None, 50)
                assert pg.search(words, viewers, True, rooms, True, other, None, 50) == wanted, (words, viewers)
        assert pg.search(["hel"], [ANN], True, [], False, None, None, 1)[1] is True  # more than one: paged
    finally:
        sqlite.close()


def test_tokens_are_fts5s_unicode61_with_diacritics_removed(tmp_path: Path) -> None:
    import sqlite3

    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(c, tokenize='unicode61 remove_diacritics 2')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    for at, text in enumerate(TEXTS):
        db.execute("INSERT INTO t (rowid, c) VALUES (?, ?)", (at, text))
    for at, text in enumerate(TEXTS):
        expected = [term for (term,) in db.execute("SELECT term FROM v WHERE doc = ? ORDER BY offset", (at,))]
        assert list(tokens(text)) == expected, text


def test_words_with_quotes_and_backslashes_reach_postgresql_as_they_are(pg: PgStore) -> None:
    from server.pgstore import array_literal

    words = ['plain', 'qu"ote', 'back\\slash', 'null', 'a,b', '{x}', 'sp ace']
    (stored,) = pg._db.execute("SELECT ?::text[]", (array_literal(words),)).fetchone()
    assert stored == words and array_literal([]) == "{}"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_any_text_gives_the_tokens_fts5_gives(text: str) -> None:
    import sqlite3

    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(c, tokenize='unicode61 remove_diacritics 2')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    db.execute("INSERT INTO t (rowid, c) VALUES (1, ?)", (text,))
    assert list(tokens(text)) == [term for (term,) in db.execute("SELECT term FROM v ORDER BY offset")]


def test_random_searches_find_on_postgresql_what_fts5_finds(tmp_path: Path, pg: PgStore) -> None:
    """Two thousand searches (beginnings of one to six letters, one to three words) over 400 messages made of
    a small vocabulary with accents, capitals and punctuation: the same messages, in the same order."""
    chance = random.Random(16)
    vocabulary = ["apple", "Apricot", "ápex", "banana", "band", "Bandé", "cherry", "chérie", "ch", "x", "xylophone",
                  "naïve", "NAIVE", "zebra", "zé", "12", "123", "1234", "日本", "日本語", "straße", "strasse"]
    texts = [" ".join(chance.choice(vocabulary) + chance.choice(["", ",", "!", "-", "."]) for _ in range(6))
             for _ in range(400)]
    sqlite = Store(database_path(tmp_path), durable=False)
    try:
        for store in (sqlite, pg):
            store.append_messages([said((ANN, BOB, CAT)[n % 3], text, to=(None, None, ANN, BOB)[n % 4])
                                   for n, text in enumerate(texts)])
        for _ in range(2000):
            words = [chance.choice(vocabulary)[:chance.randint(1, 6)] for _ in range(chance.randint(1, 3))]
            viewer = chance.choice([ANN, BOB, CAT])
            before = chance.choice([None, 200, 350])
            wanted = sqlite.search(words, [viewer], True, [], True, None, before, 5)
            assert pg.search(words, [viewer], True, [], True, None, before, 5) == wanted, (words, viewer, before)
    finally:
        sqlite.close()


def test_fsync_off_makes_commits_not_wait_for_the_wal_even_after_a_reconnect(postgres_server: PostgresServer,
                                                                              pg_url: str, tmp_path: Path) -> None:
    store = open_store(pg_url, tmp_path, durable=False)
    try:
        assert store._db.execute("SHOW synchronous_commit").fetchone() == ("off",)
        postgres_server.restart()
        assert store._db.execute("SHOW synchronous_commit").fetchone() == ("off",)
        assert isinstance(store, PgStore) and store.reconnects == 1
    finally:
        store.close()
    durable = open_store(pg_url, tmp_path)
    try:
        assert durable._db.execute("SHOW synchronous_commit").fetchone() == ("on",)
    finally:
        durable.close()
