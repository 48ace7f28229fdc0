"""The store's moderation, editing and search (schema version 4, issue 14), on real SQLite files."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from server.records import (
    AuditEntry,
    MessageRecord,
    NewMessage,
    Report,
    Restriction,
    Room,
    StoredMessage,
)
from stores import sqlite_only, store  # noqa: F401  (fixtures: both stores)
from server.pgstore import PgStore
from server.searchwords import message_words
from server.store import _MIGRATIONS, SCHEMA_VERSION, Store, _statements, database_path

T0 = 1_800_000_000_000
GUEST = "g:0123456789abcdef"
ANN, BOB, CAT = "a:1", "a:2", "a:3"




def said(sender: str, ident: str, content: str, *, to: tuple[str, str] | None = None,
         room: Room | None = None) -> NewMessage:
    """A message from ``sender`` (``ident``): to the lobby, to ``room``, or private to ``to`` (name, ident)."""
    rec = to[0] if to else room.rec if room else "-ALL"
    return NewMessage(T0, "12:00", sender, "#ABCDEF", rec, content, ident, to[1] if to else None,
                      room_id=room.id if room else None)


def texts(found: Sequence[StoredMessage]) -> list[str]:
    return [m.content for m in found]


def everywhere(store: Store, words: list[str], viewers: Sequence[str], room_ids: Sequence[int] = (),
               before: int | None = None, limit: int = 20) -> tuple[list[str], bool]:
    """What a search of ``words`` by ``viewers`` finds without rec=: the lobby, ``room_ids``, their private messages."""
    found, more = store.search(words, viewers, lobby=True, room_ids=room_ids, private=True, other_ident=None,
                               before=before, limit=limit)
    return texts(found), more


def index_in_step(store: Store) -> None:
    """FTS5's own check that messages_fts holds exactly the live messages' words (raises if not); on PostgreSQL,
    that each message's words are those of its text and scope as they are now (none for a tombstone)."""
    if isinstance(store, PgStore):
        rows = store._db.execute("SELECT content, sender_ident, rec_ident, room_id, deleted, words FROM messages")
        for content, sender, rec, room, deleted, words in rows:
            assert words == message_words(content, sender, rec, room, bool(deleted)), content
        return
    store._db.execute("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)")


# Migration ------------------------------------------------------------------

def test_a_version_3_database_migrates_and_its_messages_are_found_and_edited(tmp_path: Path) -> None:
    path = database_path(tmp_path / "data")
    path.parent.mkdir()
    old = sqlite3.connect(path, isolation_level=None)
    for migration in _MIGRATIONS[:3]:  # the schema as version 3 left it
        for statement in _statements(migration):
            old.execute(statement)
    old.execute("PRAGMA user_version=3")
    old.execute("INSERT INTO accounts (name, name_key, role, password_hash, created_ms)"
                " VALUES ('Ann', 'ann', 'admin', 'h', 1234)")
    old.execute("INSERT INTO rooms (name, name_key, topic, private, created_ms, created_by)"
                " VALUES ('general', 'general', '', 0, 1, 'a:1')")
    rows = [(1, "-ALL", "Héllo wörld", ANN, None, None), (2, "#general", "hello room", ANN, None, 1),
            (3, "bob", "hello bob", ANN, BOB, None)]
    old.executemany("INSERT INTO messages (id, ts_ms, time_text, sender, color, rec, content, sender_ident,"
                    " rec_ident, room_id) VALUES (?, 0, '', 'Ann', '#000000', ?, ?, ?, ?, ?)", rows)
    old.close()
    store = Store(path)
    try:
        assert store.integrity_check() == "ok"
        index_in_step(store)
        assert everywhere(store, ["hello"], [BOB], [1]) == (["hello bob", "hello room", "Héllo wörld"], False)
        assert store.get_message(2) == MessageRecord(2, 0, "Ann", "#general", "hello room", ANN, None, 1, 0)
        assert store.list_accounts()[0].created_ms == 1234
        assert store.edit_message(1, "goodbye", T0)
        assert everywhere(store, ["world"], [BOB]) == ([], False)
        assert store.active_restrictions(T0) == [] and store.audit_log(None, 10) == ([], False)
    finally:
        store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    db.close()


# Bans and mutes ---------------------------------------------------------------

def test_restrictions_are_recorded_listed_newest_first_and_lifted_once(store: Store) -> None:
    room = store.create_room("#general", "", False, ANN, "Ann", T0)
    user = store.add_restriction("user", "Bob", "bob", BOB, None, "spam", "Ann", T0, 0)
    address = store.add_restriction("address", "198.51.100.7/32", "198.51.100.7/32", None, None, "", "Ann", T0, T0 + 60_000)
    banned = store.add_restriction("room", "Cat", "cat", None, room.id, "rude", "Ann", T0, 0)
    muted = store.add_restriction("mute", "Cat", "cat", None, room.id, "", "Ann", T0, 0)
    lobby_mute = store.add_restriction("mute", "Bob", "bob", BOB, None, "shouting", "Ann", T0, T0 + 1000)
    assert user == Restriction(user.id, "user", "Bob", "bob", BOB, None, "", "spam", "Ann", T0, 0)
    assert (address.room, banned.room, muted.room, lobby_mute.room) == ("", "#general", "#general", "-ALL")
    assert store.active_restrictions(T0) == [lobby_mute, muted, banned, address, user]
    assert store.active_restrictions(T0 + 1000) == [muted, banned, address, user]  # the lobby mute has ended
    assert store.lift_restriction(banned.id, "Ann", T0 + 5) == banned
    assert store.lift_restriction(banned.id, "Ann", T0 + 6) is None  # lifted already
    assert store.lift_restriction(lobby_mute.id, "Ann", T0 + 2000) is None  # ended by itself
    assert store.lift_restriction(999, "Ann", T0) is None
    assert store.active_restrictions(T0) == [lobby_mute, muted, address, user]


def test_restrictions_survive_a_restart(tmp_path: Path) -> None:
    path = database_path(tmp_path / "data")
    first = Store(path)
    ban = first.add_restriction("user", "Bob", "bob", None, None, "spam", "Ann", T0, 0)
    first.close()
    again = Store(path)
    try:
        assert again.active_restrictions(T0 + 10**12) == [ban]
    finally:
        again.close()


def test_a_restriction_of_an_unknown_kind_or_room_is_refused_and_nothing_is_kept(store: Store) -> None:
    with pytest.raises(ValueError):
        store.add_restriction("forever", "Bob", "bob", None, None, "", "Ann", T0, 0)
    with pytest.raises(ValueError):
        store.add_restriction("room", "Bob", "bob", None, 42, "", "Ann", T0, 0)  # no room 42
    with pytest.raises(ValueError):
        store.add_restriction("room", "Bob", "bob", None, None, "", "Ann", T0, 0)  # a room ban names its room
    assert store.active_restrictions(T0) == []


# The audit log -------------------------------------------------------------------

def test_the_audit_log_pages_newest_first(store: Store) -> None:
    ids = [store.add_audit(T0 + n, "Ann", "kick", f"user{n}", "", "why", "") for n in range(5)]
    page, more = store.audit_log(None, 2)
    assert page == [AuditEntry(ids[4], T0 + 4, "Ann", "kick", "user4", "", "why", ""),
                    AuditEntry(ids[3], T0 + 3, "Ann", "kick", "user3", "", "why", "")] and more
    page, more = store.audit_log(ids[3], 2)
    assert [e.target for e in page] == ["user2", "user1"] and more
    page, more = store.audit_log(ids[1], 2)
    assert [e.target for e in page] == ["user0"] and not more


# Editing and deleting ----------------------------------------------------------------

def test_an_edit_changes_the_text_everywhere_history_shows_it_with_when(store: Store) -> None:
    room = store.create_room("#general", "", False, ANN, "Ann", T0)
    lobby, in_room, private = store.append_messages([
        said("Ann", ANN, "helo all"), said("Ann", ANN, "helo room", room=room), said("Ann", ANN, "helo bob", to=("Bob", BOB))])
    for message_id, text in ((lobby, "hello all"), (in_room, "hello room"), (private, "hello bob")):
        assert store.edit_message(message_id, text, T0 + 5)
    assert store.get_message(in_room) == MessageRecord(in_room, T0, "Ann", "#general", "hello room", ANN, None,
                                                       room.id, T0 + 5)
    assert [(m.content, m.edited_ms) for m in store.recent_messages([BOB], 10)] == [
        ("hello all", T0 + 5), ("hello bob", T0 + 5)]
    assert store.room_history(room.id, None, 10)[0][0].edited_ms == T0 + 5
    assert store.lobby_history(None, 10)[0][0].content == "hello all"
    assert store.private_history([BOB], ANN, None, 10)[0][0].content == "hello bob"
    assert store.edit_message(99, "nothing", T0) is False


def test_a_deleted_message_is_gone_from_history_ref_unread_search_and_reports_but_its_id_stays_taken(
        store: Store) -> None:
    ann = store.add_account("Ann", "member", "h")
    bob = store.add_account("Bob", "member", "h")
    room = store.create_room("#general", "", False, bob.ident, "Bob", T0)
    store.add_member(room.id, ann.ident, "Ann", False, T0)
    ids = store.append_messages([
        said("Bob", bob.ident, "spam one"), said("Bob", bob.ident, "spam two", room=room),
        said("Bob", bob.ident, "spam three", to=("Ann", ann.ident)), said("Bob", bob.ident, "fine")])
    report = store.add_report(ids[0], "Ann", ann.ident, "spam", T0)
    for message_id in ids[:3]:
        assert store.delete_message(message_id)
        assert store.delete_message(message_id) is False  # once
        assert store.get_message(message_id) is None
        assert store.edit_message(message_id, "back again", T0) is False
    assert texts(store.recent_messages([ann.ident], 10)) == ["fine"]
    assert texts(store.lobby_history(None, 10)[0]) == ["fine"]
    assert store.room_history(room.id, None, 10) == ([], False)
    assert store.private_history([ann.ident], bob.ident, None, 10) == ([], False)
    assert everywhere(store, ["spam"], [ann.ident], [room.id]) == ([], False)
    assert [(s.rec, s.unread) for s in store.summaries(ann.id, [ann.ident], "Ann")] == [
        ("-ALL", 1), ("#general", 0), ("Bob", 0)]
    assert report is not None and store.open_reports(10) == [
        Report(report.id, T0, "Ann", ids[0], "Bob", "-ALL", "", "spam")]
    index_in_step(store)
    assert store.append_messages([said("Bob", bob.ident, "next")]) == [ids[-1] + 1]
    store.delete_message(ids[-1] + 1)  # the newest deleted: still never given again
    assert store.append_messages([said("Bob", bob.ident, "after")]) == [ids[-1] + 2]


# History forward (after=) -----------------------------------------------------------------

def test_history_after_an_id_pages_forward_oldest_first(store: Store) -> None:
    room = store.create_room("#general", "", False, ANN, "Ann", T0)
    lobby = store.append_messages([said("Ann", ANN, f"lobby {n}") for n in range(5)])
    in_room = store.append_messages([said("Ann", ANN, f"room {n}", room=room) for n in range(5)])
    private = store.append_messages([said("Ann", ANN, f"to bob {n}", to=("Bob", BOB)) for n in range(5)])
    store.delete_message(lobby[2])
    assert texts(store.lobby_history(None, 2, after=lobby[0])[0]) == ["lobby 1", "lobby 3"]
    assert store.lobby_history(None, 2, after=lobby[0])[1] is True
    assert store.lobby_history(None, 2, after=lobby[2]) == (store.lobby_history(None, 2)[0], False)
    assert store.lobby_history(lobby[4], 10, after=lobby[0])[0][-1].content == "lobby 3"  # both bounds
    assert store.room_history(room.id, None, 3, after=in_room[1]) == (
        store.room_history(room.id, None, 3)[0], False)
    assert texts(store.private_history([BOB], ANN, None, 2, after=private[0])[0]) == ["to bob 1", "to bob 2"]
    assert store.private_history([BOB], ANN, None, 5, after=private[4]) == ([], False)
    # The jump to a search result: the page before it (HISTORY before=ID+1) and after it.
    older, _ = store.lobby_history(lobby[3] + 1, 2)
    newer, more = store.lobby_history(None, 2, after=lobby[3])
    assert texts(older) + texts(newer) == ["lobby 1", "lobby 3", "lobby 4"] and not more


# Search ----------------------------------------------------------------------------------

def test_search_finds_every_word_as_a_word_or_its_beginning_case_and_accents_aside(store: Store) -> None:
    store.append_messages([said("Ann", ANN, text) for text in (
        "Le Café est ouvert", "cafeteria food", "a decaf please", "HELLO World", "hello, café!", "Zürich")])
    assert everywhere(store, ["cafe"], [BOB]) == (["hello, café!", "cafeteria food", "Le Café est ouvert"], False)
    assert everywhere(store, ["CAFÉ", "hel"], [BOB]) == (["hello, café!"], False)
    assert everywhere(store, ["zurich"], [BOB]) == (["Zürich"], False)
    assert everywhere(store, ["caf", "food", "nothing"], [BOB]) == ([], False)
    assert everywhere(store, ["ecaf"], [BOB]) == ([], False)  # a word's beginning, not its middle
    assert everywhere(store, [], [BOB]) == ([], False)


def test_search_pages_newest_first_with_before(store: Store) -> None:
    ids = store.append_messages([said("Ann", ANN, f"news {n}") for n in range(7)])
    page, more = store.search(["news"], [BOB], lobby=True, room_ids=[], private=False, other_ident=None,
                              before=None, limit=3)
    assert [m.id for m in page] == ids[:-4:-1] and more
    page, more = store.search(["news"], [BOB], lobby=True, room_ids=[], private=False, other_ident=None,
                              before=page[-1].id, limit=3)
    assert [m.id for m in page] == [ids[3], ids[2], ids[1]] and more
    page, more = store.search(["news"], [BOB], lobby=True, room_ids=[], private=False, other_ident=None,
                              before=ids[1], limit=3)
    assert [m.id for m in page] == [ids[0]] and not more
    assert isinstance(page[0], StoredMessage) and page[0].time_text == "12:00"


def test_search_never_finds_a_private_message_of_others_nor_a_room_one_is_not_in(store: Store) -> None:
    mine = store.create_room("#mine", "", False, BOB, "Bob", T0)
    theirs = store.create_room("#theirs", "", True, ANN, "Ann", T0)
    store.append_messages([
        said("Ann", ANN, "secret lobby"), said("Ann", ANN, "secret mine", room=mine),
        said("Ann", ANN, "secret theirs", room=theirs), said("Ann", ANN, "secret to cat", to=("Cat", CAT)),
        said("Cat", CAT, "secret to ann", to=("Ann", ANN)), said("Ann", ANN, "secret to bob", to=("Bob", BOB)),
        said("Bob", BOB, "secret from bob", to=("Ann", ANN)), said("Cat", CAT, "secret self", to=("Cat", CAT))])
    assert everywhere(store, ["secret"], [BOB], [mine.id]) == (
        ["secret from bob", "secret to bob", "secret mine", "secret lobby"], False)
    assert everywhere(store, ["secret"], [CAT]) == (["secret self", "secret to ann", "secret to cat", "secret lobby"],
                                                    False)

    def only(**scope: object) -> list[str]:
        viewers = scope.pop("viewers", [BOB])
        settings: dict[str, object] = {"lobby": False, "room_ids": [], "private": False, "other_ident": None,
                                       "before": None, "limit": 20, **scope}
        return texts(store.search(["secret"], viewers, **settings)[0])  # type: ignore[arg-type]

    assert only(room_ids=[theirs.id], viewers=[ANN]) == ["secret theirs"]
    assert only(room_ids=[mine.id]) == ["secret mine"]
    assert only(lobby=True) == ["secret lobby"]
    assert only(private=True) == ["secret from bob", "secret to bob"]
    assert only(private=True, other_ident=ANN) == ["secret from bob", "secret to bob"]
    assert only(private=True, other_ident=CAT) == []
    assert only(private=True, other_ident=CAT, viewers=[CAT]) == ["secret self"]  # the conversation with oneself
    assert only(private=True, other_ident=CAT, viewers=[ANN]) == ["secret to ann", "secret to cat"]
    assert only(private=True, viewers=[]) == []  # no ident: no private message


def test_search_takes_its_arguments_by_position_as_a_store_call_gives_them(store: Store) -> None:
    """The chat core's StoreCall("search", ...) passes a tuple: keyword-only arguments made every SEARCH fail."""
    store.append_messages([said("Ann", ANN, "by position")])
    found, more = store.search(["posit"], [BOB], True, [], True, None, None, 5)
    assert texts(found) == ["by position"] and not more


def test_a_guests_private_messages_are_found_under_the_account_it_registers(store: Store) -> None:
    store.append_messages([said("Bob", BOB, "welcome guest", to=("guest", GUEST))])
    assert everywhere(store, ["welcome"], [GUEST]) == (["welcome guest"], False)
    dan = store.add_account("Dan", "member", "h", adopt=GUEST)
    assert everywhere(store, ["welcome"], [GUEST]) == ([], False)
    assert everywhere(store, ["welcome"], [dan.ident]) == (["welcome guest"], False)
    found, _ = store.search(["welcome"], [dan.ident], lobby=False, room_ids=[], private=True, other_ident=BOB,
                            before=None, limit=5)
    assert texts(found) == ["welcome guest"]
    index_in_step(store)


def test_the_index_follows_edits_and_deletes(store: Store) -> None:
    first, second = store.append_messages([said("Ann", ANN, "apple pie"), said("Ann", ANN, "apple tart")])
    store.edit_message(first, "banana pie", T0)
    assert everywhere(store, ["apple"], [BOB]) == (["apple tart"], False)
    assert everywhere(store, ["banana"], [BOB]) == (["banana pie"], False)
    store.delete_message(second)
    assert everywhere(store, ["apple"], [BOB]) == ([], False)
    assert everywhere(store, ["pie"], [BOB]) == (["banana pie"], False)
    index_in_step(store)


@pytest.mark.parametrize("word", ['"', "*", "NEAR", "OR", "AND", "NOT", "-", "^", "NEAR(a b)", '"a" OR "b"',
                                  "content:", "{scope}", "lobby", "(", ")", "", "a\x00b"])
def test_fts5_syntax_in_a_word_is_looked_for_never_obeyed(store: Store, word: str) -> None:
    room = store.create_room("#general", "", False, ANN, "Ann", T0)
    store.append_messages([said("Ann", ANN, "near or and not lobby content scope"),
                           said("Ann", ANN, "secret lobby", room=room), said("Ann", ANN, "zz yy")])
    found, more = everywhere(store, [word, "zz"], [BOB])  # beside a word of one message: nothing else is found
    assert found == ([] if any(c.isalnum() for c in word) else ["zz yy"]) and not more
    found, more = everywhere(store, [word], [BOB])  # the room's message never leaks through its scope word
    assert set(found) <= {"near or and not lobby content scope", "zz yy"} and not more


def test_only_a_real_word_finds_the_fts5_operator_words(store: Store) -> None:
    store.append_messages([said("Ann", ANN, "or near and"), said("Ann", ANN, "something else")])
    assert everywhere(store, ["OR"], [BOB]) == (["or near and"], False)
    assert everywhere(store, ["NEAR", "and"], [BOB]) == (["or near and"], False)
    assert everywhere(store, ["something", "OR", "else"], [BOB]) == ([], False)  # OR is a word, not "either"


# Reports -------------------------------------------------------------------------------------

def test_reports_one_open_each_newest_first_resolved_once(store: Store) -> None:
    long_text = "x" * 290 + "é" * 20
    first, second = store.append_messages([said("Bob", BOB, long_text), said("Bob", BOB, "spam", to=("Ann", ANN))])
    report = store.add_report(first, "Ann", ANN, "rude", T0)
    assert report == Report(report.id if report else 0, T0, "Ann", first, "Bob", "-ALL", long_text[:300], "rude")
    assert len(report.text) == 300
    assert store.add_report(first, "Ann", ANN, "again", T0 + 1) is None  # already reported by that ident
    by_cat = store.add_report(first, "Cat", CAT, "", T0 + 2)
    private = store.add_report(second, "Ann", ANN, "spam", T0 + 3)
    assert by_cat is not None and private is not None and private.rec == "Ann"
    assert store.open_reports(10) == [private, by_cat, report]
    assert store.open_reports(1) == [private]
    assert store.resolve_report(report.id, "Zoe", T0 + 4) == report
    assert store.resolve_report(report.id, "Zoe", T0 + 5) is None
    assert store.resolve_report(999, "Zoe", T0) is None
    assert store.open_reports(10) == [private, by_cat]
    again = store.add_report(first, "Ann", ANN, "still rude", T0 + 6)  # resolved: may be reported anew
    assert again is not None and store.open_reports(1) == [again]


def test_accounts_are_listed_with_when_they_were_created(store: Store) -> None:
    ann = store.add_account("Ann", "admin", "h")
    assert ann.created_ms > T0 - 10**12
    assert store.list_accounts() == [ann] and store.get_account("ann") == ann


# Indexing after the commit (Store.index_pending) -------------------------------------------


def test_a_message_is_committed_without_its_words_and_indexed_later_as_it_is_then(store: Store,
                                                                                 sqlite_only: None) -> None:
    """Storing a message costs what it cost before the index; its words are indexed afterwards (the
    database thread does it when idle, a search before it reads), as the message is by then."""
    plain, edited, gone, registered = store.append_messages([
        said("ann", "g:1", "plain zebra"), said("ann", "g:1", "first draft"),
        said("ann", "g:1", "doomed zebra"), said("ann", "g:1", "private zebra", to=("bob", "g:2"))])
    assert store._db.execute("SELECT indexed_up_to FROM search_state").fetchone() == (0,)  # nothing indexed yet
    assert store.edit_message(edited, "second zebra draft", T0 + 1)
    assert store.delete_message(gone)
    with store._transaction():
        store.move_private_messages("g:2", "a:9")  # bob registers before the indexer ran
    assert store.index_pending(2) == 2 and store.index_pending() == 2 and store.index_pending() == 0
    index_in_step(store)
    assert everywhere(store, ["zebra"], ["g:1"])[0] == ["private zebra", "second zebra draft", "plain zebra"]
    assert everywhere(store, ["zebra"], ["a:9"])[0] == ["private zebra", "second zebra draft", "plain zebra"]
    assert everywhere(store, ["draft"], ["g:3"])[0] == ["second zebra draft"]
    (later,) = store.append_messages([said("cat", "g:3", "late zebra")])
    assert everywhere(store, ["late"], ["g:3"])[0] == ["late zebra"]  # a search indexes what waits first
    assert store.edit_message(later, "later zebra", T0 + 2)  # indexed by now: the trigger keeps it in step
    index_in_step(store)
    assert everywhere(store, ["later"], ["g:3"])[0] == ["later zebra"]
