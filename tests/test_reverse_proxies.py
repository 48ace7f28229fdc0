"""Parley behind a real nginx and a real Caddy running the shipped deploy/ configs (TLS, prefix /chat/).

The client side connects over IPv6 loopback (::1) and the proxy reaches the
gateway over IPv4 (127.0.0.1), which is the only trusted proxy
(``--trusted-proxy 127.0.0.1/32``, as the deploy files say: no proxy is
trusted by default): so the address the chat server records tells the
browser's (::1) from the proxy's. Parley runs from this working tree.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from playwright.async_api import expect

from browser import login, open_conversation, open_page, say
from certs import https_session, unverified
from conftest import add_account
from proxies import Caddy, Nginx, ReverseProxy
from serverproc import ServeProcess
from parley.files import links
from parley.files.store import BlobStore
from parley.protocol import parse_frame
from wire import TIMEOUT, Client


@pytest.fixture(params=[Nginx, Caddy], ids=["nginx", "caddy"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServeProcess, ReverseProxy]]:
    with _deployed(request.param, tmp_path, "--trusted-proxy", "127.0.0.1/32") as deployed:
        yield deployed


@contextlib.contextmanager
def _deployed(proxy_class: type[ReverseProxy], tmp_path: Path, *flags: str) -> Iterator[tuple[ServeProcess, ReverseProxy]]:
    serve = ServeProcess(tmp_path / "data", *flags, source=True).start()
    proxy = proxy_class(tmp_path / "proxy", serve.http_port)
    try:
        proxy.start()
        yield serve, proxy
    finally:
        proxy.stop()
        serve.stop()


def joined_from(serve: ServeProcess, nickname: str) -> str:
    """The client address the chat server logged for ``nickname``'s login."""
    found = re.findall(rf"(\S+):\d+ {re.escape(nickname)}: joined as", serve.log.read_text())
    assert found, serve.log.read_text()
    return str(found[-1])


async def test_chat_through_the_proxy_records_the_browsers_address_not_the_proxys(deployment) -> None:
    serve, proxy = deployment
    origin = f"https://[::1]:{proxy.https_port}"
    async with https_session(unverified()) as http:
        async with http.get(proxy.url) as page:
            assert page.status == 200 and page.content_type == "text/html"
            assert page.headers["Content-Security-Policy"]
        # A client that claims to be someone else: the proxy adds what it saw.
        ws = await http.ws_connect(proxy.url + "ws", origin=origin, headers={"X-Forwarded-For": "6.6.6.6"})
        await ws.send_str("CON,nickname=ann;password=;color=#123456,")
        assert parse_frame((await ws.receive(TIMEOUT)).data).content == "OK"
        bob = await Client.connect(serve.port)
        await bob.login("bob")
        await ws.send_str("CHAT,rec=bob,hello through proxy")
        frame = await bob.next("CHATR")
        assert (frame.params["sender"], frame.content) == ("ann", "hello through proxy")
        await bob.send("CHAT,rec=ann,and back")
        while (message := parse_frame((await ws.receive(TIMEOUT)).data)).content != "and back":
            pass
        assert (message.reason, message.params["sender"]) == ("CHATR", "bob")
        await ws.close()
        await bob.close()
    assert joined_from(serve, "ann") == "::1"
    assert joined_from(serve, "bob") == "127.0.0.1"


async def test_the_proxy_passes_origin_refusal_and_hides_metrics(deployment) -> None:
    serve, proxy = deployment
    async with https_session(unverified()) as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(proxy.url + "ws", origin="https://evil.example")
        assert refused.value.status == 403
        # The page's own origin, as the browser used it (https, proxy's port), is fine.
        ok = await http.ws_connect(proxy.url + "ws", origin=f"https://[::1]:{proxy.https_port}")
        await ok.close()
        async with http.get(proxy.url + "metrics") as metrics:
            assert metrics.status == 404
        async with http.get(proxy.url + "healthz") as health:
            assert health.status == 200
        async with http.get(f"https://[::1]:{proxy.https_port}/chat", allow_redirects=False) as bare:
            assert bare.status in (301, 308) and bare.headers["Location"].endswith("/chat/")
        async with http.get(f"http://[::1]:{proxy.http_port}/chat/", allow_redirects=False) as plain:
            assert plain.status in (301, 308) and plain.headers["Location"].startswith("https://")


async def test_the_page_in_chromium_through_the_proxy(deployment, chromium) -> None:
    """The real page over https://[::1]/chat/: it loads, finds its WebSocket, chats."""
    serve, proxy = deployment
    ann = await open_page(chromium, proxy.url, "ann", ignore_https_errors=True)
    await login(ann.page, "ann")
    bob = await Client.connect(serve.port)
    try:
        await bob.login("bob")
        await say(ann.page, "hello from a browser behind a proxy")
        frame = await bob.next("CHATR")
        assert (frame.params["sender"], frame.content) == ("ann", "hello from a browser behind a proxy")
        await bob.send("CHAT,rec=ann,seen it")
        await open_conversation(ann.page, "bob")  # a private message is a conversation of its own
        await expect(ann.page.locator("#messages .msg-text", has_text="seen it")).to_be_visible()
        await ann.assert_clean()  # no CSP violation, console error or failed request through the proxy
    finally:
        await bob.close()
        await ann.page.context.close()
    assert joined_from(serve, "ann") == "::1"


async def test_behind_nginx_the_web_cap_counts_each_browsers_address(tmp_path: Path) -> None:
    # One address used to hold thousands of web connections; behind a proxy, by the browser's address.
    with _deployed(Nginx, tmp_path, "--trusted-proxy", "127.0.0.1/32",
                   "--max-web-connections-per-address", "1") as (serve, proxy):
        async with https_session(unverified()) as http:
            first = await http.ws_connect(proxy.url + "ws", origin=f"https://[::1]:{proxy.https_port}")
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(proxy.url + "ws", origin=f"https://[::1]:{proxy.https_port}")
            assert refused.value.status == 429
            other_url = f"https://127.0.0.1:{proxy.https_port}/chat/"
            other = await http.ws_connect(other_url + "ws", origin=f"https://127.0.0.1:{proxy.https_port}")
            await other.send_str("CON,nickname=cat;password=;color=#123456,")
            assert parse_frame((await other.receive(TIMEOUT)).data).content == "OK"
            for ws in (first, other):
                await ws.close()
    assert "refused: the address holds 1 web connections already" in serve.log.read_text()


async def test_behind_nginx_without_trust_the_log_says_which_proxy_to_trust(tmp_path: Path) -> None:
    # Every address of 127/8 used to be trusted, so any local process could claim any address.
    with _deployed(Nginx, tmp_path) as (serve, proxy):
        async with https_session(unverified()) as http:
            for _ in range(2):
                async with http.get(proxy.url) as page:
                    assert page.status == 200
            # Untrusted, the proxy's X-Forwarded-Proto is not believed either: the page's origin
            # (https) is not the one the gateway sees (http), so a browser's WebSocket is refused.
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(proxy.url + "ws", origin=f"https://[::1]:{proxy.https_port}")
            assert refused.value.status == 403
            ws = await http.ws_connect(proxy.url + "ws")  # no Origin: not a browser
            await ws.send_str("CON,nickname=ann;password=;color=#123456,")
            assert parse_frame((await ws.receive(TIMEOUT)).data).content == "OK"
            await ws.close()
    assert joined_from(serve, "ann") == "127.0.0.1"  # the proxy's address, not what it forwarded
    log = serve.log.read_text()
    assert log.count("start Parley with --trusted-proxy 127.0.0.1") == 1, log


async def test_behind_nginx_a_ban_of_the_browsers_address_keeps_it_out_and_not_the_proxy(tmp_path: Path) -> None:
    """An admin bans the address a browser comes from through the shipped nginx config: that browser is
    disconnected and refused at login, while everyone else (arriving through the same nginx) is not."""
    with _deployed(Nginx, tmp_path, "--trusted-proxy", "127.0.0.1/32") as (serve, proxy):
        add_account(tmp_path / "data", "boss", "password1", "admin")
        async with https_session(unverified()) as http:
            browser = f"https://[::1]:{proxy.https_port}"
            troll = await http.ws_connect(proxy.url + "ws", origin=browser)
            await troll.send_str("CON,nickname=troll;password=;color=#123456;rooms=1,")
            assert parse_frame((await troll.receive(TIMEOUT)).data).content == "OK"
            boss = await Client.connect(serve.port)  # from 127.0.0.1, nginx's own address
            await boss.send("CON,nickname=boss;password=password1;color=#123456;rooms=1,")
            assert (await boss.expect("CONVER")).content == "OK"
            await boss.send("BAN,address=::1,trolling")
            while (done := await boss.next("CONFIRM")).get("reason") != "BAN":
                pass
            assert done.content == "OK", done
            while (frame := parse_frame((await troll.receive(TIMEOUT)).data)).reason != "WARN":
                pass
            assert frame.content == "You have been banned for good: trolling"
            again = await http.ws_connect(proxy.url + "ws", origin=browser)
            await again.send_str("CON,nickname=newname;password=;color=#123456,")
            assert parse_frame((await again.receive(TIMEOUT)).data).content == "Error: You are banned for good: trolling"
            other_url = f"https://127.0.0.1:{proxy.https_port}/chat/"
            other = await http.ws_connect(other_url + "ws", origin=f"https://127.0.0.1:{proxy.https_port}")
            await other.send_str("CON,nickname=cat;password=;color=#123456,")
            assert parse_frame((await other.receive(TIMEOUT)).data).content == "OK"
            for ws in (troll, again, other):
                await ws.close()
            await boss.close()
    assert joined_from(serve, "cat") == "127.0.0.1" and joined_from(serve, "troll") == "::1"


async def test_a_10_mib_file_goes_up_and_down_through_the_proxy(deployment) -> None:
    # nginx refused any body over 1 MiB (its default client_max_body_size) and spooled uploads to disk.
    serve, proxy = deployment
    store = BlobStore(serve_data(serve) / "files")
    data = os.urandom(10 * 1024 * 1024)
    token = links.upload_ticket(store.secret(), "t1", len(data), int(time.time() * 1000) + 600_000)
    async with https_session(unverified()) as http:
        async with http.post(f"{proxy.url}files/upload?ticket={token}", data=io.BytesIO(data),
                             timeout=aiohttp.ClientTimeout(total=60)) as answer:
            assert answer.status == 200, await answer.text()
            result = await answer.json()
        sha = hashlib.sha256(data).hexdigest()
        assert (result["sha"], result["size"], result["type"]) == (sha, len(data), "application/octet-stream")
        async with http.get(proxy.url + links.file_link(store.secret(), 1, sha, "big.bin"),
                            timeout=aiohttp.ClientTimeout(total=60)) as answer:
            assert answer.status == 200 and await answer.read() == data
            assert answer.headers["Content-Disposition"] == "attachment; filename*=UTF-8''big.bin"
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
            assert answer.headers["Content-Security-Policy"] == "sandbox; default-src 'none'; img-src 'self'"
        # One byte more than the ticket: refused by the gateway, through the proxy.
        async with http.post(f"{proxy.url}files/upload?ticket={token}", data=io.BytesIO(data + b"!"),
                             timeout=aiohttp.ClientTimeout(total=60)) as answer:
            assert answer.status == 413
    assert store.blob_path(sha).read_bytes() == data and list(store.tmp.iterdir()) == []


def serve_data(serve: ServeProcess) -> Path:
    """The data folder ``parley serve`` was started with."""
    return Path(serve.args[serve.args.index("--data-dir") + 1])
