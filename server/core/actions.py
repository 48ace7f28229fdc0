"""What the chat core asks its adapter to do. Plain values, no I/O.

Three kinds:

* for one connection: send a frame, close, set its timer, pause reading...;
* for the hub, the seam where online users live and frames fan out (an
  in-process hub or a distributed one, the core cannot tell): broadcast,
  send to a nickname, kick, release;
* requests, which the adapter answers with ``Completed(conn, result)`` (or
  the error raised): database work, password hashing, and the hub's
  claims on nicknames, which a distributed hub must check with its peers.
  A database request that fails raises ``records.StoreFailed`` where the
  handler yielded it (the cause is logged by the adapter's side).
  A connection waits for its request's answer before it handles anything
  else, so a request is the last action for its connection in a batch.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from parley.protocol import Frame

from .presence import OnlineUser, SessionKind

if TYPE_CHECKING:
    from ..records import Room
    from .chats import StagedChat

# For one connection ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    conn: int
    frame: Frame


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection once what was sent to it is written. The core is done with it."""

    conn: int


@dataclass(frozen=True, slots=True)
class SetTimer:
    """Fire ``TimerFired(conn)`` at ``at`` (the adapter's clock, as passed in ``now``); None: no timer."""

    conn: int
    at: float | None


@dataclass(frozen=True, slots=True)
class UseLegacyFraming:
    """From now on send this connection one unterminated frame per write, paced (a client of the original)."""

    conn: int


@dataclass(frozen=True, slots=True)
class SetReading:
    """Pause (False) or resume (True) reading the connection: too much of it waits to be handled."""

    conn: int
    reading: bool


@dataclass(frozen=True, slots=True)
class StoreMessage:
    """Commit ``chat.record``, then feed back ``MessageStored(chat, id)`` (or its error)."""

    chat: "StagedChat"


@dataclass(frozen=True, slots=True)
class SetUserListTimer:
    """Fire ``UserListDue()`` at ``at``; None: no timer."""

    at: float | None


@dataclass(frozen=True, slots=True)
class SetGraceTimer:
    """Fire ``GraceDue()`` at ``at``; None: no timer."""

    at: float | None


@dataclass(frozen=True, slots=True)
class Background:
    """Do ``call`` on the database and answer nobody (a failure is logged where it happens)."""

    call: "StoreCall"


@dataclass(frozen=True, slots=True)
class DeleteBlob:
    """Remove a shared file's bytes (and thumbnail) from the data folder: no message holds them any more."""

    sha: str


# For the hub ------------------------------------------------------------------


class Audience(enum.Enum):
    """Who of those online a broadcast is for."""

    ALL = "all"
    LISTS = "lists"  # users sent whole user lists (every client that did not ask for changes)
    CHANGES = "changes"  # users that asked for USERCHANGES (CON lists=changes)
    ROOMS = "rooms"  # sessions that know rooms (CON rooms=1): EDITED and DELETED of the lobby


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send ``frame`` to everyone online (or to ``audience`` of them)."""

    frame: Frame
    audience: Audience = Audience.ALL


@dataclass(frozen=True, slots=True)
class SendTo:
    """Send ``frame`` to every session of whoever is online as ``nickname`` (nobody, if no one is);
    with ``rooms_only``, to its sessions that know rooms (CON rooms=1)."""

    nickname: str
    frame: Frame
    rooms_only: bool = False


@dataclass(frozen=True, slots=True)
class RoomBroadcast:
    """Send ``frame`` to the sessions that know rooms of every online member of the room ``room`` (its key)."""

    room: str
    frame: Frame


@dataclass(frozen=True, slots=True)
class DeliverMessage:
    """Send a committed chat message to whoever reads its conversation, in the conversation's order.

    ``conv`` and ``seq`` are its conversation (records.conversation_key) and
    its place there: a hub shared by several nodes delivers each
    conversation's messages in ``seq`` order on every node. Who gets it: the
    room ``room``'s members (a key), or every session of each of ``to``
    (private), or, with neither, everyone online (the lobby). ``echo`` is the
    sender's connection when it has no other session: it gets the message
    itself (it may be leaving, so not through the hub's list of who is online).
    """

    conv: str
    seq: int
    frame: Frame
    room: str | None = None
    to: tuple[str, ...] = ()
    echo: int | None = None


@dataclass(frozen=True, slots=True)
class RoomUpdated:
    """``room`` was created or changed (its topic, whether it is private), or deleted (``gone``), here:
    a hub shared by several nodes tells the others, whose cores keep rooms in memory."""

    room: "Room"
    gone: bool = False


@dataclass(frozen=True, slots=True)
class RestrictionsChanged:
    """A ban or mute was added or lifted here: a hub shared by several nodes has the others reload theirs
    (each enforces a new one on its own sessions as it loads it)."""


@dataclass(frozen=True, slots=True)
class ShareLimit:
    """A per-address limit counted something here that every node should count (several nodes): a failed
    login (``login``: ``address``, ``nickname``), an account or a room created (``account``, ``room``:
    ``address``), or this node's open connections of ``address`` are now ``count`` (``connections``)."""

    kind: str
    address: str
    nickname: str = ""
    count: int = 0


@dataclass(frozen=True, slots=True)
class JoinRoom:
    """The online user ``ident`` is a member of the room ``room`` (its key) from now on.

    Asked for as a request (result None), not emitted: what the handler (or
    the connection's next frame) does next sees the hub already changed
    (an INVITE right after a CREATE found the room not its creator's)."""

    room: str
    ident: str


@dataclass(frozen=True, slots=True)
class LeaveRoom:
    room: str
    ident: str


@dataclass(frozen=True, slots=True)
class Kick:
    """Take ``nickname`` offline and have its connection fed ``Kicked(conn, warning)``."""

    nickname: str
    warning: Frame


@dataclass(frozen=True, slots=True)
class Release:
    """End the connection's session; its user goes offline with its last session, unless ``hold``
    (then it stays online with none, in its grace, until ``Drop``)."""

    conn: int
    hold: bool = False


@dataclass(frozen=True, slots=True)
class Drop:
    """Take the user online as ``nickname`` offline, with any sessions it has (its grace is over)."""

    nickname: str


# Requests: answered with Completed(conn, result) --------------------------------


@dataclass(frozen=True, slots=True)
class Claim:
    """Put ``user`` online with the connection as a session; result: a ``presence.Claimed``.

    ``attach``: the login proved to be ``user``, so if it is online already the
    connection becomes one more of its sessions."""

    user: OnlineUser
    kind: SessionKind = SessionKind()
    attach: bool = False


@dataclass(frozen=True, slots=True)
class Rename:
    """Move the connection's online entry to ``user``; result: False when the nickname is taken."""

    user: OnlineUser


@dataclass(frozen=True, slots=True)
class LoadAccount:
    """Result: the Account named ``nickname`` (compared as nicknames are), or None."""

    nickname: str


@dataclass(frozen=True, slots=True)
class FindLookalike:
    """Result: the name of a registered account ``nickname`` imitates (UTS #39 look-alike), or None.

    The account ``except_id`` (the asker's own) does not count.
    """

    nickname: str
    except_id: int | None = None


@dataclass(frozen=True, slots=True)
class CheckPassword:
    """Result: (whether ``password`` matches ``password_hash``, a stronger hash to store or None).

    Run before password changes and registrations waiting for the hasher, so
    that logins are not starved.
    """

    password: str = field(repr=False)
    password_hash: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class HashPassword:
    """Result: a new hash of ``password``. Waits behind every CheckPassword."""

    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class CreateAccount:
    """Result: the new Account. Raises AccountExists.

    ``adopt``: a guest's ident whose private messages become the account's, in
    the same transaction, so a registration is done whole or not at all.
    """

    name: str
    role: str
    password_hash: str = field(repr=False)
    adopt: str | None = None


@dataclass(frozen=True, slots=True)
class RenameAccount:
    """Raises AccountExists."""

    account_id: int
    name: str


@dataclass(frozen=True, slots=True)
class SetPassword:
    account_id: int
    password_hash: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class UpgradePassword:
    """Replace an account's ``old_hash`` by ``new_hash``, unless its password changed meanwhile."""

    account_id: int
    old_hash: str = field(repr=False)
    new_hash: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class LoadHistory:
    """Result: the last ``limit`` StoredMessages visible to ``idents``, oldest first."""

    idents: tuple[str, ...]
    limit: int


@dataclass(frozen=True, slots=True)
class LoadAdmins:
    """Result: the names of the admin accounts, in the order they were created."""


@dataclass(frozen=True, slots=True)
class StoreCall:
    """Result: what the store's method ``method`` returns for ``args`` (server/store.py names them;
    any store the server runs on has the same methods). Raises StoreFailed as the others."""

    method: str
    args: tuple[Any, ...] = ()

    def __repr__(self) -> str:  # arguments may hold token hashes: the log names the method only
        return f"StoreCall({self.method})"


@dataclass(frozen=True, slots=True)
class AwaitDrain:
    """Answer (result None) once what the connection was sent is written, but for what the transport
    may hold under its high-water mark. Not drained within ``timeout`` seconds: the connection is reset
    as when its output overflows (``OutputOverflowed``), and this is never answered."""

    timeout: float


RequestKind = Union[
    Claim, Rename, LoadAccount, FindLookalike, CheckPassword, HashPassword, CreateAccount, RenameAccount,
    SetPassword, UpgradePassword, LoadHistory, LoadAdmins, StoreCall, AwaitDrain, JoinRoom, LeaveRoom,
]


@dataclass(frozen=True, slots=True)
class Request:
    """Do ``what`` for the connection; answer with ``Completed(conn, result)``."""

    conn: int
    what: RequestKind


Action = Union[
    Send, Close, SetTimer, UseLegacyFraming, SetReading, StoreMessage, SetUserListTimer, SetGraceTimer, Background,
    DeleteBlob, Broadcast, SendTo, RoomBroadcast, DeliverMessage, RoomUpdated, RestrictionsChanged, ShareLimit, JoinRoom,
    LeaveRoom, Kick, Release, Drop, Request,
]
