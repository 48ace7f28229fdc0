"""The values Parley keeps: accounts, chat messages, rooms, read state, sessions and moderation. Plain data, no I/O.

The store (store.py) persists them and the chat core (core/) reasons about
them; neither needs the other to name them.
"""

from __future__ import annotations

from dataclasses import dataclass

from parley.protocol.names import name_key

ROLES = ("admin", "member")


class AccountExists(Exception):
    """An account with that name (compared as nicknames are) exists."""


class RoomExists(Exception):
    """A room with that name (compared as nicknames are) exists."""


class StoreFailed(Exception):
    """The database could not do what was asked (disk full, I/O error...).

    Its ``__cause__`` is the database's own error, already logged where it
    happened; whoever asked answers the client and carries on.
    """


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str
    password_hash: str
    created_ms: int = 0  # when it was created (epoch ms); 0 where not read

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def ident(self) -> str:
        """Who this account is in message history, whatever its name becomes."""
        return f"a:{self.id}"


@dataclass(frozen=True)
class NewMessage:
    """A chat message to store.

    ``rec_ident`` is None for a lobby or room message; ``room_id`` is the
    room's for a room message (None for the lobby and private ones).
    ``offline_for``: the id of the account a private message is for, when
    that account is offline (the store also notes it in offline_messages).
    ``content`` holds real line breaks (``\\n``).
    """

    ts_ms: int
    time_text: str
    sender: str
    color: str
    rec: str
    content: str
    sender_ident: str
    rec_ident: str | None
    room_id: int | None = None
    offline_for: int | None = None
    file: "FileRecord | None" = None  # the file this message shares (its id becomes the message's)


@dataclass(frozen=True)
class FileRecord:
    """A shared file's metadata: its bytes are the blob ``sha`` in the data directory's files folder.

    ``width`` and ``height`` are an image's (0: not an image shown inline).
    """

    sha: str
    size: int
    type: str
    name: str
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class StoredMessage:
    """A message as history sends it: its current text, and when it was last edited (0: never)."""

    id: int
    ts_ms: int
    time_text: str
    sender: str
    color: str
    rec: str
    content: str
    edited_ms: int = 0
    file: FileRecord | None = None


LOBBY = "lobby"  # the lobby's conversation key


def conversation_key(sender_ident: str, rec_ident: str | None, room_id: int | None) -> str:
    """The conversation a message belongs to, as its order is kept: ``lobby``, ``r<room id>``, or
    ``p<ident>|<ident>`` (the two parties sorted) for a private message."""
    if room_id is not None:
        return f"r{room_id}"
    if rec_ident is None:
        return LOBBY
    first, second = sorted((sender_ident, rec_ident))
    return f"p{first}|{second}"


@dataclass(frozen=True, slots=True)
class SequencedMessage:
    """A stored message with its place in its conversation (``seq``), as a node that missed it fetches it.

    ``deleted``: the message was deleted since; its place counts, nothing is delivered.
    """

    conv: str
    seq: int
    message: StoredMessage
    sender_ident: str
    rec_ident: str | None
    room_id: int | None
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One stored message, with who may see it, for EDIT, DELETE and REPORT.

    ``rec_ident`` is None for a lobby or room message; ``room_id`` is the
    room's for a room message.
    """

    id: int
    ts_ms: int
    sender: str
    rec: str
    content: str
    sender_ident: str
    rec_ident: str | None
    room_id: int | None
    edited_ms: int
    file_sha: str | None = None  # the blob of the file it shares, if it does


@dataclass(frozen=True)
class Room:
    """A room. ``name`` is as its creator typed it, without the ``#`` the wire adds."""

    id: int
    name: str
    topic: str
    private: bool
    created_ms: int

    @property
    def rec(self) -> str:
        """The room's address on the wire: ``#name``."""
        return f"#{self.name}"

    @property
    def key(self) -> str:
        """The room's name as names compare (the hub's and the core's key for it)."""
        return name_key(self.name)


@dataclass(frozen=True)
class Member:
    """One member of a room: the name it had when it joined or was last renamed, its ident, whether it is an operator."""

    name: str
    ident: str
    op: bool


@dataclass(frozen=True)
class Membership:
    """A room someone is in, and whether they are one of its operators."""

    room: Room
    op: bool


@dataclass(frozen=True)
class RoomSummary:
    """A public room as ROOMS lists it. ``name`` is without the ``#``."""

    name: str
    topic: str
    members: int

    @property
    def rec(self) -> str:
        return f"#{self.name}"


@dataclass(frozen=True)
class Summary:
    """What a user needs to list one conversation (a CONV frame).

    ``rec`` as on the wire: ``-ALL``, ``#name``, or the other party's current
    name. ``last``: the newest message's id (0: none); ``read``: the read
    marker; ``unread``: messages after it not sent by the user (at most
    1000); ``mentions``: how many of those mention the user. ``topic``,
    ``private``, ``op`` (the user is a member operator: admins are the
    caller's to add) and ``members`` are for rooms.
    """

    rec: str
    last: int
    read: int
    unread: int
    mentions: int
    topic: str = ""
    private: bool = False
    op: bool = False
    members: int = 0


@dataclass(frozen=True)
class Session:
    """A remembered resume token of an account (the token itself is never kept, only its hash)."""

    id: int
    account_id: int
    created_ms: int
    expires_ms: int
    last_used_ms: int
    address: str


RESTRICTION_KINDS = ("user", "address", "room", "mute")


@dataclass(frozen=True, slots=True)
class Restriction:
    """A ban or a mute (table ``bans``).

    ``kind``: ``user`` (a server ban of an account or a nickname),
    ``address`` (an address or a network), ``room`` (a ban from one room)
    or ``mute``. ``target``: the nickname as given, or the network's text
    (``198.51.100.7/32``, ``2001:db8::/64``). ``target_key``: the nickname's
    ``names.name_key`` (the network's text for an address ban). ``ident``:
    ``a:ID`` when the target is an account. ``room_id`` / ``room``: the room
    of a room ban or a mute (``#name``); a lobby mute has ``room_id`` None and
    ``room`` ``-ALL``; server bans have None and ``''``. ``until_ms`` 0: for good.
    """

    id: int
    kind: str
    target: str
    target_key: str
    ident: str | None
    room_id: int | None
    room: str
    reason: str
    by: str
    created_ms: int
    until_ms: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One moderation action: who (``actor``), what (``action``), to whom (``target``), where, when and why."""

    id: int
    at_ms: int
    actor: str
    action: str
    target: str
    room: str
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Report:
    """A user's report of a message: ``by`` reported message ``message_id`` (sent by ``sender`` to ``rec``).

    ``text``: the message's first 300 characters as it is now ('' once deleted).
    """

    id: int
    at_ms: int
    by: str
    message_id: int
    sender: str
    rec: str
    text: str
    reason: str

