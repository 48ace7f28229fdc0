"""What happens to the chat core: the events an adapter feeds it. Plain values, no I/O.

Every event names the connection it concerns by the number the adapter gave
it in ``Connected``. The adapter passes the time with each event
(``ChatCore.handle(event, now)``); no event carries a clock of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from parley.protocol import Frame

if TYPE_CHECKING:
    from ..records import Restriction, Room
    from .chats import StagedChat


@dataclass(frozen=True, slots=True)
class Connected:
    """A connection was accepted from ``host``:``port``.

    ``proxied``: the peer is a trusted proxy, so the stream may start with a
    PROXY header naming the real client. ``full``: the process has no room
    for it (parley/net/budget.py); ``admins_only``: it is in the admins'
    reserve, so only an admin may log in on it.
    """

    conn: int
    host: str
    port: int
    proxied: bool = False
    full: bool = False
    admins_only: bool = False


@dataclass(frozen=True, slots=True)
class DataReceived:
    conn: int
    data: bytes


@dataclass(frozen=True, slots=True)
class InputEnded:
    """The peer closed its sending side (EOF)."""

    conn: int


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    """The connection broke (``error`` names why) or was closed under us."""

    conn: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TimerFired:
    """The connection's timer, set by ``SetTimer``, went off."""

    conn: int


@dataclass(frozen=True, slots=True)
class Completed:
    """The answer to the connection's pending ``Request``: its result, or the error it raised."""

    conn: int
    result: Any = None
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class MessageStored:
    """A message handed out with ``StoreMessage`` is committed (``message_id``), or failed (``error``)."""

    chat: "StagedChat"
    message_id: int | None
    error: BaseException | None = None
    seq: int = 0  # its place in its conversation (records.conversation_key); 0 when it failed


@dataclass(frozen=True, slots=True)
class Kicked:
    """The hub kicked this connection's user (from this or another node): warn it and close."""

    conn: int
    warning: Frame


@dataclass(frozen=True, slots=True)
class OutputOverflowed:
    """The connection's peer stopped reading and its unsent output passed the cap; it was reset."""

    conn: int


@dataclass(frozen=True, slots=True)
class UserListDue:
    """The user-list timer, set by ``SetUserListTimer``, went off."""


@dataclass(frozen=True, slots=True)
class GraceDue:
    """The grace timer, set by ``SetGraceTimer``, went off."""


@dataclass(frozen=True, slots=True)
class RestrictionsLoaded:
    """The bans and mutes in force, freshly read from the database (at start and every few seconds):
    those made elsewhere (the command line) take effect."""

    restrictions: tuple["Restriction", ...]


@dataclass(frozen=True, slots=True)
class ShutdownStarted:
    """The server is stopping: warn everyone and close."""


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """Another node's user joined (``old`` None), left (``new`` None) or was renamed: for user lists."""

    old: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class RoomChanged:
    """Another node changed a room (its topic): a room kept in memory here takes the new one."""

    room: "Room"


@dataclass(frozen=True, slots=True)
class LimitShared:
    """Another node (``node``) counted something against a per-address limit (actions.ShareLimit)."""

    node: str
    kind: str
    address: str
    nickname: str = ""
    count: int = 0


@dataclass(frozen=True, slots=True)
class NodeGone:
    """Another node left or was written off: its connections count no more."""

    node: str


Event = Union[
    Connected, DataReceived, InputEnded, ConnectionLost, TimerFired, Completed, MessageStored, Kicked,
    OutputOverflowed, UserListDue, GraceDue, RestrictionsLoaded, ShutdownStarted, PresenceChanged, RoomChanged,
    LimitShared, NodeGone,
]
