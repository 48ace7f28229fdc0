"""The room everyone shares: who is in it (USER), its history (REF), removing someone (KICK),
leaving (DISCON), and PING. No I/O.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Generator

from parley.protocol import Frame, messages, texts

from ..records import StoreFailed
from . import admission, moderation, rooms
from .actions import Broadcast, Kick, LoadHistory
from .connection import Connection

if TYPE_CHECKING:
    from .chat import ChatCore

log = logging.getLogger("parley.server")


def on_discon(core: "ChatCore", conn: Connection, frame: Frame) -> None:
    """Leave: at once, with no grace; the session's resume token is revoked."""
    core.revoke_token(conn)
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
    try:
        history = yield LoadHistory(conn.idents, core.config.history)
    except StoreFailed:
        core.send(conn, messages.err(core.stamp(), texts.HISTORY_FAILED))
        return
    yield from rooms.replay(core, conn, history)


def on_user(core: "ChatCore", conn: Connection, frame: Frame) -> None:
    admission.spend(core, conn, core.send_user_list(conn))


def on_kick(core: "ChatCore", conn: Connection, frame: Frame) -> Generator[Any, Any, None]:
    """``KICK,user=NICK,reason`` (admins); ``ban=1`` (with ``duration``, ``addresses``) bans in the same step."""
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
    reason = frame.content
    banning = frame.get("ban") == "1"
    if banning:
        def fail(text: str) -> None:
            core.send(conn, messages.err(core.stamp(), text))
        made = yield from moderation.ban(core, conn, frame, fail, kicking=target.ident)
        if not made:
            return
        if core.presence.lookup_ident(target.ident) is None:
            return  # it left while the ban was stored
    core.emit(Kick(target.nickname, messages.warn(core.stamp(), texts.KICKED.format(reason=reason))))
    log.info("%s %s: kicked %s (reason %r)", conn.peer, conn.nickname, target.nickname, reason[:100])
    if not banning:  # a ban's INFO said it
        text = (texts.KICKED_INFO_WHY.format(nick=target.nickname, admin=conn.nickname, reason=reason) if reason
                else texts.KICKED_INFO.format(nick=target.nickname, admin=conn.nickname))
        core.emit(Broadcast(messages.info(core.stamp(), target.nickname, text)))
    core.user_changed(target.nickname, None)
    core.user_gone(target.nickname, target.ident, None)  # its rooms (a guest's) and resume tokens
    if not banning:
        yield from moderation._audit(core, conn.nickname, "kick", target.nickname, "", reason)


def on_ping(core: "ChatCore", conn: Connection, frame: Frame) -> None:
    core.send(conn, messages.pong(core.stamp(), frame.content))
