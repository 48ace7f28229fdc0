"""The web gateway over real sockets: a real chat server, a real aiohttp site, WebSocket clients."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest

from gateway.app import start_gateway
from gateway.config import GatewayConfig
from server.app import ChatServer
from parley.net.proxy import parse_networks
from parley.protocol import Frame, format_frame, parse_frame
from conftest import ServerFactory, trusting_a_local_gateway
from wire import TIMEOUT, Client, eventually, ws_closed

GatewayFactory = Callable[..., Awaitable[str]]


@pytest.fixture
def make_server(make_server: ServerFactory) -> ServerFactory:
    return trusting_a_local_gateway(make_server)


@pytest.fixture
def web_root(tmp_path: Path) -> Path:
    root = tmp_path / "web"
    root.mkdir()
    (root / "index.html").write_text("<!doctype html><title>Parley</title><script type=module src=app.js></script>")
    (root / "app.js").write_text("export const ok = true;\n")
    (root / "style.css").write_text("body { margin: 0 }\n")
    (root / "notes.txt").write_text("not part of the page")
    return root


@pytest.fixture(params=["tcp", "pipe"])
async def make_gateway(request: pytest.FixtureRequest, server: ChatServer,
                       web_root: Path) -> AsyncIterator[GatewayFactory]:
    """Start gateways in front of the ``server`` fixture; return each one's base URL.

    Every test runs twice: the gateway reaching the server over TCP (``parley
    gateway``) and over in-process pipes (``parley serve``).
    """
    runners = []

    async def start(**settings: object) -> str:
        config = GatewayConfig(upstream_port=server.port, http_host="127.0.0.1", http_port=0, web_root=web_root)
        for name, value in settings.items():
            setattr(config, name, value)
        # A test that names its own upstream port means a TCP upstream, whichever the run.
        pipe = request.param == "pipe" and "upstream_port" not in settings
        connect_local = server.connect_local if pipe else None
        runner, port = await start_gateway(config, connect_local=connect_local)
        runners.append(runner)
        return f"http://127.0.0.1:{port}{config.base_path}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Browser:
    """A WebSocket client speaking frames as the page does: one text message each."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, text: str | Frame) -> None:
        await self.ws.send_str(format_frame(text) if isinstance(text, Frame) else text)

    async def recv(self, timeout: float = TIMEOUT) -> Frame:
        message = await self.ws.receive(timeout)
        assert message.type is aiohttp.WSMsgType.TEXT, message
        assert "\n" not in message.data
        return parse_frame(message.data)

    async def expect(self, reason: str) -> Frame:
        frame = await self.recv()
        assert frame.reason == reason, frame
        return frame

    async def login(self, nickname: str) -> None:
        await self.send(Frame("CON", {"nickname": nickname, "password": "", "color": "#3366CC"}))
        assert (await self.expect("CONVER")).content == "OK"
        await self.expect("INFO")
        await self.expect("USER")

    async def closed(self) -> aiohttp.WSMessage:
        """Wait for the close; return the close message (code in .data, reason in .extra)."""
        return await ws_closed(self.ws)


@pytest.fixture
async def browser(http: aiohttp.ClientSession) -> AsyncIterator[Callable[..., Awaitable[Browser]]]:
    opened: list[aiohttp.ClientWebSocketResponse] = []

    async def open_browser(base_url: str, **kwargs: object) -> Browser:
        ws = await http.ws_connect(base_url + "ws", **kwargs)  # type: ignore[arg-type]
        opened.append(ws)
        return Browser(ws)

    yield open_browser
    for ws in opened:
        await ws.close()


def peer_hosts(server: ChatServer) -> list[str]:
    return sorted(conn.host for conn in server.core.connections.values())


# The relay ------------------------------------------------------------------


async def test_two_browsers_and_a_tcp_client_chat_through_the_gateway(make_gateway, browser, server) -> None:
    base = await make_gateway()
    ann, bob = await browser(base), await browser(base)
    await ann.login("ann")
    await bob.login("bob")
    cat = await Client.connect(server.port)
    try:
        await cat.login("cat")
        await ann.send("CHAT,rec=-ALL,hello, everyone")
        for reader in (ann, bob):
            frame = await _next(reader, "CHATR")
            assert (frame.params["sender"], frame.params["rec"], frame.content) == ("ann", "-ALL", "hello, everyone")
        assert (await cat.next("CHATR")).content == "hello, everyone"
        await cat.send("CHAT,rec=bob,psst")
        private = await _next(bob, "CHATR")
        assert (private.params["sender"], private.params["rec"], private.content) == ("cat", "bob", "psst")
        await ann.send("PING,,still there?")
        assert (await _next(ann, "PONG")).content == "still there?"
    finally:
        await cat.close()


async def _next(reader: Browser, reason: str) -> Frame:
    """The next frame with ``reason``, skipping join/leave news."""
    while True:
        frame = await reader.recv()
        if frame.reason == reason:
            return frame


async def test_the_server_sees_the_browsers_address_not_the_gateways(make_gateway, browser, server) -> None:
    # The test's TCP peer is 127.0.0.1, trusted here; the PROXY header must name the browser.
    base = await make_gateway(trusted_proxies=parse_networks(["127.0.0.1"]))
    await browser(base, headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9"})
    await eventually(lambda: peer_hosts(server) == ["203.0.113.9"])


async def test_an_untrusted_peers_forwarded_for_is_ignored(make_gateway, browser, server) -> None:
    base = await make_gateway(trusted_proxies=parse_networks(["10.0.0.0/8"]))
    await browser(base, headers={"X-Forwarded-For": "203.0.113.9", "Forwarded": "for=198.51.100.1"})
    await eventually(lambda: peer_hosts(server) == ["127.0.0.1"])


async def test_per_address_limits_apply_to_the_browsers_address(make_server, web_root, http) -> None:
    server = await make_server(max_connections_per_address=2)
    runner, port = await start_gateway(GatewayConfig(
        upstream_port=server.port, http_host="127.0.0.1", http_port=0, web_root=web_root,
        trusted_proxies=parse_networks(["127.0.0.1"])))
    try:
        url = f"http://127.0.0.1:{port}/ws"
        same = {"X-Forwarded-For": "203.0.113.9"}
        first = await http.ws_connect(url, headers=same)
        second = await http.ws_connect(url, headers=same)
        third = await http.ws_connect(url, headers=same)
        refused = await third.receive(TIMEOUT)
        assert parse_frame(refused.data).content == "Error: Too many connections from your address."
        other = Browser(await http.ws_connect(url, headers={"X-Forwarded-For": "198.51.100.4"}))
        await other.login("dan")
        for ws in (first, second, third):
            await ws.close()
    finally:
        await runner.cleanup()


# Bad input closes the WebSocket with a clear code and reason ------------------


@pytest.mark.parametrize(
    ("send", "code", "reason"),
    [
        (lambda ws: ws.send_bytes(b"CHAT,rec=-ALL,hi"), 1003, "Binary messages are not accepted"),
        (lambda ws: ws.send_str("CHAT,rec=-ALL,one\nCHAT,rec=-ALL,two"), 1007, "without line breaks"),
        (lambda ws: ws.send_str("CHAT,rec=-ALL,a\rb"), 1007, "without line breaks"),
        (lambda ws: ws.send_frame(b"CHAT,rec=-ALL,\xff", aiohttp.WSMsgType.TEXT), 1007, ""),
        (lambda ws: ws.send_str("CHAT,rec=-ALL," + "é" * 4100), 1009, "Frame longer than 8192 bytes"),
        (lambda ws: ws.send_str("CHAT,rec=-ALL," + "x" * 200_000), 1009, ""),
    ],
    ids=["binary", "line-feed", "carriage-return", "not-utf8", "over-the-limit", "far-over-the-limit"],
)
async def test_bad_messages_close_the_websocket_and_its_upstream(make_gateway, browser, server, send, code, reason) -> None:
    base = await make_gateway()
    bystander, culprit = await browser(base), await browser(base)
    await bystander.login("calm")
    await culprit.login("noisy")
    await send(culprit.ws)
    closed = await culprit.closed()
    assert (closed.data, reason in (closed.extra or "")) == (code, True), closed
    await eventually(lambda: len(server.adapter.protocols) == 1)  # its upstream went with it
    await bystander.send("CHAT,rec=-ALL,still here")
    assert (await _next(bystander, "CHATR")).content == "still here"


async def test_a_frame_at_the_limit_passes_and_malformed_frames_get_the_servers_error(make_gateway, browser) -> None:
    base = await make_gateway(max_frame=100)
    ann = await browser(base)
    await ann.login("ann")
    text = "CHAT,rec=-ALL,"
    await ann.send(text + "x" * (100 - len(text)))
    assert len((await _next(ann, "CHATR")).content) == 100 - len(text)
    await ann.send("no comma here")
    assert (await ann.expect("ERR")).content.startswith("Error: Malformed frame")


# The server going away, the browser going away -------------------------------


async def test_server_down_closes_the_websocket_with_try_again_later(make_gateway, browser, http, unused_tcp_port) -> None:
    base = await make_gateway(upstream_port=unused_tcp_port)
    ws = await browser(base)
    closed = await ws.closed()
    assert (closed.data, closed.extra) == (1013, "Chat server unavailable; try again later")
    async with http.get(base + "healthz") as response:
        assert response.status == 503
    async with http.get(base + "metrics") as response:
        assert 'parley_gateway_upstream_failures_total{kind="connect"} 1.0' in await response.text()


@pytest.mark.parametrize("upstream", ["tcp", "pipe"])
async def test_a_browser_arriving_after_the_server_stopped_is_told_to_try_again_later(
        make_server, web_root, http, upstream) -> None:
    server = await make_server()
    runner, port = await start_gateway(
        GatewayConfig(upstream_port=server.port, http_host="127.0.0.1", http_port=0, web_root=web_root),
        connect_local=server.connect_local if upstream == "pipe" else None)
    try:
        await server.close()
        ws = Browser(await http.ws_connect(f"http://127.0.0.1:{port}/ws"))
        closed = await ws.closed()
        assert (closed.data, closed.extra) == (1013, "Chat server unavailable; try again later")
    finally:
        await runner.cleanup()


async def test_server_shutdown_reaches_the_browser_then_the_close(make_server, web_root, http) -> None:
    server = await make_server()
    runner, port = await start_gateway(GatewayConfig(
        upstream_port=server.port, http_host="127.0.0.1", http_port=0, web_root=web_root))
    try:
        ann = Browser(await http.ws_connect(f"http://127.0.0.1:{port}/ws"))
        await ann.login("ann")
        await server.close()
        warn = await _next(ann, "WARN")
        assert warn.content.startswith("Server [shutting down]")
        closed = await ann.closed()
        assert (closed.data, closed.extra) == (1000, "Chat server closed the connection")
    finally:
        await runner.cleanup()


async def test_a_vanished_browsers_upstream_closes_within_a_second(make_gateway, browser, server) -> None:
    base = await make_gateway()
    ann, bob = await browser(base), await browser(base)
    await ann.login("ann")
    await bob.login("bob")
    # No close frame, no goodbye: the browser's TCP connection just ends.
    transport = bob.ws._response.connection.transport  # type: ignore[union-attr]
    assert transport is not None
    transport.abort()
    started = asyncio.get_running_loop().time()
    await eventually(lambda: server.hub.online() == ["ann"], timeout=1.0)
    assert asyncio.get_running_loop().time() - started < 1.0
    while (await _next(ann, "INFO")).content != "bob has disconnected":
        pass


async def test_gateway_shutdown_closes_websockets_and_upstreams(server, web_root, http) -> None:
    runner, port = await start_gateway(GatewayConfig(
        upstream_port=server.port, http_host="127.0.0.1", http_port=0, web_root=web_root))
    ann = Browser(await http.ws_connect(f"http://127.0.0.1:{port}/ws"))
    await ann.login("ann")
    tasks_before = len(asyncio.all_tasks())
    await runner.cleanup()
    closed = await ann.closed()
    assert (closed.data, closed.extra) == (1001, "Gateway shutting down")
    await eventually(lambda: not server.adapter.protocols)
    assert len(asyncio.all_tasks()) <= tasks_before


async def test_idle_websockets_are_pinged(make_gateway, http) -> None:
    base = await make_gateway(ping_interval=0.2)
    ws = await http.ws_connect(base + "ws", autoping=False)
    message = await ws.receive(TIMEOUT)
    assert message.type is aiohttp.WSMsgType.PING
    await ws.close()


# Origins ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "headers", "allowed", "status"),
    [
        ("http://evil.example", {}, [], 403),
        ("null", {}, [], 403),
        ("http://127.0.0.1:{port}", {}, [], 101),
        ("http://evil.example", {}, ["http://EVIL.example:80"], 101),
        (None, {}, [], 101),
        # Behind a trusted proxy the page's own origin is what the browser used.
        ("https://chat.example.org", {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "chat.example.org"}, [], 101),
        ("https://chat.example.org", {"Forwarded": 'for=1.2.3.4;proto=https;host="chat.example.org"'}, [], 101),
        ("https://chat.example.org", {"Host": "chat.example.org", "X-Forwarded-Proto": "https"}, [], 101),
        ("http://chat.example.org", {"Host": "chat.example.org", "X-Forwarded-Proto": "https"}, [], 403),
    ],
)
async def test_websocket_upgrades_from_other_origins_are_refused(make_gateway, http, origin, headers, allowed, status) -> None:
    base = await make_gateway(allowed_origins=allowed, trusted_proxies=parse_networks(["127.0.0.1"]))
    port = base.split(":")[2].split("/")[0]
    request_headers = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                       "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", **headers}
    if origin is not None:
        request_headers["Origin"] = origin.format(port=port)
    async with http.get(base + "ws", headers=request_headers) as response:
        assert response.status == status
        if status == 403:
            assert "origin" in (await response.text()).lower()


async def test_forwarded_headers_from_an_untrusted_peer_do_not_make_an_origin_acceptable(make_gateway, http) -> None:
    base = await make_gateway(trusted_proxies=[])
    headers = {"Origin": "https://chat.example.org", "X-Forwarded-Proto": "https",
               "X-Forwarded-Host": "chat.example.org", "Connection": "Upgrade", "Upgrade": "websocket",
               "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    async with http.get(base + "ws", headers=headers) as response:
        assert response.status == 403


# The page, health, metrics ------------------------------------------------------


async def test_page_files_have_their_types_cache_and_security_headers(make_gateway, http) -> None:
    base = await make_gateway()
    expected = {"": "text/html", "index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}
    for name, content_type in expected.items():
        async with http.get(base + name) as response:
            assert response.status == 200
            assert response.content_type == content_type
            assert response.headers["Cache-Control"] == "no-cache"
            csp = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["Referrer-Policy"] == "no-referrer"
    for missing in ("notes.txt", "../pyproject.toml", "%2e%2e/pyproject.toml", "nothing.js"):
        async with http.get(base + missing) as response:
            assert response.status == 404
            assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_unchanged_files_answer_304(make_gateway, http) -> None:
    base = await make_gateway()
    async with http.get(base + "app.js") as response:
        modified = response.headers["Last-Modified"]
    async with http.get(base + "app.js", headers={"If-Modified-Since": modified}) as response:
        assert response.status == 304


async def test_everything_lives_under_the_base_path(make_gateway, browser, http) -> None:
    base = await make_gateway(base_path="/chat/")
    assert base.endswith("/chat/")
    root = base.removesuffix("chat/")
    async with http.get(root + "chat", allow_redirects=False) as response:
        assert response.status == 308
        assert response.headers["Location"] == "chat/"
    async with http.get(root + "chat") as response:
        assert response.status == 200 and response.content_type == "text/html"
    for outside in ("", "ws", "app.js", "healthz"):
        async with http.get(root + outside) as response:
            assert response.status == 404
    ann = await browser(base)  # /chat/ws
    await ann.login("ann")
    async with http.get(base + "healthz") as response:
        assert response.status == 200


async def test_healthz_and_metrics(make_gateway, browser, http) -> None:
    base = await make_gateway()
    async with http.get(base + "healthz") as response:
        assert (response.status, await response.text()) == (200, "ok\n")
    ann = await browser(base)
    await ann.login("ann")
    await ann.send("CHAT,rec=-ALL,counted")
    await _next(ann, "CHATR")
    async with http.get(base + "metrics") as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        text = await response.text()
    assert "parley_gateway_websockets_open 1.0" in text
    assert "parley_gateway_frames_to_server_total 2.0" in text  # CON and CHAT
    assert "parley_gateway_frames_to_browser_total 4.0" in text  # CONVER, INFO, USER, CHATR
    await ann.ws.close()

    async def open_count() -> str:
        async with http.get(base + "metrics") as response:
            return await response.text()

    for _ in range(100):
        if "parley_gateway_websockets_open 0.0" in await open_count():
            break
        await asyncio.sleep(0.02)
    assert "parley_gateway_websockets_open 0.0" in await open_count()


async def test_plain_http_to_the_websocket_endpoint_is_a_clear_400(make_gateway, http) -> None:
    base = await make_gateway()
    async with http.get(base + "ws") as response:
        assert response.status == 400
        assert "WebSocket" in await response.text()


async def test_no_tasks_or_sockets_leak_while_the_server_comes_and_goes(make_server, web_root, http) -> None:
    import psutil

    server = await make_server()
    port = server.port
    runner, http_port = await start_gateway(GatewayConfig(
        upstream_port=port, http_host="127.0.0.1", http_port=0, web_root=web_root))
    me = psutil.Process()
    url = f"http://127.0.0.1:{http_port}/ws"
    try:
        async def round_trip(expect_up: bool) -> None:
            ws = await http.ws_connect(url)
            if expect_up:
                await ws.send_str("PING,,x")
                assert parse_frame((await ws.receive(TIMEOUT)).data).reason == "PONG"
                await ws.close()
            else:
                assert (await ws.receive(TIMEOUT)).data == 1013

        await round_trip(True)
        await asyncio.sleep(0.1)
        tasks, fds = len(asyncio.all_tasks()), me.num_fds()
        for _ in range(3):
            await server.close()
            for _ in range(10):
                await round_trip(False)
            server = await make_server(port=port)
            for _ in range(10):
                await round_trip(True)
        await eventually(lambda: len(asyncio.all_tasks()) <= tasks and me.num_fds() <= fds)
    finally:
        await runner.cleanup()


async def test_a_burst_of_server_lines_reaches_the_browser_one_message_each_in_order(make_gateway, browser, server) -> None:
    base = await make_gateway()
    ann = await browser(base)
    await ann.login("ann")
    talker = await Client.connect(server.port)
    try:
        await talker.login("talker")
        sizes = [1, 125, 126, 3000, 7000] * 4  # within the flood limit's burst of 20
        await talker.send_raw(b"".join(b"CHAT,rec=-ALL,%d %s\n" % (i, b"z" * n) for i, n in enumerate(sizes)))
        for i, n in enumerate(sizes):
            frame = await _next(ann, "CHATR")
            assert frame.content == f"{i} " + "z" * n
    finally:
        await talker.close()
