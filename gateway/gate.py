"""The web port's door: every connection passes here before aiohttp sees it.

``Gate`` is the protocol the listening socket creates; it admits or refuses a
connection at accept, then hands the connection to aiohttp's own request
handler and passes its bytes on, watching three things aiohttp does not:

* the connection's peer against the per-address cap (when the peer is not a
  trusted proxy; a proxy's requests are counted by the browser's address in
  ``guard_middleware`` once their headers are read) and the web port's share
  of the process's connection budget (parley/net/budget.py);
* the first request's headers arriving within ``--http-header-timeout``
  (aiohttp's keep-alive timer, ``--http-keepalive-timeout``, covers the time
  between requests);
* once the connection is a WebSocket, that every frame from the browser is
  masked (RFC 6455 section 5.1).

A refused connection gets a short HTTP answer with ``Connection: close``; its
request is read (so the close is a FIN, not a reset that could lose the
answer) for at most ``REFUSAL_LINGER`` seconds, ``MAX_LINGERING`` at a time
(past that, a refused connection is closed at once, unanswered). Refusals are logged at most
once per ``LogThrottle`` interval and kind.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web

from parley.net.budget import ConnectionBudget, LogThrottle, PerAddress
from parley.net.groups import limit_key
from parley.net.proxy import is_trusted

from . import frames
from .config import GatewayConfig
from .metrics import GatewayMetrics

if TYPE_CHECKING:
    from aiohttp.web_protocol import RequestHandler

log = logging.getLogger("parley.gateway")
REFUSAL_LINGER = 1.0  # seconds a refused connection may take to send its request before the close
# Refused connections waiting for their request at once; past it a refusal is a plain close at accept,
# so a flood of refused connections cannot use up the descriptors the budget keeps back.
MAX_LINGERING = 16
HEAD_END = b"\r\n\r\n"


@dataclass(frozen=True)
class HttpRefusal:
    """An HTTP answer that ends a connection the gateway will not serve."""

    status: int
    phrase: str
    text: str
    cause: str  # for the metrics and the log

    def response(self) -> bytes:
        body = self.text.encode("utf-8")
        return (
            f"HTTP/1.1 {self.status} {self.phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n"
        ).encode("ascii") + body


TOO_MANY = HttpRefusal(429, "Too Many Requests", "Too many connections from your address; try again later.\n",
                       "address")
FULL = HttpRefusal(503, "Service Unavailable", "The server is full; try again later.\n", "full")
HEADERS_LATE = HttpRefusal(408, "Request Timeout", "The request took too long to arrive.\n", "header_timeout")


@dataclass
class WebGuard:
    """What every connection of one web port is counted against."""

    config: GatewayConfig
    budget: ConnectionBudget
    metrics: GatewayMetrics
    per_address: PerAddress = field(init=False)
    throttle: LogThrottle = field(default_factory=LogThrottle)
    warned_untrusted: bool = False
    lingering: int = 0  # refused connections being answered

    def __post_init__(self) -> None:
        self.per_address = PerAddress(self.config.max_connections_per_address)

    def trusted(self, host: str) -> bool:
        return is_trusted(host, self.config.trusted_proxies)

    def refused(self, refusal: HttpRefusal, address: str) -> None:
        """Count a refusal, and log it unless one of its kind was logged a moment ago."""
        self.metrics.connections_refused.labels(refusal.cause).inc()
        held = self.throttle.allow(refusal.cause, asyncio.get_running_loop().time())
        if held is None:
            return
        more = f" ({held} more since the last such message)" if held else ""
        if refusal is FULL:
            log.warning("%s: refused: the web port's %d connections are all in use%s", address,
                        self.budget.web, more)
        elif refusal is TOO_MANY:
            log.warning("%s: refused: the address holds %d web connections already%s", address,
                        self.per_address.limit, more)
        else:
            log.warning("%s: closed: no request within %g s%s", address, self.config.http_header_timeout, more)


class Gate(asyncio.Protocol):
    """One connection to the web port: admitted, then passed to aiohttp's handler (see the module's text)."""

    def __init__(self, guard: WebGuard, make_handler: Callable[[], RequestHandler]) -> None:
        self._guard = guard
        self._make_handler = make_handler
        self._handler: RequestHandler | None = None
        self._transport: asyncio.Transport | None = None
        self._address = ""
        self._key: str | None = None  # counted under this per-address key
        self._counted = False  # against the budget
        self._timer: asyncio.TimerHandle | None = None
        self._seen = b""  # a refused connection's last bytes, to find its request's end
        self._lingering = False
        self._masks: frames.MaskCheck | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        peer = transport.get_extra_info("peername")
        self._address = str(peer[0]) if peer else ""
        guard = self._guard
        if not guard.budget.open_web():
            self._refuse(FULL)
            return
        self._counted = True
        if not guard.trusted(self._address):
            key = limit_key(self._address, guard.config.ipv6_prefix)
            if not guard.per_address.open(key):
                self._refuse(TOO_MANY)
                return
            self._key = key
        self._handler = self._make_handler()
        self._handler.connection_made(transport)
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(guard.config.http_header_timeout, self._headers_late)

    def request_started(self) -> None:
        """A request's headers are in: the header timeout is over (aiohttp times what follows)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def websocket_started(self) -> None:
        """From the next byte on, the browser sends WebSocket frames: check each one's mask."""
        self._masks = frames.MaskCheck()

    def _headers_late(self) -> None:
        self._timer = None
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        self._guard.refused(HEADERS_LATE, self._address)
        transport.write(HEADERS_LATE.response())
        transport.close()

    def _refuse(self, refusal: HttpRefusal) -> None:
        transport = self._transport
        assert transport is not None
        guard = self._guard
        guard.refused(refusal, self._address)
        if guard.lingering >= MAX_LINGERING:
            transport.abort()
            return
        guard.lingering += 1
        self._lingering = True
        transport.write(refusal.response())
        if transport.can_write_eof():
            transport.write_eof()  # the answer is whole: a client closes at once, so does this end
        self._timer = asyncio.get_running_loop().call_later(REFUSAL_LINGER, transport.close)

    def data_received(self, data: bytes) -> None:
        handler, transport = self._handler, self._transport
        if transport is None or transport.is_closing():
            return  # cut (an unmasked frame, a late request): nothing more reaches aiohttp
        if handler is None:  # refused: read the request, then close
            self._seen = self._seen[-3:] + data
            if HEAD_END in self._seen:
                transport.close()
            return
        if self._masks is not None and not self._masks.feed(data):
            self._unmasked()
            return
        handler.data_received(data)

    def _unmasked(self) -> None:
        transport = self._transport
        assert transport is not None and self._masks is not None
        self._masks = None
        guard = self._guard
        guard.metrics.closed_by_gateway.labels(str(frames.UNMASKED.code)).inc()
        if guard.throttle.allow("unmasked", asyncio.get_running_loop().time()) is not None:
            log.warning("%s: WebSocket closed: a frame without a mask (RFC 6455 5.1)", self._address)
        transport.write(frames.close_frame(frames.UNMASKED))
        transport.close()

    def eof_received(self) -> None:
        if self._handler is None:
            if self._transport is not None:
                self._transport.close()
            return
        self._handler.eof_received()  # aiohttp's returns None: the transport closes

    def connection_lost(self, exc: Exception | None) -> None:
        if self._lingering:
            self._lingering = False
            self._guard.lingering -= 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._counted:
            self._counted = False
            self._guard.budget.close_web()
        if self._key is not None:
            self._guard.per_address.close(self._key)
            self._key = None
        if self._handler is not None:
            self._handler.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._handler is not None:
            self._handler.pause_writing()

    def resume_writing(self) -> None:
        if self._handler is not None:
            self._handler.resume_writing()


def gate_of(request: web.BaseRequest) -> Gate | None:
    """The Gate a request came through (None for a test's request made without one)."""
    transport = request.transport
    protocol = transport.get_protocol() if transport is not None else None
    return protocol if isinstance(protocol, Gate) else None


FORWARDING_HEADERS = frozenset(("X-Forwarded-For", "Forwarded"))
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def guard_middleware(guard: WebGuard, client_address: Callable[[web.Request], str]) -> Any:
    """Ends the header timeout of each request; counts a trusted proxy's requests by the browser's address.

    A proxy's connection carries requests of many browsers, one after another:
    it counts against a browser's cap only while that browser's request (a
    WebSocket: all its life) is being answered.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        gate = gate_of(request)
        if gate is not None:
            gate.request_started()
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer is None or not guard.trusted(str(peer[0])):
            if not guard.warned_untrusted and FORWARDING_HEADERS & request.headers.keys():
                guard.warned_untrusted = True
                log.warning("%s sent X-Forwarded-For or Forwarded headers, which are ignored: it is not a "
                            "trusted proxy. If it is your reverse proxy, start Parley with --trusted-proxy %s "
                            "(this is said once)", peer[0] if peer else "a peer", peer[0] if peer else "ADDRESS")
            return await handler(request)
        address = client_address(request)
        key = limit_key(address, guard.config.ipv6_prefix)
        if not guard.per_address.open(key):
            guard.refused(TOO_MANY, address)
            refusal = web.HTTPTooManyRequests(text=TOO_MANY.text, headers={"Cache-Control": "no-store"})
            refusal.force_close()
            raise refusal
        try:
            return await handler(request)
        finally:
            guard.per_address.close(key)

    return middleware


class GatedSite(web.BaseSite):
    """A TCP listener whose connections pass through a ``Gate`` (aiohttp's TCPSite, gated)."""

    def __init__(self, runner: web.BaseRunner, guard: WebGuard, host: str, port: int, *,
                 ssl_context: Any = None, backlog: int = 128) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._guard = guard
        self._host = host
        self._port = port

    @property
    def name(self) -> str:
        return f"{'https' if self._ssl_context else 'http'}://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        guard = self._guard
        # Over TLS a connection reaches the Gate only once its handshake is done: bound that by the header timeout.
        self._server = await asyncio.get_running_loop().create_server(
            lambda: Gate(guard, server), self._host, self._port, ssl=self._ssl_context,
            backlog=self._backlog, reuse_address=True,
            ssl_handshake_timeout=guard.config.http_header_timeout if self._ssl_context else None,
        )
