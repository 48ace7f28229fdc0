"""The hub: where the online nicknames live and where frames fan out.

This is the seam for running several server processes: ``Hub`` is what the
adapter asks of it (the chat core reads its ``Presence`` and sends it
actions), ``LocalHub`` the in-process implementation. A distributed hub
(Redis, say) implements the same methods; the core does not change.

Fan-out formats and encodes a frame once and hands the bytes to the write
batcher, which keeps them once for every logged-in member and writes them
joined at the end of the loop iteration (see outbox.py): no client is ever
awaited, and a broadcast costs nothing per member until that write.
"""

from __future__ import annotations

from typing import Awaitable, Protocol

from parley.protocol import Frame
from parley.protocol.framing import encode_frame

from .core.actions import Audience
from .core.presence import Directory, OnlineUser, Presence
from .outbox import Outbox, WriteBatcher


class Member(Protocol):
    """What the hub needs of a connected, logged-in client."""

    outbox: Outbox

    def deliver(self, payload: bytes) -> None:
        """Queue one frame's bytes for this client."""

    def kicked(self, warning: Frame) -> None:
        """The user was kicked (and is offline already): warn it and close."""


class Hub(Presence, Protocol):
    """Claims and renames may be answered later (an awaitable), as a hub shared by several nodes must."""

    def claim(self, user: OnlineUser, member: Member) -> bool | Awaitable[bool]:
        """Put ``user`` online; False when the nickname is taken."""

    def rename(self, member: Member, user: OnlineUser) -> bool | Awaitable[bool]:
        """Give ``member`` a new entry; False when the nickname is taken."""

    def release(self, member: Member) -> bool:
        """Take ``member`` offline; False when it was not online."""

    def broadcast(self, frame: Frame, audience: Audience = Audience.ALL) -> None:
        """Send ``frame`` to everyone online, or to those of ``audience``."""

    def send_to(self, nickname: str, frame: Frame) -> bool:
        """Send ``frame`` to one user; False when not online."""

    def kick(self, nickname: str, warning: Frame) -> bool:
        """Take a user offline and tell its member it was kicked; False when not online."""


class LocalHub:
    """The hub for a single server process."""

    def __init__(self, batcher: WriteBatcher) -> None:
        self._batcher = batcher
        self._directory: Directory[Member] = Directory()

    def claim(self, user: OnlineUser, member: Member) -> bool:
        if not self._directory.claim(user, member):
            return False
        self._batcher.subscribe(member.outbox)
        return True

    def rename(self, member: Member, user: OnlineUser) -> bool:
        return self._directory.rename(member, user)

    def release(self, member: Member) -> bool:
        if not self._directory.release(member):
            return False
        self._batcher.unsubscribe(member.outbox)
        return True

    def lookup(self, nickname: str) -> OnlineUser | None:
        return self._directory.lookup(nickname)

    def online(self) -> list[str]:
        return self._directory.online()

    def lookalikes(self, nickname: str) -> list[OnlineUser]:
        return self._directory.lookalikes(nickname)

    def count_list_changes(self) -> tuple[int, int]:
        return self._directory.count_list_changes()

    def broadcast(self, frame: Frame, audience: Audience = Audience.ALL) -> None:
        payload = encode_frame(frame)
        if audience is not Audience.ALL:
            online, wanting_changes = self._directory.count_list_changes()
            wanted = wanting_changes if audience is Audience.CHANGES else online - wanting_changes
            if wanted < online:  # a part of the room: each member's own queue
                for member in self._directory.members(audience is Audience.CHANGES):
                    member.deliver(payload)
                return
        self._batcher.broadcast(payload)

    def send_to(self, nickname: str, frame: Frame) -> bool:
        member = self._directory.member(nickname)
        if member is None:
            return False
        member.deliver(encode_frame(frame))
        return True

    def kick(self, nickname: str, warning: Frame) -> bool:
        member = self._directory.member(nickname)
        if member is None:
            return False
        self.release(member)
        member.kicked(warning)
        return True
