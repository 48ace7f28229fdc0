"""The client vectors (tests/vectors/client.json) against the codec's readers and the desktop client.

The same file is run by tests/js/client_vectors.test.mjs against the page's
JavaScript: what one client concludes from a server frame, the other must too.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from desktop.client import (ChatMessage, InfoMessage, LoggedIn, LoginDetails, LoginRefused, ServerWarning,
                            Session, UpdateAnswer, UsersChanged)
from parley.protocol import Frame, format_frame, parse_frame
from parley.protocol.names import (is_room, mentions, name_key, nickname_error, room_key, room_name_error,
                                   same_nickname)
from parley.protocol.reading import (Edit, LoginAccepted, RoomMembers, UserListState, chat_frame, conversation_key,
                                     edit_frame, follow_members, follow_users, highlight, own_join, read_accounts,
                                     read_answer, read_audit, read_bans, read_chat, read_conv, read_deleted,
                                     read_edited, read_info, read_login, read_members, read_muted, read_reports,
                                     read_rooms, read_session, read_update, read_users, read_warn, search_frame,
                                     search_words)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "client.json").read_text("utf-8"))
FRAMES = VECTORS["frames"]


def kind(case: dict[str, Any]) -> str:
    (key,) = case["expect"]
    return str(key)


def of_kind(name: str) -> list[dict[str, Any]]:
    return [case for case in FRAMES if kind(case) == name]


def conclude(case: dict[str, Any]) -> Any:
    """What parley.protocol.reading makes of the case's frame, in the vectors' JSON shape."""
    frame = parse_frame(case["frame"])
    name = kind(case)
    if name == "login":
        login = read_login(frame, case["reconnecting"])
        if isinstance(login, LoginAccepted):
            return {"ok": True, "role": login.role, "away": login.away}
        return {"ok": False, "text": login.text, "retry": login.retry, "banned": login.banned,
                "until": login.until_ms, "reason": login.reason}
    if name == "warn":
        warn = read_warn(frame)
        return {"kind": warn.kind.value, "text": warn.text, "reason": warn.reason, "until": warn.until_ms,
                "reconnect": warn.may_reconnect}
    if name == "chat":
        return chat_as_vector(read_chat(frame, case["nickname"]))
    if name == "users":
        users = read_users(frame)
        return {"online": list(users.online), "admins": list(users.admins)}
    if name == "user_list":
        state = UserListState()
        for text in [*case["before"], case["frame"]]:
            state = follow_users(state, parse_frame(text))
        return {"online": list(state.online), "admins": list(state.admins), "resync": state.resync}
    if name == "own_join":
        return own_join(frame, case["nickname"])
    if name == "update":
        update = read_update(frame)
        return None if update is None else {"ok": update.ok, "text": update.text}
    return conclude_rooms(case, frame)


def chat_as_vector(m: ChatMessage) -> dict[str, Any]:
    return {"id": m.id, "sender": m.sender, "rec": m.rec, "color": m.color, "ts": m.ts, "time": m.time,
            "text": m.text, "private": m.private, "mine": m.mine, "to_me": m.to_me, "old": m.old, "room": m.room,
            "action": m.action, "conversation": m.conversation, "edited": m.edited_ms, "found": m.found}


def as_vector(value: Any) -> Any:
    """A reader's value in the vectors' JSON shape: lists for tuples, ``at`` for ``at_ms`` (the wire's names)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name.removesuffix("_ms"): as_vector(getattr(value, name))
                for name in (field.name for field in dataclasses.fields(value))}
    if isinstance(value, tuple | list):
        return [as_vector(item) for item in value]
    return value


def conclude_rooms(case: dict[str, Any], frame: Frame) -> Any:
    """The conclusions about rooms, conversations and sessions (CON rooms=1)."""
    name = kind(case)
    if name == "conv":
        conv = read_conv(frame)
        return {**dataclasses.asdict(conv), "room": conv.room}
    if name == "members":
        members = read_members(frame)
        return {"room": members.room, "members": [list(member) for member in members.members]}
    if name == "member_list":
        state = RoomMembers(case["room"])
        for text in [*case["before"], case["frame"]]:
            state = follow_members(state, parse_frame(text))
        return {"room": state.room, "members": [list(member) for member in state.members]}
    if name == "rooms":
        return [dataclasses.asdict(room) for room in read_rooms(frame)]
    if name == "session":
        session = read_session(frame)
        return None if session is None else {**dataclasses.asdict(session), "remembered": session.remembered}
    if name == "answer":
        return dataclasses.asdict(read_answer(frame))
    if name in MODERATION_READERS:
        return as_vector(MODERATION_READERS[name](frame))
    assert name == "info", name
    info = read_info(frame)
    return {**dataclasses.asdict(info), "room": info.room}


MODERATION_READERS: dict[str, Callable[[Frame], Any]] = {
    "edited": read_edited, "deleted": read_deleted, "bans": read_bans, "reports": read_reports,
    "accounts": read_accounts, "audit": read_audit, "muted": read_muted,
}


def test_every_kind_of_conclusion_has_vectors() -> None:
    assert {kind(case) for case in FRAMES} == {"login", "warn", "chat", "users", "user_list", "own_join",
                                                "update", "conv", "members", "member_list", "rooms", "session",
                                                "info", "answer", *MODERATION_READERS}
    assert len({case["name"] for case in FRAMES}) == len(FRAMES)


@pytest.mark.parametrize("case", FRAMES, ids=lambda case: case["name"])
def test_the_codec_concludes_what_the_vector_says(case: dict[str, Any]) -> None:
    assert conclude(case) == case["expect"][kind(case)]


@pytest.mark.parametrize("nickname, error", VECTORS["nicknames"], ids=ascii)
def test_nickname_rules(nickname: str, error: str | None) -> None:
    assert nickname_error(nickname) == error


@pytest.mark.parametrize("a, b, same", VECTORS["same"], ids=ascii)
def test_nicknames_are_compared_as_the_vector_says(a: str, b: str, same: bool) -> None:
    assert same_nickname(a, b) is same
    assert (name_key(a) == name_key(b)) is same


@pytest.mark.parametrize("name, error", VECTORS["room_names"], ids=ascii)
def test_room_name_rules(name: str, error: str | None) -> None:
    assert room_name_error(name) == error


def test_a_room_is_a_rec_with_a_hash_and_is_compared_as_nicknames_are() -> None:
    assert is_room("#general") and not is_room("-ALL") and not is_room("ann") and not is_room("")
    assert room_key("#Général") == room_key("GÉNÉRAL") == room_key("ＧＥＮＥＲＡＬ".replace("Ｅ", "É")) == "général"
    assert room_key("#lobby") != room_key("#lobby2")


@pytest.mark.parametrize("rec, text, wire", VECTORS["chat_frames"], ids=ascii)
def test_a_chat_is_built_as_the_vector_says_and_read_back_as_sent(rec: str, text: str, wire: str) -> None:
    assert format_frame(chat_frame(rec, text)) == wire
    echo = parse_frame(wire.replace("CHAT,", "CHATR,time=t;sender=ann;", 1))
    assert read_chat(echo, "ann").text == text.replace("\r\n", "\n").replace("\r", "\n")


@pytest.mark.parametrize("message_id, text, wire", VECTORS["edit_frames"], ids=ascii)
def test_an_edit_is_built_as_the_vector_says_and_read_back_as_sent(message_id: int, text: str, wire: str) -> None:
    assert format_frame(edit_frame(message_id, text)) == wire
    echo = parse_frame(wire.replace("EDIT,", "EDITED,rec=-ALL;sender=ann;edited=1;", 1))
    assert read_edited(echo) == Edit(message_id, "-ALL", "ann", 1, text.replace("\r\n", "\n").replace("\r", "\n"))


@pytest.mark.parametrize("case", VECTORS["search_frames"], ids=lambda case: ascii(case["wire"]))
def test_a_search_is_built_as_the_vector_says(case: dict[str, Any]) -> None:
    frame = search_frame(case["query"], case.get("rec"), case.get("before"), case.get("limit"))
    assert format_frame(frame) == case["wire"]


@pytest.mark.parametrize("query, words", VECTORS["search_words"], ids=ascii)
def test_search_words_are_split_as_the_server_splits_them(query: str, words: list[str]) -> None:
    assert search_words(query) == words


@pytest.mark.parametrize("text, query, ranges", VECTORS["highlights"], ids=ascii)
def test_search_results_are_highlighted_as_the_vector_says(text: str, query: str, ranges: list[list[int]]) -> None:
    assert highlight(text, search_words(query)) == [tuple(pair) for pair in ranges]


@pytest.mark.parametrize("a, b, same", VECTORS["conversation_keys"], ids=ascii)
def test_conversations_are_filed_together_as_the_vector_says(a: str, b: str, same: bool) -> None:
    assert (conversation_key(a) == conversation_key(b)) is same


@pytest.mark.parametrize("text, nickname, mentioned", VECTORS["mentions"], ids=ascii)
def test_mentions_are_found_as_the_vector_says(text: str, nickname: str, mentioned: bool) -> None:
    assert mentions(text, nickname) is mentioned


# ---- the desktop client's session draws the same conclusions --------------------------


def session(case: dict[str, Any]) -> Session:
    """A desktop session logged in as the case's nickname; reconnecting when the case says so."""
    details = LoginDetails(host="127.0.0.1", port=6666, nickname=case["nickname"], color="#FFFFFF")
    result = Session(details)
    result.connection_made()
    if case["reconnecting"]:
        result.receive(parse_frame("CONVER,time=t,OK"))
        result.connection_lost()
        result.connection_made()
    return result


@pytest.mark.parametrize("case", of_kind("login"), ids=lambda case: case["name"])
def test_the_desktop_logs_in_retries_or_gives_up_as_the_vector_says(case: dict[str, Any]) -> None:
    desktop = session(case)
    (event,) = desktop.receive(parse_frame(case["frame"]))
    expect = case["expect"]["login"]
    if expect["ok"]:
        assert event == LoggedIn(case["nickname"], expect["role"], reconnected=case["reconnecting"])
        assert desktop.may_reconnect
    else:
        assert event == LoginRefused(expect["text"], expect["retry"], expect["banned"], expect["until"],
                                     expect["reason"])


@pytest.mark.parametrize("case", of_kind("warn"), ids=lambda case: case["name"])
def test_the_desktop_reconnects_after_a_warning_only_as_the_vector_says(case: dict[str, Any]) -> None:
    desktop = session({**case, "reconnecting": False})
    desktop.receive(parse_frame("CONVER,time=t,OK"))
    (event,) = desktop.receive(parse_frame(case["frame"]))
    expect = case["expect"]["warn"]
    assert event == ServerWarning(expect["text"], final=not expect["reconnect"])
    desktop.connection_lost()
    assert desktop.may_reconnect is expect["reconnect"]


@pytest.mark.parametrize("case", of_kind("chat") + of_kind("users") + of_kind("own_join") + of_kind("update"),
                         ids=lambda case: case["name"])
def test_the_desktop_shows_what_the_vector_says(case: dict[str, Any]) -> None:
    desktop = session(case)
    desktop.receive(parse_frame("CONVER,time=t,OK"))
    if kind(case) == "update":
        desktop.update(color="#123456")
    (event,) = desktop.receive(parse_frame(case["frame"]))
    expect = case["expect"][kind(case)]
    if kind(case) == "chat":
        assert isinstance(event, ChatMessage)
        assert chat_as_vector(event) == expect
    elif kind(case) == "users":
        assert event == UsersChanged(tuple(expect["online"]), tuple(expect["admins"]))
        assert desktop.users == tuple(expect["online"])
    elif kind(case) == "own_join":
        assert isinstance(event, InfoMessage)
        assert desktop.nickname == (expect or case["nickname"])
    elif expect is None:
        assert not isinstance(event, UpdateAnswer)
    else:
        assert (event.ok, event.text) == (expect["ok"], expect["text"])
        assert event.color == ("#123456" if expect["ok"] else "#FFFFFF")


@pytest.mark.parametrize("case", of_kind("user_list"), ids=lambda case: case["name"])
def test_the_desktop_follows_list_changes_as_the_vector_says(case: dict[str, Any]) -> None:
    desktop = session(case)
    desktop.receive(parse_frame("CONVER,time=t,OK"))
    events = [event for text in [*case["before"], case["frame"]] for event in desktop.receive(parse_frame(text))]
    expect = case["expect"]["user_list"]
    shown = [event for event in events if isinstance(event, UsersChanged)]
    assert shown[-1] == UsersChanged(tuple(expect["online"]), tuple(expect["admins"]), expect["resync"])
    assert desktop.users == tuple(expect["online"])
    if expect["resync"]:
        assert format_frame(desktop.list_users()) == "USER,,"
