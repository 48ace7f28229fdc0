"""Admission: every frame pays for its work before its handler runs. No I/O.

Each connection has a budget of work (``Budget``): its own token bucket
(``--request-rate``/``--request-burst``) and its address's, shared by every
connection of that address (``--address-request-rate``/``--address-request-burst``;
an IPv6 /64 is one address by default, ``--ipv6-prefix``). Work is counted in
bytes: a fixed cost for handling a frame, plus what the frame makes the
server send. A frame is admitted when both buckets hold its cost; USER and
REF then pay for the bytes they sent (``spend``), which may leave the budget
in debt, so their rate follows the size of the room and of the history.

CHAT keeps its own limit (``--chat-rate``/``--chat-burst``, messages a
second) and also pays its handling into the address's bucket.

A refused frame is not acted on: it is answered ``ERR`` (``CONVER`` before
login) and takes one of the connection's strikes (shared with CHAT); a
connection refused again after its strikes is cut off as a CHAT flood is.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from parley.protocol import Frame, messages, texts

from .connection import Connection, Phase, is_allowed

if TYPE_CHECKING:
    from .chat import ChatCore

log = logging.getLogger("parley.server")

HANDLING = 128  # bytes of work: reading, dispatching and a short answer (PING, errors, DISCON)
# The database or the hub are asked: a lookup, a claim, maybe a write.
COSTS = {"CON": 1024, "UPDATE": 1024, "KICK": 512}


def frame_cost(frame: Frame) -> int:
    """What admitting ``frame`` costs up front, in bytes of work (PONG echoes its content)."""
    cost = COSTS.get(frame.reason, HANDLING)
    if frame.reason == "PING":
        cost += len(frame.content)
    return cost


def admit_frame(core: ChatCore, conn: Connection, frame: Frame) -> bool:
    """Admit ``frame`` or answer its refusal; return whether its handler may run."""
    clock = core.now.monotonic
    if frame.reason == "CHAT" and is_allowed(conn.phase, "CHAT"):
        if core.config.chat_rate <= 0:
            return True
        cost = HANDLING + len(frame.content)
        if conn.budget.shared.holds(clock, cost) and conn.chat_bucket.take(clock):
            conn.budget.shared.take(clock, cost)
            return True
        refuse(core, conn, texts.FLOODING, "CHAT")
        return False
    cost = frame_cost(frame) if is_allowed(conn.phase, frame.reason) else HANDLING
    if conn.budget.admit(clock, cost):
        return True
    refuse(core, conn, texts.TOO_FAST, frame.reason)
    return False


def admit_rejected(core: ChatCore, conn: Connection) -> bool:
    """Admit a malformed frame's answer (cheap, not free) or answer its refusal."""
    if conn.budget.admit(core.now.monotonic, HANDLING):
        return True
    refuse(core, conn, texts.TOO_FAST, "a malformed frame")
    return False


def spend(core: ChatCore, conn: Connection, sent: int) -> None:
    """Charge ``conn`` for ``sent`` bytes its last frame made the server send."""
    conn.budget.spend(core.now.monotonic, sent)


def refuse(core: ChatCore, conn: Connection, text: str, what: str) -> None:
    """Answer a refused frame (``what``, for the log) with ``text``; one out of strikes is disconnected."""
    strikes = conn.strikes
    if strikes.take(core.now.monotonic):
        if strikes.rate > 0 and strikes.tokens >= strikes.burst - 1:  # the first refusal in a while
            log.info("%s %s: %s refused: over its limit", conn.peer, conn.who, what)
        if conn.phase is Phase.AWAITING_LOGIN:
            core.send(conn, messages.conver(core.stamp(), text))
        else:
            core.send(conn, messages.err(core.stamp(), text))
        return
    log.warning("%s %s: disconnected for flooding", conn.peer, conn.who)
    core.send(conn, messages.warn(core.stamp(), texts.FLOOD_DISCONNECT))
    core.revoke_token(conn)  # cut off, not dropped: no grace, and its client must not come back by itself
    core.end(conn)
