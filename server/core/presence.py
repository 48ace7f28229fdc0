"""Who is online, as the chat core sees it: the read side of the hub.

The hub (server/hub.py) is the seam where online users live and frames fan
out. The core reads presence through ``Presence`` and changes it only with
actions (``Claim``, ``Rename``, ``Release``, ``Drop``, ``Kick``, ``JoinRoom``,
``LeaveRoom``), so an in-process hub and a distributed one are the same to
it. ``Directory`` is the in-process presence: plain dictionaries, no I/O, used
by ``LocalHub`` and by the core's tests.

A user online is one nickname with one or more sessions (connections: a
second tab, another device, a reloaded page). A user may also be online with
no session for a while (the grace after a reload, chat.py): the nickname
stays taken, its rooms stay, nothing is delivered to it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Generic, Iterator, Protocol, TypeVar

from parley.protocol.names import lookalike_keys, name_key

M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class OnlineUser:
    nickname: str
    ident: str  # who the user is in message history
    is_admin: bool


@dataclass(frozen=True, slots=True)
class SessionKind:
    """What one session (connection) of a user asked for at CON."""

    list_changes: bool = False  # USERCHANGES instead of whole lists (lists=changes)
    rooms: bool = False  # knows rooms and conversations (rooms=1): may be sent their frames


class Claimed(enum.Enum):
    NEW = "new"  # the nickname was free: the user is online now
    ATTACHED = "attached"  # the same user was online: this is one more of its sessions
    TAKEN = "taken"  # someone else is online under that nickname
    UNAVAILABLE = "unavailable"  # a hub shared by several nodes could not ask who holds the nickname


class Presence(Protocol):
    def lookup(self, nickname: str) -> OnlineUser | None:
        """Who is online under ``nickname`` (compared as nicknames are), or None."""

    def lookup_ident(self, ident: str) -> OnlineUser | None:
        """The user online as ``ident``, or None."""

    def online(self) -> list[str]:
        """The nicknames online, in the order their users joined."""

    def lookalikes(self, nickname: str) -> list[OnlineUser]:
        """Who is online under a name ``nickname`` imitates (same UTS #39 look-alike key), itself included."""

    def count_list_changes(self) -> tuple[int, int]:
        """How many sessions are online, and how many of them asked for USERCHANGES."""

    def sessions(self, nickname: str) -> int:
        """How many sessions the user online as ``nickname`` has (0: none, or in its grace)."""

    def in_room(self, room: str, ident: str) -> bool:
        """Whether the user ``ident``, online, is a member of the room whose key is ``room``."""

    def rooms_of(self, ident: str) -> list[str]:
        """The keys of the rooms the online user ``ident`` is in."""


class _Entry(Generic[M]):
    __slots__ = ("user", "sessions")

    def __init__(self, user: OnlineUser) -> None:
        self.user = user
        self.sessions: list[tuple[M, SessionKind]] = []


class Directory(Generic[M]):
    """Online users by nickname, each with its sessions (members), in join order; and who is in which room."""

    def __init__(self) -> None:
        self._users: dict[str, _Entry[M]] = {}  # name key -> entry
        self._keys: dict[int, str] = {}  # id(member) -> name key
        self._by_ident: dict[str, str] = {}  # ident -> name key
        self._lookalikes: dict[str, set[str]] = {}  # look-alike key -> name keys online
        self._lookalike_of: dict[str, frozenset[str]] = {}  # name key -> its look-alike keys
        self._rooms: dict[str, dict[str, None]] = {}  # room key -> idents online in it, in join order
        self._rooms_of: dict[str, dict[str, None]] = {}  # ident -> room keys
        self._list_changes = 0  # sessions that asked for USERCHANGES
        self._session_count = 0

    # Users and sessions --------------------------------------------------------

    def claim(self, user: OnlineUser, member: M, kind: SessionKind = SessionKind(), attach: bool = False) -> Claimed:
        """Put ``user`` online with ``member`` as a session.

        With ``attach``, a user already online under the nickname with the same
        ident gains ``member`` as another session; otherwise the nickname must be free.
        """
        if id(member) in self._keys:
            return Claimed.TAKEN
        key = name_key(user.nickname)
        entry = self._users.get(key)
        if entry is not None:
            if not attach or entry.user.ident != user.ident:
                return Claimed.TAKEN
            self._add_session(entry, key, member, kind)
            return Claimed.ATTACHED
        entry = self._users[key] = _Entry(user)
        self._by_ident[user.ident] = key
        self._index(user.nickname, key)
        self._add_session(entry, key, member, kind)
        return Claimed.NEW

    def place(self, user: OnlineUser) -> bool:
        """Put ``user`` online with no session here (its sessions are another node's); False when the
        nickname is someone else's here. Already online as itself: nothing changes."""
        key = name_key(user.nickname)
        entry = self._users.get(key)
        if entry is not None:
            return entry.user.ident == user.ident
        self._users[key] = _Entry(user)
        self._by_ident[user.ident] = key
        self._index(user.nickname, key)
        return True

    def _add_session(self, entry: _Entry[M], key: str, member: M, kind: SessionKind) -> None:
        entry.sessions.append((member, kind))
        self._keys[id(member)] = key
        self._session_count += 1
        self._list_changes += kind.list_changes

    def rename(self, member: M, user: OnlineUser) -> bool:
        """Give ``member``'s user the entry ``user`` (all its sessions), keeping its place; False when taken."""
        old = self._keys.get(id(member))
        new = name_key(user.nickname)
        if old is None or (new != old and new in self._users):
            return False
        entry = self._users[old]
        if entry.user.ident != user.ident:  # a guest registered: its rooms are the account's now
            self._move_ident(entry.user.ident, user.ident)
        entry.user = user
        if new != old:
            self._users = {(new if key == old else key): value for key, value in self._users.items()}
            for session, _ in entry.sessions:
                self._keys[id(session)] = new
        self._by_ident[user.ident] = new
        self._unindex(old)
        self._index(user.nickname, new)
        return True

    def _move_ident(self, old: str, new: str) -> None:
        self._by_ident.pop(old, None)
        rooms = self._rooms_of.pop(old, {})
        if rooms:
            self._rooms_of[new] = rooms
        for room in rooms:
            idents = self._rooms[room]
            self._rooms[room] = {(new if ident == old else ident): None for ident in idents}

    def release(self, member: M, hold: bool = False) -> int | None:
        """End ``member``'s session; return how many its user still has (None: it was not online).

        The last session's user goes offline, unless ``hold``: then it stays
        online with no session until ``drop``.
        """
        key = self._keys.pop(id(member), None)
        if key is None:
            return None
        entry = self._users[key]
        for at, (session, kind) in enumerate(entry.sessions):
            if session is member:
                del entry.sessions[at]
                self._session_count -= 1
                self._list_changes -= kind.list_changes
                break
        if not entry.sessions and not hold:
            self._remove(key)
        return len(entry.sessions)

    def drop(self, nickname: str) -> list[M]:
        """Take the user online as ``nickname`` offline with all its sessions; return them."""
        key = name_key(nickname)
        entry = self._users.get(key)
        if entry is None:
            return []
        members = [member for member, _ in entry.sessions]
        for member, kind in entry.sessions:
            del self._keys[id(member)]
            self._session_count -= 1
            self._list_changes -= kind.list_changes
        entry.sessions = []
        self._remove(key)
        return members

    def _remove(self, key: str) -> None:
        entry = self._users.pop(key)
        ident = entry.user.ident
        if self._by_ident.get(ident) == key:
            del self._by_ident[ident]
        for room in self._rooms_of.pop(ident, {}):
            idents = self._rooms[room]
            idents.pop(ident, None)
            if not idents:
                del self._rooms[room]
        self._unindex(key)

    def _index(self, nickname: str, key: str) -> None:
        self._lookalike_of[key] = lookalikes = frozenset(lookalike_keys(nickname))
        for lookalike in lookalikes:
            self._lookalikes.setdefault(lookalike, set()).add(key)

    def _unindex(self, key: str) -> None:
        for lookalike in self._lookalike_of.pop(key):
            keys = self._lookalikes[lookalike]
            keys.discard(key)
            if not keys:
                del self._lookalikes[lookalike]

    # Rooms -------------------------------------------------------------------

    def join_room(self, room: str, ident: str) -> bool:
        """The online user ``ident`` is now in ``room``; False when it is not online."""
        if ident not in self._by_ident:
            return False
        self._rooms.setdefault(room, {})[ident] = None
        self._rooms_of.setdefault(ident, {})[room] = None
        return True

    def leave_room(self, room: str, ident: str) -> None:
        idents = self._rooms.get(room)
        if idents is not None and idents.pop(ident, 0) is None and not idents:
            del self._rooms[room]
        rooms = self._rooms_of.get(ident)
        if rooms is not None and rooms.pop(room, 0) is None and not rooms:
            del self._rooms_of[ident]

    def room_sessions(self, room: str) -> Iterator[M]:
        """The sessions that know rooms (rooms=1) of every online member of ``room``."""
        for ident in self._rooms.get(room, ()):
            entry = self._users[self._by_ident[ident]]
            for member, kind in entry.sessions:
                if kind.rooms:
                    yield member

    # Reading -----------------------------------------------------------------

    def sessions_of(self, nickname: str, rooms_only: bool = False) -> list[M]:
        """The sessions of the user online as ``nickname`` (only those that know rooms, if ``rooms_only``)."""
        entry = self._users.get(name_key(nickname))
        if entry is None:
            return []
        return [member for member, kind in entry.sessions if kind.rooms or not rooms_only]

    def lookup(self, nickname: str) -> OnlineUser | None:
        entry = self._users.get(name_key(nickname))
        return entry.user if entry else None

    def lookup_ident(self, ident: str) -> OnlineUser | None:
        key = self._by_ident.get(ident)
        return self._users[key].user if key is not None else None

    def user_of(self, member: M) -> OnlineUser | None:
        key = self._keys.get(id(member))
        return self._users[key].user if key is not None else None

    def online(self) -> list[str]:
        return [entry.user.nickname for entry in self._users.values()]

    def lookalikes(self, nickname: str) -> list[OnlineUser]:
        keys = set().union(*(self._lookalikes.get(lookalike, ()) for lookalike in lookalike_keys(nickname)))
        return [self._users[key].user for key in sorted(keys)]

    def count_list_changes(self) -> tuple[int, int]:
        return self._session_count, self._list_changes

    def sessions(self, nickname: str) -> int:
        entry = self._users.get(name_key(nickname))
        return len(entry.sessions) if entry else 0

    def in_room(self, room: str, ident: str) -> bool:
        return ident in self._rooms.get(room, ())

    def rooms_of(self, ident: str) -> list[str]:
        return list(self._rooms_of.get(ident, ()))

    def room_aware(self) -> list[M]:
        """The sessions that know rooms (CON rooms=1)."""
        return [member for entry in self._users.values() for member, kind in entry.sessions if kind.rooms]

    def members(self, list_changes: bool) -> list[M]:
        """The sessions that asked for USERCHANGES (True), or for whole lists (False)."""
        return [member for entry in self._users.values() for member, kind in entry.sessions
                if kind.list_changes is list_changes]
