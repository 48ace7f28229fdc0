"""The chat server: listening socket, sessions, shared state, clean shutdown."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import math
import signal
import socket
from typing import Any, Callable, TypeVar

from parley.net.listen import LISTEN_BACKLOG
from parley.net.proxy import is_trusted
from parley.protocol import Frame, messages, texts
from parley.protocol.messages import Stamp
from parley.protocol.names import name_key
from parley.startup import listen_error, tls_server_context

from .config import ServerConfig
from .database import Database
from .hub import Hub, LocalHub
from .limits import ConnectionCounter, FailureWindow
from .outbox import Outbox, WriteBatcher
from .pipe import open_pipe
from .session import ClientSession, now
from .store import Store, database_path

log = logging.getLogger("parley.server")
T = TypeVar("T")
MAX_USER_LIST_DELAY = 1.0  # seconds: the longest a user list waits for more changes


class ChatServer:
    def __init__(self, config: ServerConfig, hub: Hub | None = None) -> None:
        self.config = config
        self._batcher = WriteBatcher()
        self.hub: Hub = hub or LocalHub(self._batcher)
        self.closing = False
        self.admins: list[str] = []
        self.sessions: set[ClientSession] = set()
        self._all_ended = asyncio.Event()  # set whenever no session is left
        self._hashing = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="parley-hash")
        self._server: asyncio.Server | None = None
        self._db: Database | None = None
        self._user_list_timer: asyncio.TimerHandle | None = None
        self.connections = ConnectionCounter(config.max_connections_per_address)
        self._failures_by_address = FailureWindow(config.login_failures_per_address)
        self._failures_by_nickname = FailureWindow(config.login_failures_per_nickname)

    @property
    def db(self) -> Database:
        assert self._db is not None, "server not started"
        return self._db

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Open the database and start listening.

        Raises StartupError (naming the certificate, the database or the
        address) for what a user can fix.
        """
        # The certificate first: a wrong one should not leave the database touched.
        context = None
        if self.config.tls_cert:
            context = tls_server_context(self.config.tls_cert, self.config.tls_key)
        loop = asyncio.get_running_loop()
        path = database_path(self.config.data_dir)
        store = await loop.run_in_executor(None, functools.partial(Store, path, durable=self.config.durable))
        self._db = Database(store)
        self.admins = await self.db.call(store.admin_names)
        try:
            self._server = await loop.create_server(
                lambda: ClientSession(self),
                self.config.host,
                self.config.port,
                ssl=context,
                reuse_address=True,
                backlog=LISTEN_BACKLOG,
            )
        except OSError as error:
            await self.db.close()
            raise listen_error(self.config.host, self.config.port, error) from None
        log.info(
            "listening on %s port %d%s; database %s (fsync %s)",
            self.config.host, self.port, " (TLS)" if context else "", path,
            "on" if self.config.durable else "off",
        )

    def connect_local(self, factory: Callable[[], asyncio.Protocol],
                      peername: tuple[str, int]) -> tuple[asyncio.Transport, asyncio.Protocol]:
        """A client connection from inside this process (``parley serve``'s gateway), over no socket.

        Returns the client's transport and protocol, as ``loop.create_connection``
        does; the server's side sees ``peername`` as the client's address.
        Raises ConnectionRefusedError, as a closed port would, once the server
        is shutting down.
        """
        if self.closing or self._server is None:
            raise ConnectionRefusedError("the chat server is not running")
        transport, protocol, _, _ = open_pipe(
            factory, lambda: ClientSession(self),
            near_extra={"peername": (self.config.host, self.port)}, far_extra={"peername": peername},
        )
        return transport, protocol

    def session_started(self, session: ClientSession) -> bool:
        """A connection came in; False (and it is reset) while shutting down."""
        if self.closing:
            session.transport.abort()
            return False
        self._set_keepalive(session.transport.get_extra_info("socket"))
        self.sessions.add(session)
        log.info("%s: connected", session.peer)
        return True

    def session_ended(self, session: ClientSession) -> None:
        self.sessions.discard(session)
        if not self.sessions:
            self._all_ended.set()

    async def _sessions_ended(self, timeout: float) -> bool:
        """Wait until every session has ended; False if some remain after ``timeout``."""
        self._all_ended.clear()
        if not self.sessions:
            return True
        try:
            await asyncio.wait_for(self._all_ended.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def _set_keepalive(self, sock: socket.socket | None) -> None:
        """TCP keepalive, so a peer that vanished without a FIN is noticed."""
        if sock is None or self.config.keepalive_idle <= 0:
            return
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in (
            ("TCP_KEEPIDLE", self.config.keepalive_idle),
            ("TCP_KEEPINTVL", self.config.keepalive_interval),
            ("TCP_KEEPCNT", self.config.keepalive_count),
        ):
            if hasattr(socket, option):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)

    async def close(self) -> None:
        """WARN every client, close every connection, close the database."""
        if self.closing:
            return
        self.closing = True
        log.info("shutting down: %d connections", len(self.sessions))
        if self._server is not None:
            self._server.close()
        if self._user_list_timer is not None:
            self._user_list_timer.cancel()
        warning = messages.warn(now(), texts.SHUTTING_DOWN)
        for session in list(self.sessions):
            session.send(warning)
            session.outbox.close_when_sent()
        if self.sessions and not await self._sessions_ended(2):
            for session in list(self.sessions):
                session.outbox.abort()
            await self._sessions_ended(1)
        if self._db is not None:
            await self._db.close()
        self._hashing.shutdown(wait=False)
        log.info("stopped")

    # Shared services for sessions ----------------------------------------

    def new_outbox(self, transport: asyncio.WriteTransport, on_overflow: Callable[[], None]) -> Outbox:
        return Outbox(
            transport,
            self._batcher,
            max_buffer=self.config.max_outbuf,
            legacy_pace=self.config.legacy_pace,
            on_overflow=on_overflow,
        )

    def login_lockout(self, address: str, nickname: str) -> int:
        """Whole seconds until this address may try this nickname again (0: now)."""
        clock = asyncio.get_running_loop().time()
        wait = max(
            self._failures_by_address.locked_for(address, clock),
            self._failures_by_nickname.locked_for(name_key(nickname), clock),
        )
        return math.ceil(wait)

    def login_failed(self, address: str, nickname: str) -> None:
        clock = asyncio.get_running_loop().time()
        self._failures_by_address.fail(address, clock)
        self._failures_by_nickname.fail(name_key(nickname), clock)

    def is_trusted_proxy(self, host: str) -> bool:
        return is_trusted(host, self.config.trusted_proxies)

    async def run_hashing(self, function: Callable[..., T], *args: Any) -> T:
        """Run a password hash off the event loop (at most two at a time)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._hashing, functools.partial(function, *args))

    def user_list_frame(self, stamp: Stamp | None = None) -> Frame:
        return messages.user_list(stamp or now(), self.hub.online(), self.admins)

    async def broadcast_user_list(self, refresh_admins: bool = False) -> None:
        """Send everyone a fresh user list soon; re-read the admin accounts first if asked."""
        if refresh_admins:
            self.admins = await self.db.call(self.db.store.admin_names)
        self.schedule_user_list()

    def schedule_user_list(self) -> None:
        """Broadcast one user list for every change within the user-list delay.

        A list per join would cost N^2 bytes for N joins (the original sent one
        per join); changes close together share one list. The delay grows with
        the room (``user_list_delay`` for every 100 online, at most
        ``MAX_USER_LIST_DELAY``): a list of N names goes to N people, so a
        crowd arriving in a big room would otherwise spend its time on lists.
        """
        if self._user_list_timer is not None:
            return
        delay = user_list_window(self.config.user_list_delay, len(self.sessions))
        self._user_list_timer = asyncio.get_running_loop().call_later(delay, self._send_user_list)

    def _send_user_list(self) -> None:
        self._user_list_timer = None
        if not self.closing:
            self.hub.broadcast(self.user_list_frame())


def user_list_window(base: float, connections: int) -> float:
    """Seconds user-list changes are gathered for: ``base`` per 100 connections, at least ``base``."""
    return min(MAX_USER_LIST_DELAY, base * max(1.0, connections / 100))


async def serve(config: ServerConfig, on_ready: Callable[[ChatServer], None] | None = None) -> None:
    """Run the server until SIGINT or SIGTERM, then shut down cleanly."""
    server = ChatServer(config)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if on_ready is not None:
        on_ready(server)
    try:
        await stop.wait()
    finally:
        await server.close()
