"""The asyncio adapter around the chat core: bytes and callbacks in, actions performed.

``ClientProtocol`` is one connection: it tells the core what its transport
reports and is the hub's ``Member`` for it. ``CoreAdapter`` feeds the core
one event at a time with the time, and does what it returns: writes (through
each connection's outbox), timers, the hub's fan-out, the database thread and
the password hashing pool, each answered back to the core as an event. It
holds no chat rule: those are all in core/.

An idle connection holds no task, stream or coroutine: only its protocol,
its outbox and the core's record of it. Requests run on executors and answer
through a done-callback; nothing awaits on a connection's behalf.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools
import inspect
import itertools
import logging
import time
from typing import Any, Callable, cast

from parley.files.store import BlobStore
from parley.net.budget import Admission, ConnectionBudget, LogThrottle
from parley.protocol import Frame
from parley.protocol.framing import encode_frame

from . import hashing, passwords
from .config import ServerConfig
from .core import ChatCore, Now
from .core import actions as a
from .core import events as e
from .core.chats import StagedChat
from .database import Database, store_request
from .hashing import HashingPool
from .hub import Hub
from .records import Restriction, StoreFailed
from .outbox import Outbox
from .pipe import IN_PROCESS

log = logging.getLogger("parley.server")

# A connection the server ends is half-closed first and what the peer still
# sends is read and dropped, until it closes too, is silent LINGER_IDLE, or
# LINGER_MAX has passed: closing a socket with unread input makes the kernel
# send a reset, and the reset can destroy the last frames (a kick's or a
# flood's WARN) before the peer reads them. Not while the chat port is out of
# descriptors: then freeing them comes first.
LINGER_IDLE = 0.5
LINGER_MAX = 2.0


class ClientProtocol(asyncio.Protocol):
    """One connection, as an asyncio protocol: feeds its transport's news to the core."""

    __slots__ = ("adapter", "id", "transport", "outbox", "timer", "budgeted", "linger")
    transport: asyncio.Transport
    outbox: Outbox

    def __init__(self, adapter: "CoreAdapter") -> None:
        self.adapter = adapter
        self.id = 0
        self.timer: asyncio.TimerHandle | None = None
        self.budgeted = False  # counted against the process's connection budget
        self.linger: tuple[asyncio.TimerHandle, asyncio.TimerHandle] | None = None  # (idle, at most)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.adapter.accept(self)

    def close_gracefully(self) -> None:
        """End the connection once its output is sent: half-close, then linger (LINGER_IDLE)."""
        transport = self.transport
        if transport.is_closing():
            return
        if not transport.can_write_eof() or self.adapter.descriptors_short():
            transport.close()  # TLS and in-process pipes close whole; a port out of descriptors frees them now
            return
        try:
            transport.write_eof()  # after what is buffered
        except OSError:  # the peer is gone already (reset)
            transport.close()
            return
        transport.resume_reading()  # what comes is dropped: none may stay unread at the close
        loop = self.adapter.loop
        self.linger = (loop.call_later(LINGER_IDLE, transport.close), loop.call_later(LINGER_MAX, transport.close))
        self.adapter.lingering.add(self)

    def data_received(self, data: bytes) -> None:
        if self.linger is not None:
            idle, at_most = self.linger
            idle.cancel()
            self.linger = (self.adapter.loop.call_later(LINGER_IDLE, self.transport.close), at_most)
            return
        self.adapter.drive(e.DataReceived(self.id, data))

    def eof_received(self) -> bool:
        if self.linger is not None:
            return False  # both sides are done: the transport closes
        self.adapter.drive(e.InputEnded(self.id))
        # Keep the sending side open so the answers to the last frames still go
        # out (TLS cannot half-close: there the transport closes).
        return self.transport.get_extra_info("sslcontext") is None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.linger is not None:
            for timer in self.linger:
                timer.cancel()
            self.linger = None
            self.adapter.lingering.discard(self)
        if self.budgeted:
            self.budgeted = False
            self.adapter.release(self)
        self.adapter.drive(e.ConnectionLost(self.id, exc.__class__.__name__ if exc is not None else None))

    # The hub's Member ---------------------------------------------------

    def deliver(self, payload: bytes) -> None:
        self.outbox.send(payload)

    def kicked(self, warning: Frame) -> None:
        self.adapter.drive(e.Kicked(self.id, warning))

    def overflowed(self) -> None:
        self.adapter.drive(e.OutputOverflowed(self.id))

    # The transport's flow control: only a drain someone waits for (AwaitDrain) uses it.

    def pause_writing(self) -> None:
        self.outbox.writing_paused(True)

    def resume_writing(self) -> None:
        self.outbox.writing_paused(False)


class CoreAdapter:
    """Drives the chat core and performs its actions on the event loop."""

    def __init__(self, config: ServerConfig, hub: Hub, db: Database, admins: list[str],
                 new_outbox: Callable[[asyncio.Transport, Callable[[], None]], Outbox],
                 is_trusted_proxy: Callable[[str], bool], set_keepalive: Callable[[Any], None],
                 budget: ConnectionBudget | None = None, restrictions: list[Restriction] | None = None,
                 blobs: BlobStore | None = None, files_secret: bytes | None = None) -> None:
        self.core = ChatCore(config, hub, admins, restrictions)
        self.core.files_secret = files_secret  # None: file sharing is off
        self.blobs = blobs
        self.hub = hub
        self.db = db
        self.protocols: dict[int, ClientProtocol] = {}
        self.all_ended = asyncio.Event()  # set whenever no connection is left
        self._loop = self.loop = asyncio.get_running_loop()
        self.lingering: set[ClientProtocol] = set()  # ended, waiting for their peers to close (LINGER_IDLE)
        threads = config.hash_threads or passwords.default_threads()
        self._hashing = HashingPool(threads)
        self._hash_jobs: dict[int, asyncio.Future[Any]] = {}  # by connection
        log.info("hashing passwords on %d thread%s", threads, "" if threads == 1 else "s")
        self._ids = itertools.count(1)
        self._events: collections.deque[e.Event] = collections.deque()
        self._driving = False
        self._user_list_timer: asyncio.TimerHandle | None = None
        self._grace_timer: asyncio.TimerHandle | None = None
        self._new_outbox = new_outbox
        self._is_trusted_proxy = is_trusted_proxy
        self._set_keepalive = set_keepalive
        self._budget = budget
        self._throttle = LogThrottle()
        self._reloads: set[asyncio.Task[None]] = set()
        self._refresher = self._loop.create_task(self._refresh_restrictions(config.restrictions_refresh))

    async def _refresh_restrictions(self, every: float) -> None:
        """Reload the bans and mutes in force every ``every`` seconds: those made from the command line
        (or another node, if its word on the bus was lost) take effect within that time."""
        if every <= 0:
            return
        while True:
            await asyncio.sleep(every)
            await self._load_restrictions()

    async def _load_restrictions(self) -> None:
        try:
            loaded = await self.db.call(self.db.store.active_restrictions, int(time.time() * 1000))
        except Exception as error:  # noqa: BLE001 (logged; the last load stays in force)
            log.warning("could not reload the bans in force: %s", error)
            return
        self.drive(e.RestrictionsLoaded(tuple(loaded)))

    def reload_restrictions(self) -> None:
        """Reload the bans and mutes in force now (another node made or lifted one)."""
        task = self._loop.create_task(self._load_restrictions())
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    def descriptors_short(self) -> bool:
        """Whether the chat port has used up its share of descriptors (only admins or no one get in)."""
        budget = self._budget
        return budget is not None and budget.chat_open >= budget.chat

    def accept(self, protocol: ClientProtocol) -> None:
        """A connection came in: register it with the core (or reset it while shutting down)."""
        transport = protocol.transport
        if self.core.closing:  # shutting down: new connections are reset
            transport.abort()
            return
        protocol.id = next(self._ids)
        protocol.outbox = self._new_outbox(transport, protocol.overflowed)
        protocol.outbox.close_transport = protocol.close_gracefully
        self._set_keepalive(transport.get_extra_info("socket"))
        self.protocols[protocol.id] = protocol
        self.all_ended.clear()
        peer = transport.get_extra_info("peername") or ("?", 0)
        host = str(peer[0])
        log.info("%s:%s: connected", host, peer[1])
        proxied = bool(transport.get_extra_info(IN_PROCESS)) or self._is_trusted_proxy(host)
        admission = self._admission(protocol, host)
        self.drive(e.Connected(protocol.id, host, int(peer[1]), proxied=proxied,
                               full=admission is Admission.FULL, admins_only=admission is Admission.ADMIN_ONLY))

    def _admission(self, protocol: ClientProtocol, host: str) -> Admission:
        """Count a socket's connection against the chat port's share (in-process pipes hold no descriptor)."""
        if self._budget is None or protocol.transport.get_extra_info("socket") is None:
            return Admission.NORMAL
        admission = self._budget.open_chat()
        protocol.budgeted = admission is not Admission.FULL
        if admission is not Admission.NORMAL:
            held = self._throttle.allow(admission.value, self._loop.time())
            if held is not None:
                more = f" ({held} more since the last such message)" if held else ""
                log.warning("%s: the chat port's %d connections are in use: %s%s", host, self._budget.chat,
                            "only an admin may log in on this one" if admission is Admission.ADMIN_ONLY
                            else "refused (the admins' reserve is in use too)", more)
        return admission

    def release(self, protocol: ClientProtocol) -> None:
        """A counted connection closed: its place in the budget is free again."""
        if self._budget is not None:
            self._budget.close_chat()

    def drive(self, event: e.Event) -> None:
        """Feed ``event`` to the core and perform its actions, and those of any event they cause, in order."""
        self._events.append(event)
        if self._driving:
            return  # an action caused it: it follows the actions before it
        self._driving = True
        try:
            while self._events:
                actions = self.core.handle(self._events.popleft(), Now(self._loop.time(), time.time()))
                for action in actions:
                    try:
                        _PERFORM[type(action)](self, action)
                    except Exception:
                        log.exception("performing %s failed", type(action).__name__)
        finally:
            self._driving = False

    def close(self) -> None:
        self._refresher.cancel()
        for protocol in list(self.lingering):
            protocol.transport.close()
        self._hashing.shutdown()
        if self._user_list_timer is not None:
            self._user_list_timer.cancel()
        if self._grace_timer is not None:
            self._grace_timer.cancel()

    # One connection -------------------------------------------------------

    def _send(self, action: a.Send) -> None:
        protocol = self.protocols.get(action.conn)
        if protocol is not None:
            protocol.outbox.send(encode_frame(action.frame))

    def _close(self, action: a.Close) -> None:
        protocol = self.protocols.pop(action.conn, None)
        if protocol is None:
            return
        job = self._hash_jobs.pop(action.conn, None)
        if job is not None:
            job.cancel()
        if protocol.timer is not None:
            protocol.timer.cancel()
            protocol.timer = None
        protocol.outbox.close_when_sent()
        if not self.protocols:
            self.all_ended.set()

    def _set_timer(self, action: a.SetTimer) -> None:
        protocol = self.protocols.get(action.conn)
        if protocol is None:
            return
        if protocol.timer is not None:
            protocol.timer.cancel()
            protocol.timer = None
        if action.at is not None:
            protocol.timer = self._loop.call_at(action.at, self.drive, e.TimerFired(action.conn))

    def _use_legacy_framing(self, action: a.UseLegacyFraming) -> None:
        protocol = self.protocols.get(action.conn)
        if protocol is not None:
            protocol.outbox.use_legacy_framing()

    def _set_reading(self, action: a.SetReading) -> None:
        protocol = self.protocols.get(action.conn)
        if protocol is None or protocol.transport.is_closing():
            return
        if action.reading:
            protocol.transport.resume_reading()
        else:
            protocol.transport.pause_reading()

    def _store_message(self, action: a.StoreMessage) -> None:
        self.db.submit_message(action.chat.record, functools.partial(self._stored, action.chat))

    def _stored(self, chat: StagedChat, message_id: int | None, seq: int, error: BaseException | None) -> None:
        self.drive(e.MessageStored(chat, message_id, error, seq))

    def _set_user_list_timer(self, action: a.SetUserListTimer) -> None:
        if self._user_list_timer is not None:
            self._user_list_timer.cancel()
            self._user_list_timer = None
        if action.at is not None:
            self._user_list_timer = self._loop.call_at(action.at, self._user_list_due)

    def _user_list_due(self) -> None:
        self._user_list_timer = None
        self.drive(e.UserListDue())

    def _set_grace_timer(self, action: a.SetGraceTimer) -> None:
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None
        if action.at is not None:
            self._grace_timer = self._loop.call_at(action.at, self._grace_due)

    def _grace_due(self) -> None:
        self._grace_timer = None
        self.drive(e.GraceDue())

    # The hub -------------------------------------------------------------------

    def _broadcast(self, action: a.Broadcast) -> None:
        self.hub.broadcast(action.frame, action.audience)

    def _send_to(self, action: a.SendTo) -> None:
        self.hub.send_to(action.nickname, action.frame, action.rooms_only)

    def _room_broadcast(self, action: a.RoomBroadcast) -> None:
        self.hub.room_broadcast(action.room, action.frame)

    def _deliver_message(self, action: a.DeliverMessage) -> None:
        echo = self.protocols.get(action.echo) if action.echo is not None else None
        self.hub.deliver(action, echo)

    def _room_updated(self, action: a.RoomUpdated) -> None:
        self.hub.room_updated(action.room, action.gone)

    def _restrictions_changed(self, action: a.RestrictionsChanged) -> None:
        self.hub.restrictions_changed()

    def _share_limit(self, action: a.ShareLimit) -> None:
        self.hub.share_limit(action)

    def _join_room(self, action: a.JoinRoom) -> None:
        self.hub.join_room(action.room, action.ident)

    def _leave_room(self, action: a.LeaveRoom) -> None:
        self.hub.leave_room(action.room, action.ident)

    def _drop(self, action: a.Drop) -> None:
        self.hub.drop(action.nickname)

    def _kick(self, action: a.Kick) -> None:
        self.hub.kick(action.nickname, action.warning)

    def _release(self, action: a.Release) -> None:
        protocol = self.protocols.get(action.conn)
        if protocol is not None:
            self.hub.release(protocol, action.hold)

    # Requests ------------------------------------------------------------------

    def _request(self, action: a.Request) -> None:
        what = action.what
        conn = action.conn
        if isinstance(what, a.Claim):
            self._answer(conn, self.hub.claim(what.user, self.protocols[conn], what.kind, what.attach))
        elif isinstance(what, a.JoinRoom):
            self.hub.join_room(what.room, what.ident)
            self._answer(conn, None)
        elif isinstance(what, a.LeaveRoom):
            self.hub.leave_room(what.room, what.ident)
            self._answer(conn, None)
        elif isinstance(what, a.Rename):
            self._answer(conn, self.hub.rename(self.protocols[conn], what.user))
        elif isinstance(what, a.CheckPassword):
            self._hash(conn, hashing.LOGIN, passwords.check_password, what.password, what.password_hash)
        elif isinstance(what, a.HashPassword):
            self._hash(conn, hashing.CHANGE, passwords.hash_password, what.password)
        elif isinstance(what, a.AwaitDrain):
            # After this iteration's writes (the write batcher's flush is already scheduled).
            self._loop.call_soon(self._await_drain, conn, what.timeout)
        else:
            function, args = self._store_call(what)
            who = self._who(conn)
            self._run(conn, self.db.executor, functools.partial(store_request, who, type(what).__name__, function),
                      *args)

    def _who(self, conn: int) -> str:
        """The connection for the log: its address and nickname."""
        known = self.core.connections.get(conn)
        return f"{known.peer} {known.who}" if known is not None else f"connection {conn}"

    def _store_call(self, what: a.RequestKind) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        """The Store method and arguments that answer a database request."""
        store = self.db.store
        if isinstance(what, a.LoadAccount):
            return store.get_account, (what.nickname,)
        if isinstance(what, a.FindLookalike):
            return store.find_lookalike, (what.nickname, what.except_id)
        if isinstance(what, a.CreateAccount):
            return functools.partial(store.add_account, adopt=what.adopt), (what.name, what.role, what.password_hash)
        if isinstance(what, a.RenameAccount):
            return store.rename_account, (what.account_id, what.name)
        if isinstance(what, a.SetPassword):
            return store.set_password, (what.account_id, what.password_hash)
        if isinstance(what, a.UpgradePassword):
            return store.upgrade_password, (what.account_id, what.old_hash, what.new_hash)
        if isinstance(what, a.LoadHistory):
            return store.recent_messages, (list(what.idents), what.limit)
        if isinstance(what, a.LoadAdmins):
            return store.admin_names, ()
        if isinstance(what, a.StoreCall):
            return getattr(store, what.method), what.args
        raise TypeError(f"no way to answer {what!r}")

    def _background(self, action: a.Background) -> None:
        function, args = self._store_call(action.call)
        future = self._loop.run_in_executor(
            self.db.executor, functools.partial(store_request, "background", action.call.method, function, *args))
        future.add_done_callback(_ignore_store_failure)

    def _delete_blob(self, action: a.DeleteBlob) -> None:
        blobs = self.blobs
        if blobs is None:
            return
        future = self._loop.run_in_executor(None, blobs.delete, action.sha)
        future.add_done_callback(functools.partial(_log_blob_deletion, action.sha))

    def _await_drain(self, conn: int, timeout: float) -> None:
        protocol = self.protocols.get(conn)
        if protocol is None:
            return  # it is gone, and the core ends it
        timer = self._loop.call_later(timeout, self._drain_timed_out, protocol, timeout)

        def drained() -> None:
            timer.cancel()
            self.drive(e.Completed(conn, None))

        protocol.outbox.notify_drained(drained)

    def _drain_timed_out(self, protocol: ClientProtocol, timeout: float) -> None:
        """The peer read nothing of its replay for ``timeout`` seconds: cut it off, as when its output overflows."""
        if protocol.outbox.closed:
            return
        log.warning("connection %d: did not read what it was sent within %gs", protocol.id, timeout)
        protocol.outbox.abort()
        protocol.overflowed()

    def _answer(self, conn: int, result: Any) -> None:
        """Give the core the hub's answer, now or when the hub has it."""
        if inspect.isawaitable(result):
            asyncio.ensure_future(result).add_done_callback(functools.partial(self._ran, conn))
        else:
            self.drive(e.Completed(conn, result))

    def _run(self, conn: int, executor: concurrent.futures.Executor, function: Callable[..., Any],
             *args: Any) -> None:
        """Run ``function`` off the loop; its result (or error) goes back to the core."""
        future = self._loop.run_in_executor(executor, functools.partial(function, *args))
        future.add_done_callback(functools.partial(self._ran, conn))

    def _hash(self, conn: int, priority: int, function: Callable[..., Any], *args: Any) -> None:
        """Queue a hashing job (logins first); its result goes back to the core.

        A job still waiting when its connection closes is dropped, so hanging
        up cannot leave work queued that no one counts.
        """
        job = self._hashing.submit(priority, function, *args)
        self._hash_jobs[conn] = job
        job.add_done_callback(functools.partial(self._hashed, conn))

    def _hashed(self, conn: int, future: asyncio.Future[Any]) -> None:
        if self._hash_jobs.get(conn) is future:
            del self._hash_jobs[conn]
        self._ran(conn, future)

    def _ran(self, conn: int, future: "asyncio.Future[Any]") -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None and not isinstance(error, Exception):
            raise error
        self.drive(e.Completed(conn, None if error is not None else future.result(), error))


def _ignore_store_failure(future: "asyncio.Future[Any]") -> None:
    """Background work answers nobody: a database failure was logged by store_request; anything else is logged here."""
    if future.cancelled():
        return
    error = future.exception()
    if error is not None and not isinstance(error, StoreFailed):
        log.error("background database work failed: %s: %s", type(error).__name__, error)


def _log_blob_deletion(sha: str, future: "asyncio.Future[int]") -> None:
    if future.cancelled():
        return
    error = future.exception()
    if error is not None:
        log.error("the bytes of a deleted file (%s) could not be removed: %s", sha[:12], error)
    else:
        log.info("removed a deleted file's bytes (%s, %d bytes)", sha[:12], future.result())


_PERFORM: dict[type, Callable[[CoreAdapter, Any], None]] = {
    a.Send: CoreAdapter._send,
    a.Close: CoreAdapter._close,
    a.SetTimer: CoreAdapter._set_timer,
    a.UseLegacyFraming: CoreAdapter._use_legacy_framing,
    a.SetReading: CoreAdapter._set_reading,
    a.StoreMessage: CoreAdapter._store_message,
    a.SetUserListTimer: CoreAdapter._set_user_list_timer,
    a.SetGraceTimer: CoreAdapter._set_grace_timer,
    a.Background: CoreAdapter._background,
    a.DeleteBlob: CoreAdapter._delete_blob,
    a.RoomBroadcast: CoreAdapter._room_broadcast,
    a.DeliverMessage: CoreAdapter._deliver_message,
    a.RoomUpdated: CoreAdapter._room_updated,
    a.RestrictionsChanged: CoreAdapter._restrictions_changed,
    a.ShareLimit: CoreAdapter._share_limit,
    a.JoinRoom: CoreAdapter._join_room,
    a.LeaveRoom: CoreAdapter._leave_room,
    a.Drop: CoreAdapter._drop,
    a.Broadcast: CoreAdapter._broadcast,
    a.SendTo: CoreAdapter._send_to,
    a.Kick: CoreAdapter._kick,
    a.Release: CoreAdapter._release,
    a.Request: CoreAdapter._request,
}
