"""One browser WebSocket tunnelled to its own TCP connection to the chat server.

The handler's task reads the WebSocket and writes to the server; the
server's bytes are handled as they arrive, by the ``Upstream`` protocol.
Whichever side ends, the other is closed with it, and nothing outlives the
handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Awaitable, Callable, Mapping, cast
from weakref import WeakSet

from aiohttp import WSMsgType, web

from parley.net.proxy import format_proxy_line

from . import frames
from .config import GatewayConfig
from .forwarding import Client, Forwarding, origin_allowed, resolve
from .frames import LineSplitter, LineTooLong, Refusal
from .gate import WebGuard, gate_of
from .metrics import GatewayMetrics

if TYPE_CHECKING:
    from aiohttp.web_ws import WebSocketResponse

log = logging.getLogger("parley.gateway")
LocalConnector = Callable[[Callable[[], asyncio.Protocol], tuple[str, int]], tuple[asyncio.Transport, asyncio.Protocol]]
# Whether each service the chat server needs (e.g. "redis", "postgresql") answers, by name.
ServiceCheck = Callable[[], Awaitable[Mapping[str, bool]]]
CONNECT_TIMEOUT = 5.0
CLOSE_TIMEOUT = 2.0  # seconds a browser has to answer our close frame
WRITE_HIGH_WATER = 64 * 1024  # unsent bytes for one browser before the relay waits for it
DRAIN_POLL = 0.01  # seconds between looks at a full browser buffer
# Longest line accepted from the server: a user list of thousands of nicknames
# is far longer than any frame a client may send.
MAX_SERVER_LINE = 4 * 1024 * 1024


@dataclass
class GatewayState:
    """What every request handler of one gateway shares."""

    config: GatewayConfig
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)
    upstream_ssl: ssl.SSLContext | None = None
    websockets: "WeakSet[WebSocketResponse]" = field(default_factory=WeakSet)
    # When the server (and its services) were last checked, and what did not answer.
    health: tuple[float, list[str]] = (float("-inf"), [])
    # In ``parley serve``: the server in this same process, reached over an in-process pipe instead of TCP.
    connect_local: "LocalConnector | None" = None
    guard: WebGuard | None = None  # set by create_app
    # In ``parley serve`` on PostgreSQL (and Redis): whether each service the server needs answers, by name.
    services: ServiceCheck | None = None


def client_of(request: web.Request, state: GatewayState) -> Client:
    """Who the browser is, from the request and any trusted proxy's headers."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    headers = request.headers
    forwarding = Forwarding(
        x_forwarded_for=",".join(headers.getall("X-Forwarded-For", [])),
        x_forwarded_proto=headers.get("X-Forwarded-Proto", ""),
        x_forwarded_host=headers.get("X-Forwarded-Host", ""),
        forwarded=request.forwarded if "Forwarded" in headers else (),
    )
    return resolve(
        str(peer[0]) if peer else "0.0.0.0",
        request.scheme,
        request.host,
        forwarding,
        state.config.trusted_proxies,
    )


async def handle_websocket(request: web.Request, state: GatewayState) -> web.StreamResponse:
    """The ``ws`` endpoint: check the origin, upgrade, then tunnel until either side ends."""
    client = client_of(request, state)
    origin = request.headers.get("Origin")
    if not origin_allowed(origin, client, state.config.allowed_origins):
        state.metrics.refused.labels("origin").inc()
        log.warning("%s: WebSocket refused: origin %r is not allowed", client.address, origin[:100] if origin else origin)
        raise web.HTTPForbidden(text="This page's origin may not open the chat WebSocket.\n")
    config = state.config
    ws = web.WebSocketResponse(
        heartbeat=config.ping_interval or None,
        timeout=CLOSE_TIMEOUT,
        # Up to 4x the frame limit is read, so a message a little too long is
        # refused with a reason; aiohttp refuses anything longer unread (1009).
        max_msg_size=4 * config.max_frame,
        compress=False,
    )
    if not ws.can_prepare(request).ok:
        raise web.HTTPBadRequest(text="This is the chat WebSocket endpoint: a WebSocket upgrade is expected.\n")
    if _sent_before_handshake(request):
        # RFC 6455 4.1: the client "MUST wait for a response from the server before sending any further data";
        # frames sent early would reach aiohttp before the Gate checks their masks.
        raise web.HTTPBadRequest(text="Data arrived before the WebSocket handshake was answered.\n")
    gate = gate_of(request)
    if gate is not None:
        gate.websocket_started()
    await ws.prepare(request)
    state.websockets.add(ws)
    state.metrics.websockets.inc()
    state.metrics.websockets_open.inc()
    log.info("%s: WebSocket opened", client.address)
    try:
        await _tunnel(ws, client, request, state)
    finally:
        state.metrics.websockets_open.dec()
        log.info("%s: WebSocket closed (%s)", client.address, ws.close_code)
    return ws


def _sent_before_handshake(request: web.Request) -> bool:
    """Whether bytes followed the upgrade request before it was answered (aiohttp holds them for the parser)."""
    return bool(getattr(request.protocol, "_message_tail", b""))


class Upstream(asyncio.Protocol):
    """The browser's TCP connection to the chat server.

    The server's bytes are cut into lines right where they arrive and go to
    the browser as text frames, all the lines of one read in one write: no
    task and no stream buffer per WebSocket. A browser that stops reading
    pauses the reading here, so the server's output cap takes the strain,
    not this process's memory.
    """

    def __init__(self, browser: asyncio.WriteTransport, state: GatewayState) -> None:
        self._browser = browser
        self._state = state
        self._splitter = LineSplitter(MAX_SERVER_LINE)
        self.transport: asyncio.Transport | None = None
        self.ended: asyncio.Future[Refusal] = asyncio.get_running_loop().create_future()
        self._writable = asyncio.Event()
        self._writable.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            lines = self._splitter.feed(data)
        except LineTooLong:
            self._end(frames.SERVER_FRAME_TOO_LONG)
            return
        if not lines or self._browser.is_closing():
            return  # nothing whole yet, or the browser is gone (the other side ends the tunnel)
        self._browser.write(frames.text_frames(lines))
        self._state.metrics.frames_to_browser.inc(len(lines))
        if self._browser.get_write_buffer_size() > WRITE_HIGH_WATER:
            self._pause_for_browser()

    def _pause_for_browser(self) -> None:
        assert self.transport is not None
        self.transport.pause_reading()
        asyncio.get_running_loop().call_later(DRAIN_POLL, self._resume_when_drained)

    def _resume_when_drained(self) -> None:
        if self.transport is None or self.transport.is_closing() or self._browser.is_closing():
            return
        if self._browser.get_write_buffer_size() > WRITE_HIGH_WATER // 4:
            asyncio.get_running_loop().call_later(DRAIN_POLL, self._resume_when_drained)
        else:
            self.transport.resume_reading()

    def eof_received(self) -> bool:
        self._end(frames.SERVER_CLOSED)
        return False

    def connection_lost(self, error: Exception | None) -> None:
        if not self.ended.done():
            self._end(_lost(self._state) if error is not None else frames.SERVER_CLOSED)
        self._writable.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    async def drain(self) -> None:
        """Wait until the server takes more (its transport's buffer is below its high water)."""
        await self._writable.wait()

    def _end(self, refusal: Refusal) -> None:
        if not self.ended.done():
            self.ended.set_result(refusal)
        if self.transport is not None and refusal is frames.SERVER_FRAME_TOO_LONG:
            self.transport.abort()


async def _connect(state: GatewayState, client: Client, request: web.Request) -> Upstream:
    """Open the browser's connection to the server and send its PROXY header."""
    config = state.config
    # uvloop's transports are not asyncio.Transport subclasses: no isinstance here.
    browser = cast(asyncio.WriteTransport, request.transport)
    if browser is None:
        raise ConnectionResetError("the browser is gone")
    if state.connect_local is not None:
        # The gateway's own address as the server sees it, as a loopback connection would show it.
        transport, protocol = state.connect_local(lambda: Upstream(browser, state), (config.upstream_host, 0))
        upstream = cast(Upstream, protocol)
        server = (config.upstream_host, config.upstream_port)
    else:
        loop = asyncio.get_running_loop()
        transport, upstream = await asyncio.wait_for(
            loop.create_connection(
                lambda: Upstream(browser, state), config.upstream_host, config.upstream_port,
                ssl=state.upstream_ssl, server_hostname=config.upstream_host if state.upstream_ssl else None,
            ),
            CONNECT_TIMEOUT,
        )
        server = transport.get_extra_info("peername")
    peer = browser.get_extra_info("peername")
    client_port = int(peer[1]) if peer and str(peer[0]) == client.address else 0
    transport.write(format_proxy_line((client.address, client_port), (str(server[0]), int(server[1]))))
    return upstream


async def _tunnel(ws: web.WebSocketResponse, client: Client, request: web.Request, state: GatewayState) -> None:
    try:
        upstream = await _connect(state, client, request)
    except (OSError, asyncio.TimeoutError, ssl.SSLError) as error:
        state.metrics.upstream_failures.labels("connect").inc()
        log.warning("%s: cannot reach the chat server (%s)", client.address, error.__class__.__name__)
        await _close(ws, frames.SERVER_UNAVAILABLE, state)
        return
    # When the server ends first, closing the WebSocket also ends the reading below.
    closing = asyncio.ensure_future(_close_when_ended(ws, upstream, state))
    try:
        refusal = await _browser_to_server(ws, upstream, state)
        if refusal is not None:
            await _close(ws, refusal, state)
    finally:
        if upstream.ended.done():
            await closing  # let the close handshake finish (bounded by the close timeout)
        else:
            closing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await closing
        assert upstream.transport is not None
        upstream.transport.close()


async def _close_when_ended(ws: web.WebSocketResponse, upstream: Upstream, state: GatewayState) -> None:
    await _close(ws, await upstream.ended, state)


async def _browser_to_server(ws: web.WebSocketResponse, upstream: Upstream, state: GatewayState) -> Refusal | None:
    """Relay the browser's frames until the WebSocket closes; return why to close it, if we must."""
    limit = state.config.max_frame
    transport = upstream.transport
    assert transport is not None
    async for message in ws:
        if message.type is WSMsgType.TEXT:
            payload = message.data.encode("utf-8")
            refusal = frames.check_browser_frame(payload, limit)
            if refusal is not None:
                return refusal
            if transport.is_closing():  # uvloop raises on a write to a closing transport
                return None if upstream.ended.done() else _lost(state)
            transport.write(payload + b"\n")
            state.metrics.frames_to_server.inc()
            await upstream.drain()
        elif message.type is WSMsgType.BINARY:
            return frames.BINARY
        elif message.type is WSMsgType.ERROR:
            # aiohttp closed it already: a message far over the limit, bad UTF-8...
            state.metrics.closed_by_gateway.labels(str(ws.close_code)).inc()
            return None
    return None


def _lost(state: GatewayState) -> Refusal:
    state.metrics.upstream_failures.labels("lost").inc()
    return frames.SERVER_LOST


async def _close(ws: web.WebSocketResponse, refusal: Refusal, state: GatewayState) -> None:
    if ws.closed:
        return
    state.metrics.closed_by_gateway.labels(str(refusal.code)).inc()
    await ws.close(code=refusal.code, message=refusal.reason.encode("utf-8"))


async def close_all(state: GatewayState) -> None:
    """Close every open WebSocket (the gateway is shutting down)."""
    await asyncio.gather(
        *(_close(ws, frames.SHUTTING_DOWN, state) for ws in list(state.websockets)),
        return_exceptions=True,
    )
