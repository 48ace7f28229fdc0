"""The web gateway: serves the page and tunnels its WebSockets to the chat server.

Routes, under the base path (``/`` by default, ``/chat/`` with ``--base-path /chat``):

* the page: ``index.html`` at the base path and the other files of ``web/``;
* ``ws``: the WebSocket endpoint (relay.py);
* ``healthz``: 200 when the chat server answers a PING (and, in ``parley serve``
  on PostgreSQL and Redis, when those answer too), 503 naming what does not;
* ``metrics``: Prometheus text (the gateway's, and the figures the server adds);
* ``files/upload`` and ``files/<id>/<sha>/<sig>/<name>``: shared files (files.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from pathlib import Path
from typing import AsyncIterator, Mapping

from aiohttp import web
from prometheus_client.registry import Collector

from parley.net.budget import descriptor_limit, plan_budget
from parley.net.listen import LISTEN_BACKLOG
from parley.startup import listen_error, tls_client_context, tls_server_context

from .config import GatewayConfig
from .files import add_routes as add_file_routes
from .gate import GatedSite, WebGuard, guard_middleware
from .invite import add_routes as add_invite_routes
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .relay import (
    CONNECT_TIMEOUT,
    GatewayState,
    LocalConnector,
    ServiceCheck,
    client_of,
    close_all,
    handle_websocket,
)

log = logging.getLogger("parley.gateway")
STATE = web.AppKey("state", GatewayState)

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
}
# No inline script or style, nothing from elsewhere: the page needs only itself.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
HEALTH_TIMEOUT = 2.0
HEALTH_CACHE = 1.0  # seconds a health answer is reused, so probes cannot flood the server


def normalize_base_path(path: str) -> str:
    """``chat``, ``/chat`` and ``/chat/`` all become ``/chat/``; empty becomes ``/``."""
    inner = path.strip().strip("/")
    return f"/{inner}/" if inner else "/"


def page_files(web_root: Path) -> dict[str, Path]:
    """The servable files of the page folder, by name (no subfolders, nothing hidden)."""
    if not web_root.is_dir():
        return {}
    return {
        p.name: p for p in sorted(web_root.iterdir())
        if p.is_file() and not p.name.startswith(".") and p.suffix in CONTENT_TYPES
    }


def create_app(config: GatewayConfig, connect_local: LocalConnector | None = None, *,
               services: ServiceCheck | None = None, collector: Collector | None = None) -> web.Application:
    """Build the gateway's aiohttp application for ``config``.

    ``connect_local`` (``ChatServer.connect_local``) connects browsers to a
    server in this same process without a socket; the upstream address then
    only serves ``/healthz``. ``services`` (``ChatServer.health``) tells
    ``/healthz`` whether the services that server needs answer;
    ``collector`` adds the server's own figures to ``/metrics``.
    """
    state = GatewayState(config, connect_local=connect_local, services=services)
    if collector is not None:
        state.metrics.registry.register(collector)
    if config.budget is None:
        # Alone, each of its WebSockets also holds a TCP connection to the chat server.
        config.budget = plan_budget(descriptor_limit(), chat_port=False, web_port=True,
                                    web_cost=1 if connect_local else 2)
    state.guard = WebGuard(config, config.budget, state.metrics)
    app = web.Application(middlewares=[guard_middleware(state.guard, lambda r: client_of(r, state).address)])
    app[STATE] = state
    base = normalize_base_path(config.base_path)
    files = page_files(config.web_root)

    async def page(request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("name", "index.html")
        path = files.get(name)
        if path is None:
            raise web.HTTPNotFound(text="Not found\n")
        return web.FileResponse(path, headers={
            "Content-Type": CONTENT_TYPES[path.suffix],
            # Names carry no version, so browsers must check back (a 304 is cheap).
            "Cache-Control": "no-cache",
        })

    async def websocket(request: web.Request) -> web.StreamResponse:
        return await handle_websocket(request, state)

    async def healthz(request: web.Request) -> web.Response:
        down = await _health(state)
        return web.Response(
            status=503 if down else 200,
            text="".join(f"{name} unavailable\n" for name in down) or "ok\n",
            headers={"Cache-Control": "no-store"},
        )

    async def metrics(request: web.Request) -> web.Response:
        response = web.Response(body=state.metrics.render(), headers={"Cache-Control": "no-store"})
        response.headers["Content-Type"] = METRICS_CONTENT_TYPE
        return response

    if base != "/":
        # "/chat" -> "/chat/": relative, so it stays right under any outer prefix.
        relative = base.rstrip("/").rsplit("/", 1)[-1] + "/"
        app.router.add_get(base.rstrip("/"), _redirect_to(relative))
    app.router.add_get(base, page)
    app.router.add_get(base + "ws", websocket)
    app.router.add_get(base + "healthz", healthz)
    app.router.add_get(base + "metrics", metrics)
    add_file_routes(app, base, config)
    add_invite_routes(app, base, config)
    app.router.add_get(base + "{name}", page)
    app.on_response_prepare.append(_add_security_headers)
    app.cleanup_ctx.append(_upstream_tls)
    app.on_shutdown.append(_close_websockets)
    return app


def _redirect_to(location: str):  # type: ignore[no-untyped-def]
    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPPermanentRedirect(location)

    return redirect


async def _add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


async def _upstream_tls(app: web.Application) -> AsyncIterator[None]:
    """Make the client TLS context for the chat server (off the event loop: it reads files)."""
    config = app[STATE].config
    if config.upstream_tls:
        loop = asyncio.get_running_loop()
        app[STATE].upstream_ssl = await loop.run_in_executor(
            None, lambda: tls_client_context(config.upstream_ca_file, verify=config.upstream_verify))
    yield


async def _close_websockets(app: web.Application) -> None:
    await close_all(app[STATE])


async def _health(state: GatewayState) -> list[str]:
    """What does not answer: the chat server (a PING), and the services it needs (answers reused for a second)."""
    loop = asyncio.get_running_loop()
    checked_at, down = state.health
    if loop.time() - checked_at < HEALTH_CACHE:
        return down
    services = _services_up(state.services) if state.services is not None else _no_services()
    server_ok, answers = await asyncio.gather(_ping_server(state), services)
    down = [] if server_ok else ["chat server"]
    down += [name for name, ok in answers.items() if not ok]
    state.health = (loop.time(), down)
    return down


async def _no_services() -> Mapping[str, bool]:
    return {}


async def _services_up(services: ServiceCheck) -> Mapping[str, bool]:
    try:
        return await services()
    except Exception as error:  # noqa: BLE001 - a failed check is an answer: nothing is known to work
        log.warning("health check failed: %s: %s", type(error).__name__, error)
        return {"services": False}


async def _ping_server(state: GatewayState) -> bool:
    config = state.config
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(config.upstream_host, config.upstream_port, ssl=state.upstream_ssl),
            min(CONNECT_TIMEOUT, HEALTH_TIMEOUT),
        )
    except (OSError, ssl.SSLError, asyncio.TimeoutError):
        return False
    try:
        writer.write(b"PING,,healthz\n")
        line = await asyncio.wait_for(reader.readline(), HEALTH_TIMEOUT)
        return line.startswith(b"PONG,")
    except (OSError, ssl.SSLError, asyncio.TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


async def start_gateway(config: GatewayConfig, connect_local: LocalConnector | None = None, *,
                        services: ServiceCheck | None = None,
                        collector: Collector | None = None) -> tuple[web.AppRunner, int]:
    """Start serving HTTP; return the runner (call ``cleanup()`` to stop) and the port.

    Raises StartupError (naming the certificate, CA file or address) for what a user can fix.
    """
    context = tls_server_context(config.tls_cert, config.tls_key) if config.tls_cert else None
    app = create_app(config, connect_local, services=services, collector=collector)
    guard = app[STATE].guard
    assert guard is not None
    # aiohttp's keep-alive timer also runs from the connection's start until its first request.
    runner = web.AppRunner(app, shutdown_timeout=3.0, keepalive_timeout=config.http_keepalive_timeout)
    try:
        await runner.setup()
        site = GatedSite(runner, guard, config.http_host, config.http_port, ssl_context=context,
                         backlog=LISTEN_BACKLOG)
        try:
            await site.start()
        except OSError as error:
            raise listen_error(config.http_host, config.http_port, error) from None
    except BaseException:
        await runner.cleanup()
        raise
    port = int(runner.addresses[0][1])
    log.info("web gateway on %s port %d%s, chat server %s:%d; up to %d web connections, %s per address",
             config.http_host, port, " (TLS)" if context else "", config.upstream_host, config.upstream_port,
             guard.budget.web, config.max_connections_per_address or "any number")
    return runner, port
