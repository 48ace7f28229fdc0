"""Moderation, editing, reports and search: BAN, UNBAN, BANS, MUTE, UNMUTE, EDIT, DELETE, REPORT,
REPORTS, RESOLVE, ACCOUNTS, AUDIT, SEARCH, and what a ban does to those online. No I/O.

Bans and mutes in force are held in ``core.restrictions`` (restrictions.py),
loaded at start and reloaded every few seconds (``RestrictionsLoaded``), so
that a ban made from the command line, or by another node, takes effect too.
Every moderation action is written to the audit log.
"""

from __future__ import annotations

import logging
import unicodedata
from typing import TYPE_CHECKING, Any, Callable, Generator, Iterable

from parley.protocol import Frame, messages, names, texts
from parley.protocol.lines import decode_lines, encode_lines
from parley.protocol.names import room_key

from ..records import (
    Account,
    AuditEntry,
    MessageRecord,
    Report,
    Restriction,
    Room,
    StoreFailed,
)
from . import rooms
from .actions import (
    Audience,
    Broadcast,
    DeleteBlob,
    Kick,
    LeaveRoom,
    LoadAccount,
    RestrictionsChanged,
    RoomBroadcast,
    SendTo,
    StoreCall,
)
from .chats import mute_text
from .connection import Connection
from .restrictions import (
    LOBBY,
    REASON_LIMIT,
    Network,
    address_network,
    covers,
    duration_of,
    network_of,
    until_text,
    with_reason,
)

if TYPE_CHECKING:
    from .chat import ChatCore

log = logging.getLogger("parley.server")
Flow = Generator[Any, Any, Any]
Fail = Callable[[str], None]

COMMAND_LINE = "(command line)"
SEARCH_LIMIT = 200  # characters of a SEARCH
SEARCH_WORDS = 16  # words of a SEARCH looked for (the rest ignored)
SEARCH_PAGE = 20
SEARCH_MAX = 50
LIST_MAX = 500  # entries of a BANS
REPORTS_MAX = 200
REPORT_TEXT = 300  # characters of a reported message a REPORTS shows
AUDIT_PAGE = 100
AUDIT_MAX = 200
AUDIT_DETAIL = 200  # characters of a deleted message kept in the audit log
def search_words(query: str) -> list[str]:
    """The words of a search (NFKC): runs of letters, digits and marks; anything else (FTS5 syntax included)
    separates them."""
    words: list[str] = []
    word: list[str] = []
    for char in unicodedata.normalize("NFKC", query):
        if unicodedata.category(char)[0] in "LNM":
            word.append(char)
        elif word:
            words.append("".join(word))
            word = []
    if word:
        words.append("".join(word))
    return words[:SEARCH_WORDS]


def _one_line(text: str) -> str:
    """A stored text as one line (its line breaks as spaces), for a list's parameter."""
    return encode_lines(text)[0]


def _audit(core: "ChatCore", actor: str, action: str, target: str, room: str, reason: str,
           detail: str = "") -> Flow:
    """Write one audit row (a failure is logged where it happened; the action stands)."""
    try:
        yield StoreCall("add_audit", (core.stamp().ms, actor, action, target, room, reason, detail))
    except StoreFailed:
        pass


def _until_ms(core: "ChatCore", seconds: int) -> int:
    return core.stamp().ms + seconds * 1000 if seconds else 0


# Server-wide bans ---------------------------------------------------------------------


def on_ban(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    """``BAN,user=NICK|address=A[;duration=S][;addresses=1],REASON`` (admins); with ``room=``, a room ban."""
    if frame.get("room"):
        yield from _room_ban(core, conn, frame)
        return
    def fail(text: str) -> None:
        rooms.answer(core, conn, "BAN", text)
    if not conn.is_admin:
        fail(texts.NOT_ADMIN)
        return
    made = yield from ban(core, conn, frame, fail)
    if made:
        rooms.answer(core, conn, "BAN", texts.OK, ban=str(made[0].id))


def ban(core: "ChatCore", conn: Connection, frame: Frame, fail: Fail, kicking: str | None = None) -> Flow:
    """Make the bans ``frame`` asks for (BAN, or KICK ban=1) and apply them; return them, or None (``fail`` told why)."""
    seconds = duration_of(frame.get("duration"))
    if seconds is None:
        fail(texts.BAD_DURATION)
        return None
    reason = frame.content
    if len(reason) > REASON_LIMIT:
        fail(texts.REASON_TOO_LONG.format(limit=REASON_LIMIT))
        return None
    nickname, address = frame.get("user") or "", frame.get("address") or ""
    if not nickname and not address:
        fail(texts.TARGET_REQUIRED)
        return None
    wanted: list[tuple[str, str, str, str | None]] = []  # (kind, target, target_key, ident)
    networks: list[Network] = []
    if nickname:
        try:
            found = yield from _target(core, nickname)
        except StoreFailed:
            fail(texts.ROOM_FAILED)
            return None
        if found is None:
            fail(texts.NO_USER.format(user=nickname))
            return None
        name, ident, is_admin = found
        if is_admin:
            fail(texts.CANNOT_BAN_ADMIN.format(user=name))
            return None
        wanted.append(("user", name, names.name_key(name), ident if ident.startswith("a:") else None))
        if frame.get("addresses") == "1":
            hosts = {other.host for other in core.connections.values() if other.online and other.ident == ident}
            if not hosts:
                fail(texts.NOT_ONLINE.format(user=name))
                return None
            for host in sorted(hosts):
                network = address_network(host, core.config.ipv6_prefix)
                if network is not None:
                    networks.append(network)
    if address:
        network_or_error = network_of(address)
        if isinstance(network_or_error, str):
            fail(network_or_error)
            return None
        networks.append(network_or_error)
    if any(covers(network, conn.host) for network in networks):
        fail(texts.OWN_ADDRESS)
        return None
    for network in networks:
        wanted.append(("address", str(network), str(network), None))
    until = _until_ms(core, seconds)
    made: list[Restriction] = []
    failed = False
    try:
        for kind, target, key, ident_ in wanted:
            made.append((yield StoreCall("add_restriction", (kind, target, key, ident_, None, reason,
                                                             conn.nickname, core.stamp().ms, until))))
    except StoreFailed:
        fail(texts.ROOM_FAILED)  # what was stored before the failure holds all the same
        failed = True
    for entry in made:
        hold(core, entry)
        log.info("%s %s: banned %s %s %s (reason %r)", conn.peer, conn.nickname, entry.kind, entry.target,
                 until_text(until), reason[:100])
        yield from _audit(core, conn.nickname, "ban", entry.target, "", reason,
                          until_text(until) + (" (with a kick)" if kicking else ""))
    enforce(core, made, conn.nickname, spare=kicking)
    return None if failed else made


def _target(core: "ChatCore", nickname: str) -> Flow:
    """(name, ident, is admin) of the user online as ``nickname`` or of the account, or None. Raises StoreFailed."""
    online = core.presence.lookup(nickname)
    if online is not None:
        return online.nickname, online.ident, online.is_admin
    account: Account | None = yield LoadAccount(nickname)
    if account is not None:
        return account.name, account.ident, account.is_admin
    return None


def enforce(core: "ChatCore", bans: Iterable[Restriction], by: str, spare: str | None = None) -> None:
    """Disconnect everyone online whom one of the server-wide ``bans`` covers (admins never) with a ban WARN,
    and tell everyone with the ban INFO. The user ``spare`` (a KICK ban=1's target) gets the INFO only:
    its kicker disconnects it with the seed's kick WARN."""
    bans = [entry for entry in bans if entry.kind in ("user", "address")]
    if not bans:
        return
    hit: dict[str, tuple[str, Restriction]] = {}  # ident -> (nickname, the ban)
    for other in list(core.connections.values()):
        if not other.online or other.is_admin or other.ident in hit:
            continue
        key = names.name_key(other.nickname)
        for entry in bans:
            if core.restrictions.matches(entry, other.ident, key, other.host):
                hit[other.ident] = (other.nickname, entry)
                break
    for ident, (nickname, entry) in hit.items():
        until = until_text(entry.until_ms)
        info = with_reason(texts.BANNED_INFO.format(nick=nickname, admin=by, until=until), entry.reason)
        if ident != spare:
            warning = messages.warn(core.stamp(), with_reason(texts.BANNED_WARN.format(until=until), entry.reason),
                                    until=str(entry.until_ms))
            core.emit(Kick(nickname, warning))
        core.emit(Broadcast(messages.info(core.stamp(), nickname, info)))
        if ident != spare:
            core.user_changed(nickname, None)
            core.user_gone(nickname, ident, None)
        log.info("%s: disconnected by a ban (%s %s)", nickname, entry.kind, entry.target)


def login_refusal(core: "ChatCore", conn: Connection, ident: str, nickname: str, admin: bool) -> tuple[str, int] | None:
    """(CONVER text, until) when a ban keeps this login out (never an admin's), else None."""
    if admin:
        return None
    entry = core.restrictions.login_ban(ident, names.name_key(nickname), conn.host, core.stamp().ms)
    if entry is None:
        return None
    return with_reason(texts.BANNED.format(until=until_text(entry.until_ms)), entry.reason), entry.until_ms


def restrictions_loaded(core: "ChatCore", loaded: list[Restriction], now_ms: int) -> None:
    """A fresh load from the database: hold it, and apply the server-wide bans made elsewhere (the command line).

    The load may have started before a ban was made or lifted here: what was lifted here stays lifted,
    and what was made here after the newest one loaded stays (ids only grow)."""
    newest = max((entry.id for entry in loaded), default=0)
    kept = [entry for entry in core.restrictions.entries(now_ms) if entry.id > newest]
    fresh = core.restrictions.replace([e for e in loaded if e.id not in core.restrictions_lifted] + kept)
    made_elsewhere = [entry for entry in fresh if entry.id not in core.restrictions_seen]
    core.restrictions_seen.update(entry.id for entry in loaded)
    for entry in made_elsewhere:
        enforce(core, [entry], entry.by)


def hold(core: "ChatCore", entry: Restriction) -> None:
    """Put a ban or mute made here in force (a later load does not apply it again)."""
    core.restrictions.add(entry)
    core.restrictions_seen.add(entry.id)
    core.emit(RestrictionsChanged())


def lift(core: "ChatCore", restriction_id: int) -> None:
    core.restrictions.remove(restriction_id)
    core.restrictions_lifted.add(restriction_id)
    core.emit(RestrictionsChanged())



def on_unban(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    """``UNBAN,ban=ID,``: lift a ban or a mute (admins: any; a room's operators: that room's)."""
    text = frame.get("ban") or ""
    if not text:
        rooms.answer(core, conn, "UNBAN", texts.BAN_REQUIRED)
        return
    number = rooms.number(text)
    entry = core.restrictions.get(number, core.stamp().ms) if number is not None else None
    allowed = entry is not None and (conn.is_admin or (entry.room_id is not None and conn.rooms and (
        yield from _is_operator(core, conn, entry.room_id))))
    if entry is None or not allowed:
        rooms.answer(core, conn, "UNBAN", texts.NO_BAN.format(ban=text), ban=text)
        return
    try:
        lifted = yield StoreCall("lift_restriction", (entry.id, conn.nickname, core.stamp().ms))
    except StoreFailed:
        rooms.answer(core, conn, "UNBAN", texts.ROOM_FAILED, ban=text)
        return
    lift(core, entry.id)
    if lifted is None:
        rooms.answer(core, conn, "UNBAN", texts.NO_BAN.format(ban=text), ban=text)
        return
    log.info("%s %s: lifted %s %s %s", conn.peer, conn.nickname, entry.kind, entry.target, entry.room)
    rooms.answer(core, conn, "UNBAN", texts.OK, ban=text)
    if entry.kind == "mute":
        _unmuted_info(core, conn, entry)
    yield from _audit(core, conn.nickname, "unmute" if entry.kind == "mute" else "unban", entry.target,
                      entry.room, "", f"{entry.kind} #{entry.id}")


def _is_operator(core: "ChatCore", conn: Connection, room_id: int) -> Flow:
    try:
        return bool((yield StoreCall("member_op", (room_id, conn.ident))))
    except StoreFailed:
        return False


def on_bans(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    """``BANS[,room=#R],``: the server's bans and lobby mutes (admins), or a room's (its operators)."""
    now_ms = core.stamp().ms
    if frame.get("room"):
        room: Room | None = yield from rooms.operated_room(core, conn, frame, "BANS")
        if room is None:
            return
        entries = [e for e in core.restrictions.entries(now_ms) if e.room_id == room.id]
        head = {"room": room.rec}
    else:
        if not conn.is_admin:
            rooms.answer(core, conn, "BANS", texts.NOT_ADMIN)
            return
        entries = [e for e in core.restrictions.entries(now_ms) if e.room_id is None]
        head = {}
    rows = [{"id": str(e.id), "kind": e.kind, "target": e.target, "until": str(e.until_ms), "by": e.by,
             "at": str(e.created_ms), "reason": e.reason} for e in entries[:LIST_MAX]]
    core.send(conn, messages.listing(core.stamp(), "BANS", rows, **head))


# In a room: bans and mutes ---------------------------------------------------------


def _moderated_target(core: "ChatCore", conn: Connection, frame: Frame, reason: str,
                      cannot: str) -> Flow:
    """The room (operated by ``conn``'s user) and the member to act on, as (room, ident, name), or None
    (answered): nobody acts on an admin, and only an admin on another operator."""
    target = yield from rooms.operated_target(core, conn, frame, reason)
    if target is None:
        return None
    room, ident, name = target
    try:
        found = yield from _target(core, name)
        op = yield StoreCall("member_op", (room.id, ident))
    except StoreFailed:
        rooms.answer(core, conn, reason, texts.ROOM_FAILED, room=room.rec)
        return None
    if found is not None and found[2]:
        rooms.answer(core, conn, reason, cannot.format(user=name), room=room.rec)
        return None
    if op and not conn.is_admin:
        rooms.answer(core, conn, reason, texts.USER_IS_OPERATOR.format(user=name, room=room.rec), room=room.rec)
        return None
    return room, ident, name, op


def _terms(core: "ChatCore", conn: Connection, frame: Frame, reason_name: str) -> tuple[int, str] | None:
    """A room BAN's or a MUTE's (seconds, reason), or None (answered) when either is bad."""
    seconds = duration_of(frame.get("duration"))
    reason = frame.content
    if seconds is None or len(reason) > REASON_LIMIT:
        error = texts.BAD_DURATION if seconds is None else texts.REASON_TOO_LONG.format(limit=REASON_LIMIT)
        rooms.answer(core, conn, reason_name, error, room=frame.get("room") or "")
        return None
    return seconds, reason


def _room_ban(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    """``BAN,room=#R;user=NICK[;duration=S],REASON``: out of the room, and kept out until it ends."""
    terms = _terms(core, conn, frame, "BAN")
    if terms is None:
        return
    seconds, reason = terms
    target = yield from _moderated_target(core, conn, frame, "BAN", texts.CANNOT_BAN_ADMIN)
    if target is None:
        return
    room, ident, name, op = target
    until = _until_ms(core, seconds)
    try:
        entry = yield StoreCall("add_restriction", ("room", name, names.name_key(name), ident if ident.startswith("a:")
                                                    else None, room.id, reason, conn.nickname, core.stamp().ms, until))
        removed = op is not None and (yield StoreCall("remove_member", (room.id, ident)))
    except StoreFailed:
        rooms.answer(core, conn, "BAN", texts.ROOM_FAILED, room=room.rec)
        return
    hold(core, entry)
    log.info("%s %s: banned %s from %s %s (reason %r)", conn.peer, conn.nickname, name, room.rec,
             until_text(until), reason[:100])
    rooms.answer(core, conn, "BAN", texts.OK, room=room.rec, ban=str(entry.id))
    text = with_reason(texts.ROOM_BANNED_INFO.format(nick=name, room=room.rec, op=conn.nickname,
                                                     until=until_text(until)), reason)
    rooms.room_event(core, room, conn.nickname, text, "leave" if removed else None, name, until=str(until))
    if removed:
        yield LeaveRoom(room.key, ident)
        core.emit(SendTo(name, messages.conv(core.stamp(), room.rec, gone=True), rooms_only=True))
    yield from _audit(core, conn.nickname, "ban", name, room.rec, reason, until_text(until))


def on_mute(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    """``MUTE,room=R;user=NICK[;duration=S],REASON``: NICK reads R but may not write there until it ends."""
    terms = _terms(core, conn, frame, "MUTE")
    if terms is None:
        return
    seconds, reason = terms
    found = yield from _mute_target(core, conn, frame, "MUTE")
    if found is None:
        return
    room, ident, name = found
    room_id = room.id if room is not None else None
    where = room.rec if room is not None else LOBBY
    key = names.name_key(name)
    until = _until_ms(core, seconds)
    existing = core.restrictions.mute(room_id, ident, key, core.stamp().ms)
    try:
        if existing is not None:  # a new mute replaces the old one
            yield StoreCall("lift_restriction", (existing.id, conn.nickname, core.stamp().ms))
        entry = yield StoreCall("add_restriction", ("mute", name, key, ident if ident.startswith("a:") else None,
                                                    room_id, reason, conn.nickname, core.stamp().ms, until))
    except StoreFailed:
        rooms.answer(core, conn, "MUTE", texts.ROOM_FAILED, room=where)
        return
    if existing is not None:
        lift(core, existing.id)
    hold(core, entry)
    log.info("%s %s: muted %s in %s %s (reason %r)", conn.peer, conn.nickname, name, where, until_text(until),
             reason[:100])
    rooms.answer(core, conn, "MUTE", texts.OK, room=where, ban=str(entry.id))
    if room is None:
        text = with_reason(texts.MUTED_LOBBY_INFO.format(nick=name, op=conn.nickname, until=until_text(until)),
                           reason)
        core.emit(Broadcast(messages.info(core.stamp(), name, text, until=str(until))))
    else:
        text = with_reason(texts.MUTED_INFO.format(nick=name, room=where, op=conn.nickname,
                                                   until=until_text(until)), reason)
        rooms.room_event(core, room, conn.nickname, text, until=str(until))
    yield from _audit(core, conn.nickname, "mute", name, where, reason, until_text(until))


def _mute_target(core: "ChatCore", conn: Connection, frame: Frame, reason: str) -> Flow:
    """(room or None for the lobby, ident, name) of a MUTE or UNMUTE, or None (answered)."""
    where = frame.get("room") or ""
    if where != LOBBY:
        target = yield from _moderated_target(core, conn, frame, reason, texts.CANNOT_MUTE_ADMIN)
        if target is None:
            return None
        room, ident, name, op = target
        if op is None:
            rooms.answer(core, conn, reason, texts.USER_NOT_IN_ROOM.format(user=name, room=room.rec), room=room.rec)
            return None
        return room, ident, name
    if not conn.is_admin:
        rooms.answer(core, conn, reason, texts.NOT_ADMIN, room=LOBBY)
        return None
    nickname = frame.get("user") or ""
    if not nickname:
        rooms.answer(core, conn, reason, texts.USER_REQUIRED, room=LOBBY)
        return None
    try:
        found = yield from _target(core, nickname)
    except StoreFailed:
        rooms.answer(core, conn, reason, texts.ROOM_FAILED, room=LOBBY)
        return None
    if found is None:
        rooms.answer(core, conn, reason, texts.NO_USER.format(user=nickname), room=LOBBY)
        return None
    name, ident, is_admin = found
    if is_admin:
        rooms.answer(core, conn, reason, texts.CANNOT_MUTE_ADMIN.format(user=name), room=LOBBY)
        return None
    return None, ident, name


def on_unmute(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    found = yield from _mute_target(core, conn, frame, "UNMUTE")
    if found is None:
        return
    room, ident, name = found
    where = room.rec if room is not None else LOBBY
    entry = core.restrictions.mute(room.id if room is not None else None, ident, names.name_key(name),
                                   core.stamp().ms)
    if entry is None:
        text = (texts.NOT_MUTED.format(user=name, room=where) if room is not None
                else texts.NOT_MUTED_LOBBY.format(user=name))
        rooms.answer(core, conn, "UNMUTE", text, room=where)
        return
    try:
        yield StoreCall("lift_restriction", (entry.id, conn.nickname, core.stamp().ms))
    except StoreFailed:
        rooms.answer(core, conn, "UNMUTE", texts.ROOM_FAILED, room=where)
        return
    lift(core, entry.id)
    log.info("%s %s: unmuted %s in %s", conn.peer, conn.nickname, name, where)
    rooms.answer(core, conn, "UNMUTE", texts.OK, room=where)
    _unmuted_info(core, conn, entry)
    yield from _audit(core, conn.nickname, "unmute", name, where, "")


def _unmuted_info(core: "ChatCore", conn: Connection, entry: Restriction) -> None:
    if entry.room_id is None:
        text = texts.UNMUTED_LOBBY_INFO.format(nick=entry.target, op=conn.nickname)
        core.emit(Broadcast(messages.info(core.stamp(), entry.target, text)))
        return
    room = next((r for r in core.rooms.values() if r.id == entry.room_id), None)
    if room is not None:
        text = texts.UNMUTED_INFO.format(nick=entry.target, room=room.rec, op=conn.nickname)
        rooms.room_event(core, room, conn.nickname, text)


# Editing, deleting, reporting -----------------------------------------------------------


def _message(core: "ChatCore", conn: Connection, frame: Frame, reason: str, admins_reach_all: bool = False) -> Flow:
    """The message of ``id=`` if ``conn``'s user may read it (an admin: any, with ``admins_reach_all``),
    or None (answered)."""
    text = frame.get("id") or ""
    number = rooms.number(text)
    if not text:
        rooms.answer(core, conn, reason, texts.ID_REQUIRED)
        return None
    message: MessageRecord | None = None
    visible = False
    try:
        if number is not None:
            message = yield StoreCall("get_message", (number,))
        if message is not None:
            visible = (admins_reach_all and conn.is_admin) or _may_read(core, conn, message)
    except StoreFailed:
        rooms.answer(core, conn, reason, texts.ROOM_FAILED, id=text)
        return None
    if message is None or not visible:
        rooms.answer(core, conn, reason, texts.NO_MESSAGE.format(id=text), id=text)
        return None
    return message


def _may_read(core: "ChatCore", conn: Connection, message: MessageRecord) -> bool:
    """Whether ``conn``'s user may read ``message`` (as HISTORY would give it): a room's by its members
    (the hub holds an online user's rooms)."""
    if message.room_id is not None:
        return core.presence.in_room(room_key(message.rec[1:]), conn.ident)
    if message.rec_ident is None:
        return True
    idents = conn.idents
    return message.sender_ident in idents or message.rec_ident in idents


def _to_readers(core: "ChatCore", message: MessageRecord, frame: Frame) -> None:
    """Send ``frame`` to the sessions (that know rooms) of everyone who may read ``message``."""
    if message.room_id is not None:
        core.emit(RoomBroadcast(room_key(message.rec[1:]), frame))
    elif message.rec_ident is None:
        core.emit(Broadcast(frame, Audience.ROOMS))
    else:
        for ident in dict.fromkeys((message.sender_ident, message.rec_ident)):
            user = core.presence.lookup_ident(ident)
            if user is not None:
                core.emit(SendTo(user.nickname, frame, rooms_only=True))


def _where(message: MessageRecord) -> tuple[int | None, str] | None:
    """(room id or None for the lobby, its rec) of a room's or the lobby's message; None for a private one."""
    if message.room_id is not None:
        return message.room_id, message.rec
    if message.rec_ident is None:
        return None, LOBBY
    return None


def _change(core: "ChatCore", conn: Connection, reason: str, message_id: int, call: StoreCall) -> Flow:
    """Make an EDIT's or a DELETE's change in the store and answer it; return whether it was made
    (the message may have been deleted meanwhile)."""
    ident = str(message_id)
    try:
        changed = yield call
    except StoreFailed:
        rooms.answer(core, conn, reason, texts.ROOM_FAILED, id=ident)
        return False
    rooms.answer(core, conn, reason, texts.OK if changed else texts.NO_MESSAGE.format(id=ident), id=ident)
    return bool(changed)


def on_edit(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    """``EDIT,id=N[;lines=L],TEXT``: the author changes its message, within ``edit_window`` seconds."""
    message: MessageRecord | None = yield from _message(core, conn, frame, "EDIT")
    if message is None:
        return
    ident = str(message.id)
    if message.sender_ident not in conn.idents:
        rooms.answer(core, conn, "EDIT", texts.NOT_YOUR_MESSAGE, id=ident)
        return
    if message.file_sha is not None:
        rooms.answer(core, conn, "EDIT", texts.FILE_NO_EDIT, id=ident)
        return
    window = core.config.edit_window
    if core.stamp().ms - message.ts_ms > window * 1000:
        rooms.answer(core, conn, "EDIT", texts.EDIT_TOO_LATE.format(minutes=f"{window / 60:g}"), id=ident)
        return
    lines_param = frame.get("lines") or None
    try:
        text = decode_lines(frame.content, lines_param)
    except ValueError:
        rooms.answer(core, conn, "EDIT", texts.BAD_LINES, id=ident)
        return
    if not text.strip():
        rooms.answer(core, conn, "EDIT", texts.EDIT_EMPTY, id=ident)
        return
    place = _where(message)
    if place is not None and core.restrictions.has_mutes:
        mute = core.restrictions.mute(place[0], conn.ident, names.name_key(conn.nickname), core.stamp().ms)
        if mute is not None:
            rooms.answer(core, conn, "EDIT", mute_text(mute.until_ms, mute.reason, place[1]), id=ident,
                    until=str(mute.until_ms))
            return
    now_ms = core.stamp().ms
    if not (yield from _change(core, conn, "EDIT", message.id, StoreCall("edit_message", (message.id, text, now_ms)))):
        return
    content, lines = encode_lines(text)
    _to_readers(core, message, messages.edited(core.stamp(), message.id, message.rec, message.sender, now_ms,
                                               content, lines))


def on_delete(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    """``DELETE,id=N,``: by its author, an admin, or an operator of its room."""
    message: MessageRecord | None = yield from _message(core, conn, frame, "DELETE", admins_reach_all=True)
    if message is None:
        return
    ident = str(message.id)
    own = message.sender_ident in conn.idents
    allowed = own or conn.is_admin or (message.room_id is not None and (
        yield from _is_operator(core, conn, message.room_id)))
    if not allowed:
        rooms.answer(core, conn, "DELETE", texts.CANNOT_DELETE, id=ident)
        return
    if not (yield from _change(core, conn, "DELETE", message.id, StoreCall("delete_message", (message.id,)))):
        return
    _to_readers(core, message, messages.deleted(core.stamp(), message.id, message.rec))
    if message.file_sha is not None:
        yield from _forget_blob(core, message.file_sha)
    if not own:
        log.info("%s %s: deleted message %d of %s", conn.peer, conn.nickname, message.id, message.sender)
        where = message.rec if message.room_id is not None or message.rec_ident is None else ""
        yield from _audit(core, conn.nickname, "delete", message.sender, where, "",
                          f"#{message.id}: {_one_line(message.content[:AUDIT_DETAIL])}")


def _forget_blob(core: "ChatCore", sha: str) -> Flow:
    """A deleted message's file goes with it: its bytes too, unless another message shares the same ones."""
    try:
        unused = yield StoreCall("blob_unused", (sha,))
    except StoreFailed:
        return  # logged where it failed; the bytes stay, unreachable (their link needs the message)
    if unused:
        core.emit(DeleteBlob(sha))


def _report_row(report: Report) -> dict[str, str]:
    return {"id": str(report.id), "at": str(report.at_ms), "by": report.by, "msg": str(report.message_id),
            "sender": report.sender, "rec": report.rec, "reason": report.reason,
            "text": _one_line(report.text[:REPORT_TEXT])}


def on_report(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    """``REPORT,id=N,REASON``: tell the admins about a message; those online see it at once."""
    message: MessageRecord | None = yield from _message(core, conn, frame, "REPORT")
    if message is None:
        return
    ident = str(message.id)
    if len(frame.content) > REASON_LIMIT:
        rooms.answer(core, conn, "REPORT", texts.REASON_TOO_LONG.format(limit=REASON_LIMIT), id=ident)
        return
    try:
        report: Report | None = yield StoreCall("add_report", (message.id, conn.nickname, conn.ident, frame.content,
                                                               core.stamp().ms))
    except StoreFailed:
        rooms.answer(core, conn, "REPORT", texts.ROOM_FAILED, id=ident)
        return
    if report is None:
        rooms.answer(core, conn, "REPORT", texts.ALREADY_REPORTED, id=ident)
        return
    log.info("%s %s: reported message %d of %s", conn.peer, conn.nickname, message.id, message.sender)
    rooms.answer(core, conn, "REPORT", texts.OK, id=ident)
    live = messages.listing(core.stamp(), "REPORTS", [_report_row(report)], new="1")
    for admin in core.admins:
        if core.presence.lookup(admin) is not None:
            core.emit(SendTo(admin, live, rooms_only=True))


def _admin_only(core: "ChatCore", conn: Connection, reason: str) -> bool:
    if conn.is_admin:
        return True
    rooms.answer(core, conn, reason, texts.NOT_ADMIN)
    return False


def on_reports(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    if not _admin_only(core, conn, "REPORTS"):
        return
    try:
        reports: list[Report] = yield StoreCall("open_reports", (REPORTS_MAX,))
    except StoreFailed:
        rooms.answer(core, conn, "REPORTS", texts.ROOM_FAILED)
        return
    core.send(conn, messages.listing(core.stamp(), "REPORTS", [_report_row(r) for r in reports]))


def on_resolve(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    if not _admin_only(core, conn, "RESOLVE"):
        return
    text = frame.get("report") or ""
    number = rooms.number(text)
    if not text:
        rooms.answer(core, conn, "RESOLVE", texts.REPORT_REQUIRED)
        return
    report: Report | None = None
    try:
        if number is not None:
            report = yield StoreCall("resolve_report", (number, conn.nickname, core.stamp().ms))
    except StoreFailed:
        rooms.answer(core, conn, "RESOLVE", texts.ROOM_FAILED, report=text)
        return
    if report is None:
        rooms.answer(core, conn, "RESOLVE", texts.NO_REPORT.format(report=text), report=text)
        return
    rooms.answer(core, conn, "RESOLVE", texts.OK, report=text)
    yield from _audit(core, conn.nickname, "resolve", report.sender, "", report.reason,
                      f"report #{report.id} of message #{report.message_id} by {report.by}")


# The admin view ----------------------------------------------------------------------


def on_accounts(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    if not _admin_only(core, conn, "ACCOUNTS"):
        return
    try:
        accounts: list[Account] = yield StoreCall("list_accounts", ())
    except StoreFailed:
        rooms.answer(core, conn, "ACCOUNTS", texts.ROOM_FAILED)
        return
    rows = [{"": a.name, "role": a.role, "created": str(a.created_ms)}
            for a in sorted(accounts, key=lambda a: names.name_key(a.name))[:5000]]
    core.send(conn, messages.listing(core.stamp(), "ACCOUNTS", rows))


def on_audit(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    if not _admin_only(core, conn, "AUDIT"):
        return
    before = rooms.number(frame.get("before"))
    limit = min(AUDIT_MAX, rooms.number(frame.get("limit")) or AUDIT_PAGE)
    try:
        entries, more = yield StoreCall("audit_log", (before, limit))
    except StoreFailed:
        rooms.answer(core, conn, "AUDIT", texts.ROOM_FAILED)
        return
    rows = [_audit_row(e) for e in entries]
    core.send(conn, messages.listing(core.stamp(), "AUDIT", rows, more="1" if more else "0"))


def _audit_row(e: AuditEntry) -> dict[str, str]:
    return {"id": str(e.id), "at": str(e.at_ms), "actor": e.actor, "action": e.action, "target": e.target,
            "room": e.room, "reason": e.reason, "detail": e.detail}


# Search --------------------------------------------------------------------------------


def on_search(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    """``SEARCH[,rec=R][;before=ID][;limit=N],QUERY``: the newest messages the user may read with every word."""
    rec = frame.get("rec") or ""
    head = {"rec": rec} if rec else {}
    query = frame.content
    if len(query) > SEARCH_LIMIT:
        rooms.answer(core, conn, "SEARCH", texts.SEARCH_TOO_LONG.format(limit=SEARCH_LIMIT), **head)
        return
    words = search_words(query)
    if not words:
        rooms.answer(core, conn, "SEARCH", texts.NOTHING_TO_SEARCH, **head)
        return
    idents = list(conn.idents)
    if rec:
        where = yield from rooms.conversation(core, conn, rec, "SEARCH")
        if where is None:
            return
        kind, key = where
        scope = (kind == "lobby", [key.id] if kind == "room" else [], kind == "private",
                 key if kind == "private" else None)
    else:
        room_ids = [core.rooms[k].id for k in core.presence.rooms_of(conn.ident) if k in core.rooms]
        scope = (True, room_ids, True, None)
    before = rooms.number(frame.get("before"))
    limit = min(SEARCH_MAX, rooms.number(frame.get("limit")) or SEARCH_PAGE)
    try:
        found, more = yield StoreCall("search", (words, idents, *scope, before, limit))
    except StoreFailed:
        rooms.answer(core, conn, "SEARCH", texts.SEARCH_FAILED, **head)
        return
    yield from rooms.replay(core, conn, found, found=True)
    rooms.answer(core, conn, "SEARCH", texts.OK, **head, count=str(len(found)), more="1" if more else "0")

