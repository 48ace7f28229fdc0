"""The desktop client's rooms and conversations without a window: the frames it
sends and reads (PROTOCOL.md, "Rooms and conversations"), the conversation
list's counts, the display helpers and the remembered session file."""

from __future__ import annotations

import datetime
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from desktop import prefs as prefs_module
from desktop.client import (
    SESSION_ENDED,
    ChatMessage,
    ConvChanged,
    Conversation,
    HistoryLoaded,
    InfoMessage,
    LoginDetails,
    LoginRefused,
    MembersListed,
    RoomAnswer,
    RoomMembers,
    RoomsListed,
    RoomSummary,
    Session,
    SessionIssued,
    UsersChanged,
    check_message,
)
from desktop.conversations import LOBBY, Conversations
from desktop.text import contrast, day_label, link_segments, readable_color
from parley.protocol import LocalProtocolError, format_frame, parse_frame
from parley.protocol.reading import read_chat, read_conv

T = "time=2026-11-24 10:00:00"


def logged_in(nickname: str = "ann", token: str = "", remember: bool = False) -> Session:
    session = Session(LoginDetails("127.0.0.1", 6666, nickname, "#FF8800", token=token, remember=remember))
    session.connection_made()
    session.receive(parse_frame(f"CONVER,{T};role=member,OK"))
    return session


def feed(session: Session, *texts: str) -> list[Any]:
    events: list[Any] = []
    for text in texts:
        events += session.receive(parse_frame(text))
    return events


# ---- frames we send ----------------------------------------------------------------------


def test_con_asks_for_rooms_and_a_session_and_logs_in_with_a_token() -> None:
    plain = Session(LoginDetails("h", 1, "ann", "#FFF", password="pw"))
    assert format_frame(plain.connection_made()) == (
        "CON,nickname=ann;password=pw;color=#FFF;lists=changes;rooms=1;session=1,")
    remembered = Session(LoginDetails("h", 1, "ann", "#FFF", token="T0K", remember=True))
    assert format_frame(remembered.connection_made()) == (
        "CON,nickname=ann;password=;color=#FFF;lists=changes;rooms=1;session=1;token=T0K;remember=1,")


def test_a_multi_line_message_is_one_frame_with_lines() -> None:
    frame = logged_in().chat("#general", "hello\nworld\r\nagain")
    assert format_frame(frame) == "CHAT,rec=#general;lines=5.11,hello world again"
    assert check_message("a\nb") is None and check_message("x" * 300) is None
    assert "301 characters" in (check_message("x" * 150 + "\n" + "y" * 150) or "")


def test_room_requests_are_the_protocols_frames() -> None:
    session = logged_in()
    frames = [
        session.room_request("CREATE", [("room", "#tea"), ("private", "1")], "Tea time"),
        session.room_request("JOIN", [("room", "#tea")]),
        session.room_request("INVITE", [("room", "#tea"), ("user", "bob")]),
        session.room_request("OP", [("room", "#tea"), ("user", "bob"), ("op", "1")]),
        session.room_request("READ", [("rec", "bob"), ("id", "42")]),
        session.room_request("ROOMS", []),
        session.history("#tea", 120, 50),
        session.history("-ALL", None),
    ]
    assert [format_frame(f) for f in frames] == [
        "CREATE,room=#tea;private=1,Tea time", "JOIN,room=#tea,", "INVITE,room=#tea;user=bob,",
        "OP,room=#tea;user=bob;op=1,", "READ,rec=bob;id=42,", "ROOMS,,",
        "HISTORY,rec=#tea;before=120;limit=50,", "HISTORY,rec=-ALL;limit=50,"]
    with pytest.raises(LocalProtocolError):
        session.room_request("KICK", [("user", "bob")])
    offline = Session(LoginDetails("h", 1, "ann", "#FFF"))
    with pytest.raises(LocalProtocolError):
        offline.history("-ALL", None)


# ---- frames we read ----------------------------------------------------------------------


def test_room_frames_become_events() -> None:
    session = logged_in()
    events = feed(
        session,
        f"CONV,{T};rec=#tea;last=9;read=4;unread=3;mentions=1;private=1;op=1;members=2,Tea, and cake",
        f"MEMBER,{T};room=#tea;user=cy;change=join,",  # a list never asked for: nothing
        f"MEMBERS,{T};room=#tea;num=2;0=ann;op0=1;1=bob,",
        f"MEMBER,{T};room=#TEA;user=cy;change=join,",
        f"ROOMS,{T};num=2;0=#a;members0=5;topic0=first;1=#b;members1=1,",
        f"SESSION,{T};token=abc-_;expires=1799999999999,",
        f"CONFIRM,{T};reason=JOIN;room=#nope,Error: No room #nope.",
        f"CONFIRM,{T};reason=HISTORY;rec=#tea;count=2;more=1,OK",
        f"INFO,{T};sender=bob;ts=5;rec=#tea,bob joined #tea",
    )
    assert events == [
        ConvChanged(Conversation("#tea", 9, 4, 3, 1, "Tea, and cake", private=True, op=True, members=2)),
        MembersListed(RoomMembers("#tea", (("ann", True), ("bob", False)))),
        MembersListed(RoomMembers("#tea", (("ann", True), ("bob", False), ("cy", False)))),
        RoomsListed((RoomSummary("#a", 5, "first"), RoomSummary("#b", 1, ""))),
        SessionIssued("abc-_", 1799999999999),
        RoomAnswer("JOIN", "#nope", False, "Error: No room #nope."),
        HistoryLoaded("#tea", 2, True),
        InfoMessage("2026-11-24 10:00:00", "bob", "bob joined #tea", "#tea", 5),
    ]
    # A long list comes in parts (more=1): shown once, whole.
    parts = feed(session, f"MEMBERS,{T};room=#big;num=2;0=a1;1=a2;op1=1;more=1,", f"MEMBERS,{T};room=#big;num=1;0=a3,")
    assert parts == [MembersListed(RoomMembers("#big", (("a1", False), ("a2", True), ("a3", False))))]
    # A rename renames in every member list.
    feed(session, f"USER,{T};num=3;0=ann;1=bob;2=cy;v=1,")
    renamed = feed(session, f"USERCHANGES,{T};v=1;changes=1;rename0=bob;to0=Robert;num=3,")
    assert renamed[0] == MembersListed(RoomMembers("#tea", (("ann", True), ("Robert", False), ("cy", False))))
    assert isinstance(renamed[-1], UsersChanged) and renamed[-1].users == ("ann", "Robert", "cy")


def test_history_replays_are_older_messages_with_their_line_breaks() -> None:
    session = logged_in()
    old, live, bad = feed(
        session,
        f"CHATR,{T};sender=bob;rec=#tea;color=#00F;id=3;ts=1;old=1;lines=5,hello world",
        f"CHATR,{T};sender=bob;rec=#tea;color=#00F;id=4;ts=2;lines=1,a b",
        f"CHATR,{T};sender=bob;rec=#tea;color=#00F;id=5;ts=3;lines=0,ab",
    )
    assert isinstance(old, ChatMessage) and old.old and old.text == "hello\nworld"
    assert isinstance(live, ChatMessage) and not live.old and live.text == "a\nb"
    assert isinstance(bad, ChatMessage) and bad.text == "ab"  # a bad lines= shows the line as it came


def test_a_session_token_is_kept_for_a_reconnect_and_dropped_when_it_has_ended() -> None:
    session = logged_in()
    feed(session, f"SESSION,{T};token=fresh;expires=0,")
    session.connection_lost()
    assert session.connection_made().get("token") == "fresh"  # a drop resumes silently
    refused, = feed(session, f"CONVER,{T},{SESSION_ENDED}")
    assert isinstance(refused, LoginRefused) and refused.retry  # again, with the password
    assert session.connection_made().get("token") is None

    first = Session(LoginDetails("h", 1, "ann", "#FFF", token="stale", remember=True))
    first.connection_made()
    refused, = feed(first, f"CONVER,{T},{SESSION_ENDED}")
    assert refused == LoginRefused(SESSION_ENDED, retry=False)  # the connect screen shows it


# ---- the conversation list ---------------------------------------------------------------


def chat(sender: str, rec: str, text: str, id_: int, me: str = "ann") -> ChatMessage:
    frame = parse_frame(f"CHATR,{T};sender={sender};rec={rec};color=#123456;id={id_};ts={id_},{text}")
    return read_chat(frame, me)


def conv(text: str) -> Conversation:
    return read_conv(parse_frame(f"CONV,{T};{text}"))


def test_unread_and_mentions_count_after_the_read_marker_and_never_our_own() -> None:
    conversations = Conversations("ann")
    conversations.apply_conv(conv("rec=#tea;last=10;read=8;unread=2;mentions=0,Tea"))
    for message in (chat("bob", "#tea", "old one", 7), chat("bob", "#tea", "hi ann!", 11),
                    chat("ann", "#tea", "mine, ann", 12), chat("bob", "#tea", "annabel is not me", 13),
                    chat("bob", "#tea", "hi ann!", 11)):
        conversations.receive(message)
    tea = conversations.get("#TEA")
    assert tea is not None and (tea.unread, tea.mentions) == (4, 1)
    assert tea.label() == "#tea  (4, @1)"
    assert [m.id for m in tea.messages] == [7, 11, 12, 13]
    conversations.receive(chat("bob", "#tea", "older, from HISTORY", 2), old=True)
    assert tea.unread == 4 and tea.oldest_id == 2
    assert conversations.mark_read(tea) == 13 and (tea.unread, tea.mentions, tea.read) == (0, 0, 13)
    assert conversations.mark_read(tea) is None  # nothing new: no READ
    private = conversations.receive(chat("cy", "ann", "psst", 14))[0]
    assert (private.rec, private.unread, private.mentions) == ("cy", 1, 0)
    assert conversations.receive(chat("ann", "CY", "my answer", 15))[0] is private  # ours: filed with cy's
    assert [c.rec for c in conversations.ordered()] == [LOBBY, "#tea", "cy"]
    conversations.receive(chat("bob", "#tea", "one more", 16))
    conversations.apply_conv(conv("rec=#tea;last=16;read=16;unread=0;mentions=0;op=1,Tea"), guest=True)
    assert (tea.unread, tea.read, tea.op) == (1, 13, True)  # a guest's CONV carries no marker: ours stays
    conversations.apply_conv(conv("rec=#tea;last=16;read=16;unread=0;mentions=0,Tea"))
    assert (tea.unread, tea.read) == (0, 16)  # an account's marker is the server's
    conversations.apply_conv(conv("rec=#tea;gone=1,"))
    assert conversations.get("#tea") is None


# ---- display helpers ---------------------------------------------------------------------


def test_links_are_http_and_https_only_without_trailing_punctuation() -> None:
    segments = link_segments("see https://a.example/x_(y)). or ftp://b.example, javascript:alert(1) http://c.example.")
    assert [(s.text, s.href) for s in segments if s.href] == [
        ("https://a.example/x_(y)", "https://a.example/x_(y)"), ("http://c.example", "http://c.example")]
    assert "".join(s.text for s in segments).startswith("see https://a.example/x_(y)). or ftp")


@pytest.mark.parametrize("background", ["#ffffff", "#16181b", "#393a3b", "#eef0f3"])
@pytest.mark.parametrize("color", ["#FFFFFF", "#000000", "#FFFF00", "#D333FF", "#00F", "#808080", "bad"])
def test_any_user_color_is_made_readable(color: str, background: str) -> None:
    readable = readable_color(color, background)
    assert contrast(readable, background) >= 4.5
    if color in ("#000000",) and background == "#ffffff":
        assert readable == "#000000"  # already readable: unchanged


def test_date_separators_say_today_and_yesterday() -> None:
    today = datetime.date(2026, 11, 24)
    assert day_label(today, today) == "Today"
    assert day_label(datetime.date(2026, 11, 23), today) == "Yesterday"
    assert day_label(datetime.date(2026, 1, 2), today) == "Friday 2026-01-02"


# ---- remember me ---------------------------------------------------------------------------


def test_the_remembered_token_is_readable_by_the_user_alone(tmp_path: Path) -> None:
    path = tmp_path / "config" / "session.json"
    session = prefs_module.RememberedSession("127.0.0.1", 6666, "Ann", "s3cret-token", 1799999999999)
    prefs_module.save_session(session, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = prefs_module.load_session(path)
    assert again == session and again.is_for("127.0.0.1", 6666, "ANN") and not again.is_for("127.0.0.1", 6667, "ann")
    assert "s3cret" not in repr(again)
    prefs = prefs_module.Preferences(nickname="ann", remember=True)
    prefs_module.save(prefs, tmp_path / "config" / "preferences.json")
    assert "s3cret" not in (tmp_path / "config" / "preferences.json").read_text()
    prefs_module.forget_session(path)
    assert not path.exists() and prefs_module.load_session(path) is None
    path.write_text("{broken")
    assert prefs_module.load_session(path) is None


def test_the_look_is_a_preference_and_unknown_names_follow_the_system(tmp_path: Path) -> None:
    assert prefs_module.from_json({"theme": "classic"}).theme_name == "classic"
    assert prefs_module.from_json({"theme": "neon"}).theme_name == "system"
    assert prefs_module.from_json({"theme": "dark", "remember-me": True}).remember
