"""CHAT: a message is stored, then sent; flood control. No I/O.

"Every CHATR is committed to the database before anyone receives it": a
CHAT becomes a ``StagedChat`` in its connection's ``unsent`` queue and a
``StoreMessage`` action; once ``MessageStored`` says it is committed, it goes
out, after the connection's earlier messages and before its later answers.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from parley.protocol import Frame, messages, texts
from parley.protocol.messages import Stamp

from ..records import NewMessage
from .actions import Broadcast, Send, SendTo, StoreMessage
from .connection import Connection
from .presence import OnlineUser

if TYPE_CHECKING:
    from .chat import ChatCore

log = logging.getLogger("parley.server")

ALL = "-ALL"


class StagedChat:
    """A message being stored; its connection sends it once ``done``."""

    __slots__ = ("conn", "stamp", "record", "target", "done", "message_id", "error")

    def __init__(self, conn: Connection, stamp: Stamp, record: NewMessage, target: OnlineUser | None) -> None:
        self.conn = conn
        self.stamp = stamp
        self.record = record
        self.target = target  # None: everyone
        self.done = False
        self.message_id = 0
        self.error: BaseException | None = None


def on_chat(core: "ChatCore", conn: Connection, frame: Frame) -> None:
    """``CHAT,rec=-ALL|NICK,text``: check the recipient, then store it (admission.py checked the flood limit)."""
    rec = frame.get("rec")
    target = None
    if not rec:
        core.send(conn, messages.err(core.stamp(), texts.REC_REQUIRED))
        return
    if rec != ALL:
        target = core.presence.lookup(rec)
        if target is None:
            core.send(conn, messages.err(core.stamp(), texts.UNRECOGNIZED_RECIPIENT.format(rec=rec)))
            return
    stamp = core.stamp()
    record = NewMessage(
        ts_ms=stamp.ms,
        time_text=stamp.text,
        sender=conn.nickname,
        color=conn.color,
        rec=target.nickname if target else ALL,
        content=frame.content,
        sender_ident=conn.ident,
        rec_ident=target.ident if target else None,
    )
    chat = StagedChat(conn, stamp, record, target)
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
    chatr = messages.chatr(chat.stamp, record.sender, record.rec, record.color, chat.message_id, record.content)
    if chat.target is None:
        core.emit(Broadcast(chatr))
        return
    # As the original: the recipient first, then the sender.
    core.emit(SendTo(chat.target.nickname, chatr))
    if chat.target.ident != conn.ident:
        core.emit(Send(conn.id, chatr))
