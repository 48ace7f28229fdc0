"""The room everyone shares: who is in it (USER), its history (REF), removing someone (KICK),
leaving (DISCON), and PING. No I/O.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Generator

from parley.protocol import Frame, messages, texts
from parley.protocol.messages import Stamp

from ..records import StoreFailed
from . import admission
from .actions import AwaitDrain, Broadcast, Kick, LoadHistory
from .connection import Connection

if TYPE_CHECKING:
    from .chat import ChatCore

log = logging.getLogger("parley.server")


def on_discon(core: "ChatCore", conn: Connection, frame: Frame) -> None:
    core.send(conn, messages.confirm(core.stamp(), "DISCON", texts.DISCONNECTED))
    log.info("%s %s: disconnected", conn.peer, conn.who)
    core.end(conn)


def on_ref(core: "ChatCore", conn: Connection, frame: Frame) -> Generator[Any, Any, None]:
    """Replay the last ``history`` messages this user may see, oldest first, as the connection drains.

    At most ``replay_chunk`` bytes go out before the adapter says the
    connection has written them (``AwaitDrain``): one REF never fills the
    output cap of a client that reads, and a client that stops reading is
    sent no more of it. Its next frames wait until the replay is done.
    """
    core.send(conn, messages.confirm(core.stamp(), "REF", texts.REF_RESENDING))
    idents = tuple(sorted({conn.ident, conn.guest_ident}))
    try:
        history = yield LoadHistory(idents, core.config.history)
    except StoreFailed:
        core.send(conn, messages.err(core.stamp(), texts.HISTORY_FAILED))
        return
    chunk = replay_chunk(core.config.max_outbuf)
    sent = 0
    for m in history:
        size = len(m.content.encode("utf-8")) + len(m.sender) * 4 + len(m.rec) * 4 + REPLAY_FRAME_OVERHEAD
        if sent and sent + size > chunk:
            admission.spend(core, conn, sent)  # paid as it goes: a replay's bytes count like a USER list's
            yield AwaitDrain(core.config.drain_timeout)
            sent = 0
        core.send(conn, messages.chatr(Stamp(m.time_text, m.ts_ms), m.sender, m.rec, m.color, m.id, m.content))
        sent += size
    admission.spend(core, conn, sent)


REPLAY_FRAME_OVERHEAD = 128  # bytes of a CHATR besides its content and nicknames (time, color, id, ts, keys)


def replay_chunk(max_outbuf: int) -> int:
    """Bytes of a REF replay sent before waiting for the connection to drain: an eighth of the output cap."""
    return max(16 * 1024, max_outbuf // 8)


def on_user(core: "ChatCore", conn: Connection, frame: Frame) -> None:
    admission.spend(core, conn, core.send_user_list(conn))


def on_kick(core: "ChatCore", conn: Connection, frame: Frame) -> None:
    if not conn.is_admin:
        core.send(conn, messages.err(core.stamp(), texts.NOT_ADMIN))
        return
    nickname = frame.get("user")
    if not nickname:
        core.send(conn, messages.err(core.stamp(), texts.USER_REQUIRED))
        return
    target = core.presence.lookup(nickname)
    if target is None:
        core.send(conn, messages.err(core.stamp(), texts.NOT_ONLINE.format(user=nickname)))
        return
    if target.is_admin:
        core.send(conn, messages.err(core.stamp(), texts.CANNOT_KICK_ADMIN.format(user=target.nickname)))
        return
    core.emit(Kick(target.nickname, messages.warn(core.stamp(), texts.KICKED.format(reason=frame.content))))
    log.info("%s %s: kicked %s (reason %r)", conn.peer, conn.nickname, target.nickname, frame.content[:100])
    text = texts.KICKED_INFO.format(nick=target.nickname, admin=conn.nickname)
    core.emit(Broadcast(messages.info(core.stamp(), target.nickname, text)))
    core.user_changed(target.nickname, None)


def on_ping(core: "ChatCore", conn: Connection, frame: Frame) -> None:
    core.send(conn, messages.pong(core.stamp(), frame.content))
