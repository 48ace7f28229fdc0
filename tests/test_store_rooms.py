"""The store's rooms, paged history, read state, offline messages and sessions (schema version 3), on real SQLite files."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.records import (
    Member,
    NewMessage,
    Room,
    RoomExists,
    RoomSummary,
    Session,
    Summary,
)
from stores import INTEGRITY_ERRORS, sqlite_only, store  # noqa: F401  (fixtures: both stores)
from server.store import SCHEMA_VERSION, Store, database_path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GUEST = "g:0123456789abcdef"
T0 = 1_800_000_000_000




def said(sender: str, ident: str, content: str, *, to: tuple[str, str] | None = None, room: Room | None = None,
         offline_for: int | None = None) -> NewMessage:
    """A message from ``sender`` (``ident``): to the lobby, to ``room``, or private to ``to`` (name, ident)."""
    rec = to[0] if to else room.rec if room else "-ALL"
    return NewMessage(T0, "12:00", sender, "#ABCDEF", rec, content, ident, to[1] if to else None,
                      room_id=room.id if room else None, offline_for=offline_for)


def contents(page: tuple[list, bool]) -> tuple[list[str], bool]:  # type: ignore[type-arg]
    return [m.content for m in page[0]], page[1]


# Migration ------------------------------------------------------------------

def test_a_version_2_database_migrates_with_its_accounts_and_messages_and_ref_answers_the_same(tmp_path: Path) -> None:
    path = database_path(tmp_path / "data")
    path.parent.mkdir()
    old = sqlite3.connect(path)
    old.executescript((FIXTURES / "parley-schema-v2.sql").read_text())
    old.close()
    store = Store(path)
    try:
        assert store.integrity_check() == "ok"
        assert [(a.id, a.name, a.role) for a in store.list_accounts()] == [
            (1, "Zoë", "admin"), (2, "bob", "member"), (3, "Ann", "member")]
        # What the version-2 code answered for these REFs (recorded before the migration existed).
        before = {("a:1", 3): [4, 5, 8], ("a:1", 50): [1, 2, 3, 4, 5, 8], ("a:2", 50): [1, 2, 3, 4, 5, 8],
                  ("a:3", 3): [6, 7, 8], ("a:3", 50): [1, 3, 5, 6, 7, 8], (GUEST, 50): [1, 3, 5, 6, 7, 8],
                  ("g:nobody", 3): [3, 5, 8], ("g:nobody", 50): [1, 3, 5, 8]}
        for (ident, limit), ids in before.items():
            assert [m.id for m in store.recent_messages([ident], limit)] == ids, (ident, limit)
        assert store.recent_messages(["a:1"], 1)[0].content == "bob says hi to zoë"
        # Existing accounts have read the lobby so far, as a new account would: no wall of old unread.
        lobby = store.summaries(3, ["a:3"], "Ann")[0]
        assert lobby == Summary("-ALL", last=8, read=8, unread=0, mentions=0)
        room = store.create_room("#general", "", False, "a:3", "Ann", T0)  # the new tables work
        assert store.rooms_of("a:3")[0].room == room
    finally:
        store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_the_lobby_and_one_private_conversation_are_read_from_their_own_indexes(store: Store, sqlite_only: None) -> None:
    """The lobby's newest used to be looked for through every room message, and a conversation's unread
    through every private message its reader received."""
    db = sqlite3.connect(store.path)
    plans = {query: " ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {query}")) for query in (
        "SELECT max(id) FROM messages WHERE rec_ident IS NULL AND room_id IS NULL",
        ("SELECT content FROM messages WHERE sender_ident = 'g:1' AND rec_ident IN ('a:1') AND id > 5"
         " AND sender_ident NOT IN ('a:1') ORDER BY id LIMIT 1000"),
    )}
    db.close()
    assert [plan.split(" USING INDEX ")[1].split()[0] for plan in plans.values()] == [
        "messages_public", "messages_between"], plans


# Rooms ------------------------------------------------------------------------

def test_a_room_is_created_with_its_creator_as_operator_and_found_by_its_name_as_nicknames_compare(store: Store) -> None:
    room = store.create_room("#Café", "all about coffee", False, "a:1", "Ann", T0)
    assert room == Room(room.id, "Café", "all about coffee", False, T0) and room.rec == "#Café"
    assert store.get_room("#café") == room and store.get_room("CAFÉ") == room
    assert store.get_room("#Cafe\u0301") == room  # NFKC: the same name written with a combining accent
    assert store.get_room("#tea") is None
    with pytest.raises(RoomExists):
        store.create_room("#ＣＡＦÉ", "", True, "a:2", "Bob", T0)  # full-width letters fold to the same name
    assert store.room_members(room.id) == [Member("Ann", "a:1", True)]
    assert store.member_op(room.id, "a:1") is True


def test_public_rooms_list_most_members_first_then_by_name_and_never_a_private_room(store: Store) -> None:
    quiet = store.create_room("quiet", "shh", False, "a:1", "Ann", T0)
    busy = store.create_room("busy", "", False, "a:1", "Ann", T0)
    store.create_room("Also", "", False, "a:2", "Bob", T0)
    secret = store.create_room("secret", "", True, "a:1", "Ann", T0)
    for n in range(3):
        store.add_member(busy.id, f"g:{n}", f"guest{n}", False, T0)
        store.add_member(secret.id, f"g:{n}", f"guest{n}", False, T0)
    store.remove_member(quiet.id, "a:1")
    assert store.public_rooms() == [RoomSummary("busy", "", 4), RoomSummary("Also", "", 1),
                                    RoomSummary("quiet", "shh", 0)]
    assert store.public_rooms(limit=2) == store.public_rooms()[:2]


def test_members_join_leave_and_change_operator_in_join_order(store: Store) -> None:
    room = store.create_room("general", "", False, "a:1", "Ann", T0)
    assert store.add_member(room.id, GUEST, "guest1", False, T0 + 1)
    assert store.add_member(room.id, "a:2", "Bob", False, T0 + 2)
    assert not store.add_member(room.id, "a:2", "Bob", True, T0 + 3)  # already a member: nothing changes
    assert store.room_members(room.id) == [Member("Ann", "a:1", True), Member("guest1", GUEST, False),
                                           Member("Bob", "a:2", False)]
    assert store.set_op(room.id, "a:2", True) and store.member_op(room.id, "a:2") is True
    assert not store.set_op(room.id, "a:9", True) and store.member_op(room.id, "a:9") is None
    assert store.remove_member(room.id, "a:1") and not store.remove_member(room.id, "a:1")
    assert store.add_member(room.id, "a:1", "Ann", False, T0 + 4)  # back in: now the last to have joined
    assert [m.ident for m in store.room_members(room.id)] == [GUEST, "a:2", "a:1"]
    store.set_topic(room.id, "new topic")
    assert store.get_room("general") == Room(room.id, "general", "new topic", False, T0)


def test_rooms_of_lists_a_users_rooms_in_the_order_it_joined_them(store: Store) -> None:
    first = store.create_room("zeta", "", False, "a:2", "Bob", T0)
    store.create_room("alpha", "", True, "a:1", "Ann", T0)
    store.add_member(first.id, "a:1", "Ann", False, T0)
    assert [(m.room.name, m.op) for m in store.rooms_of("a:1")] == [("alpha", True), ("zeta", False)]
    assert store.rooms_of("a:3") == []


def test_renames_reach_every_room_list_and_an_account_rename_too(store: Store) -> None:
    ann = store.add_account("Ann", "member", "hash")
    one = store.create_room("one", "", False, ann.ident, "Ann", T0)
    two = store.create_room("two", "", False, GUEST, "guest1", T0)
    store.add_member(two.id, ann.ident, "Ann", False, T0)
    store.rename_member(GUEST, "guest2")
    store.rename_account(ann.id, "Anne")
    assert [m.name for m in store.room_members(one.id)] == ["Anne"]
    assert [m.name for m in store.room_members(two.id)] == ["guest2", "Anne"]


def test_guests_leave_every_room_when_they_go_and_at_each_start(store: Store) -> None:
    room = store.create_room("general", "", False, "a:1", "Ann", T0)
    other = store.create_room("other", "", False, "g:1", "guest1", T0)
    for ident in ("g:1", "g:2", "g_3"):
        store.add_member(room.id, ident, ident, False, T0)
    store.drop_guest("g:1")
    assert [m.ident for m in store.room_members(room.id)] == ["a:1", "g:2", "g_3"]
    assert store.room_members(other.id) == []
    with pytest.raises(ValueError):
        store.drop_guest("a:1")
    assert store.drop_all_guests() == 1  # g:2; "g_3" is no guest's ident ("_" is not a wildcard here)
    assert [m.ident for m in store.room_members(room.id)] == ["a:1", "g_3"]


def test_a_guest_registering_keeps_its_rooms_as_the_account(store: Store) -> None:
    room = store.create_room("general", "", False, GUEST, "guest1", T0)
    store.append_messages([said("guest1", GUEST, "before registering", room=room)])
    account = store.add_account("guest1", "member", "hash", adopt=GUEST)
    assert store.room_members(room.id) == [Member("guest1", account.ident, True)]
    assert store.summaries(account.id, [account.ident], "guest1")[1].read == 1


# History --------------------------------------------------------------------

def test_paging_back_through_a_rooms_thousand_messages_gives_each_once_in_order(store: Store) -> None:
    room = store.create_room("general", "", False, "a:1", "Ann", T0)
    noise = store.create_room("noise", "", False, "a:1", "Ann", T0)
    batch = []
    for n in range(1000):
        batch.append(said("Ann", "a:1", f"room {n}", room=room))
        if n % 10 == 0:  # other conversations between them
            batch += [said("Ann", "a:1", "lobby"), said("Ann", "a:1", "elsewhere", room=noise),
                      said("Ann", "a:1", "private", to=("Bob", "a:2"))]
    store.append_messages(batch)
    seen: list[str] = []
    before, more, pages = None, True, 0
    while more:
        page, more = store.room_history(room.id, before, 64)
        assert page and (more or len(page) <= 64)
        seen = [m.content for m in page] + seen
        before, pages = page[0].id, pages + 1
    assert seen == [f"room {n}" for n in range(1000)] and pages == 16
    assert store.room_history(room.id, before, 64) == ([], False)
    last, more = store.room_history(room.id, None, 1000)
    assert len(last) == 1000 and not more


def test_room_messages_stay_out_of_the_lobby_and_out_of_ref(store: Store) -> None:
    room = store.create_room("general", "", False, "a:1", "Ann", T0)
    store.append_messages([said("Ann", "a:1", "in the lobby"), said("Ann", "a:1", "in the room", room=room),
                           said("Ann", "a:1", "two\nlines", room=room)])
    assert contents(store.lobby_history(None, 50)) == (["in the lobby"], False)
    assert [m.content for m in store.recent_messages(["a:1"], 50)] == ["in the lobby"]
    assert contents(store.room_history(room.id, None, 50)) == (["in the room", "two\nlines"], False)
    assert contents(store.room_history(room.id, None, 1)) == (["two\nlines"], True)
    assert contents(store.room_history(room.id, 3, 1)) == (["in the room"], False)


def test_lobby_history_pages_back_from_an_id(store: Store) -> None:
    ids = store.append_messages([said("Ann", "a:1", f"m{n}") for n in range(10)])
    assert contents(store.lobby_history(ids[5], 3)) == (["m2", "m3", "m4"], True)
    assert contents(store.lobby_history(ids[3], 3)) == (["m0", "m1", "m2"], False)
    assert contents(store.lobby_history(None, 0)) == ([], True)


def test_private_history_is_the_messages_between_two_parties_either_way(store: Store) -> None:
    store.append_messages([
        said("Ann", "a:1", "to bob", to=("Bob", "a:2")),
        said("Bob", "a:2", "to ann", to=("Ann", "a:1")),
        said("Cat", "a:3", "to ann from cat", to=("Ann", "a:1")),
        said("Ann", "a:1", "note to self", to=("Ann", "a:1")),
        said("Bob", "a:2", "lobby"),
        said("Bob", "a:2", "bob to cat", to=("Cat", "a:3")),
        said("Ann", "a:1", "again to bob", to=("Bob", "a:2")),
    ])
    assert contents(store.private_history(["a:1"], "a:2", None, 50)) == (["to bob", "to ann", "again to bob"], False)
    assert contents(store.private_history(["a:1"], "a:2", 7, 1)) == (["to ann"], True)
    assert contents(store.private_history(["a:1"], "a:1", None, 50)) == (["note to self"], False)
    assert contents(store.private_history(["a:2"], "a:1", None, 2)) == (["to ann", "again to bob"], True)


# Conversations and read state ---------------------------------------------------

def test_summaries_list_the_lobby_then_rooms_in_join_order_then_private_conversations_newest_first(store: Store) -> None:
    ann = store.add_account("Ann", "member", "hash")
    bob = store.add_account("Bob", "member", "hash")
    later = store.create_room("later", "", False, bob.ident, "Bob", T0)
    first = store.create_room("first", "coffee", True, ann.ident, "Ann", T0)
    store.add_member(later.id, ann.ident, "Ann", False, T0)
    store.append_messages([
        said("Bob", bob.ident, "hi ann", to=("Ann", ann.ident)),
        said("guest1", GUEST, "hello Ann", to=("Ann", ann.ident)),
        said("Ann", ann.ident, "hello guest", to=("guest1", GUEST)),
        said("Ann", ann.ident, "ann's own", room=first),
    ])
    store.rename_account(bob.id, "Robert")
    assert store.summaries(ann.id, [ann.ident], "Ann") == [
        Summary("-ALL", 0, 0, 0, 0),
        Summary("#first", 4, 0, 0, 0, topic="coffee", private=True, op=True, members=1),
        Summary("#later", 0, 0, 0, 0, members=2),
        Summary("guest1", 3, 0, 1, 1),
        Summary("Robert", 1, 0, 1, 1),  # an account is named by its current name
    ]
    assert [s.rec for s in store.summaries(ann.id, [ann.ident], "Ann", private_limit=1)] == [
        "-ALL", "#first", "#later", "guest1"]


def test_a_guests_summaries_have_everything_read(store: Store) -> None:
    room = store.create_room("general", "", False, GUEST, "guest1", T0)
    store.append_messages([said("Ann", "a:1", "hi guest1"), said("Ann", "a:1", "guest1?", room=room),
                           said("Ann", "a:1", "psst guest1", to=("guest1", GUEST))])
    assert store.summaries(None, [GUEST], "guest1") == [
        Summary("-ALL", 1, 1, 0, 0), Summary("#general", 2, 2, 0, 0, op=True, members=1), Summary("Ann", 3, 3, 0, 0)]


def test_unread_counts_others_messages_after_the_marker_and_mentions_by_the_nickname_rule(store: Store) -> None:
    store.append_messages([said("Bob", "a:2", "before Zoë existed")])
    zoe = store.add_account("Zoë", "member", "hash")  # the lobby starts read up to here
    store.append_messages([
        said("Bob", "a:2", "hello ZOË"),  # compared as nicknames are
        said("Bob", "a:2", "@zoë: look"),
        said("Bob", "a:2", "zoëlla is not zoë_"),  # a letter after, "_" after: no mention
        said("Zoë", zoe.ident, "zoë talks about herself"),  # her own: not unread
        said("Bob", "a:2", "two\nlines\nzoe\u0308"),  # NFKC: the same name with a combining mark
        said("Bob", "a:2", "nothing"),
    ])
    lobby = store.summary(zoe.id, [zoe.ident], "Zoë", "lobby", 0)
    assert lobby == Summary("-ALL", last=7, read=1, unread=5, mentions=3)
    assert store.set_read(zoe.id, "lobby", 5) == 5
    assert store.summary(zoe.id, [zoe.ident], "Zoë", "lobby", 0) == Summary("-ALL", 7, 5, 2, 1)


def test_unread_is_counted_up_to_a_thousand(store: Store) -> None:
    ann = store.add_account("Ann", "member", "hash")
    store.append_messages([said("Bob", "a:2", f"Ann, {n}", to=("Ann", ann.ident)) for n in range(1003)])
    assert store.summary(ann.id, [ann.ident], "Ann", "private", "a:2") == Summary("Bob", 1003, 0, 1000, 1000)


def test_joining_a_room_marks_what_was_said_before_as_read(store: Store) -> None:
    ann = store.add_account("Ann", "member", "hash")
    room = store.create_room("general", "", False, "a:9", "Bob", T0)
    store.append_messages([said("Bob", "a:9", f"early {n}", room=room) for n in range(3)])
    store.add_member(room.id, ann.ident, "Ann", False, T0)
    store.append_messages([said("Bob", "a:9", "Ann: welcome", room=room)])
    assert store.summary(ann.id, [ann.ident], "Ann", "room", room.id) == Summary(
        "#general", 4, 3, 1, 1, members=2)
    assert store.summary(ann.id, [ann.ident], "Ann", "room", 999) is None


def test_set_read_never_moves_back_nor_past_the_newest_message(store: Store) -> None:
    ann = store.add_account("Ann", "member", "hash")
    room = store.create_room("general", "", False, ann.ident, "Ann", T0)
    store.append_messages([said("Bob", "a:2", f"m{n}", room=room) for n in range(5)])
    conv = f"r:{room.id}"
    assert store.set_read(ann.id, conv, 3) == 3
    assert store.set_read(ann.id, conv, 3) == 3  # idempotent
    assert store.set_read(ann.id, conv, 1) == 3  # never back
    assert store.set_read(ann.id, conv, 10**12) == 5  # not past the newest: later messages stay unread
    store.append_messages([said("Bob", "a:2", "new", room=room)])
    assert store.summary(ann.id, [ann.ident], "Ann", "room", room.id) == Summary(
        "#general", 6, 5, 1, 0, op=True, members=1)
    store.append_messages([said("Bob", "a:2", "psst", to=("Ann", ann.ident))])
    assert store.set_read(ann.id, "a:2", 99) == 7 and store.set_read(ann.id, "a:7", 99) == 0


def test_a_private_summary_names_a_guest_by_its_latest_name_and_an_unknown_party_is_none(store: Store) -> None:
    store.append_messages([said("guest1", GUEST, "hi", to=("Ann", "a:1")),
                           said("Ann", "a:1", "hi guest2", to=("guest2", GUEST))])
    assert store.summary(1, ["a:1"], "Ann", "private", GUEST) == Summary("guest2", 2, 0, 1, 0)
    assert store.summary(1, ["a:1"], "Ann", "private", "g:nobody") is None
    bob = store.add_account("Bob", "member", "hash")
    assert store.summary(1, ["a:1"], "Ann", "private", bob.ident) == Summary("Bob", 0, 0, 0, 0)


def test_offline_private_messages_are_counted_once_at_the_next_login(store: Store) -> None:
    ann = store.add_account("Ann", "member", "hash")
    store.append_messages([said("Bob", "a:2", "while you were out", to=("Ann", ann.ident), offline_for=ann.id),
                           said("Bob", "a:2", "lobby"),
                           said("Cat", "a:3", "me too", to=("Ann", ann.ident), offline_for=ann.id)])
    assert store.take_offline_count(ann.id) == 2
    assert store.take_offline_count(ann.id) == 0


def test_a_failed_batch_leaves_no_offline_note(store: Store) -> None:
    bad = NewMessage(T0, "12:00", "x", "#FFFFFF", "Ann", None, "a:2", "a:1", offline_for=1)  # type: ignore[arg-type]
    with pytest.raises(INTEGRITY_ERRORS):
        store.append_messages([said("Bob", "a:2", "fine", to=("Ann", "a:1"), offline_for=1), bad])
    assert store.take_offline_count(1) == 0


# Sessions -----------------------------------------------------------------------

def test_a_session_is_found_by_its_token_hash_until_it_expires(store: Store) -> None:
    ann = store.add_account("Ann", "member", "hash")
    first = store.add_session(ann.id, "hash-1", T0, T0 + 1000, "192.0.2.1")
    assert store.list_sessions(ann.id) == [Session(first, ann.id, T0, T0 + 1000, T0, "192.0.2.1")]
    assert store.find_session("hash-1", T0 + 500) == (first, ann)
    assert store.list_sessions(ann.id)[0].last_used_ms == T0 + 500
    assert store.find_session("hash-1", T0 + 1000) is None  # expired
    assert store.find_session("hash-2", T0) is None
    assert store.purge_expired_sessions(T0 + 999) == 0 and store.purge_expired_sessions(T0 + 1000) == 1
    assert store.list_sessions(ann.id) == []


def test_sessions_are_revoked_one_by_one_by_token_or_all_but_the_changing_one(store: Store) -> None:
    ann = store.add_account("Ann", "member", "hash")
    bob = store.add_account("Bob", "member", "hash")
    ids = [store.add_session(ann.id, f"ann-{n}", T0, T0 + 10**9, "::1") for n in range(4)]
    store.add_session(bob.id, "bob-0", T0, T0 + 10**9, "::1")
    assert store.revoke_token("ann-0") and not store.revoke_token("ann-0")
    assert not store.revoke_session(bob.id, ids[1])  # not Bob's
    assert store.revoke_session(ann.id, ids[1])
    assert store.revoke_sessions(ann.id, except_hash="ann-3") == 1
    assert [s.id for s in store.list_sessions(ann.id)] == [ids[3]]
    assert store.revoke_sessions(ann.id) == 1 and store.list_sessions(ann.id) == []
    assert store.find_session("bob-0", T0) is not None


def test_removing_an_account_removes_its_sessions_rooms_markers_and_offline_notes(store: Store) -> None:
    ann = store.add_account("Ann", "member", "hash")
    room = store.create_room("general", "", False, ann.ident, "Ann", T0)
    store.add_session(ann.id, "ann-token", T0, T0 + 10**9, "::1")
    store.append_messages([said("Bob", "a:2", "hi", to=("Ann", ann.ident), offline_for=ann.id)])
    assert store.remove_account("ann") and not store.remove_account("ann")
    for table in ("sessions", "read_markers", "offline_messages"):
        counted = store._db.execute(f"SELECT count(*) FROM {table} WHERE account_id = ?", (ann.id,)).fetchone()
        assert tuple(counted) == (0,), table
    assert store.room_members(room.id) == []
    again = store.add_account("Ann", "member", "hash")  # a new account of the name starts clean
    assert store.find_session("ann-token", T0) is None and store.take_offline_count(again.id) == 0
