"""The chat core in memory: no event loop, no socket, a clock the test moves.

``ChatWorld`` feeds a real ``ChatCore`` events and performs its actions the
way the asyncio adapter does, but synchronously: frames land in each peer's
list, the hub is the core's own in-process ``Directory``, database requests
go to a real ``Store`` on a SQLite file, passwords to the real hashing
functions, and timers fire when the test moves the clock. Tests that want to
see the raw actions call ``ChatCore.handle`` themselves instead.
"""

from __future__ import annotations

import collections
import itertools
from pathlib import Path
from typing import Any, Callable

from parley.protocol import Frame, format_frame, parse_frame
from server import passwords
from server.config import ServerConfig
from server.core import ChatCore, Directory, Now
from server.core import actions as a
from server.core import events as e
from server.core.chats import StagedChat
from server.records import LOBBY
from server.store import Store, database_path

START_WALL = 1_700_000_000.0  # 2023-11-14, for stamps


class Peer:
    """One connection as the world sees it: the frames it was sent, and how it ended."""

    def __init__(self, conn: int) -> None:
        self.id = conn
        self.frames: list[Frame] = []
        self.closed = False
        self.legacy = False
        self.reading = True

    def take(self, reason: str | None = None) -> list[Frame]:
        """The frames received since the last take (only ``reason``'s, if given; the rest are dropped)."""
        frames, self.frames = self.frames, []
        return [f for f in frames if reason is None or f.reason == reason]

    def contents(self, reason: str | None = None) -> list[str]:
        return [f.content for f in self.take(reason)]


class ChatWorld:
    def __init__(self, data_dir: Path, **settings: Any) -> None:
        self.config = ServerConfig(host="127.0.0.1", port=0, data_dir=data_dir)
        for name, value in settings.items():
            setattr(self.config, name, value)
        self.store = Store(database_path(data_dir))
        self.directory: Directory[Peer] = Directory()
        self.core = ChatCore(self.config, self.directory, self.store.admin_names())
        self.monotonic = 1000.0
        self.wall = START_WALL
        self.peers: dict[int, Peer] = {}
        self.timers: dict[int, float] = {}
        self.user_list_at: float | None = None
        self.grace_at: float | None = None
        self.commit_at_once = True  # False: StoreMessage actions wait in ``uncommitted``
        self.uncommitted: list[StagedChat] = []
        self.actions: list[a.Action] = []  # every action performed, in order
        self._ids = itertools.count(1)
        self._queue: collections.deque[e.Event] = collections.deque()

    def close(self) -> None:
        self.store.close()

    # Feeding events ------------------------------------------------------------

    def connect(self, host: str = "127.0.0.1", proxied: bool = False) -> Peer:
        peer = Peer(next(self._ids))
        self.peers[peer.id] = peer
        self.run(e.Connected(peer.id, host, 40000 + peer.id, proxied))
        return peer

    def send(self, peer: Peer, *lines: str) -> None:
        """``lines`` as one read, each ended with ``\\n``."""
        self.run(e.DataReceived(peer.id, "".join(line + "\n" for line in lines).encode()))

    def login(self, nickname: str, password: str = "", color: str = "#123456", host: str = "127.0.0.1") -> Peer:
        peer = self.connect(host)
        self.send(peer, f"CON,nickname={nickname};password={password};color={color},")
        conver = peer.take("CONVER")
        assert conver and conver[0].content == "OK", conver
        return peer

    def run(self, event: e.Event) -> None:
        """Feed ``event`` and everything its actions cause, as the adapter does."""
        self._queue.append(event)
        while self._queue:
            for action in self.core.handle(self._queue.popleft(), Now(self.monotonic, self.wall)):
                self.actions.append(action)
                _PERFORM[type(action)](self, action)

    def advance(self, seconds: float) -> None:
        """Move the clock on, firing the timers that come due, in order."""
        end = self.monotonic + seconds
        while True:
            due = [(at, conn) for conn, at in self.timers.items() if at <= end]
            if self.user_list_at is not None and self.user_list_at <= end:
                due.append((self.user_list_at, 0))
            if self.grace_at is not None and self.grace_at <= end:
                due.append((self.grace_at, -1))
            if not due:
                break
            at, conn = min(due)
            self.monotonic = max(self.monotonic, at)
            if conn == 0:
                self.user_list_at = None
                self.run(e.UserListDue())
            elif conn == -1:
                self.grace_at = None
                self.run(e.GraceDue())
            else:
                del self.timers[conn]
                self.run(e.TimerFired(conn))
        self.wall += end - self.monotonic
        self.monotonic = end

    def commit(self) -> None:
        """Commit the messages held back (``commit_at_once = False``)."""
        held, self.uncommitted = self.uncommitted, []
        ids = self.store.append_sequenced([chat.record for chat in held])
        for chat, (message_id, seq) in zip(held, ids):
            self.run(e.MessageStored(chat, message_id, seq=seq))

    # Performing actions -------------------------------------------------------

    def _send(self, action: a.Send) -> None:
        peer = self.peers[action.conn]
        if not peer.closed:
            peer.frames.append(_wire(action.frame))

    def _close(self, action: a.Close) -> None:
        self.peers[action.conn].closed = True
        self.timers.pop(action.conn, None)

    def _set_timer(self, action: a.SetTimer) -> None:
        if action.at is None:
            self.timers.pop(action.conn, None)
        else:
            self.timers[action.conn] = action.at

    def _legacy(self, action: a.UseLegacyFraming) -> None:
        self.peers[action.conn].legacy = True

    def _reading(self, action: a.SetReading) -> None:
        self.peers[action.conn].reading = action.reading

    def _store(self, action: a.StoreMessage) -> None:
        self.uncommitted.append(action.chat)
        if self.commit_at_once:
            self.commit()

    def _user_list_timer(self, action: a.SetUserListTimer) -> None:
        self.user_list_at = action.at

    def _grace_timer(self, action: a.SetGraceTimer) -> None:
        self.grace_at = action.at

    def _broadcast(self, action: a.Broadcast) -> None:
        if action.audience is a.Audience.ALL:
            peers = self.directory.members(True) + self.directory.members(False)
            peers.sort(key=lambda peer: peer.id)
        elif action.audience is a.Audience.ROOMS:
            peers = self.directory.room_aware()
        else:
            peers = self.directory.members(action.audience is a.Audience.CHANGES)
        for peer in peers:
            peer.frames.append(_wire(action.frame))

    def _send_to(self, action: a.SendTo) -> None:
        for peer in self.directory.sessions_of(action.nickname, action.rooms_only):
            peer.frames.append(_wire(action.frame))

    def _room_broadcast(self, action: a.RoomBroadcast) -> None:
        for peer in self.directory.room_sessions(action.room):
            peer.frames.append(_wire(action.frame))

    def _deliver(self, action: a.DeliverMessage) -> None:
        if action.room is not None:
            self._room_broadcast(a.RoomBroadcast(action.room, action.frame))
        elif action.conv == LOBBY:
            self._broadcast(a.Broadcast(action.frame))
        else:
            for nickname in action.to:
                self._send_to(a.SendTo(nickname, action.frame))
            if action.echo is not None:
                self._send(a.Send(action.echo, action.frame))

    def _join_room(self, action: a.JoinRoom) -> None:
        self.directory.join_room(action.room, action.ident)

    def _leave_room(self, action: a.LeaveRoom) -> None:
        self.directory.leave_room(action.room, action.ident)

    def _kick(self, action: a.Kick) -> None:
        for peer in self.directory.drop(action.nickname):
            self._queue.append(e.Kicked(peer.id, action.warning))

    def _release(self, action: a.Release) -> None:
        self.directory.release(self.peers[action.conn], action.hold)

    def _drop(self, action: a.Drop) -> None:
        self.directory.drop(action.nickname)

    def _background(self, action: a.Background) -> None:
        getattr(self.store, action.call.method)(*action.call.args)

    def _request(self, action: a.Request) -> None:
        try:
            result = self._answer(self.peers[action.conn], action.what)
        except Exception as error:
            self._queue.append(e.Completed(action.conn, None, error))
        else:
            self._queue.append(e.Completed(action.conn, result))

    def _answer(self, peer: Peer, what: a.RequestKind) -> Any:
        store = self.store
        answers: dict[type, Callable[[Any], Any]] = {
            a.Claim: lambda w: self.directory.claim(w.user, peer, w.kind, w.attach),
            a.StoreCall: lambda w: getattr(store, w.method)(*w.args),
            a.Rename: lambda w: self.directory.rename(peer, w.user),
            a.LoadAccount: lambda w: store.get_account(w.nickname),
            a.FindLookalike: lambda w: store.find_lookalike(w.nickname, w.except_id),
            a.CheckPassword: lambda w: passwords.check_password(w.password, w.password_hash),
            a.UpgradePassword: lambda w: store.upgrade_password(w.account_id, w.old_hash, w.new_hash),
            a.HashPassword: lambda w: passwords.hash_password(w.password),
            a.CreateAccount: lambda w: store.add_account(w.name, w.role, w.password_hash, adopt=w.adopt),
            a.RenameAccount: lambda w: store.rename_account(w.account_id, w.name),
            a.SetPassword: lambda w: store.set_password(w.account_id, w.password_hash),
            a.LoadHistory: lambda w: store.recent_messages(list(w.idents), w.limit),
            a.LoadAdmins: lambda w: store.admin_names(),
            a.AwaitDrain: lambda w: None,  # every peer here takes what it is sent at once
            a.JoinRoom: lambda w: self.directory.join_room(w.room, w.ident),
            a.LeaveRoom: lambda w: self.directory.leave_room(w.room, w.ident),
        }
        return answers[type(what)](what)


def _wire(frame: Frame) -> Frame:
    """The frame as a client reads it off the wire (formatted, then parsed)."""
    return parse_frame(format_frame(frame))


_PERFORM: dict[type, Callable[[ChatWorld, Any], None]] = {
    a.Send: ChatWorld._send,
    a.Close: ChatWorld._close,
    a.SetTimer: ChatWorld._set_timer,
    a.UseLegacyFraming: ChatWorld._legacy,
    a.SetReading: ChatWorld._reading,
    a.StoreMessage: ChatWorld._store,
    a.SetUserListTimer: ChatWorld._user_list_timer,
    a.SetGraceTimer: ChatWorld._grace_timer,
    a.Background: ChatWorld._background,
    a.Broadcast: ChatWorld._broadcast,
    a.SendTo: ChatWorld._send_to,
    a.RoomBroadcast: ChatWorld._room_broadcast,
    a.DeliverMessage: ChatWorld._deliver,
    a.RoomUpdated: lambda world, action: None,  # one process
    a.RestrictionsChanged: lambda world, action: None,
    a.ShareLimit: lambda world, action: None,
    a.JoinRoom: ChatWorld._join_room,
    a.LeaveRoom: ChatWorld._leave_room,
    a.Kick: ChatWorld._kick,
    a.Release: ChatWorld._release,
    a.Drop: ChatWorld._drop,
    a.Request: ChatWorld._request,
}
