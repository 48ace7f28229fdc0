"""Who is online, as the chat core sees it: the read side of the hub.

The hub (server/hub.py) is the seam where online users live and frames fan
out. The core reads presence through ``Presence`` and changes it only with
actions (``Claim``, ``Rename``, ``Release``, ``Kick``), so an in-process hub
and a distributed one are the same to it. ``Directory`` is the in-process
presence: plain dictionaries, no I/O, used by ``LocalHub`` and by the core's
tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from parley.protocol.names import lookalike_keys, name_key

M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class OnlineUser:
    nickname: str
    ident: str  # who the user is in message history
    is_admin: bool
    list_changes: bool = False  # asked for USERCHANGES (CON lists=changes) instead of whole lists


class Presence(Protocol):
    def lookup(self, nickname: str) -> OnlineUser | None:
        """Who is online under ``nickname`` (compared as nicknames are), or None."""

    def online(self) -> list[str]:
        """The nicknames online, in the order their users joined."""

    def lookalikes(self, nickname: str) -> list[OnlineUser]:
        """Who is online under a name ``nickname`` imitates (same UTS #39 look-alike key), itself included."""

    def count_list_changes(self) -> tuple[int, int]:
        """How many users are online, and how many of them asked for USERCHANGES."""


class Directory(Generic[M]):
    """Online users by nickname, each with the member (connection) that holds it, in join order."""

    def __init__(self) -> None:
        self._users: dict[str, tuple[OnlineUser, M]] = {}
        self._keys: dict[int, str] = {}  # id(member) -> name key
        self._lookalikes: dict[str, set[str]] = {}  # look-alike key -> name keys online
        self._lookalike_of: dict[str, frozenset[str]] = {}  # name key -> its look-alike keys

    def claim(self, user: OnlineUser, member: M) -> bool:
        """Put ``user`` online for ``member``; False when the nickname is taken (or the member is online)."""
        key = name_key(user.nickname)
        if key in self._users or id(member) in self._keys:
            return False
        self._users[key] = (user, member)
        self._keys[id(member)] = key
        self._index(user.nickname, key)
        return True

    def rename(self, member: M, user: OnlineUser) -> bool:
        """Give ``member`` the entry ``user``, keeping its place; False when taken or not online."""
        old = self._keys.get(id(member))
        new = name_key(user.nickname)
        if old is None or (new != old and new in self._users):
            return False
        self._users = {
            (new if key == old else key): ((user, member) if key == old else entry)
            for key, entry in self._users.items()
        }
        self._keys[id(member)] = new
        self._unindex(old)
        self._index(user.nickname, new)
        return True

    def release(self, member: M) -> bool:
        """Take ``member`` offline; False when it was not online."""
        key = self._keys.pop(id(member), None)
        if key is None:
            return False
        self._unindex(key)
        del self._users[key]
        return True

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

    def member(self, nickname: str) -> M | None:
        """The member online as ``nickname``, or None."""
        entry = self._users.get(name_key(nickname))
        return entry[1] if entry else None

    def lookup(self, nickname: str) -> OnlineUser | None:
        entry = self._users.get(name_key(nickname))
        return entry[0] if entry else None

    def online(self) -> list[str]:
        return [user.nickname for user, _ in self._users.values()]

    def lookalikes(self, nickname: str) -> list[OnlineUser]:
        keys = set().union(*(self._lookalikes.get(lookalike, ()) for lookalike in lookalike_keys(nickname)))
        return [self._users[key][0] for key in sorted(keys)]

    def count_list_changes(self) -> tuple[int, int]:
        return len(self._users), sum(user.list_changes for user, _ in self._users.values())

    def members(self, list_changes: bool) -> list[M]:
        """The members whose users asked for USERCHANGES (True), or for whole lists (False)."""
        return [member for user, member in self._users.values() if user.list_changes is list_changes]
