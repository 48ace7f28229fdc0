"""CHAT: a message is stored, then sent; flood control. No I/O.

"Every CHATR is committed to the database before anyone receives it": a
CHAT becomes a ``StagedChat`` in its connection's ``unsent`` queue and a
``StoreMessage`` action; once ``MessageStored`` says it is committed, it goes
out, after the connection's earlier messages and before its later answers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generator

from parley.protocol import Frame, messages, names, texts
from parley.protocol.lines import decode_lines, encode_lines
from parley.protocol.messages import Stamp
from parley.protocol.names import is_room, room_key

from ..records import (
    Account,
    FileRecord,
    NewMessage,
    SequencedMessage,
    StoreFailed,
    conversation_key,
)
from . import files
from .actions import DeliverMessage, LoadAccount, Send, StoreMessage
from .connection import Connection
from .presence import OnlineUser
from .restrictions import until_text, with_reason

if TYPE_CHECKING:
    from .chat import ChatCore

log = logging.getLogger("parley.server")

ALL = "-ALL"
Flow = Generator[Any, Any, None]
Finding = Generator[Any, Any, "Recipient | None"]  # a flow that finds where a message goes


class StagedChat:
    """A message being stored; its connection sends it once ``done``.

    ``content`` and ``lines`` are the message as on the wire (line breaks as
    spaces, their places in ``lines``); the record holds the text itself.
    """

    __slots__ = ("conn", "stamp", "record", "content", "lines", "target", "room", "done", "message_id", "seq",
                 "error")

    def __init__(self, conn: Connection, stamp: Stamp, record: NewMessage, content: str, lines: str | None,
                 target: OnlineUser | None, room: str | None = None) -> None:
        self.conn = conn
        self.stamp = stamp
        self.record = record
        self.content = content
        self.lines = lines
        self.target = target  # the recipient online, for a private message (None: the lobby, a room, or offline)
        self.room = room  # the room's key, for a room's message
        self.done = False
        self.message_id = 0
        self.seq = 0  # its place in its conversation, once stored
        self.error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where a CHAT (or an UPLOAD for one) goes, once checked: ``rec`` as its messages name it."""

    rec: str
    rec_ident: str | None = None  # a private message's recipient
    target: OnlineUser | None = None  # that recipient, online
    room_id: int | None = None
    room: str | None = None  # the room's key
    offline_for: int | None = None  # the account a private message waits for

    @property
    def key(self) -> str:
        """The same for every spelling of one conversation (``#General``, ``#general``; ``Ann``, ``ann``)."""
        return self.rec if self.rec == ALL else (room_key(self.rec[1:]) if self.room else names.name_key(self.rec))


def on_chat(core: "ChatCore", conn: Connection, frame: Frame) -> Flow | None:
    """``CHAT,rec=-ALL|#ROOM|NICK,text``: check the recipient, then store it (admission.py checked the flood limit).

    A private message to a registered user who is offline is stored for them
    (``offline_messages``); to an offline guest it is an error, as always.
    ``file=RECEIPT`` (rooms=1 clients): the message shares an uploaded file (files.py).
    """
    rec = frame.get("rec")
    if not rec:
        core.send(conn, messages.err(core.stamp(), texts.REC_REQUIRED))
        return None
    if conn.rooms and frame.get("file") is not None:
        return files.on_file_chat(core, conn, frame, rec)
    lines_param = frame.get("lines") or None
    try:
        text = decode_lines(frame.content, lines_param)
    except ValueError:
        core.send(conn, messages.err(core.stamp(), texts.BAD_LINES))
        return None
    recipient = checked_recipient(core, conn, rec)
    if isinstance(recipient, Recipient) or recipient is None:
        if recipient is not None:
            stage(core, conn, recipient, text, frame.content, lines_param)
        return None
    return _stage_after(core, conn, recipient, text, frame.content, lines_param)


def _stage_after(core: "ChatCore", conn: Connection, finding: Finding, text: str, content: str,
                 lines: str | None) -> Flow:
    recipient: Recipient | None = yield from finding
    if recipient is not None:
        stage(core, conn, recipient, text, content, lines)


def checked_recipient(core: "ChatCore", conn: Connection, rec: str) -> "Recipient | Finding | None":
    """Where a message to ``rec`` goes, or None after telling ``conn`` why it can't (no such room, not a
    member, muted, nobody of that name). A private message to no one online needs the database: then
    it returns a flow whose result is the same."""
    if rec == ALL:
        return None if muted(core, conn, None, ALL) else Recipient(ALL)
    if conn.rooms and is_room(rec):
        room = core.rooms.get(room_key(rec[1:]))
        member = room is not None and core.presence.in_room(room.key, conn.ident)
        if room is None or (room.private and not member):  # a private room is no one's business but its members'
            core.send(conn, messages.err(core.stamp(), texts.NO_ROOM.format(room=rec)))
        elif not member:
            core.send(conn, messages.err(core.stamp(), texts.NOT_IN_ROOM.format(room=room.rec)))
        elif not muted(core, conn, room.id, room.rec):
            return Recipient(room.rec, room_id=room.id, room=room.key)
        return None
    target = core.presence.lookup(rec)
    if target is not None:
        return Recipient(target.nickname, target.ident, target)
    return _offline_account(core, conn, rec)


def muted(core: "ChatCore", conn: Connection, room_id: int | None, where: str) -> bool:
    """Whether ``conn``'s user is muted in the room ``room_id`` (None: the lobby); if so it is told why and until when."""
    if not core.restrictions.has_mutes:
        return False
    mute = core.restrictions.mute(room_id, conn.ident, names.name_key(conn.nickname), core.stamp().ms)
    if mute is None:
        return False
    core.send(conn, messages.err(core.stamp(), mute_text(mute.until_ms, mute.reason, where),
                                 until=str(mute.until_ms)))
    return True


def mute_text(until_ms: int, reason: str, where: str) -> str:
    until = until_text(until_ms)
    text = texts.MUTED_LOBBY.format(until=until) if where == ALL else texts.MUTED.format(room=where, until=until)
    return with_reason(text, reason)


def recipient_of(core: "ChatCore", conn: Connection, rec: str) -> Finding:
    """``checked_recipient`` as a flow, whether or not it needs the database (UPLOAD, a file's CHAT)."""
    found = checked_recipient(core, conn, rec)
    if found is None or isinstance(found, Recipient):
        return found
    return (yield from found)


def _offline_account(core: "ChatCore", conn: Connection, rec: str) -> Finding:
    """A private message to no one online: stored for the account of that name, if there is one."""
    try:
        account: Account | None = yield LoadAccount(rec)
    except StoreFailed:
        core.send(conn, messages.err(core.stamp(), texts.NOT_STORED))
        return None
    if account is None:
        core.send(conn, messages.err(core.stamp(), texts.UNRECOGNIZED_RECIPIENT.format(rec=rec)))
        return None
    online = core.presence.lookup(account.name)  # it may have logged in while we looked
    return Recipient(account.name, account.ident, online, offline_for=account.id if online is None else None)


def stage(core: "ChatCore", conn: Connection, recipient: Recipient, text: str, content: str, lines: str | None,
          file: FileRecord | None = None) -> None:
    """Store a message to ``recipient`` (``text`` as stored; ``content``, ``lines`` as on the wire); it goes out
    once committed (``deliver``)."""
    stamp = core.stamp()
    record = NewMessage(
        ts_ms=stamp.ms,
        time_text=stamp.text,
        sender=conn.nickname,
        color=conn.color,
        rec=recipient.rec,
        content=text,
        sender_ident=conn.ident,
        rec_ident=recipient.rec_ident,
        room_id=recipient.room_id,
        offline_for=recipient.offline_for,
        file=file,
    )
    chat = StagedChat(conn, stamp, record, content, lines, recipient.target, recipient.room)
    conn.unsent.append(chat)
    core.emit(StoreMessage(chat))


def deliver(core: "ChatCore", chat: StagedChat) -> None:
    """Send a committed message (or the sender's error if storing it failed)."""
    conn = chat.conn
    if chat.error is not None:
        # The database side logged the cause, once for the whole transaction.
        log.info("%s %s: a message was not stored; the sender is told", conn.peer, conn.nickname)
        core.emit(Send(conn.id, messages.err(core.stamp(), texts.NOT_STORED)))
        return
    record = chat.record
    if record.file is not None:
        chatr = files.file_chatr(core, chat.stamp, record.sender, record.rec, record.color, chat.message_id,
                                 record.content, record.file)
    else:
        chatr = messages.chatr(chat.stamp, record.sender, record.rec, record.color, chat.message_id, chat.content,
                               lines=chat.lines)
    conv = conversation_key(record.sender_ident, record.rec_ident, record.room_id)
    if chat.room is not None:
        core.emit(DeliverMessage(conv, chat.seq, chatr, room=chat.room))
        return
    if record.rec_ident is None:
        core.emit(DeliverMessage(conv, chat.seq, chatr))
        return
    # As the original: the recipient first, then the sender (every session of each).
    to: tuple[str, ...] = (chat.target.nickname,) if chat.target is not None else ()
    echo = None
    if record.rec_ident != conn.ident:
        if conn.online and core.presence.sessions(conn.nickname) > 1:
            to += (conn.nickname,)
        else:
            echo = conn.id
    core.emit(DeliverMessage(conv, chat.seq, chatr, to=to, echo=echo))


def delivery_of(core: "ChatCore", sequenced: SequencedMessage) -> DeliverMessage | None:
    """How a message stored elsewhere (another node's, that this one missed on the bus) goes out here:
    as it went out where it was sent, to whoever of its readers is online. None for a deleted one."""
    if sequenced.deleted:
        return None
    m = sequenced.message
    stamp = Stamp(m.time_text, m.ts_ms)
    if m.file is not None:
        frame = files.file_chatr(core, stamp, m.sender, m.rec, m.color, m.id, m.content, m.file)
    else:
        content, lines = encode_lines(m.content)
        frame = messages.chatr(stamp, m.sender, m.rec, m.color, m.id, content, lines=lines, edited_ms=m.edited_ms)
    if sequenced.room_id is not None:
        room = next((r for r in core.rooms.values() if r.id == sequenced.room_id), None)
        return DeliverMessage(sequenced.conv, sequenced.seq, frame, room=room.key if room is not None
                              else room_key(m.rec[1:]))
    if sequenced.rec_ident is None:
        return DeliverMessage(sequenced.conv, sequenced.seq, frame)
    to: tuple[str, ...] = ()
    for ident in dict.fromkeys((sequenced.rec_ident, sequenced.sender_ident)):
        user = core.presence.lookup_ident(ident)
        if user is not None:
            to += (user.nickname,)
    return DeliverMessage(sequenced.conv, sequenced.seq, frame, to=to)
