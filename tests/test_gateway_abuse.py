"""The gateway under abuse through WebSockets: the server's limits hold, the gateway stays bounded."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
from pathlib import Path

import aiohttp
import pytest

from conftest import ServerFactory, trusting_a_local_gateway
from serverproc import GatewayProcess, ServeProcess
from parley.protocol import parse_frame
from wire import TIMEOUT, eventually, ws_login


@pytest.fixture
def make_server(make_server: ServerFactory) -> ServerFactory:
    return trusting_a_local_gateway(make_server)


async def frames_until_closed(ws: aiohttp.ClientWebSocketResponse) -> tuple[list, aiohttp.WSMessage]:
    got = []
    while True:
        message = await ws.receive(TIMEOUT)
        if message.type is not aiohttp.WSMsgType.TEXT:
            return got, message
        got.append(parse_frame(message.data))


async def test_a_websocket_flood_is_refused_then_cut_off_and_others_notice_nothing(make_server, tmp_path: Path) -> None:
    server = await make_server(chat_rate=1.0, chat_burst=3, flood_strikes=2)
    gateway = GatewayProcess(tmp_path, server.port).start()
    url = gateway.url + "ws"
    try:
        async with aiohttp.ClientSession() as http:
            flooder, calm = await ws_login(http, url, "flooder"), await ws_login(http, url, "calm")
            for i in range(10):
                await flooder.send_str(f"CHAT,rec=-ALL,spam {i}")
            got, closed = await frames_until_closed(flooder)
            assert [f.content for f in got if f.reason == "CHATR"] == ["spam 0", "spam 1", "spam 2"]
            assert [f.content for f in got if f.reason == "WARN"] == ["You have been disconnected for flooding the chat."]
            assert (closed.data, closed.extra) == (1000, "Chat server closed the connection")
            await calm.send_str("CHAT,rec=-ALL,fine")
            seen = []
            while (frame := parse_frame((await calm.receive(TIMEOUT)).data)).content != "fine":
                seen.append(frame.reason)
            assert "ERR" not in seen and "WARN" not in seen
            await calm.close()
    finally:
        gateway.stop()


async def test_many_websockets_from_one_address_meet_the_servers_cap(make_server, tmp_path: Path) -> None:
    server = await make_server(max_connections_per_address=3)
    gateway = GatewayProcess(tmp_path, server.port, "--trusted-proxy", "127.0.0.1").start()
    url = gateway.url + "ws"
    try:
        async with aiohttp.ClientSession() as http:
            crowd = {"X-Forwarded-For": "203.0.113.77"}
            sockets = []
            for _ in range(8):
                ws = await http.ws_connect(url, headers=crowd)
                with contextlib.suppress(ConnectionError):  # a refused one may be closing already
                    await ws.send_str("PING,,x")
                sockets.append(ws)
            # Upstreams reach the server in whatever order they connect: count, not order.
            answers = [parse_frame((await ws.receive(TIMEOUT)).data) for ws in sockets]
            assert sorted(f.reason for f in answers) == ["CONVER"] * 5 + ["PONG"] * 3
            refused = [ws for ws, f in zip(sockets, answers) if f.reason == "CONVER"]
            assert {f.content for f in answers if f.reason == "CONVER"} == {
                "Error: Too many connections from your address."}
            for ws in refused:
                # Closed with its upstream: 1000, or 1011 when our PING met the
                # server's closed socket and came back as a reset.
                assert (await ws.receive(TIMEOUT)).data in (1000, 1011)
            other = await ws_login(http, url, "elsewhere", headers={"X-Forwarded-For": "198.51.100.2"})
            await other.close()
            for ws in sockets:
                await ws.close()
    finally:
        gateway.stop()


def masked_text_frame(text: str) -> bytes:
    """One client-to-server WebSocket text frame (RFC 6455: clients mask)."""
    payload = text.encode()
    mask = os.urandom(4)
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def stalled_websocket(port: int, nickname: str) -> socket.socket:
    """A browser that logs in and then never reads again (tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    sock.settimeout(TIMEOUT)
    assert sock.recv(4096).startswith(b"HTTP/1.1 101")
    sock.sendall(masked_text_frame(f"CON,nickname={nickname};password=;color=#123456,"))
    return sock


FLOOD_MESSAGES = 2000  # of 4,000 bytes: 8 MB that a stalled browser never takes
FLOOD_WINDOW = 100  # messages (400 KB) the readers may be behind the sender


async def _caught_up(counts: dict[str, int], least: int) -> None:
    while min(counts.values()) < least:
        await asyncio.sleep(0.005)


async def flood(talker: aiohttp.ClientWebSocketResponse,
                readers: dict[str, aiohttp.ClientWebSocketResponse]) -> tuple[dict[str, int], list[str]]:
    """Send FLOOD_MESSAGES CHATs from ``talker`` while each reader reads them all; return the CHATRs
    each got and the INFO texts they saw."""
    counts = dict.fromkeys(readers, 0)
    news: list[str] = []

    async def listen(name: str, ws: aiohttp.ClientWebSocketResponse) -> None:
        while counts[name] < FLOOD_MESSAGES:
            frame = parse_frame((await ws.receive(TIMEOUT)).data)
            counts[name] += frame.reason == "CHATR"
            if frame.reason == "INFO":
                news.append(frame.content)

    listening = [asyncio.create_task(listen(name, ws)) for name, ws in readers.items()]
    line = "x" * 4000
    for i in range(FLOOD_MESSAGES):
        if i % FLOOD_WINDOW == 0:
            # The readers (on this loop, beside the sender) keep within a window of the sender, well under
            # the server's cap, however busy the machine: only the stalled browser falls behind.
            await asyncio.wait_for(_caught_up(counts, i - FLOOD_WINDOW), 6 * TIMEOUT)
        await talker.send_str(f"CHAT,rec=-ALL,{i} {line}")
    await asyncio.wait_for(asyncio.gather(*listening), 6 * TIMEOUT)
    return counts, news


def read_to_the_end(sock: socket.socket) -> None:
    """Whatever was buffered for the stalled browser, then the end of its connection."""
    sock.settimeout(3 * TIMEOUT)
    while sock.recv(65536):
        pass


async def test_a_browser_that_never_reads_is_cut_off_and_the_gateway_stays_small(make_server, tmp_path: Path) -> None:
    server = await make_server(chat_rate=0, max_outbuf=256 * 1024)
    gateway = GatewayProcess(tmp_path, server.port, "--ping-interval", "2").start()
    url = gateway.url + "ws"
    stalled = stalled_websocket(gateway.http_port, "sleepy")
    try:
        async with aiohttp.ClientSession() as http:
            talker, listener = await ws_login(http, url, "talker"), await ws_login(http, url, "listener")
            rss_before = gateway.rss()
            await flood(talker, {"listener": listener})
            grown = gateway.rss() - rss_before
            print(f"gateway RSS grew {grown / 1e6:.1f} MB while 8 MB went to a browser that never reads")
            # The gateway buffers a bounded amount for it, not the 8 MB it was sent.
            assert grown < 4 * 1024 * 1024, grown
            # The server cut its upstream; the gateway then closes the WebSocket.
            await eventually(lambda: "sleepy" not in server.hub.online(), 3 * TIMEOUT)
            read_to_the_end(stalled)
            await talker.close(), await listener.close()
    finally:
        stalled.close()
        gateway.stop()


async def test_in_parley_serve_a_browser_that_never_reads_is_cut_off_by_the_servers_cap(tmp_path: Path) -> None:
    """The same through ``parley serve``, whose gateway reaches the server over in-process pipes.

    A pipe has no kernel buffer: what the gateway has not taken counts
    against the server's cap at once, so the two readers must keep up within
    the cap (1 MiB here) and the gateway's socket buffers. The stalled one
    cannot: the kernel holds at most 4 MiB for it (tcp_wmem), 8 MB are sent.
    """
    serve = ServeProcess(tmp_path / "data", "--chat-rate", "0", "--max-outbuf", str(1024 * 1024),
                         "--ping-interval", "2").start()
    url = serve.url + "ws"
    stalled = stalled_websocket(serve.http_port, "sleepy")
    try:
        async with aiohttp.ClientSession() as http:
            talker, listener = await ws_login(http, url, "talker"), await ws_login(http, url, "listener")
            counts, news = await flood(talker, {"talker": talker, "listener": listener})
            assert counts == {"talker": 2000, "listener": 2000}
            # The server cut the stalled browser off at its cap, and only it.
            log = serve.log.read_text()
            assert "sleepy: outgoing buffer overflowed; disconnected" in log
            assert log.count("outgoing buffer overflowed") == 1, log
            assert "sleepy has disconnected" in news
            read_to_the_end(stalled)
            await talker.close(), await listener.close()
    finally:
        stalled.close()
        serve.stop()
