"""The desktop client's moderation, editing and search (issue 14).

First without a window: the frames it sends and what it makes of the
server's (the contract, /PROTOCOL.md), the conversations' edits and
deletions. Then its real widgets on Xvfb against this tree's `parley server`
with a second desktop (and a raw client): a kick with a ban that keeps the
banned window out, a mute, an edit and a delete seen elsewhere, a search and
the jump to a result.
"""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from serverproc import ServerProcess
from test_desktop_gui import (
    ARTIFACTS,
    Desktops,
    connect,
    fill,
    open_desktops,
    running_server,
    say,
    shared_display,
    shown,
)
from xdisplay import Xvfb, screenshot

from desktop import themes
from desktop.app import ParleyApp
from desktop.chatlog import ChatLog
from desktop.client import (
    BansListed,
    ChatMessage,
    HistoryLoaded,
    LoginDetails,
    LoginRefused,
    MessageDeleted,
    MessageEdited,
    Muted,
    RoomAnswer,
    SearchDone,
    ServerWarning,
    Session,
    Unmuted,
)
from desktop.conversations import Conversation, Conversations
from desktop.moderation import mute_notice
from desktop.text import localize_until
from parley.protocol import format_frame, parse_frame
from parley.protocol.reading import BanEntry, BanList, read_chat

T = "time=2026-11-24 10:00:00"
UNTIL_MS = 1795600800000  # 2026-11-25 10:00 UTC


def logged_in(nickname: str = "ann") -> Session:
    session = Session(LoginDetails("127.0.0.1", 6666, nickname, "#FF8800"))
    session.connection_made()
    session.receive(parse_frame(f"CONVER,{T};role=admin,OK"))
    return session


def feed(session: Session, *texts: str) -> list[Any]:
    events: list[Any] = []
    for text in texts:
        events += session.receive(parse_frame(text))
    return events


# ---- without a window ------------------------------------------------------------------


def test_moderation_edit_and_search_requests_are_the_contracts_frames() -> None:
    session = logged_in()
    frames = [
        session.edit(12, "fixed\nit"),
        session.request("DELETE", [("id", "12")]),
        session.request("REPORT", [("id", "9")], "rude"),
        session.kick("gus", "spam", [("duration", "3600")]),
        session.kick("hal", "bye"),
        session.request("BAN", [("user", "gus"), ("addresses", "1")], "for good"),
        session.request("MUTE", [("room", "#tea"), ("user", "bob"), ("duration", "600")], "calm down"),
        session.request("UNMUTE", [("room", "-ALL"), ("user", "bob")]),
        session.request("BANS", [("room", "#tea")]),
        session.request("UNBAN", [("ban", "4")]),
        session.search("tea time", "#tea"),
        session.search("tea", None, before=40),
        session.history("#tea", 13, 25),
        session.history("#tea", None, 25, after=12),
    ]
    assert [format_frame(f) for f in frames] == [
        "EDIT,id=12;lines=5,fixed it", "DELETE,id=12,", "REPORT,id=9,rude",
        "KICK,user=gus;ban=1;duration=3600,spam", "KICK,user=hal,bye",
        "BAN,user=gus;addresses=1,for good", "MUTE,room=#tea;user=bob;duration=600,calm down",
        "UNMUTE,room=-ALL;user=bob,", "BANS,room=#tea,", "UNBAN,ban=4,",
        "SEARCH,rec=#tea;limit=20,tea time", "SEARCH,before=40;limit=20,tea",
        "HISTORY,rec=#tea;before=13;limit=25,", "HISTORY,rec=#tea;after=12;limit=25,"]


def test_moderation_frames_become_events() -> None:
    session = logged_in()
    session.history("#tea", 13, 25)
    session.history("#tea", None, 25, after=12)
    events = feed(
        session,
        f"EDITED,{T};id=7;rec=#tea;sender=ann;edited=5;lines=3,new words",
        f"DELETED,{T};id=8;rec=#tea,",
        f"BANS,{T};num=1;room=#tea;id0=4;kind0=room;target0=gus;until0=0;by0=ann;at0=9;reason0=spam,",
        f"CHATR,{T};sender=bob;rec=-ALL;color=#00F;id=3;ts=1;found=1,tea time",
        f"CONFIRM,{T};reason=SEARCH;count=1;more=0,OK",
        f"CONFIRM,{T};reason=HISTORY;rec=#tea;count=2;more=1,OK",
        f"CONFIRM,{T};reason=HISTORY;rec=#tea;count=0;more=0,OK",
        f"ERR,{T};until={UNTIL_MS},Error: You are muted in #tea until 2026-11-25 10:00 UTC: calm down",
        f"ERR,{T};until=0,Error: You are muted for good",
        f"CONFIRM,{T};reason=BAN,Error: gus is an admin and cannot be banned.",
    )
    hit = events[3]
    assert events == [
        MessageEdited(7, "new\nwords", 5),
        MessageDeleted(8),
        BansListed(BanList("#tea", (BanEntry(4, "room", "gus", 0, "ann", 9, "spam"),))),
        hit,
        SearchDone(True, "OK", 1, False),
        HistoryLoaded("#tea", 2, True, after=False),
        HistoryLoaded("#tea", 0, False, after=True),
        Muted("#tea", UNTIL_MS, "calm down"),
        Muted("-ALL", 0, ""),
        RoomAnswer("BAN", "", False, "Error: gus is an admin and cannot be banned."),
    ]
    assert isinstance(hit, ChatMessage) and hit.found and hit.text == "tea time"  # a result, not a message


def test_our_own_mute_and_unmute_are_read_from_their_info() -> None:
    session = logged_in()
    mine = feed(session, f"INFO,{T};rec=#tea;until={UNTIL_MS},ann was muted in #tea by bob until 2026-11-25 10:00 UTC: x")
    assert mine[1:] == [Muted("#tea", UNTIL_MS, "x")] and mine[0].until == UNTIL_MS
    lobby = feed(session, f"INFO,{T};sender=ann;ts=1;until=0,ann was muted by boss for good")
    assert lobby[1:] == [Muted("-ALL", 0, "")]
    assert feed(session, f"INFO,{T};rec=#tea,ann was unmuted in #tea by bob")[1:] == [Unmuted("#tea")]
    assert feed(session, f"INFO,{T};sender=ann;ts=1,ann was unmuted by boss")[1:] == [Unmuted("-ALL")]
    assert len(feed(session, f"INFO,{T};rec=#tea;until=0,cy was muted in #tea by bob for good")) == 1  # not us


def test_a_ban_warning_is_final_and_a_ban_refusal_is_never_retried() -> None:
    session = logged_in("gus")
    text = "You have been banned until 2026-11-25 10:00 UTC: spam"
    warning, = feed(session, f"WARN,{T};until={UNTIL_MS},{text}")
    assert warning == ServerWarning(text, final=True)
    assert session.final and not session.may_reconnect  # "Clients must not reconnect by themselves"
    again = Session(LoginDetails("h", 1, "gus", "#FFF"))
    again.logged_in_once = True  # as after a drop
    again.connection_made()
    refused, = feed(again, f"CONVER,{T};until=0,Error: You are banned for good")
    assert isinstance(refused, LoginRefused) and not refused.retry and refused.banned


def test_until_is_shown_in_local_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    try:
        said = "gus has been banned by boss until 2026-11-25 10:00 UTC: x"
        assert localize_until(said) == "gus has been banned by boss until 2026-11-25 11:00: x"  # from the text
        assert localize_until(said, UNTIL_MS + 59_000) == "gus has been banned by boss until 2026-11-25 11:00: x"
        assert localize_until("You are banned for good: x") == "You are banned for good: x"
        assert mute_notice(Muted("#tea", UNTIL_MS, "calm down")) == "You are muted in #tea until 2026-11-25 11:00: calm down"
        assert mute_notice(Muted("-ALL", 0, "")) == "You are muted for good"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def message(id_: int, text: str, sender: str = "bob", rec: str = "#tea") -> ChatMessage:
    return read_chat(parse_frame(f"CHATR,{T};sender={sender};rec={rec};color=#123456;id={id_};ts={id_},{text}"), "ann")


def test_an_edit_or_a_delete_finds_its_message_in_any_conversation() -> None:
    conversations = Conversations("ann")
    for id_, rec in ((3, "#tea"), (5, "-ALL"), (7, "#tea")):
        conversations.receive(message(id_, f"words {id_}", rec=rec))
    tea = conversations.get("#tea")
    assert tea is not None and conversations.holding(7) is tea and conversations.holding(4) is None
    edited = tea.edit(7, "/me waves", 99)
    assert edited is not None and edited.edited_ms == 99 and edited.action and tea.messages[-1] is edited
    assert tea.remove(3) and not tea.remove(3)
    assert [m.id for m in tea.messages] == [7] and tea.oldest_id == 7
    assert tea.edit(3, "gone", 1) is None


# ---- the log widget, on a real display ------------------------------------------------------


@pytest.fixture(scope="module")
def display() -> Xvfb:
    return shared_display()


def test_the_log_replaces_and_removes_a_message_by_id_keeping_one_heading(display: Xvfb) -> None:
    root = tk.Tk()
    try:
        log = ChatLog(tk.Text(root), themes.palette("light", {}))
        conversation = Conversation("-ALL")
        for id_, sender in ((1, "bob"), (2, "bob"), (3, "bob"), (4, "cy")):
            conversation.add(replace(message(id_, f"words {id_}", sender, "-ALL"), ts=1_800_000_000_000 + id_))
        log.render(conversation)
        heading = log.content().splitlines()[1]
        assert log.content().count("bob  ") == 1
        assert log.replace(replace(conversation.messages[1], text="new words http://x.example/", edited_ms=5))
        assert "words 1\nnew words http://x.example/ (edited)\nwords 3\n" in log.content()
        assert log.text.tag_ranges("link")  # the new words' link works
        assert log.message_at(str(log.text.tag_ranges("b-2")[0])) == 2
        assert log.remove(1)  # the first of bob's three: its heading stays, over the second
        assert log.content().count("bob  ") == 1 and heading in log.content()
        assert "words 1" not in log.content() and log.content().index("bob  ") < log.content().index("new words")
        assert log.remove(4) and not log.remove(4)
        assert log.content().endswith("words 3\n") and log.step_choice(-1) == 3 and log.step_choice(-1) == 2
        assert not log.replace(replace(conversation.messages[2], text="/me waves"))  # a different shape: redraw
    finally:
        root.destroy()


# ---- on a real display, against the real server ----------------------------------------


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from running_server(tmp_path_factory)


@pytest.fixture
def desktops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             caplog: pytest.LogCaptureFixture) -> Iterator[Desktops]:
    yield from open_desktops(tmp_path, monkeypatch, caplog)


def menu_labels(menu: Any) -> list[str]:
    end = menu.index("end")
    return [] if end is None else [menu.entrycget(i, "label") for i in range(end + 1)]


def choose(items: list[tuple[str, Any]], label: str) -> None:
    dict(items)[label]()


def newest_id(app: ParleyApp, text: str) -> int:
    found = [m.id for m in app.opened().messages if m.text == text and m.id is not None]
    assert found, text
    return found[-1]


def test_an_admin_kicks_and_bans_a_desktop_that_shows_why_and_stays_out(desktops: Desktops,
                                                                       chat_server: ServerProcess) -> None:
    boss, gus = desktops.open("boss"), desktops.open("gus")
    connect(desktops, boss, chat_server.port, "boss", password="bosspass")
    connect(desktops, gus, chat_server.port, "gus")
    desktops.until(lambda: "gus" in boss.chat_view.people_names(), "gus online")

    labels = [label for label, _ in boss.person_menu("gus")]
    assert "Kick and ban..." in labels and "Ban from the chat..." in labels and "Mute in the lobby..." in labels
    assert not any("ban" in label.lower() for label, _ in gus.person_menu("boss"))  # a member moderates nothing
    choose(boss.person_menu("gus"), "Kick and ban...")
    dialog = boss.moderation.dialog
    desktops.until(lambda: dialog.winfo_ismapped(), "the ban dialog")
    dialog.duration.set("1 day")
    fill(dialog.reason, "spamming links")
    desktops.pump_for(0.3)  # drawn before the picture
    screenshot(ARTIFACTS / "desktop-moderation-ban.png")
    dialog.ok_button.invoke()

    # "the kicked user gets the seed's WARN": kicked, and never back by itself.
    desktops.until(lambda: gus.connect_view.winfo_ismapped(), "gus back on the connect screen")
    assert gus.connect_view.error_label.cget("text") == "You have been kicked for reason: spamming links"
    desktops.until(shown(boss, "gus has been banned by boss until "), "the ban INFO, with the reason")
    assert "spamming links" in boss.chat_log.content()
    desktops.pump_for(1.5)  # longer than the test backoff's longest delay: no reconnect
    assert gus.connection is None and "gus" not in boss.chat_view.people_names()

    # Trying again by hand: refused, with until when (in local time) and why.
    gus.connect_view.connect_button.invoke()
    desktops.until(lambda: "You are banned until" in gus.connect_view.error_label.cget("text"), "the refusal")
    said = gus.connect_view.error_label.cget("text")
    assert said.endswith(": spamming links") and "UTC" not in said and gus.connection is None, said
    desktops.pump_for(0.3)  # drawn before the picture
    screenshot(ARTIFACTS / "desktop-moderation-banned.png")

    # The bans list: the admin lifts it, and gus gets in again.
    boss.open_bans()
    bans = boss.moderation.bans
    desktops.until(lambda: any(row[1] == "gus" for row in bans.rows()), "the ban listed")
    row = next(row for row in bans.rows() if row[1] == "gus")
    assert row[0] == "Banned" and row[3] == "boss" and row[4] == "spamming links" and "UTC" not in row[2]
    desktops.pump_for(0.3)  # drawn before the picture
    screenshot(ARTIFACTS / "desktop-moderation-bans.png")
    bans.lift_button.invoke()
    desktops.until(lambda: not any(row[1] == "gus" for row in bans.rows()), "the ban lifted")
    bans.hide()
    connect(desktops, gus, chat_server.port, "gus")

    # A ban of someone online: the ban WARN, said in local time, and no reconnect either.
    desktops.until(lambda: "gus" in boss.chat_view.people_names(), "gus online again")
    choose(boss.person_menu("gus"), "Ban from the chat...")
    desktops.until(lambda: dialog.addresses_check.winfo_ismapped(), "the dialog, with 'also their address'")
    dialog.duration.set("For good")
    fill(dialog.reason, "again")
    dialog.ok_button.invoke()
    desktops.until(lambda: gus.connect_view.winfo_ismapped(), "gus out again")
    assert gus.connect_view.error_label.cget("text") == "You have been banned for good: again"
    desktops.pump_for(1.5)
    assert gus.connection is None


def test_an_operator_mutes_a_member_who_sees_why_until_unmuted(desktops: Desktops,
                                                              chat_server: ServerProcess) -> None:
    ann, bob = desktops.open("ann", "900x700+0+0"), desktops.open("bob", "900x700+0+0")
    connect(desktops, ann, chat_server.port, "ann")
    connect(desktops, bob, chat_server.port, "bob")
    ann.create_room("quiet")
    desktops.until(lambda: ann.open_rec == "#quiet", "ann's room")
    ann.invite("bob")
    desktops.until(lambda: bob.conversations.get("#quiet") is not None, "bob in #quiet")
    bob.open_conversation("#quiet")
    desktops.until(lambda: ann.opened().members is not None and len(ann.opened().members or []) == 2, "members")

    choose(ann.person_menu("bob"), "Mute in #quiet...")
    dialog = ann.moderation.dialog
    assert dialog.duration.get() == "10 minutes" and not dialog.addresses_check.winfo_ismapped()
    desktops.until(lambda: dialog.winfo_ismapped(), "the mute dialog")
    fill(dialog.reason, "cool off")
    dialog.ok_button.invoke()
    notice = bob.chat_view.muted_label
    desktops.until(lambda: notice.winfo_ismapped(), "bob's mute notice")
    assert notice.cget("text").startswith("You are muted in #quiet until ") and notice.cget("text").endswith(
        ": cool off"), notice.cget("text")
    bob.moderation.mutes.clear()  # as after a restart of bob's window: the ERR says it again
    bob.moderation.show_mute()
    say(desktops, bob, "can I talk?")
    desktops.until(lambda: notice.cget("text").startswith("You are muted in #quiet until "), "the ERR, as the notice")
    assert "can I talk?" not in ann.chat_log.content()
    desktops.pump_for(0.3)  # drawn before the picture
    screenshot(ARTIFACTS / "desktop-moderation-muted.png")
    bob.open_conversation("-ALL")
    desktops.until(lambda: not notice.winfo_ismapped(), "no notice in the lobby: it is not muted")
    say(desktops, bob, "lobby is fine")
    desktops.until(shown(ann, "lobby is fine") if ann.open_rec == "-ALL" else
                   lambda: any(m.text == "lobby is fine" for m in ann.conversations.ensure("-ALL").messages),
                   "bob still speaks in the lobby")
    bob.open_conversation("#quiet")
    desktops.until(lambda: notice.winfo_ismapped(), "the notice back in #quiet")

    choose(ann.person_menu("bob"), "Unmute in #quiet")
    desktops.until(lambda: not notice.winfo_ismapped(), "the notice goes")
    say(desktops, bob, "thanks")
    desktops.until(shown(ann, "thanks"), "bob speaks again")


def test_an_edit_and_a_delete_are_seen_by_another_desktop(desktops: Desktops, chat_server: ServerProcess) -> None:
    cat, dan = desktops.open("cat"), desktops.open("dan")
    connect(desktops, cat, chat_server.port, "cat")
    connect(desktops, dan, chat_server.port, "dan")
    legacy = desktops.raw(chat_server.port, "leo")
    say(desktops, cat, "teh first words")
    say(desktops, cat, "second words")
    say(desktops, cat, "third words")
    desktops.until(shown(dan, "third words"), "dan sees cat's messages")
    first = newest_id(cat, "teh first words")

    # cat edits from the message's menu: the words go to the composer, Enter saves them.
    assert menu_labels_of(cat, first) == ["Edit", "Delete..."]
    assert menu_labels_of(dan, first) == ["Report to the admins..."]
    choose(cat.message_menu(first), "Edit")
    assert cat.chat_view.text() == "teh first words" and cat.chat_view.to_label.cget("text") == "Editing:"
    fill(cat.chat_view.entry, "the first words")
    cat.send()
    desktops.until(shown(dan, "the first words (edited)"), "dan sees the edit")
    assert "teh first" not in dan.chat_log.content() and cat.chat_view.text() == ""
    assert dan.chat_log.content().count("cat  ") == 1  # still one heading over the three
    desktops.until(shown(cat, "the first words (edited)"), "cat sees it too")
    assert "teh first words" in legacy.contents("CHATR")  # "A legacy client keeps what it already showed"

    # Up in the empty composer edits the newest; Escape gives the draft back.
    fill(cat.chat_view.entry, "")
    cat.chat_view.entry.focus_force()
    desktops.pump_for(0.05)
    cat.chat_view.entry.event_generate("<Up>")
    desktops.pump_for(0.05)
    assert cat.chat_view.text() == "third words"
    cat.cancel_edit()
    assert cat.chat_view.text() == "" and cat.chat_view.to_label.cget("text") == "To everyone:"

    # The keyboard: Down/Up choose a message in the log, the menu key opens its menu.
    second = newest_id(cat, "second words")
    cat.chat_view.log.focus_force()
    cat.chat_log.choose(None)
    assert cat.choose_message(-1) == newest_id(cat, "third words")  # the first Up: the newest
    assert cat.choose_message(-1) == second
    choose(cat.message_menu(cat.chosen_message() or 0), "Delete...")
    assert cat.chat_view.prompt.shown
    cat.chat_view.prompt.ok_button.invoke()
    desktops.until(lambda: "second words" not in dan.chat_log.content(), "dan sees the delete")
    assert "the first words (edited)\nthird words" in dan.chat_log.content()
    desktops.pump_for(0.3)  # drawn before the picture
    screenshot(ARTIFACTS / "desktop-moderation-edited.png")
    dan.refresh()
    desktops.until(shown(dan, "third words"), "the history again")
    assert "second words" not in dan.chat_log.content() and "the first words (edited)" in dan.chat_log.content()


def menu_labels_of(app: ParleyApp, message_id: int) -> list[str]:
    return [label for label, _ in app.message_menu(message_id)]


def test_search_finds_messages_and_jumps_to_one_in_its_conversation(desktops: Desktops,
                                                                    chat_server: ServerProcess) -> None:
    eve = desktops.open("eve", "900x700+0+0")
    connect(desktops, eve, chat_server.port, "eve")
    eve.create_room("archive")
    desktops.until(lambda: eve.open_rec == "#archive", "eve's room")
    say(desktops, eve, "Zebrafish are striped")
    for n in range(60):  # more than a page: the result is not among the newest held
        eve.connection.send_chat("#archive", f"filler {n}")  # type: ignore[union-attr]
    desktops.until(shown(eve, "filler 59"), "the fillers")
    eve.open_conversation("-ALL")
    say(desktops, eve, "zebras in the lobby")
    desktops.until(shown(eve, "zebras in the lobby"), "the lobby message")
    eve.conversations.get("#archive").forget()  # type: ignore[union-attr]  # as after a restart: nothing held

    eve.root.focus_force()
    desktops.pump_for(0.05)
    eve.root.event_generate("<Control-f>")
    search = eve.moderation.search_dialog
    desktops.until(lambda: search.winfo_ismapped(), "the search window")
    fill(search.query, "ZEBR")
    search.search_button.invoke()
    desktops.until(lambda: "2 results" in search.status.cget("text"), "two results")
    assert [m.text for m in search.hits] == ["zebras in the lobby", "Zebrafish are striped"]
    results = search.results.get("1.0", "end")
    assert "Lobby \u00b7 eve \u00b7 " in results and "#archive \u00b7 eve \u00b7 " in results
    matched = [search.results.get(a, b) for a, b in zip(*[iter(search.results.tag_ranges("match"))] * 2)]
    assert matched == ["zebr", "Zebr"]  # the words' matching beginnings highlighted (words.highlight)
    desktops.pump_for(0.3)  # drawn before the picture
    screenshot(ARTIFACTS / "desktop-search.png")

    search.choose(1)
    search.results.focus_force()
    desktops.pump_for(0.05)
    search.results.event_generate("<Return>")
    desktops.until(lambda: eve.open_rec == "#archive" and eve.chat_log.text.tag_ranges("found"), "the jump")
    found = eve.chat_log.text.tag_ranges("found")
    assert eve.chat_log.text.get(found[0], found[-1]).endswith("Zebrafish are striped\n")
    top, bottom = eve.chat_log.text.yview()
    assert bottom < 1.0  # not at the newest: at the result, which is in view
    assert eve.chat_log.text.bbox(found[0]) is not None and not search.winfo_ismapped()
    desktops.pump_for(0.3)  # drawn before the picture
    screenshot(ARTIFACTS / "desktop-search-jump.png")

    # This conversation only: the lobby's message is not found there.
    eve.open_search()
    search.scope.current(1)
    search.search_button.invoke()
    desktops.until(lambda: "1 result" in search.status.cget("text"), "one result")
    assert [m.text for m in search.hits] == ["Zebrafish are striped"]
    fill(search.query, "\"*")  # FTS5 syntax only: no word
    search.search_button.invoke()
    desktops.until(lambda: search.status.cget("text") == "Error: Nothing to search for.", "the server's error")
