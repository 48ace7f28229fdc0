"""The web port under abuse (issue 12, items 1, 10 and 14), over real loopback sockets.

Slow or half-sent requests, idle keep-alive connections, many connections
from one address, a process out of file descriptors, unmasked WebSocket
frames, and forwarded-address headers from a peer nobody said to trust.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from conftest import ServerFactory, add_account, trusting_a_local_gateway
from serverproc import ServeProcess
from wire import TIMEOUT, Client, eventually, ws_login, ws_next

from gateway.app import start_gateway
from gateway.config import GatewayConfig
from parley.net.proxy import parse_networks
from server.app import ChatServer

GatewayFactory = Callable[..., Awaitable[int]]
KEY = base64.b64encode(b"sixteen byte key").decode()
UPGRADE = ("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
           f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n\r\n").encode()
PAGE = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.fixture
def make_server(make_server: ServerFactory) -> ServerFactory:
    return trusting_a_local_gateway(make_server)


@pytest.fixture
def web_root(tmp_path: Path) -> Path:
    root = tmp_path / "web"
    root.mkdir()
    (root / "index.html").write_text("<!doctype html><title>Parley</title>")
    return root


@pytest.fixture(params=["tcp", "pipe"])
async def make_gateway(request: pytest.FixtureRequest, server: ChatServer,
                       web_root: Path) -> AsyncIterator[GatewayFactory]:
    """Start gateways in front of the ``server`` fixture (over TCP, and in-process as in ``parley serve``)."""
    runners = []

    async def start(**settings: object) -> int:
        config = GatewayConfig(upstream_port=server.port, http_host="127.0.0.1", http_port=0, web_root=web_root)
        for name, value in settings.items():
            setattr(config, name, value)
        connect_local = server.connect_local if request.param == "pipe" else None
        runner, port = await start_gateway(config, connect_local=connect_local)
        runners.append(runner)
        return port

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def raw() -> AsyncIterator[Callable[..., Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]]:
    """Open plain TCP connections to a port, from ``source`` (any 127/8 address); all closed at the end."""
    opened: list[asyncio.StreamWriter] = []

    async def connect(port: int, source: str = "127.0.0.1") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        opened.append(writer)
        return reader, writer

    yield connect
    for writer in opened:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def read_all(reader: asyncio.StreamReader, timeout: float = TIMEOUT) -> bytes:
    """Everything until the peer closes (fails if it does not within ``timeout``)."""
    return await asyncio.wait_for(reader.read(), timeout)


async def served(port: int, source: str = "127.0.0.1") -> int:
    """The status a fresh request for the page gets from ``source``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        writer.write(PAGE.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        head = await asyncio.wait_for(reader.readline(), TIMEOUT)
        return int(head.split()[1])
    finally:
        writer.close()


# Item 1: time limits -----------------------------------------------------------


async def test_half_sent_headers_are_cut_after_the_header_timeout_while_a_browser_is_served(
        make_gateway, raw) -> None:
    # Used to be held open for as long as the sender liked (one silent for over 50 s).
    port = await make_gateway(http_header_timeout=0.5, http_keepalive_timeout=30)
    loop = asyncio.get_running_loop()
    started = loop.time()
    silent_reader, silent = await raw(port)
    silent.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never ends its headers
    trickle_reader, trickle = await raw(port)
    trickle.write(b"GET / HTTP/1.1\r\n")

    async def keep_trickling() -> None:
        for _ in range(40):  # one header byte every 0.1 s: never finishing within the timeout
            await asyncio.sleep(0.1)
            with contextlib.suppress(OSError):
                trickle.write(b"X")

    trickling = asyncio.ensure_future(keep_trickling())
    try:
        assert await served(port) == 200  # meanwhile a browser is served
        for reader in (silent_reader, trickle_reader):
            answer = await read_all(reader)
            assert answer.startswith(b"HTTP/1.1 408 ")
            assert b"Connection: close" in answer
        assert 0.4 < loop.time() - started < 3
        assert await served(port) == 200
    finally:
        trickling.cancel()


async def test_an_idle_keepalive_connection_is_closed(make_gateway, raw) -> None:
    # Used to stay open 75 s (aiohttp's default) with no flag to shorten it.
    port = await make_gateway(http_keepalive_timeout=0.5)
    reader, writer = await raw(port)
    writer.write(PAGE)
    assert (await reader.readline()).startswith(b"HTTP/1.1 200 ")
    loop = asyncio.get_running_loop()
    idle_from = loop.time()
    rest = await read_all(reader, 3)  # the rest of the answer, then the close
    assert b"<title>Parley</title>" in rest
    assert loop.time() - idle_from < 3


# Item 1: the per-address cap ------------------------------------------------------


async def test_one_address_over_the_web_cap_is_refused_while_another_is_served(make_gateway, raw, caplog) -> None:
    # One address used to hold 3,000 half-sent requests open.
    port = await make_gateway(max_connections_per_address=3)
    held = [await raw(port, "127.0.0.5") for _ in range(3)]
    for _, writer in held:
        writer.write(b"GET / HTTP/1.1\r\n")  # half-sent: each holds its connection
    await asyncio.sleep(0.1)
    answers = []
    for _ in range(5):
        reader, writer = await raw(port, "127.0.0.5")
        writer.write(PAGE)
        answers.append(await read_all(reader))
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 429 Too Many Requests\r\n")
        assert b"Connection: close" in answer
        assert answer.endswith(b"Too many connections from your address; try again later.\n")
    assert await served(port, "127.0.0.6") == 200  # another address is served
    refusals = [r for r in caplog.records if "refused" in r.getMessage() and r.name == "parley.gateway"]
    assert len(refusals) == 1, "five refusals in a moment are logged once"
    for _, writer in held:
        writer.close()
    await asyncio.sleep(0.1)
    assert await served(port, "127.0.0.5") == 200  # its connections closed, the address is served again


async def test_an_ipv6_64_counts_as_one_address() -> None:
    from parley.net.budget import PerAddress
    from parley.net.groups import limit_key

    cap = PerAddress(2)
    assert cap.open(limit_key("2001:db8::1")) and cap.open(limit_key("2001:db8::2"))
    assert not cap.open(limit_key("2001:db8::ffff"))
    assert cap.open(limit_key("2001:db8:0:1::1"))


async def test_behind_a_trusted_proxy_the_cap_counts_the_browsers_address(make_gateway, server) -> None:
    port = await make_gateway(max_connections_per_address=2, trusted_proxies=parse_networks(["127.0.0.1"]))
    url = f"http://127.0.0.1:{port}/ws"
    async with aiohttp.ClientSession() as http:
        crowd = {"X-Forwarded-For": "203.0.113.7"}
        first = await ws_login(http, url, "ann", headers=crowd)
        second = await ws_login(http, url, "bob", headers=crowd)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url, headers=crowd)
        assert refused.value.status == 429
        other = await ws_login(http, url, "cat", headers={"X-Forwarded-For": "198.51.100.4"})
        async with http.get(f"http://127.0.0.1:{port}/", headers=crowd) as page:
            assert page.status == 429
            assert await page.text() == "Too many connections from your address; try again later.\n"
        await first.close()
        async with http.get(f"http://127.0.0.1:{port}/", headers=crowd) as page:
            assert page.status == 200
        for ws in (second, other):
            await ws.close()


# Item 1: the connection budget ------------------------------------------------------


class LimitedServe(ServeProcess):
    """``parley serve`` from this working tree, with its descriptor limit lowered at start."""

    def __init__(self, data_dir: Path, limit: int, *flags: str) -> None:
        super().__init__(data_dir, *flags, source=True)
        # prlimit(1) sets the child's limit before it runs, as a service manager would.
        self.args = ["prlimit", f"--nofile={limit}:{limit}", *self.args]


@pytest.mark.skipif(sys.platform != "linux", reason="prlimit(1) is Linux's")
async def test_exhausting_the_web_port_leaves_chat_and_admin_logins_working(tmp_path: Path) -> None:
    # Two addresses opening 10,500 sockets each used up the process's 20,000
    # descriptors: new chat logins then got EOF, HTTP an empty reply, nothing logged.
    data = tmp_path / "data"
    add_account(data, "root", "rootpass", role="admin")
    serve = LimitedServe(data, 256).start()
    opened: list[socket.socket] = []
    try:
        # 256 descriptors leave the web port about 112 connections; try far more,
        # from ten addresses (each under the per-address cap).
        for n in range(300):
            sock = socket.create_connection(("127.0.0.1", serve.http_port), timeout=TIMEOUT,
                                            source_address=(f"127.0.1.{n % 10 + 1}", 0))
            opened.append(sock)
            sock.sendall(b"GET / HTTP/1.1\r\n")  # half-sent: held until the header timeout
        await asyncio.sleep(1.5)  # refused ones are answered and closed within a second
        reader, writer = await asyncio.open_connection("127.0.0.1", serve.http_port)
        writer.write(PAGE)
        answer = await read_all(reader)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert answer.endswith(b"The server is full; try again later.\n")
        chat = await Client.connect(serve.port)
        assert (await chat.login("ann")).content == "OK"
        admin = await Client.connect(serve.port)
        assert (await admin.login("root", "rootpass")).content == "OK"
        await admin.send("PING,,still here")
        assert (await admin.next("PONG")).content == "still here"
        for client in (chat, admin):
            await client.close()
        for sock in opened:
            sock.close()
        opened.clear()
        await asyncio.sleep(0.3)
        assert await served(serve.http_port) == 200  # and the page is served again once they go
    finally:
        for sock in opened:
            sock.close()
        serve.stop()
    log = serve.log.read_text()
    assert "web port's" in log and "connections are all in use" in log
    assert log.count("connections are all in use") < 5, "a flood of refusals is logged a few times, not each"


# Item 14: unmasked frames ----------------------------------------------------------


def _text_frame(payload: bytes, mask: bytes | None) -> bytes:
    head = bytes((0x81, (0x80 if mask else 0) | len(payload)))
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def _upgraded(port: int, raw) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:  # type: ignore[no-untyped-def]
    reader, writer = await raw(port)
    writer.write(UPGRADE)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    assert head.startswith(b"HTTP/1.1 101 ")
    return reader, writer


async def test_an_unmasked_frame_closes_the_websocket_with_1002_and_others_keep_working(make_gateway, raw) -> None:
    # Unmasked frames from a browser used to be accepted (RFC 6455 5.1: the server MUST close).
    port = await make_gateway()
    async with aiohttp.ClientSession() as http:
        calm = await ws_login(http, f"http://127.0.0.1:{port}/ws", "calm")
        reader, writer = await _upgraded(port, raw)
        writer.write(_text_frame(b"PING,,masked", b"\x01\x02\x03\x04"))
        assert b"PONG" in await asyncio.wait_for(reader.readuntil(b"masked"), TIMEOUT)
        writer.write(_text_frame(b"PING,,bare", None))
        rest = await read_all(reader)
        close = rest[rest.index(b"\x88"):]
        assert int.from_bytes(close[2:4], "big") == 1002
        assert b"masked" in close and b"PONG,,bare" not in rest
        await calm.send_str("PING,,and you?")
        assert (await ws_next(calm, "PONG")).content == "and you?"
        await calm.close()


async def test_frames_sent_with_the_upgrade_request_are_refused(make_gateway, raw) -> None:
    # Sent before the handshake's answer they would reach aiohttp unchecked.
    port = await make_gateway()
    reader, writer = await raw(port)
    writer.write(UPGRADE + _text_frame(b"PING,,early", None))
    answer = await read_all(reader)
    assert answer.startswith(b"HTTP/1.1 400 ") and b"PONG" not in answer


async def test_a_masked_stream_cut_anywhere_passes_the_mask_check() -> None:
    from gateway.frames import MaskCheck

    stream = b"".join(_text_frame(bytes(n % 256 for n in range(size)), b"abcd") for size in (0, 5, 125))
    long = bytes((0x81, 0x80 | 126)) + (300).to_bytes(2, "big") + b"abcd" + b"x" * 300
    stream += long + _text_frame(b"end", b"wxyz")
    for step in (1, 3, 7, len(stream)):
        check = MaskCheck()
        assert all(check.feed(stream[i:i + step]) for i in range(0, len(stream), step))
    check = MaskCheck()
    assert check.feed(stream[:-3]) and not check.feed(stream[-3:] + _text_frame(b"bare", None))


# Item 10: who is trusted ---------------------------------------------------------


async def test_by_default_no_proxy_is_trusted_and_the_host_is_told_how_once(make_gateway, server, caplog) -> None:
    # Every address of 127/8 used to be a trusted proxy: any local process could claim any address.
    port = await make_gateway()
    url = f"http://127.0.0.1:{port}/ws"
    async with aiohttp.ClientSession() as http:
        spoofed = [await ws_login(http, url, f"spoof{i}", headers={"X-Forwarded-For": "203.0.113.9"})
                   for i in range(2)]
        await eventually(lambda: sorted(c.host for c in server.core.connections.values()) == ["127.0.0.1"] * 2)
        for ws in spoofed:
            await ws.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "trusted" in r.getMessage()]
    assert len(warnings) == 1
    assert "--trusted-proxy 127.0.0.1" in warnings[0]


def test_flags_reach_the_gateway(monkeypatch) -> None:
    from parley.cli import gateway_config
    from parley.flags import build_parser

    monkeypatch.delenv("PARLEY_TRUSTED_PROXY", raising=False)
    args = build_parser().parse_args(["gateway", "--http-header-timeout", "4", "--http-keepalive-timeout", "9",
                                      "--max-web-connections-per-address", "7", "--ipv6-prefix", "56"])
    config = gateway_config(args, args.upstream)
    assert (config.http_header_timeout, config.http_keepalive_timeout, config.max_connections_per_address,
            config.ipv6_prefix) == (4, 9, 7, 56)
    assert config.trusted_proxies == []


def test_the_budget_stays_below_the_descriptor_limit_and_keeps_the_chat_ports_share() -> None:
    from parley.net.budget import Admission, plan_budget

    budget = plan_budget(256, chat_port=True, web_port=True, admin_reserve=8)
    assert budget.web + budget.chat + budget.admin_reserve <= 256 - 32
    assert budget.chat >= budget.web - 1 and budget.admin_reserve == 8
    while budget.open_web():
        pass
    assert [budget.open_chat() for _ in range(budget.chat)] == [Admission.NORMAL] * budget.chat
    assert budget.open_chat() is Admission.ADMIN_ONLY
    for _ in range(budget.admin_reserve - 1):
        budget.open_chat()
    assert budget.open_chat() is Admission.FULL
    alone = plan_budget(1000, chat_port=False, web_port=True, web_cost=2)
    assert alone.web * 2 <= 1000 - 50



async def test_past_the_chat_ports_share_only_admins_log_in_then_the_port_refuses_clearly(
        make_server, data_dir: Path, caplog) -> None:
    # Once descriptors ran out, chat logins got EOF with nothing logged, admins' as well.
    from parley.net.budget import ConnectionBudget

    add_account(data_dir, "root", "rootpass", role="admin")
    server = await make_server(budget=ConnectionBudget(web=0, chat=2, admin_reserve=1))
    guests = [await Client.connect(server.port) for _ in range(2)]
    for n, guest in enumerate(guests):
        await guest.login(f"guest{n}")
    late = await Client.connect(server.port)  # in the admins' reserve
    await late.send("CON,nickname=late;password=;color=#FFFFFF,")
    assert (await late.expect("CONVER")).content == "Error: The server is full; try again later."
    assert await late.closed_by_server()
    admin = await Client.connect(server.port)
    assert (await admin.login("root", "rootpass")).content == "OK"
    full = await Client.connect(server.port)  # past the reserve: refused at once
    assert (await full.expect("CONVER")).content == "Error: The server is full; try again later."
    assert await full.closed_by_server()
    await admin.send("PING,,admin here")
    assert (await admin.next("PONG")).content == "admin here"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("only an admin may log in" in w for w in warnings)
    assert any("refused (the admins' reserve is in use too)" in w for w in warnings)
    for guest in guests:
        await guest.close()
    await eventually(lambda: server.config.budget is not None and server.config.budget.chat_open == 1)
    again = await Client.connect(server.port)
    await again.login("again")  # with places free again, anyone logs in
    for client in (*guests, late, admin, full, again):
        await client.close()


async def test_over_https_the_limits_answer_the_same(make_gateway, tmp_path: Path) -> None:
    from certs import self_signed, unverified

    cert, key = self_signed(tmp_path)
    port = await make_gateway(tls_cert=cert, tls_key=key, http_header_timeout=0.5, max_connections_per_address=1)
    context = unverified()
    slow_reader, slow = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    slow.write(b"GET / HTTP/1.1\r\n")  # half-sent, and holding the address's one connection
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    writer.write(PAGE)
    assert (await read_all(reader)).startswith(b"HTTP/1.1 429 ")
    assert (await read_all(slow_reader)).startswith(b"HTTP/1.1 408 ")
    for stream in (writer, slow):
        stream.close()
    silent_tls = await asyncio.open_connection("127.0.0.1", port)  # opens TCP, never starts its TLS handshake
    assert await read_all(silent_tls[0]) == b""  # cut within the header timeout, not asyncio's 60 s
    silent_tls[1].close()
