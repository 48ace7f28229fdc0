"""One browser WebSocket tunnelled to its own TCP connection to the chat server.

One task reads the WebSocket and writes to the server; a second reads the
server and writes to the WebSocket, and is cancelled in ``finally``: whichever
side ends, the other is closed with it, and nothing outlives the handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from weakref import WeakSet

from aiohttp import WSMsgType, web

from server.proxy import format_proxy_line

from . import frames
from .config import GatewayConfig
from .forwarding import Client, Forwarding, origin_allowed, resolve
from .frames import LineSplitter, LineTooLong, Refusal
from .metrics import GatewayMetrics

if TYPE_CHECKING:
    from aiohttp.web_ws import WebSocketResponse

log = logging.getLogger("parley.gateway")
READ_SIZE = 65536
CONNECT_TIMEOUT = 5.0
CLOSE_TIMEOUT = 2.0  # seconds a browser has to answer our close frame
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
    health: tuple[float, bool] = (float("-inf"), False)  # when the server was last checked, and the answer


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


async def _connect(state: GatewayState, client: Client, request: web.Request) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open the browser's connection to the server and send its PROXY header."""
    config = state.config
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(
            config.upstream_host, config.upstream_port, ssl=state.upstream_ssl,
            server_hostname=config.upstream_host if state.upstream_ssl else None,
        ),
        CONNECT_TIMEOUT,
    )
    peer = request.transport.get_extra_info("peername") if request.transport else None
    client_port = int(peer[1]) if peer and str(peer[0]) == client.address else 0
    server = writer.get_extra_info("peername")
    writer.write(format_proxy_line((client.address, client_port), (str(server[0]), int(server[1]))))
    return reader, writer


async def _tunnel(ws: web.WebSocketResponse, client: Client, request: web.Request, state: GatewayState) -> None:
    try:
        reader, writer = await _connect(state, client, request)
    except (OSError, asyncio.TimeoutError, ssl.SSLError) as error:
        state.metrics.upstream_failures.labels("connect").inc()
        log.warning("%s: cannot reach the chat server (%s)", client.address, error.__class__.__name__)
        await _close(ws, frames.SERVER_UNAVAILABLE, state)
        return
    server_ended = asyncio.Event()
    to_browser = asyncio.create_task(_server_to_browser(reader, ws, state, server_ended))
    try:
        refusal = await _browser_to_server(ws, writer, state)
        if refusal is not None:
            await _close(ws, refusal, state)
    finally:
        if server_ended.is_set():
            # The server ended it and the WebSocket is closing: let the close
            # handshake finish (bounded by the WebSocket's close timeout).
            await asyncio.wait({to_browser})
        else:
            to_browser.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await to_browser
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError, asyncio.TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)


async def _browser_to_server(ws: web.WebSocketResponse, writer: asyncio.StreamWriter, state: GatewayState) -> Refusal | None:
    """Relay the browser's frames until the WebSocket closes; return why to close it, if we must."""
    limit = state.config.max_frame
    async for message in ws:
        if message.type is WSMsgType.TEXT:
            payload = message.data.encode("utf-8")
            refusal = frames.check_browser_frame(payload, limit)
            if refusal is not None:
                return refusal
            if writer.transport.is_closing():  # uvloop raises on a write to a closing transport
                return _lost(state)
            writer.write(payload + b"\n")
            state.metrics.frames_to_server.inc()
            try:
                await writer.drain()
            except (OSError, ssl.SSLError):
                return _lost(state)
        elif message.type is WSMsgType.BINARY:
            return frames.BINARY
        elif message.type is WSMsgType.ERROR:
            # aiohttp closed it already: a message far over the limit, bad UTF-8...
            state.metrics.closed_by_gateway.labels(str(ws.close_code)).inc()
            return None
    return None


async def _server_to_browser(
    reader: asyncio.StreamReader, ws: web.WebSocketResponse, state: GatewayState, ended: asyncio.Event
) -> None:
    """Relay the server's lines as text messages; close the WebSocket when the server ends."""
    splitter = LineSplitter(MAX_SERVER_LINE)
    sent = state.metrics.frames_to_browser
    while True:
        try:
            data = await reader.read(READ_SIZE)
            lines = splitter.feed(data)
        except (OSError, ssl.SSLError):
            refusal = _lost(state)
            break
        except LineTooLong:
            refusal = frames.SERVER_FRAME_TOO_LONG
            break
        if not data:
            refusal = frames.SERVER_CLOSED
            break
        try:
            for line in lines:
                await ws.send_frame(line, WSMsgType.TEXT)
        except ConnectionError:
            return  # the browser is gone: the other task notices and ends the tunnel
        sent.inc(len(lines))
    ended.set()
    await _close(ws, refusal, state)


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
