"""The chat server: the listening socket, the database, the hub, clean shutdown.

The chat rules are in core/ (no I/O); adapter.py runs them on the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import time
from pathlib import Path
from typing import Callable

from parley.files.store import BlobStore
from parley.net.budget import descriptor_limit, plan_budget
from parley.net.listen import LISTEN_BACKLOG
from parley.net.proxy import is_trusted
from parley.paths import files_dir
from parley.startup import StartupError, listen_error, tls_server_context

from .adapter import ClientProtocol, CoreAdapter
from .cluster.hub import ClusterHub
from .config import ServerConfig
from .core import ChatCore
from .core.chats import delivery_of
from .core.events import ShutdownStarted
from .database import Database
from .datafolder import FolderLock, permission_warnings
from .hub import Hub, LocalHub
from .outbox import Outbox, WriteBatcher
from .pipe import IN_PROCESS, open_pipe
from .records import SequencedMessage
from .store import Store, check_usable, database_path
from .stores import is_postgres, open_store

log = logging.getLogger("parley.server")
TLS_HANDSHAKE_TIMEOUT = 10.0  # seconds, at most: see ChatServer.start
HEALTH_TIMEOUT = 1.0  # seconds PostgreSQL gets to answer a health check

class ChatServer:
    """The listening socket, the database, the hub, and the adapter that runs the chat core."""

    def __init__(self, config: ServerConfig, hub: Hub | None = None) -> None:
        self.config = config
        self._batcher = WriteBatcher()
        self.cluster: ClusterHub | None = None
        if hub is None and config.redis:
            if not is_postgres(config.database):
                raise StartupError("--redis needs a PostgreSQL --database: the nodes share their users, rooms "
                                   "and history there")
            config.clustered = True
            hub = self.cluster = ClusterHub(self._batcher, config.node_name or f"{socket.gethostname()}-{os.getpid()}",
                                            config.database or "", config.redis, node_timeout=config.node_timeout,
                                            catch_up=config.catch_up)
        self.hub: Hub = hub or LocalHub(self._batcher)
        self.closing = False
        self._server: asyncio.Server | None = None
        self._db: Database | None = None
        self._lock: FolderLock | None = None
        self._adapter: CoreAdapter | None = None

    @property
    def db(self) -> Database:
        assert self._db is not None, "server not started"
        return self._db

    @property
    def adapter(self) -> CoreAdapter:
        assert self._adapter is not None, "server not started"
        return self._adapter

    @property
    def core(self) -> ChatCore:
        """The chat rules' state: every connection the server has, as the core knows it."""
        return self.adapter.core

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
        self._lock, store = await loop.run_in_executor(None, functools.partial(
            open_data, path, durable=self.config.durable, database=self.config.database))
        self._db = Database(store)
        for warning in await loop.run_in_executor(None, permission_warnings, path):
            log.warning("%s", warning)
        admins = await self.db.call(store.admin_names)
        if self.cluster is None:  # (several nodes: the other nodes' guests are online still)
            await self.db.call(store.drop_all_guests)  # a guest's rooms end with it, and no guest outlives a restart
        restrictions = await self.db.call(store.active_restrictions, int(time.time() * 1000))
        if self.config.budget is None:
            self.config.budget = plan_budget(descriptor_limit(), chat_port=True, web_port=False,
                                             admin_reserve=self.config.admin_reserve)
        blobs, secret = None, None
        if self.config.files_enabled:
            blobs = BlobStore(self.config.files_dir or files_dir(self.config.data_dir))
            secret = await loop.run_in_executor(None, blobs.secret)
        self._adapter = CoreAdapter(self.config, self.hub, self.db, admins, self._new_outbox,
                                    self.is_trusted_proxy, self._set_keepalive, self.config.budget, restrictions,
                                    blobs=blobs, files_secret=secret)
        if self.cluster is not None:
            await self._join_cluster(self.cluster, store)
        try:
            self._server = await loop.create_server(
                self._new_protocol,
                self.config.host,
                self.config.port,
                ssl=context,
                # A handshake never finished holds a descriptor before the core counts the
                # connection: it gets no longer than a login would (asyncio's default is 60 s).
                ssl_handshake_timeout=min(TLS_HANDSHAKE_TIMEOUT, self.config.login_timeout) if context else None,
                reuse_address=True,
                backlog=LISTEN_BACKLOG,
            )
        except OSError as error:
            await self.db.close()
            self._release_lock()
            raise listen_error(self.config.host, self.config.port, error) from None
        log.info(
            "listening on %s port %d%s; database %s (fsync %s); up to %d chat connections, %d more for admins",
            self.config.host, self.port, " (TLS)" if context else "", path,
            "on" if self.config.durable else "off", self.config.budget.chat, self.config.budget.admin_reserve,
        )

    async def _join_cluster(self, cluster: ClusterHub, store: Store) -> None:
        """Wire the cluster hub to this node's core and database, then join (StartupError if it cannot)."""
        adapter, db = self.adapter, self.db
        cluster.drive = adapter.drive
        cluster.render = functools.partial(delivery_of, adapter.core)
        cluster.reload_restrictions = adapter.reload_restrictions

        async def fetch(conv: str, after: int, limit: int) -> list[SequencedMessage]:
            return await db.call(store.messages_after, conv, after, limit)  # type: ignore[attr-defined]

        async def conversations(since_ms: int) -> list[tuple[str, int]]:
            return await db.call(store.conversation_seqs, since_ms)  # type: ignore[attr-defined]

        cluster.fetch, cluster.conversations = fetch, conversations
        try:
            await cluster.start()
        except Exception as error:
            await self.db.close()
            self._release_lock()
            raise StartupError(f"cannot join the cluster: {type(error).__name__}: {error}") from None

    async def health(self) -> dict[str, bool]:
        """Whether the services this server needs answer, by name: none for SQLite in the data folder;
        ``postgresql`` on PostgreSQL, and ``redis`` too in a cluster (the gateway's /healthz)."""
        if self.cluster is not None:
            return await self.cluster.health()
        if not is_postgres(self.config.database):
            return {}
        try:  # one cheap read on the store's own thread and connection (which reconnects by itself)
            await asyncio.wait_for(self.db.call(self.db.store.admin_names), HEALTH_TIMEOUT)
            return {"postgresql": True}
        except Exception:  # noqa: BLE001 - any failure means it does not answer
            return {"postgresql": False}

    def _new_protocol(self) -> ClientProtocol:
        return ClientProtocol(self.adapter)

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
            factory, self._new_protocol,
            near_extra={"peername": (self.config.host, self.port)},
            # Only this process opens pipes: its gateway's PROXY header is believed, whatever --trusted-proxy says.
            far_extra={"peername": peername, IN_PROCESS: True},
        )
        return transport, protocol

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
        if self._server is not None:
            self._server.close()
        adapter = self._adapter
        if adapter is not None:
            adapter.drive(ShutdownStarted())
            if not await self._connections_ended(adapter, 2):
                for protocol in list(adapter.protocols.values()):
                    protocol.outbox.abort()
                await self._connections_ended(adapter, 1)
            adapter.close()
        if self.cluster is not None:
            await self.cluster.close()
        if self._db is not None:
            await self._db.close()
        self._release_lock()
        log.info("stopped")

    @staticmethod
    async def _connections_ended(adapter: CoreAdapter, timeout: float) -> bool:
        """Wait until the core is done with every connection; False if some remain after ``timeout``."""
        if not adapter.protocols:
            return True
        try:
            await asyncio.wait_for(adapter.all_ended.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    # Shared services ---------------------------------------------------------

    def _new_outbox(self, transport: asyncio.Transport, on_overflow: Callable[[], None]) -> Outbox:
        return Outbox(
            transport,
            self._batcher,
            max_buffer=self.config.max_outbuf,
            legacy_pace=self.config.legacy_pace,
            on_overflow=on_overflow,
        )

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def is_trusted_proxy(self, host: str) -> bool:
        return is_trusted(host, self.config.trusted_proxies)


def open_data(path: Path, *, durable: bool, database: str | None = None) -> tuple[FolderLock, Store]:
    """Lock the data folder for this server, then open the database at ``path``.

    Blocking (run it off the loop). Raises StartupError when the folder cannot
    be used, another server holds it, or the database cannot be opened.
    """
    check_usable(path)  # its own clear words for a folder that cannot be written
    lock = FolderLock(path.parent)
    try:
        return lock, open_store(database, path.parent, durable=durable)
    except BaseException:
        lock.release()
        raise

