"""The hub: where the online nicknames live and where frames fan out.

This is the seam for running several server processes: ``Hub`` is the
interface the chat logic uses, ``LocalHub`` the in-process implementation.
A distributed hub (Redis, say) implements the same methods; nothing in the
protocol code needs to change.

Fan-out formats and encodes a frame once and hands the bytes to the write
batcher, which keeps them once for every logged-in member and writes them
joined at the end of the loop iteration (see outbox.py): no client is ever
awaited, and a broadcast costs nothing per member until that write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from parley.protocol import Frame
from parley.protocol.framing import encode_frame
from parley.protocol.names import name_key

from .outbox import Outbox, WriteBatcher


class Member(Protocol):
    """What the hub needs of a connected, logged-in client."""

    outbox: Outbox

    def deliver(self, payload: bytes) -> None: ...

    def kicked(self, warning: bytes) -> None: ...


@dataclass(frozen=True)
class OnlineUser:
    nickname: str
    ident: str  # who the user is in message history
    is_admin: bool


class Hub(Protocol):
    def claim(self, user: OnlineUser, member: Member) -> bool:
        """Put ``user`` online; False when the nickname is taken."""

    def rename(self, member: Member, user: OnlineUser) -> bool:
        """Give ``member`` a new nickname; False when it is taken."""

    def release(self, member: Member) -> bool:
        """Take ``member`` offline; False when it was not online."""

    def lookup(self, nickname: str) -> OnlineUser | None:
        """Return who is online under ``nickname`` (compared case-insensitively)."""

    def online(self) -> list[str]:
        """Nicknames online, in the order they joined."""

    def broadcast(self, frame: Frame) -> None:
        """Send ``frame`` to everyone online."""

    def send_to(self, nickname: str, frame: Frame) -> bool:
        """Send ``frame`` to one user; False when not online."""

    def kick(self, nickname: str, warning: Frame) -> bool:
        """Send ``warning`` to a user and disconnect it; False when not online."""


class LocalHub:
    """The hub for a single server process."""

    def __init__(self, batcher: WriteBatcher) -> None:
        self._batcher = batcher
        self._users: dict[str, tuple[OnlineUser, Member]] = {}
        self._keys: dict[int, str] = {}  # id(member) -> name key

    def claim(self, user: OnlineUser, member: Member) -> bool:
        key = name_key(user.nickname)
        if key in self._users or id(member) in self._keys:
            return False
        self._users[key] = (user, member)
        self._keys[id(member)] = key
        self._batcher.subscribe(member.outbox)
        return True

    def rename(self, member: Member, user: OnlineUser) -> bool:
        old = self._keys.get(id(member))
        new = name_key(user.nickname)
        if old is None or (new != old and new in self._users):
            return False
        # Keep the member's place in the join order.
        self._users = {
            (new if key == old else key): ((user, member) if key == old else entry)
            for key, entry in self._users.items()
        }
        self._keys[id(member)] = new
        return True

    def release(self, member: Member) -> bool:
        key = self._keys.pop(id(member), None)
        if key is None:
            return False
        del self._users[key]
        self._batcher.unsubscribe(member.outbox)
        return True

    def lookup(self, nickname: str) -> OnlineUser | None:
        entry = self._users.get(name_key(nickname))
        return entry[0] if entry else None

    def online(self) -> list[str]:
        return [user.nickname for user, _ in self._users.values()]

    def broadcast(self, frame: Frame) -> None:
        self._batcher.broadcast(encode_frame(frame))

    def send_to(self, nickname: str, frame: Frame) -> bool:
        entry = self._users.get(name_key(nickname))
        if entry is None:
            return False
        entry[1].deliver(encode_frame(frame))
        return True

    def kick(self, nickname: str, warning: Frame) -> bool:
        entry = self._users.get(name_key(nickname))
        if entry is None:
            return False
        self.release(entry[1])
        entry[1].kicked(encode_frame(warning))
        return True
