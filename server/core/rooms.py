"""Rooms and conversations: CREATE, JOIN, PART, TOPIC, INVITE, REMOVE, OP, ROOMS, MEMBERS, HISTORY, READ,
and what a client that knows rooms is told at login. No I/O.

Only connections that sent ``CON rooms=1`` may send these (connection.py
ROOM_REASONS); to any other client they are unknown reasons, and no frame of a
room reaches it. Rooms live in the database (their members too: an account's
memberships last, a guest's end when it leaves); who of them is online, and
the fan-out of a room's frames to its members' sessions, is the hub's
(``JoinRoom``, ``LeaveRoom``, ``RoomBroadcast``): a room's message costs its
members, not everyone online.

Operators: a room's creator, whoever an operator named, and every admin.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Generator

from parley.protocol import Frame, messages, texts
from parley.protocol.lines import encode_lines
from parley.protocol.messages import Stamp
from parley.protocol.names import is_room, name_key, room_key, room_name_error

from ..records import Account, Room, RoomExists, StoreFailed, Summary
from . import admission, files
from .actions import (
    AwaitDrain,
    JoinRoom,
    LeaveRoom,
    LoadAccount,
    RoomBroadcast,
    RoomUpdated,
    SendTo,
    StoreCall,
)
from .connection import Connection
from .restrictions import until_text, with_reason

if TYPE_CHECKING:
    from .chat import ChatCore

log = logging.getLogger("parley.server")
Flow = Generator[Any, Any, Any]

ALL = "-ALL"
TOPIC_LIMIT = 300  # characters
HISTORY_PAGE = 50  # messages a HISTORY sends unless it asks for fewer or more
HISTORY_MAX = 200
REPLAY_FRAME_OVERHEAD = 128  # bytes of a CHATR besides its content and nicknames


# At login ------------------------------------------------------------------------


def sync(core: "ChatCore", conn: Connection) -> Flow:
    """Put a user that knows rooms in its rooms (the hub) and send it a CONV for each of its conversations."""
    try:
        memberships = yield StoreCall("rooms_of", (conn.ident,))
        for membership in memberships:
            key = core.cache_room(membership.room)
            yield JoinRoom(key, conn.ident)
        summaries = yield StoreCall("summaries", (_account_id(conn), list(conn.idents), conn.nickname))
    except StoreFailed:
        core.send(conn, messages.err(core.stamp(), texts.HISTORY_FAILED))
        return
    for summary in summaries:
        core.send(conn, conv_frame(core.stamp(), summary, conn.is_admin))


def conv_frame(stamp: Stamp, s: Summary, admin: bool = False) -> Frame:
    """The CONV of a summary; an admin is an operator of every room."""
    return messages.conv(stamp, s.rec, last=s.last, read=s.read, unread=s.unread, mentions=s.mentions,
                         topic=s.topic, private=s.private, op=s.op or admin, members=s.members)


def _account_id(conn: Connection) -> int | None:
    return conn.account.id if conn.account is not None else None


def _ident_account_id(ident: str) -> int | None:
    return int(ident[2:]) if ident.startswith("a:") and ident[2:].isdigit() else None


# Helpers ---------------------------------------------------------------------------


def answer(core: "ChatCore", conn: Connection, reason: str, text: str, **params: str) -> None:
    core.send(conn, messages.confirm_with(core.stamp(), reason, text, **params))


def _to_self(core: "ChatCore", conn: Connection, frame: Frame) -> None:
    """Send ``frame`` to every session of ``conn``'s user that knows rooms (its other tabs agree)."""
    if core.presence.sessions(conn.nickname) > 1:
        core.emit(SendTo(conn.nickname, frame, rooms_only=True))
    else:
        core.send(conn, frame)


def _room_param(core: "ChatCore", conn: Connection, frame: Frame, reason: str) -> str | None:
    """The room's name (without ``#``) from ``room=``; None (answered) when missing or not a room's name."""
    rec = frame.get("room") or ""
    if not rec:
        answer(core, conn, reason, texts.ROOM_REQUIRED)
        return None
    if rec == ALL:
        answer(core, conn, reason, texts.STAY_IN_LOBBY if reason == "PART" else texts.NO_ROOM.format(room=rec),
                room=rec)
        return None
    if not is_room(rec):
        answer(core, conn, reason, texts.NO_ROOM.format(room=rec), room=rec)
        return None
    return rec[1:]


def _load_room(core: "ChatCore", name: str) -> Flow:
    """The room named ``name``, or None. Raises StoreFailed."""
    room: Room | None = core.rooms.get(room_key(name))
    if room is None:
        room = yield StoreCall("get_room", (name,))
        if room is not None:
            core.cache_room(room)
    return room


def _my_room(core: "ChatCore", conn: Connection, frame: Frame, reason: str) -> Flow:
    """The room of ``room=`` that ``conn``'s user is in, or None (answered)."""
    name = _room_param(core, conn, frame, reason)
    if name is None:
        return None
    try:
        room = yield from _load_room(core, name)
    except StoreFailed:
        answer(core, conn, reason, texts.ROOM_FAILED, room=f"#{name}")
        return None
    if room is None or (room.private and not core.presence.in_room(room.key, conn.ident)):
        answer(core, conn, reason, texts.NO_ROOM.format(room=f"#{name}"), room=f"#{name}")
        return None
    if not core.presence.in_room(room.key, conn.ident):
        answer(core, conn, reason, texts.NOT_IN_ROOM.format(room=room.rec), room=room.rec)
        return None
    return room


def operated_room(core: "ChatCore", conn: Connection, frame: Frame, reason: str) -> Flow:
    """The room of ``room=`` if ``conn``'s user is one of its operators (or an admin), else None (answered)."""
    room: Room | None = yield from _my_room(core, conn, frame, reason)
    if room is None:
        return None
    if conn.is_admin:
        return room
    try:
        op = yield StoreCall("member_op", (room.id, conn.ident))
    except StoreFailed:
        answer(core, conn, reason, texts.ROOM_FAILED, room=room.rec)
        return None
    if not op:
        answer(core, conn, reason, texts.NOT_OPERATOR.format(room=room.rec), room=room.rec)
        return None
    return room


def _find_user(core: "ChatCore", nickname: str) -> Flow:
    """(ident, name) of the user online as ``nickname`` or of the account of that name, or None. Raises StoreFailed."""
    online = core.presence.lookup(nickname)
    if online is not None:
        return online.ident, online.nickname
    account: Account | None = yield LoadAccount(nickname)
    if account is not None:
        return account.ident, account.name
    return None


def operated_target(core: "ChatCore", conn: Connection, frame: Frame, reason: str) -> Flow:
    """The room of ``room=`` (``conn``'s user one of its operators) and the user of ``user=`` as
    (room, ident, name), or None (answered)."""
    room: Room | None = yield from operated_room(core, conn, frame, reason)
    if room is None:
        return None
    nickname = frame.get("user") or ""
    if not nickname:
        answer(core, conn, reason, texts.USER_REQUIRED, room=room.rec)
        return None
    try:
        found = yield from _find_user(core, nickname)
    except StoreFailed:
        answer(core, conn, reason, texts.ROOM_FAILED, room=room.rec)
        return None
    if found is None:
        answer(core, conn, reason, texts.NO_USER.format(user=nickname), room=room.rec)
        return None
    return room, *found


def room_event(core: "ChatCore", room: Room, sender: str, text: str, change: str | None = None,
                user: str | None = None, **extra: str) -> None:
    """An INFO line in ``room`` (and a MEMBER change) to its members."""
    where = room.rec
    key = room.key
    core.emit(RoomBroadcast(key, messages.info(core.stamp(), sender, text, rec=where, **extra)))
    if change is not None and user is not None:
        core.emit(RoomBroadcast(key, messages.room_member(core.stamp(), where, user, change)))


def _send_room_to(core: "ChatCore", ident: str, name: str, room: Room) -> Flow:
    """Send the user ``ident`` (if online) the room's CONV and MEMBERS. Raises StoreFailed."""
    user = core.presence.lookup_ident(ident)
    if user is None:
        return
    summary = yield StoreCall("summary", (_ident_account_id(ident), [ident], name, "room", room.id))
    members = yield StoreCall("room_members", (room.id,))
    if summary is not None:
        core.emit(SendTo(name, conv_frame(core.stamp(), summary, user.is_admin), rooms_only=True))
    for frame in messages.room_members(core.stamp(), room.rec, [(m.name, m.op) for m in members]):
        core.emit(SendTo(name, frame, rooms_only=True))


# Handlers -----------------------------------------------------------------------------


def on_create(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    name = _room_param(core, conn, frame, "CREATE")
    if name is None:
        return
    where = f"#{name}"
    error = room_name_error(name)
    if error is None and len(frame.content) > TOPIC_LIMIT:
        error = texts.TOPIC_TOO_LONG.format(limit=TOPIC_LIMIT)
    wait = core.room_creation_wait(conn.host)
    if error is None and wait:
        error = texts.TOO_MANY_ROOMS.format(minutes=-(-wait // 60))
    if error is not None:
        answer(core, conn, "CREATE", error, room=where)
        return
    private = frame.get("private") == "1"
    try:
        room: Room = yield StoreCall(
            "create_room", (name, frame.content, private, conn.ident, conn.nickname, core.stamp().ms))
    except RoomExists:
        answer(core, conn, "CREATE", texts.ROOM_EXISTS.format(room=where), room=where)
        return
    except StoreFailed:
        answer(core, conn, "CREATE", texts.ROOM_FAILED, room=where)
        return
    core.room_created(conn.host)
    key = core.cache_room(room)
    yield JoinRoom(key, conn.ident)
    log.info("%s %s: created %s room #%s", conn.peer, conn.nickname, "a private" if private else "a public", name)
    where = room.rec
    answer(core, conn, "CREATE", texts.OK, room=where)
    _to_self(core, conn, messages.conv(core.stamp(), where, topic=room.topic, private=room.private, op=True,
                                       members=1))
    for part in messages.room_members(core.stamp(), where, [(conn.nickname, True)]):
        _to_self(core, conn, part)


def on_join(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    name = _room_param(core, conn, frame, "JOIN")
    if name is None:
        return
    try:
        room: Room | None = yield from _load_room(core, name)
    except StoreFailed:
        answer(core, conn, "JOIN", texts.ROOM_FAILED, room=f"#{name}")
        return
    inside = room is not None and core.presence.in_room(room.key, conn.ident)
    if room is None or (room.private and not inside):  # a private room is not revealed
        answer(core, conn, "JOIN", texts.NO_ROOM.format(room=f"#{name}"), room=f"#{name}")
        return
    where = room.rec
    if inside:
        answer(core, conn, "JOIN", texts.ALREADY_IN_ROOM.format(room=where), room=where)
        return
    banned = core.restrictions.room_ban(room.id, conn.ident, name_key(conn.nickname), core.stamp().ms)
    if banned is not None and not conn.is_admin:
        text = with_reason(texts.ROOM_BANNED.format(room=where, until=until_text(banned.until_ms)), banned.reason)
        answer(core, conn, "JOIN", text, room=where, until=str(banned.until_ms))
        return
    try:
        yield StoreCall("add_member", (room.id, conn.ident, conn.nickname, False, core.stamp().ms))
    except StoreFailed:
        answer(core, conn, "JOIN", texts.ROOM_FAILED, room=where)
        return
    yield JoinRoom(room.key, conn.ident)
    log.info("%s %s: joined %s", conn.peer, conn.nickname, where)
    answer(core, conn, "JOIN", texts.OK, room=where)
    room_event(core, room, conn.nickname, texts.ROOM_JOINED.format(nick=conn.nickname, room=where), "join",
                conn.nickname)
    try:
        yield from _send_room_to(core, conn.ident, conn.nickname, room)
    except StoreFailed:
        core.send(conn, messages.err(core.stamp(), texts.HISTORY_FAILED))


def on_part(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    room: Room | None = yield from _my_room(core, conn, frame, "PART")
    if room is None:
        return
    where = room.rec
    try:
        yield StoreCall("remove_member", (room.id, conn.ident))
    except StoreFailed:
        answer(core, conn, "PART", texts.ROOM_FAILED, room=where)
        return
    log.info("%s %s: left %s", conn.peer, conn.nickname, where)
    answer(core, conn, "PART", texts.OK, room=where)
    yield LeaveRoom(room.key, conn.ident)
    room_event(core, room, conn.nickname, texts.ROOM_LEFT.format(nick=conn.nickname, room=where), "leave",
                conn.nickname)
    _to_self(core, conn, messages.conv(core.stamp(), where, gone=True))


def on_topic(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    room: Room | None = yield from operated_room(core, conn, frame, "TOPIC")
    if room is None:
        return
    where = room.rec
    topic = frame.content
    if len(topic) > TOPIC_LIMIT:
        answer(core, conn, "TOPIC", texts.TOPIC_TOO_LONG.format(limit=TOPIC_LIMIT), room=where)
        return
    try:
        yield StoreCall("set_topic", (room.id, topic))
    except StoreFailed:
        answer(core, conn, "TOPIC", texts.ROOM_FAILED, room=where)
        return
    core.cache_room(replace(room, topic=topic))
    core.emit(RoomUpdated(core.rooms[room.key]))
    answer(core, conn, "TOPIC", texts.OK, room=where)
    room_event(core, room, conn.nickname, texts.ROOM_TOPIC.format(nick=conn.nickname, room=where, topic=topic),
                topic=topic)


def on_invite(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    target = yield from operated_target(core, conn, frame, "INVITE")
    if target is None:
        return
    room, ident, name = target
    where = room.rec
    if core.restrictions.room_ban(room.id, ident, name_key(name), core.stamp().ms) is not None:
        answer(core, conn, "INVITE", texts.USER_ROOM_BANNED.format(user=name, room=where), room=where)
        return
    try:
        added = yield StoreCall("add_member", (room.id, ident, name, False, core.stamp().ms))
    except StoreFailed:
        answer(core, conn, "INVITE", texts.ROOM_FAILED, room=where)
        return
    if not added:
        answer(core, conn, "INVITE", texts.USER_ALREADY_IN_ROOM.format(user=name, room=where), room=where)
        return
    if core.presence.lookup_ident(ident) is not None:
        yield JoinRoom(room.key, ident)
    log.info("%s %s: added %s to %s", conn.peer, conn.nickname, name, where)
    answer(core, conn, "INVITE", texts.OK, room=where)
    room_event(core, room, conn.nickname, texts.ROOM_ADDED.format(op=conn.nickname, nick=name, room=where),
                "join", name)
    try:
        yield from _send_room_to(core, ident, name, room)
    except StoreFailed:
        pass  # logged where it failed; the member gets the room at its next login


def on_remove(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    target = yield from operated_target(core, conn, frame, "REMOVE")
    if target is None:
        return
    room, ident, name = target
    where = room.rec
    try:
        op = yield StoreCall("member_op", (room.id, ident))
        if op is None:
            answer(core, conn, "REMOVE", texts.USER_NOT_IN_ROOM.format(user=name, room=where), room=where)
            return
        if op and not conn.is_admin and ident != conn.ident:
            answer(core, conn, "REMOVE", texts.USER_IS_OPERATOR.format(user=name, room=where), room=where)
            return
        yield StoreCall("remove_member", (room.id, ident))
    except StoreFailed:
        answer(core, conn, "REMOVE", texts.ROOM_FAILED, room=where)
        return
    reason = frame.content
    log.info("%s %s: removed %s from %s (reason %r)", conn.peer, conn.nickname, name, where, reason[:100])
    answer(core, conn, "REMOVE", texts.OK, room=where)
    text = (texts.ROOM_REMOVED_WHY.format(nick=name, room=where, op=conn.nickname, reason=reason) if reason
            else texts.ROOM_REMOVED.format(nick=name, room=where, op=conn.nickname))
    room_event(core, room, conn.nickname, text, "leave", name)
    yield LeaveRoom(room.key, ident)
    core.emit(SendTo(name, messages.conv(core.stamp(), where, gone=True), rooms_only=True))


def on_op(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    target = yield from operated_target(core, conn, frame, "OP")
    if target is None:
        return
    room, ident, name = target
    where = room.rec
    on = frame.get("op") != "0"
    try:
        changed = yield StoreCall("set_op", (room.id, ident, on))
    except StoreFailed:
        answer(core, conn, "OP", texts.ROOM_FAILED, room=where)
        return
    if not changed:
        answer(core, conn, "OP", texts.USER_NOT_IN_ROOM.format(user=name, room=where), room=where)
        return
    log.info("%s %s: %s %s as an operator of %s", conn.peer, conn.nickname, "named" if on else "unnamed", name,
             where)
    answer(core, conn, "OP", texts.OK, room=where)
    template = texts.ROOM_OPPED if on else texts.ROOM_DEOPPED
    room_event(core, room, conn.nickname, template.format(op=conn.nickname, nick=name, room=where),
                "op" if on else "deop", name)
    try:
        yield from _send_room_to(core, ident, name, room)
    except StoreFailed:
        pass


def on_rooms(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    try:
        rooms = yield StoreCall("public_rooms", ())
    except StoreFailed:
        answer(core, conn, "ROOMS", texts.ROOM_FAILED)
        return
    reply = messages.public_rooms(core.stamp(), [(f"#{r.name}", r.members, r.topic) for r in rooms])
    core.send(conn, reply)
    admission.spend(core, conn, len(reply.content) + sum(len(v) for v in reply.params.values()))


def on_members(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    name = _room_param(core, conn, frame, "MEMBERS")
    if name is None:
        return
    try:
        room: Room | None = yield from _load_room(core, name)
        if room is None or (room.private and not core.presence.in_room(room.key, conn.ident)):
            answer(core, conn, "MEMBERS", texts.NO_ROOM.format(room=f"#{name}"), room=f"#{name}")
            return
        members = yield StoreCall("room_members", (room.id,))
    except StoreFailed:
        answer(core, conn, "MEMBERS", texts.ROOM_FAILED, room=f"#{name}")
        return
    sent = 0
    for part in messages.room_members(core.stamp(), room.rec, [(m.name, m.op) for m in members]):
        core.send(conn, part)
        sent += sum(len(v) for v in part.params.values())
    admission.spend(core, conn, sent)


def conversation(core: "ChatCore", conn: Connection, rec: str, reason: str) -> Flow:
    """Where ``rec`` is for ``conn``'s user: ("lobby", None), ("room", Room) or ("private", other ident),
    or None (answered)."""
    if rec == ALL:
        return "lobby", None
    if is_room(rec):
        name = rec[1:]
        room = core.rooms.get(room_key(name))
        if room is None or not core.presence.in_room(room.key, conn.ident):
            answer(core, conn, reason, texts.NOT_IN_ROOM.format(room=rec), rec=rec)
            return None
        return "room", room
    try:
        found = yield from _find_user(core, rec)
        # A guest who has left is found by the messages exchanged with it.
        other = found[0] if found is not None else (yield StoreCall("private_partner", (list(conn.idents), rec)))
    except StoreFailed:
        answer(core, conn, reason, texts.HISTORY_FAILED, rec=rec)
        return None
    if other is None:
        answer(core, conn, reason, texts.NO_USER.format(user=rec), rec=rec)
        return None
    return "private", other


def number(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) <= 15 else None


def on_history(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    """Up to ``limit`` messages of a conversation older than ``before``, oldest first, paced as REF is."""
    rec = frame.get("rec") or ""
    if not rec:
        answer(core, conn, "HISTORY", texts.REC_REQUIRED)
        return
    where = yield from conversation(core, conn, rec, "HISTORY")
    if where is None:
        return
    kind, key = where
    before = number(frame.get("before"))
    after = number(frame.get("after"))  # paging forward, from a search result
    limit = min(HISTORY_MAX, number(frame.get("limit")) or HISTORY_PAGE)
    try:
        if kind == "lobby":
            page, more = yield StoreCall("lobby_history", (before, limit, after))
        elif kind == "room":
            page, more = yield StoreCall("room_history", (key.id, before, limit, after))
        else:
            page, more = yield StoreCall("private_history", (list(conn.idents), key, before, limit, after))
    except StoreFailed:
        answer(core, conn, "HISTORY", texts.HISTORY_FAILED, rec=rec)
        return
    yield from replay(core, conn, page, old=True)
    answer(core, conn, "HISTORY", texts.OK, rec=rec, count=str(len(page)), more="1" if more else "0")


def replay(core: "ChatCore", conn: Connection, history: list[Any], old: bool = False, found: bool = False) -> Flow:
    """Send stored messages as CHATR frames, at most ``replay_chunk`` bytes before the connection drains.

    One replay never fills the output cap of a client that reads, and a
    client that stops reading is sent no more of it. Each part is paid for
    from the connection's work budget (admission.py), as a USER list is.
    """
    chunk = replay_chunk(core.config.max_outbuf)
    sent = 0
    for m in history:
        size = len(m.content.encode("utf-8")) + len(m.sender) * 4 + len(m.rec) * 4 + REPLAY_FRAME_OVERHEAD
        if sent and sent + size > chunk:
            admission.spend(core, conn, sent)
            yield AwaitDrain(core.config.drain_timeout)
            sent = 0
        if m.file is not None:
            core.send(conn, files.file_chatr(core, Stamp(m.time_text, m.ts_ms), m.sender, m.rec, m.color, m.id,
                                             m.content, m.file, old=old, found=found))
        else:
            content, lines = encode_lines(m.content)
            core.send(conn, messages.chatr(Stamp(m.time_text, m.ts_ms), m.sender, m.rec, m.color, m.id, content,
                                           lines=lines, old=old, edited_ms=m.edited_ms, found=found))
        sent += size
    admission.spend(core, conn, sent)


def replay_chunk(max_outbuf: int) -> int:
    """Bytes of a replay sent before waiting for the connection to drain: an eighth of the output cap."""
    return max(16 * 1024, max_outbuf // 8)


def on_read(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    """Everything of ``rec`` up to ``id`` is read: kept for an account; its CONV to every session of the user."""
    rec = frame.get("rec") or ""
    message_id = number(frame.get("id"))
    if not rec or message_id is None:
        answer(core, conn, "READ", texts.REC_REQUIRED if not rec else texts.ROOM_FAILED, rec=rec)
        return
    where = yield from conversation(core, conn, rec, "READ")
    if where is None:
        return
    kind, key = where
    if kind == "lobby":
        marker, summary_key = "lobby", 0
    elif kind == "room":
        marker, summary_key = f"r:{key.id}", key.id
    else:
        marker, summary_key = key, key
    account_id = _account_id(conn)
    try:
        if account_id is not None:
            yield StoreCall("set_read", (account_id, marker, message_id))
        summary: Summary | None = yield StoreCall(
            "summary", (account_id, list(conn.idents), conn.nickname, kind, summary_key))
    except StoreFailed:
        answer(core, conn, "READ", texts.ROOM_FAILED, rec=rec)
        return
    if summary is None:
        summary = Summary(rec, message_id, message_id, 0, 0)
    if account_id is None:  # a guest's reading is its page's business: the server keeps nothing
        summary = replace(summary, read=min(message_id, summary.last), unread=0, mentions=0)
    _to_self(core, conn, conv_frame(core.stamp(), summary, conn.is_admin))
