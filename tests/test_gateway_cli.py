"""`parley serve` and `parley gateway` as a user runs them: installed, in child processes."""

from __future__ import annotations

import asyncio
import signal
import ssl
import socket
from pathlib import Path

import aiohttp
import pytest

from certs import https_session, self_signed
from serverproc import GatewayProcess, ServeProcess, ServerProcess
from wire import Client, ws_closed, ws_login, ws_next


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_serve_runs_server_and_gateway_and_prints_the_browser_url(tmp_path: Path) -> None:
    serve = ServeProcess(tmp_path / "data", "--trusted-proxy", "127.0.0.1").start()
    try:
        assert serve.printed(f"Web chat is running (HTTP port {serve.http_port})")
        assert serve.printed(f"    http://127.0.0.1:{serve.http_port}/\n")
        async with aiohttp.ClientSession() as http:
            async with http.get(serve.url) as page:  # the page shipped inside the installed package
                assert page.status == 200 and page.content_type == "text/html"
                assert "<script" in await page.text()
            ann = await ws_login(http, serve.url + "ws", "ann", headers={"X-Forwarded-For": "203.0.113.50"})
            bob = await Client.connect(serve.port)
            await bob.login("bob")
            await bob.send("CHAT,rec=ann,hi from tcp")
            assert (await ws_next(ann, "CHATR")).content == "hi from tcp"
            serve.stop(signal.SIGTERM)
            assert (await ws_next(ann, "WARN")).content.startswith("Server [shutting down]")
            await bob.close()
        # The server logged the browser's address from the gateway's PROXY header.
        assert "203.0.113.50" in serve.log.read_text()
    finally:
        serve.stop()


async def test_gateway_alone_follows_its_server_down_and_up(tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    server = ServerProcess(data, "--trusted-proxy", "127.0.0.1", port=port).start()
    gateway = GatewayProcess(tmp_path, port, env={"PARLEY_BASE_PATH": "/chat"}).start()
    base = f"http://127.0.0.1:{gateway.http_port}/chat/"
    try:
        assert gateway.printed(f"    {base}\n")
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "healthz") as health:
                assert health.status == 200
            ann = await ws_login(http, base + "ws", "ann")
            server.stop()
            closed = await ws_closed(ann)
            assert closed.data in (1000, 1011)
            await asyncio.sleep(1.1)  # past the cached health answer
            async with http.get(base + "healthz") as health:
                assert health.status == 503
            refused = await http.ws_connect(base + "ws")
            assert (await ws_closed(refused)).data == 1013
            server = ServerProcess(data, "--trusted-proxy", "127.0.0.1", port=port).start()
            await asyncio.sleep(1.1)  # past the cached health answer
            async with http.get(base + "healthz") as health:
                assert health.status == 200
            again = await ws_login(http, base + "ws", "ann")
            await again.close()
    finally:
        gateway.stop()
        server.stop()


async def test_serve_with_a_certificate_puts_the_page_and_the_tcp_port_on_tls(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    serve = ServeProcess(tmp_path / "data", "--tls-cert", str(cert), "--tls-key", str(key)).start()
    trust = ssl.create_default_context(cafile=str(cert))
    try:
        assert serve.printed(f"    https://127.0.0.1:{serve.http_port}/\n")
        base = f"https://127.0.0.1:{serve.http_port}/"
        async with https_session(trust) as http:
            async with http.get(base) as page:
                assert page.status == 200
            async with http.get(base + "healthz") as health:
                assert health.status == 200  # the gateway reaches its own server over TLS
            ann = await ws_login(http, base + "ws", "ann")
            bob = await Client.connect(serve.port, tls=trust)
            await bob.login("bob")
            await bob.send("CHAT,rec=-ALL,over tls both ways")
            assert (await ws_next(ann, "CHATR")).content == "over tls both ways"
            await ann.close()
            await bob.close()
    finally:
        serve.stop()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
async def test_serve_runs_on_either_event_loop(tmp_path: Path, loop: str) -> None:
    serve = ServeProcess(tmp_path / "data", "--loop", loop).start()
    try:
        async with aiohttp.ClientSession() as http:
            ann = await ws_login(http, serve.url + "ws", "ann")
            bob = await Client.connect(serve.port)
            await bob.login("bob")
            await ann.send_str("CHAT,rec=-ALL," + "x" * 3000)
            assert len((await ws_next(ann, "CHATR")).content) == 3000
            frame = await bob.next("CHATR")
            assert len(frame.content) == 3000
            await ann.close()
            await bob.close()
    finally:
        serve.stop()
    assert f"event loop: {loop}" in serve.log.read_text()


def test_the_gateway_shares_files_from_the_data_folder_unless_sharing_is_off(tmp_path: Path) -> None:
    from parley.cli import gateway_config
    from parley.flags import build_parser

    def files_root(*argv: str) -> Path | None:
        return gateway_config(build_parser().parse_args(list(argv)), ("127.0.0.1", 6666)).files_root

    assert files_root("serve", "--data-dir", str(tmp_path)) == tmp_path / "files"
    assert files_root("serve", "--data-dir", str(tmp_path), "--no-files") is None
    assert files_root("gateway", "--data", str(tmp_path)) == tmp_path / "files"
    assert files_root("gateway") is None
