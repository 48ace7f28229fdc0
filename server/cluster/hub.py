"""The hub of one node among several: presence in PostgreSQL, fan-out over Redis, delivery in order.

``ClusterHub`` is a ``Hub`` (server/hub.py) for a server that shares its
users, rooms and history with other nodes:

* **Presence.** PostgreSQL holds who is online (``online_users``) and which
  node holds their sessions (``online_sessions``, one row a user a node, with
  its count). A claim is an INSERT, so a nickname is unique across the
  cluster whatever Redis does. Every node keeps a copy of everyone online in
  a ``Directory`` (its own sessions, and other nodes' users as entries with
  none), kept current by the bus and read again whole from PostgreSQL when
  the bus comes back.
* **Liveness.** Each node writes its heartbeat (``cluster_nodes.seen``, the
  database's clock) every ``node_timeout / 5`` seconds; any node deletes the
  nodes not seen for ``node_timeout`` seconds, and with them their sessions,
  so a killed node's users leave everyone's lists within that time. A node
  that finds its own row gone (it was paused, or cut off from PostgreSQL,
  for longer than that) has been written off: it ends its sessions cleanly
  and joins again, so it never holds a nickname someone else has taken since.
* **Fan-out.** One publish per event on the Redis bus (a chat message: one
  per message, never one per receiver); each node hands it to its own
  sessions. User lists are made by each node for its own clients.
* **Order and completeness.** A chat message carries its conversation's
  ``seq`` (PostgreSQL numbers each conversation's messages in commit order).
  Every node, the sender's included, delivers a conversation's messages
  through a ``Sequencer`` in that order; a gap (a message the bus lost) is
  fetched from the database, and so is whatever a poll of the conversations'
  newest seqs shows was missed (every ``catch_up`` seconds, more often while
  the bus is down). PostgreSQL is the record; the bus is how nodes hear of
  it quickly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable

import psycopg

from parley.protocol import Frame, messages, texts
from parley.protocol.framing import encode_frame
from parley.protocol.messages import Stamp
from parley.protocol.names import name_key

from ..core import events as e
from ..core.actions import Audience, DeliverMessage, ShareLimit
from ..core.presence import Claimed, OnlineUser, SessionKind
from ..hub import LocalHub, Member, deliver_here
from ..outbox import WriteBatcher
from ..pgstore import server_went_away
from ..records import Room, SequencedMessage
from .bus import Bus
from .sequencer import Gap, Sequencer

log = logging.getLogger("parley.cluster")

FETCH_LIMIT = 500  # messages fetched for one gap at a time
LIST_CHANGES = (Audience.LISTS, Audience.CHANGES)  # made by each node for its own clients


@dataclass
class ClusterStats:
    """What /metrics shows of the cluster, for this node."""

    nodes_reaped: int = 0
    gaps_fetched: int = 0
    caught_up: int = 0  # messages delivered from the database rather than the bus
    fenced: int = 0  # times this node found itself written off and rejoined


class ClusterHub:
    """A ``Hub`` shared by several nodes (see the module's docstring)."""

    def __init__(self, batcher: WriteBatcher, node: str, database: str, redis: str, *, cluster: str = "parley",
                 node_timeout: float = 15.0, catch_up: float = 2.0, gap_wait: float = 0.25) -> None:
        self.node = node
        self.local = LocalHub(batcher)
        self._directory = self.local._directory
        self._database = database
        self._node_timeout = node_timeout
        self._catch_up = catch_up
        self._remote: dict[str, dict[str, int]] = {}  # name key -> {node: its sessions of the user}
        self.sequencer: Sequencer[tuple[DeliverMessage, bytes, Member | None]] = Sequencer(gap_wait)
        self.bus = Bus(redis, node, on_message=self._heard, on_state=self._bus_state, cluster=cluster)
        self.stats = ClusterStats()
        self._pg: psycopg.AsyncConnection[Any] | None = None
        self._pg_lock = asyncio.Lock()
        self._beat_pg: psycopg.AsyncConnection[Any] | None = None  # the heartbeat's own
        self._tasks: list[asyncio.Task[None]] = []
        self._polled_ms = 0  # the database's conversations were last polled for what changed since then
        self._bus_down_since: float | None = None
        self._held: set[str] = set()  # name keys of users this node holds with no session (in their grace)
        self._closing = False
        # Set by the server once its core and database exist.
        self.drive: Callable[[e.Event], None] = lambda event: None
        self.fetch: Callable[[str, int, int], Awaitable[list[SequencedMessage]]] | None = None
        self.conversations: Callable[[int], Awaitable[list[tuple[str, int]]]] | None = None
        self.render: Callable[[SequencedMessage], DeliverMessage | None] = lambda message: None
        self.reload_restrictions: Callable[[], None] = lambda: None

    # Starting and stopping ------------------------------------------------------

    async def start(self) -> None:
        """Join the cluster: register, read who is online and how far each conversation is, hear the bus."""
        self._pg = await self._connect()
        await self._register()
        await self._load_presence(announce=False)
        if self.conversations is not None:
            self._polled_ms = int(time.time() * 1000)
            for conv, seq in await self.conversations(0):
                self.sequencer.start(conv, seq)
        self.bus.start()
        loop = asyncio.get_running_loop()
        for job in (self._heartbeats(), self._gaps(), self._polls()):
            self._tasks.append(loop.create_task(job))
        log.info("node %s joined the cluster (%d users online elsewhere)", self.node, len(self._remote))

    async def close(self) -> None:
        """Leave the cluster: this node's sessions leave everyone's lists at once, not after the timeout."""
        self._closing = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        try:
            await self._sql("DELETE FROM cluster_nodes WHERE id = %s", (self.node,))
            await self._sql(_ORPHANS_GONE)
            self.bus.publish({"k": "gone", "node": self.node})
        except Exception as error:  # noqa: BLE001 (the others write it off after the timeout)
            log.warning("leaving the cluster: %s", error)
        await self.bus.close()
        for connection in (self._pg, self._beat_pg):
            if connection is not None:
                await connection.close()

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(self._database, autocommit=True, connect_timeout=5)

    @asynccontextmanager
    async def _statement(self, query: str, args: tuple[Any, ...]) -> AsyncIterator[psycopg.AsyncCursor[Any]]:
        """Run one statement on the presence connection (reconnecting if it broke), holding it while the
        caller reads the cursor; a broken connection is closed, to be replaced on the next use."""
        async with self._pg_lock:
            connection = await self._presence_connection()
            try:
                cursor = await connection.execute(query, args)
            except psycopg.OperationalError:
                await connection.close()
                raise
            yield cursor

    async def _sql(self, query: str, args: tuple[Any, ...] = ()) -> int:
        """Run one statement; its row count."""
        async with self._statement(query, args) as cursor:
            return cursor.rowcount

    async def _sql_rows(self, query: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one query; its rows."""
        async with self._statement(query, args) as cursor:
            return await cursor.fetchall()

    async def _presence_connection(self) -> psycopg.AsyncConnection[Any]:
        if self._pg is not None and not self._pg.closed and not self._pg.broken and server_went_away(self._pg):
            await self._pg.close()  # PostgreSQL restarted since the last statement: connect again at once
        if self._pg is None or self._pg.closed or self._pg.broken:
            self._pg = await self._connect()
        return self._pg

    async def _register(self) -> None:
        """This node's row; what a node of the same name left behind (a crash) is cleared first."""
        await self._sql("DELETE FROM cluster_nodes WHERE id = %s", (self.node,))
        await self._sql(_ORPHANS_GONE)
        await self._sql("INSERT INTO cluster_nodes (id, started_ms) VALUES (%s, %s)",
                        (self.node, int(time.time() * 1000)))

    # Presence: what the core reads ------------------------------------------------

    def lookup(self, nickname: str) -> OnlineUser | None:
        return self._directory.lookup(nickname)

    def lookup_ident(self, ident: str) -> OnlineUser | None:
        return self._directory.lookup_ident(ident)

    def online(self) -> list[str]:
        return self._directory.online()

    def lookalikes(self, nickname: str) -> list[OnlineUser]:
        return self._directory.lookalikes(nickname)

    def count_list_changes(self) -> tuple[int, int]:
        return self._directory.count_list_changes()  # this node's sessions: its user lists are its own

    def sessions(self, nickname: str) -> int:
        """This node's sessions of the user, and the others': a node that holds it in its grace counts one."""
        return self._directory.sessions(nickname) + sum(max(1, n) for n in self._remote.get(name_key(nickname), {}).values())

    def in_room(self, room: str, ident: str) -> bool:
        return self._directory.in_room(room, ident)

    def rooms_of(self, ident: str) -> list[str]:
        return self._directory.rooms_of(ident)

    # Presence: changes -----------------------------------------------------------------

    async def claim(self, user: OnlineUser, member: Member, kind: SessionKind = SessionKind(),
                    attach: bool = False) -> Claimed:
        key = name_key(user.nickname)
        try:
            rows = await self._sql_rows(_CLAIM, (self.node, key, user.nickname, user.ident, user.is_admin, key))
        except psycopg.Error as error:
            log.error("%s: could not claim the nickname in the database: %s", user.nickname, error)
            return Claimed.UNAVAILABLE
        registered, inserted, holder = rows[0]
        if not registered:
            self._written_off()
            return Claimed.TAKEN
        if not inserted and (holder != user.ident or not attach):
            return Claimed.TAKEN
        known = self._directory.lookup(user.nickname)
        if known is not None and known.ident != user.ident:  # a stale copy: the database says it is gone
            self._forget(key, known.nickname, announce=True)
        # The row first: once claimed here the session is subscribed to broadcasts, and none may reach
        # it before the core has sent its CONVER (no await between the local claim and the return).
        count = self._directory.sessions(user.nickname) + 1
        await self._sql(_SESSIONS, (key, self.node, count, count))
        claimed = self.local.claim(user, member, kind, attach=True)
        if claimed is Claimed.TAKEN:
            return claimed
        self._held.discard(key)
        new = inserted and claimed is Claimed.NEW
        self.bus.publish({"k": "on", "key": key, "nick": user.nickname, "ident": user.ident,
                          "admin": user.is_admin, "s": count, "new": new})
        return Claimed.NEW if new else Claimed.ATTACHED

    async def rename(self, member: Member, user: OnlineUser) -> bool:
        old = self._directory.user_of(member)
        if old is None:
            return False
        old_key, new_key = name_key(old.nickname), name_key(user.nickname)
        if new_key != old_key and self._directory.lookup(user.nickname) is not None:
            return False
        try:
            changed = await self._sql(
                "UPDATE online_users SET key = %s, nickname = %s, ident = %s, is_admin = %s WHERE key = %s",
                (new_key, user.nickname, user.ident, user.is_admin, old_key))
        except psycopg.errors.UniqueViolation:
            return False
        except psycopg.Error as error:
            log.error("%s: could not rename in the database: %s", old.nickname, error)
            return False
        if not changed or not self.local.rename(member, user):
            return False
        self._remote[new_key] = self._remote.pop(old_key, {})
        if not self._remote[new_key]:
            del self._remote[new_key]
        self.bus.publish({"k": "ren", "old": old.nickname, "nick": user.nickname, "ident": user.ident,
                          "admin": user.is_admin})
        return True

    def release(self, member: Member, hold: bool = False) -> int | None:
        user = self._directory.user_of(member)
        left = self.local.release(member, hold)
        if user is None or left is None:
            return left
        if left == 0 and not hold:
            self._let_go(user)
        else:
            if left == 0:
                self._held.add(name_key(user.nickname))
            self._count_changed(user, left)
        return left + sum(self._remote.get(name_key(user.nickname), {}).values())

    def drop(self, nickname: str) -> None:
        user = self._directory.lookup(nickname)
        self.local.drop(nickname)
        if user is not None:
            self._let_go(user)

    def kick(self, nickname: str, warning: Frame) -> bool:
        user = self._directory.lookup(nickname)
        if user is None:
            return False
        key = name_key(nickname)
        self.local.kick(nickname, warning)
        self._remote.pop(key, None)
        self._held.discard(key)
        self._in_background(self._sql("DELETE FROM online_users WHERE key = %s", (key,)))
        self.bus.publish({"k": "kick", "key": key, "nick": nickname,
                          "w": [warning.reason, dict(warning.params), warning.content]})
        return True

    def _let_go(self, user: OnlineUser) -> None:
        """This node holds ``user`` no longer: the database and the others are told; it stays online
        here as another node's user if it has sessions there."""
        key = name_key(user.nickname)
        self._held.discard(key)
        self._in_background(self._let_go_in_database(key))
        self.bus.publish({"k": "off", "key": key, "nick": user.nickname})
        if self._remote.get(key):
            self._directory.place(user)

    async def _let_go_in_database(self, key: str) -> None:
        await self._sql("DELETE FROM online_sessions WHERE key = %s AND node = %s", (key, self.node))
        await self._sql("DELETE FROM online_users u WHERE key = %s AND NOT EXISTS"
                        " (SELECT 1 FROM online_sessions s WHERE s.key = u.key)", (key,))

    def _count_changed(self, user: OnlineUser, count: int) -> None:
        key = name_key(user.nickname)
        self._in_background(self._sql(_SESSIONS, (key, self.node, count, count)))
        self.bus.publish({"k": "on", "key": key, "nick": user.nickname, "ident": user.ident,
                          "admin": user.is_admin, "s": count, "new": False})

    def join_room(self, room: str, ident: str) -> None:
        self.local.join_room(room, ident)
        self.bus.publish({"k": "join", "room": room, "ident": ident})

    def leave_room(self, room: str, ident: str) -> None:
        self.local.leave_room(room, ident)
        self.bus.publish({"k": "leave", "room": room, "ident": ident})

    # Fan-out ---------------------------------------------------------------------------------

    def broadcast(self, frame: Frame, audience: Audience = Audience.ALL) -> None:
        payload = encode_frame(frame)
        self.local.broadcast_payload(payload, audience)
        if audience not in LIST_CHANGES:
            self.bus.publish({"k": "bc", "a": audience.value, "f": payload.decode()})

    def send_to(self, nickname: str, frame: Frame, rooms_only: bool = False) -> bool:
        known = self.local.send_to(nickname, frame, rooms_only)
        if self._remote.get(name_key(nickname)):
            self.bus.publish({"k": "to", "nick": nickname, "r": rooms_only, "f": encode_frame(frame).decode()})
        return known

    def room_broadcast(self, room: str, frame: Frame) -> None:
        payload = encode_frame(frame)
        self.local.room_payload(room, payload)
        self.bus.publish({"k": "room", "room": room, "f": payload.decode()})

    def deliver(self, message: DeliverMessage, echo: Member | None) -> None:
        payload = encode_frame(message.frame)
        self.bus.publish({"k": "msg", "conv": message.conv, "seq": message.seq, "room": message.room,
                          "to": list(message.to), "f": payload.decode()})
        self._offer(message, payload, echo)

    def room_updated(self, room: Room, gone: bool) -> None:
        self.bus.publish({"k": "roomup", "id": room.id, "name": room.name, "topic": room.topic,
                          "private": room.private, "created": room.created_ms})

    def restrictions_changed(self) -> None:
        self.bus.publish({"k": "restr"})

    def share_limit(self, limit: ShareLimit) -> None:
        self.bus.publish({"k": "lim", "kind": limit.kind, "addr": limit.address, "nick": limit.nickname,
                          "count": limit.count})

    def _offer(self, message: DeliverMessage, payload: bytes, echo: Member | None) -> None:
        now = asyncio.get_running_loop().time()
        for ready, ready_payload, ready_echo in self.sequencer.offer(message.conv, message.seq,
                                                                       (message, payload, echo), now):
            deliver_here(self.local, ready, ready_echo, ready_payload)

    # What the other nodes say -------------------------------------------------------------------

    def _heard(self, message: dict[str, Any]) -> None:
        handler = _HEARD.get(message.get("k", ""))
        if handler is None:
            return
        try:
            handler(self, message)
        except Exception:
            log.exception("handling a %r from node %s failed", message.get("k"), message.get("n"))

    def _heard_msg(self, m: dict[str, Any]) -> None:
        message = DeliverMessage(m["conv"], int(m["seq"]), _NO_FRAME, room=m.get("room"), to=tuple(m.get("to", ())))
        self._offer(message, m["f"].encode(), None)

    def _heard_on(self, m: dict[str, Any]) -> None:
        node, key, count = m["n"], m["key"], int(m["s"])
        user = OnlineUser(m["nick"], m["ident"], bool(m["admin"]))
        known = self._directory.lookup(user.nickname)
        if known is not None and known.ident != user.ident:
            self._forget(key, known.nickname, announce=True)
        nodes = self._remote.setdefault(key, {})
        nodes[node] = count
        if count and key in self._held:  # it came back through another node: this one's grace is moot
            self._held.discard(key)
            self.local.drop(user.nickname)
            self._in_background(self._sql("DELETE FROM online_sessions WHERE key = %s AND node = %s",
                                          (key, self.node)))
            # The others counted this node's grace as a session: without this, the user's last real
            # session (on the other node) would never be its last, and it would never leave.
            self.bus.publish({"k": "off", "key": key, "nick": user.nickname})
        if self._directory.place(user) and known is None:
            self.drive(e.PresenceChanged(None, user.nickname))

    def _heard_off(self, m: dict[str, Any]) -> None:
        key = m["key"]
        nodes = self._remote.get(key)
        if nodes is None:
            return
        nodes.pop(m["n"], None)
        if not nodes:
            del self._remote[key]
            self._gone_unless_here(key, m["nick"])

    def _gone_unless_here(self, key: str, nickname: str) -> None:
        """No other node holds the user: it is offline, unless this one does."""
        user = self._directory.lookup(nickname)
        if user is None or self._directory.sessions(nickname) or key in self._held:
            return
        self._directory.drop(nickname)
        self.drive(e.PresenceChanged(user.nickname, None))

    def _heard_kick(self, m: dict[str, Any]) -> None:
        key, nickname = m["key"], m["nick"]
        self._remote.pop(key, None)
        self._held.discard(key)
        reason, params, content = m["w"]
        warning = Frame(reason, params, content)
        if self._directory.lookup(nickname) is not None:
            self.local.kick(nickname, warning)
            self.drive(e.PresenceChanged(nickname, None))

    def _heard_ren(self, m: dict[str, Any]) -> None:
        old, new = m["old"], m["nick"]
        old_key, new_key = name_key(old), name_key(new)
        nodes = self._remote.pop(old_key, {})
        user = self._directory.lookup(old)
        rooms = self._directory.rooms_of(user.ident) if user is not None else []
        if user is not None and not self._directory.sessions(old):
            self._directory.drop(old)
        renamed = OnlineUser(new, m["ident"], bool(m["admin"]))
        self._remote[new_key] = nodes
        if self._directory.place(renamed):
            for room in rooms:
                self._directory.join_room(room, renamed.ident)
        self.drive(e.PresenceChanged(old, new))

    def _heard_join(self, m: dict[str, Any]) -> None:
        self._directory.join_room(m["room"], m["ident"])

    def _heard_leave(self, m: dict[str, Any]) -> None:
        self._directory.leave_room(m["room"], m["ident"])

    def _heard_bc(self, m: dict[str, Any]) -> None:
        self.local.broadcast_payload(m["f"].encode(), Audience(m["a"]))

    def _heard_to(self, m: dict[str, Any]) -> None:
        self.local.send_payload(m["nick"], m["f"].encode(), bool(m["r"]))

    def _heard_room(self, m: dict[str, Any]) -> None:
        self.local.room_payload(m["room"], m["f"].encode())

    def _heard_roomup(self, m: dict[str, Any]) -> None:
        self.drive(e.RoomChanged(Room(int(m["id"]), m["name"], m["topic"], bool(m["private"]), int(m["created"]))))

    def _heard_restr(self, m: dict[str, Any]) -> None:
        # The node that made a ban disconnected only its own sessions (the core sees no other node's
        # connections or addresses): the load enforces the new bans on this node's sessions.
        self.reload_restrictions()

    def _heard_lim(self, m: dict[str, Any]) -> None:
        self.drive(e.LimitShared(m["n"], m["kind"], m["addr"], m.get("nick", ""), int(m.get("count", 0))))

    def _heard_gone(self, m: dict[str, Any]) -> None:
        self._node_gone(m["node"])

    def _node_gone(self, node: str) -> None:
        """``node`` left or was written off: its sessions are gone, and its connections count no more."""
        self.drive(e.NodeGone(node))
        for key, nodes in list(self._remote.items()):
            if nodes.pop(node, None) is not None and not nodes:
                del self._remote[key]
                user = self._directory.lookup(key)
                if user is not None:
                    self._gone_unless_here(key, user.nickname)

    def _forget(self, key: str, nickname: str, announce: bool) -> None:
        self._remote.pop(key, None)
        if not self._directory.sessions(nickname):
            self._directory.drop(nickname)
            if announce:
                self.drive(e.PresenceChanged(nickname, None))

    # The bus going and coming back ---------------------------------------------------------------

    def _bus_state(self, up: bool) -> None:
        if not up:
            if self._bus_down_since is None:
                self._bus_down_since = time.monotonic()
                log.warning("node %s: lost the bus (Redis); serving its own clients and catching up from the "
                            "database", self.node)
            return
        if self._bus_down_since is not None:
            log.info("node %s: the bus is back after %.1fs", self.node, time.monotonic() - self._bus_down_since)
            self._bus_down_since = None
            self._in_background(self._load_presence(announce=True))
            self._in_background(self._poll())

    async def _load_presence(self, announce: bool) -> None:
        """Read who is online elsewhere again, whole, and set the copy right (the bus may have lost some)."""
        rows = await self._sql_rows(
            "SELECT u.key, u.nickname, u.ident, u.is_admin, s.node, s.sessions FROM online_users u"
            " JOIN online_sessions s ON s.key = u.key WHERE s.node <> %s ORDER BY u.since", (self.node,))
        remote: dict[str, dict[str, int]] = {}
        users: dict[str, OnlineUser] = {}
        for key, nickname, ident, is_admin, node, count in rows:
            remote.setdefault(key, {})[node] = count
            users[key] = OnlineUser(nickname, ident, is_admin)
        for key in list(self._remote):
            if key not in remote:
                user = self._directory.lookup(key)
                self._remote.pop(key)
                if user is not None:
                    self._gone_unless_here(key, user.nickname)
        for key, nodes in remote.items():
            user = users[key]
            known = self._directory.lookup(user.nickname)
            if known is not None and known.ident != user.ident:
                if self._directory.sessions(known.nickname):
                    continue  # ours: the database agrees after our own claim lands
                self._forget(key, known.nickname, announce)
            self._remote[key] = nodes
            if self._directory.place(user) and known is None and announce:
                self.drive(e.PresenceChanged(None, user.nickname))

    # Timers: heartbeats, gaps, polls ------------------------------------------------------------

    async def _beat(self, query: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """One statement on the heartbeat's own connection: a burst of logins waiting on the presence
        connection never holds a heartbeat back past the timeout."""
        if self._beat_pg is None or self._beat_pg.closed or self._beat_pg.broken:
            self._beat_pg = await self._connect()
        try:
            cursor = await self._beat_pg.execute(query, args)
        except psycopg.OperationalError:
            await self._beat_pg.close()
            raise
        return await cursor.fetchall() if cursor.description is not None else [(cursor.rowcount,)]

    async def _heartbeats(self) -> None:
        every = max(0.2, self._node_timeout / 5)
        while True:
            await asyncio.sleep(every)
            try:
                ((alive,),) = await self._beat("UPDATE cluster_nodes SET seen = now() WHERE id = %s", (self.node,))
                if not alive:
                    self._written_off()
                    await self._register()
                    continue
                reaped = await self._beat(
                    "DELETE FROM cluster_nodes WHERE seen < now() - make_interval(secs => %s) RETURNING id",
                    (self._node_timeout,))
                if reaped:
                    await self._beat(_ORPHANS_GONE)
                    for (node,) in reaped:
                        log.warning("node %s: not seen for %gs; its users have left", node, self._node_timeout)
                        self.stats.nodes_reaped += 1
                        self.bus.publish({"k": "gone", "node": node})
                        self._node_gone(node)
            except psycopg.Error as error:
                log.warning("node %s: heartbeat failed: %s", self.node, error)

    def _written_off(self) -> None:
        """Another node wrote this one off (it was paused, or cut off, past the timeout): whatever it held
        may be someone else's by now. Its sessions end cleanly; its clients come back as new ones."""
        self.stats.fenced += 1
        log.error("node %s: was written off by the cluster (no heartbeat for %gs); ending its sessions",
                  self.node, self._node_timeout)
        warning = messages.warn(Stamp.at(time.time()), texts.NODE_WRITTEN_OFF)
        for nickname in self._directory.online():
            if self._directory.sessions(nickname):
                self.local.kick(nickname, warning)
                self.drive(e.PresenceChanged(nickname, None))
        for nickname in self._directory.online():
            self._directory.drop(nickname)
        self._remote.clear()
        self._held.clear()
        self._in_background(self._load_presence(announce=True))

    async def _gaps(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = self.sequencer.next_due()
            wait = 0.05 if due is None else max(0.0, min(0.5, due - loop.time()))
            await asyncio.sleep(wait)
            for gap in self.sequencer.due(loop.time()):
                self.stats.gaps_fetched += 1
                self._in_background(self._fill(gap))

    async def _fill(self, gap: Gap) -> None:
        """Fetch a gap's messages from the database and deliver them (and what waited behind them)."""
        if self.fetch is None:
            return
        loop = asyncio.get_running_loop()
        try:
            found = await self.fetch(gap.conv, gap.after, min(FETCH_LIMIT, gap.upto - gap.after))
        except Exception as error:  # noqa: BLE001 (the database is away: try again later)
            log.warning("node %s: fetching %s after %d failed: %s", self.node, gap.conv, gap.after, error)
            self.sequencer.retry(gap.conv, loop.time())
            return
        rows = []
        for sequenced in found:
            delivery = self.render(sequenced)
            rows.append((sequenced.seq, None if delivery is None else (delivery, encode_frame(delivery.frame), None)))
        self.stats.caught_up += len(rows)
        for ready, payload, echo in self.sequencer.fill(gap.conv, rows, loop.time()):
            deliver_here(self.local, ready, echo, payload)

    async def _polls(self) -> None:
        while True:
            await asyncio.sleep(self._catch_up if self._bus_down_since is None else min(0.5, self._catch_up))
            await self._poll()

    async def _poll(self) -> None:
        """Ask the database how far each conversation changed lately is, and fetch what was missed."""
        if self.conversations is None:
            return
        now_ms = int(time.time() * 1000)
        since = self._polled_ms - 10_000  # the nodes' clocks and the commits in flight: a margin
        try:
            changed = await self.conversations(max(0, since))
        except Exception as error:  # noqa: BLE001
            log.warning("node %s: polling the conversations failed: %s", self.node, error)
            return
        self._polled_ms = now_ms
        loop = asyncio.get_running_loop()
        for conv, top in changed:
            gap = self.sequencer.behind(conv, top, loop.time())
            if gap is not None:
                await self._fill(gap)

    def _in_background(self, job: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(job)
        task.add_done_callback(_log_failure)

    # For /healthz and /metrics -------------------------------------------------------------------

    async def health(self) -> dict[str, bool]:
        """Whether Redis and PostgreSQL answer (each within a second)."""
        redis_ok = await self.bus.ping()
        try:
            await asyncio.wait_for(self._sql("SELECT 1"), 1.0)
            postgres_ok = True
        except Exception:  # noqa: BLE001
            postgres_ok = False
        return {"redis": redis_ok, "postgresql": postgres_ok}


def _log_failure(task: "asyncio.Future[Any]") -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.warning("cluster: %s: %s", type(error).__name__, error)


_NO_FRAME = Frame("CHATR", {}, "")  # a message heard on the bus travels encoded; its frame is not read again

# Claim a nickname: (this node is registered, the row was inserted, whose ident holds the name).
_CLAIM = """
WITH me AS (SELECT 1 FROM cluster_nodes WHERE id = %s),
ins AS (INSERT INTO online_users (key, nickname, ident, is_admin)
        SELECT %s, %s, %s, %s WHERE EXISTS (SELECT 1 FROM me)
        ON CONFLICT DO NOTHING RETURNING ident)
SELECT EXISTS (SELECT 1 FROM me), EXISTS (SELECT 1 FROM ins),
       coalesce((SELECT ident FROM ins), (SELECT ident FROM online_users WHERE key = %s))
"""
_SESSIONS = """
INSERT INTO online_sessions (key, node, sessions) VALUES (%s, %s, %s)
ON CONFLICT (key, node) DO UPDATE SET sessions = %s
"""
# Users no node holds any more (their nodes left or were written off).
_ORPHANS_GONE = """
DELETE FROM online_users u WHERE NOT EXISTS (SELECT 1 FROM online_sessions s WHERE s.key = u.key)
RETURNING key, nickname
"""

_HEARD: dict[str, Callable[[ClusterHub, dict[str, Any]], None]] = {
    "msg": ClusterHub._heard_msg,
    "on": ClusterHub._heard_on,
    "off": ClusterHub._heard_off,
    "kick": ClusterHub._heard_kick,
    "ren": ClusterHub._heard_ren,
    "join": ClusterHub._heard_join,
    "leave": ClusterHub._heard_leave,
    "bc": ClusterHub._heard_bc,
    "to": ClusterHub._heard_to,
    "room": ClusterHub._heard_room,
    "roomup": ClusterHub._heard_roomup,
    "restr": ClusterHub._heard_restr,
    "gone": ClusterHub._heard_gone,
    "lim": ClusterHub._heard_lim,
}
