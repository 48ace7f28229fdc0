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

from .core.actions import Audience, DeliverMessage, ShareLimit
from .core.presence import Claimed, Directory, OnlineUser, Presence, SessionKind
from .records import LOBBY, Room
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

    def claim(self, user: OnlineUser, member: Member, kind: SessionKind,
              attach: bool) -> Claimed | Awaitable[Claimed]:
        """Put ``user`` online with ``member`` as a session (presence.Directory.claim)."""

    def rename(self, member: Member, user: OnlineUser) -> bool | Awaitable[bool]:
        """Give ``member``'s user a new entry; False when the nickname is taken."""

    def release(self, member: Member, hold: bool = False) -> int | None:
        """End ``member``'s session; the user stays online with none if ``hold``. Returns the sessions left."""

    def drop(self, nickname: str) -> None:
        """Take a user offline, with whatever sessions it has (its grace ended)."""

    def broadcast(self, frame: Frame, audience: Audience = Audience.ALL) -> None:
        """Send ``frame`` to every session online, or to those of ``audience``."""

    def send_to(self, nickname: str, frame: Frame, rooms_only: bool = False) -> bool:
        """Send ``frame`` to every session of one user (only to those that know rooms, if ``rooms_only``);
        False when not online."""

    def kick(self, nickname: str, warning: Frame) -> bool:
        """Take a user offline and tell each of its sessions it was kicked; False when not online."""

    def join_room(self, room: str, ident: str) -> None:
        """The online user ``ident`` is in the room ``room`` (a key) from now on."""

    def leave_room(self, room: str, ident: str) -> None:
        """The user ``ident`` is no longer in ``room``."""

    def room_broadcast(self, room: str, frame: Frame) -> None:
        """Send ``frame`` to the sessions that know rooms of every online member of ``room``."""

    def deliver(self, message: DeliverMessage, echo: Member | None) -> None:
        """Send a committed chat message to its readers (``echo``: the sender's own session, when the
        message says so and it is still connected), in its conversation's order (actions.DeliverMessage)."""

    def room_updated(self, room: Room, gone: bool) -> None:
        """A room was created, changed or deleted by this process (other nodes' cores keep rooms in memory)."""

    def restrictions_changed(self) -> None:
        """A ban or mute was added or lifted by this process."""

    def share_limit(self, limit: ShareLimit) -> None:
        """Something counted against a per-address limit here (several nodes: every node counts it)."""


class LocalHub:
    """The hub for a single server process."""

    def __init__(self, batcher: WriteBatcher) -> None:
        self._batcher = batcher
        self._directory: Directory[Member] = Directory()

    def claim(self, user: OnlineUser, member: Member, kind: SessionKind = SessionKind(),
              attach: bool = False) -> Claimed:
        claimed = self._directory.claim(user, member, kind, attach)
        if claimed is not Claimed.TAKEN:
            self._batcher.subscribe(member.outbox)
        return claimed

    def rename(self, member: Member, user: OnlineUser) -> bool:
        return self._directory.rename(member, user)

    def release(self, member: Member, hold: bool = False) -> int | None:
        left = self._directory.release(member, hold)
        if left is not None:
            self._batcher.unsubscribe(member.outbox)
        return left

    def drop(self, nickname: str) -> None:
        for member in self._directory.drop(nickname):
            self._batcher.unsubscribe(member.outbox)

    def lookup(self, nickname: str) -> OnlineUser | None:
        return self._directory.lookup(nickname)

    def lookup_ident(self, ident: str) -> OnlineUser | None:
        return self._directory.lookup_ident(ident)

    def online(self) -> list[str]:
        return self._directory.online()

    def lookalikes(self, nickname: str) -> list[OnlineUser]:
        return self._directory.lookalikes(nickname)

    def count_list_changes(self) -> tuple[int, int]:
        return self._directory.count_list_changes()

    def sessions(self, nickname: str) -> int:
        return self._directory.sessions(nickname)

    def in_room(self, room: str, ident: str) -> bool:
        return self._directory.in_room(room, ident)

    def rooms_of(self, ident: str) -> list[str]:
        return self._directory.rooms_of(ident)

    def broadcast(self, frame: Frame, audience: Audience = Audience.ALL) -> None:
        self.broadcast_payload(encode_frame(frame), audience)

    def broadcast_payload(self, payload: bytes, audience: Audience = Audience.ALL) -> None:
        """``broadcast`` of a frame already encoded."""
        if audience is Audience.ROOMS:
            for member in self._directory.room_aware():
                member.deliver(payload)
            return
        if audience is not Audience.ALL:
            online, wanting_changes = self._directory.count_list_changes()
            wanted = wanting_changes if audience is Audience.CHANGES else online - wanting_changes
            if wanted < online:  # a part of the room: each member's own queue
                for member in self._directory.members(audience is Audience.CHANGES):
                    member.deliver(payload)
                return
        self._batcher.broadcast(payload)

    def send_to(self, nickname: str, frame: Frame, rooms_only: bool = False) -> bool:
        members = self._directory.sessions_of(nickname, rooms_only)
        if not members:
            return self._directory.lookup(nickname) is not None
        payload = encode_frame(frame)
        for member in members:
            member.deliver(payload)
        return True

    def send_payload(self, nickname: str, payload: bytes, rooms_only: bool = False) -> None:
        """``send_to`` of a frame already encoded."""
        for member in self._directory.sessions_of(nickname, rooms_only):
            member.deliver(payload)

    def kick(self, nickname: str, warning: Frame) -> bool:
        if self._directory.lookup(nickname) is None:
            return False
        members = self._directory.drop(nickname)
        for member in members:
            self._batcher.unsubscribe(member.outbox)
        for member in members:
            member.kicked(warning)
        return True

    def join_room(self, room: str, ident: str) -> None:
        self._directory.join_room(room, ident)

    def leave_room(self, room: str, ident: str) -> None:
        self._directory.leave_room(room, ident)

    def room_broadcast(self, room: str, frame: Frame) -> None:
        self.room_payload(room, encode_frame(frame))

    def room_payload(self, room: str, payload: bytes) -> None:
        """``room_broadcast`` of a frame already encoded: once, into each member's own queue (its cost grows
        with the room, not the server)."""
        for member in self._directory.room_sessions(room):
            member.deliver(payload)

    def deliver(self, message: DeliverMessage, echo: Member | None) -> None:
        deliver_here(self, message, echo)

    def room_updated(self, room: Room, gone: bool) -> None:
        pass  # one process: its core is the only one that keeps rooms

    def restrictions_changed(self) -> None:
        pass

    def share_limit(self, limit: ShareLimit) -> None:
        pass  # one process: its core counted it  # one process: its core has them in force already


def deliver_here(hub: "LocalHub", message: DeliverMessage, echo: Member | None, payload: bytes | None = None) -> None:
    """Send ``message`` (``payload``: its frame, encoded) to its readers with sessions in this process."""
    if payload is None:
        payload = encode_frame(message.frame)
    if message.room is not None:
        hub.room_payload(message.room, payload)
    elif message.conv == LOBBY:
        hub.broadcast_payload(payload)
    else:
        for nickname in message.to:
            hub.send_payload(nickname, payload)
        if echo is not None:
            echo.deliver(payload)
