"""The gateway's files routes over real sockets: uploads streamed to disk, downloads served safely.

Tickets are minted here from the files folder's secret, as the chat server
mints them (PROTOCOL.md, "Files"); the routes need no chat server, except in
the last test, which chats beside a stalled upload.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from disks import small_tmpfs
from PIL import Image
from serverproc import free_port
from test_files_store import image_bytes
from wire import TIMEOUT, eventually, ws_login, ws_next

from gateway.app import start_gateway
from gateway.config import GatewayConfig
from parley.files import links
from parley.files.store import BlobStore
from parley.protocol import texts
from server.app import ChatServer

CSP = "sandbox; default-src 'none'; img-src 'self'"


@dataclass
class Site:
    url: str  # the base URL, ending in /
    port: int
    store: BlobStore

    @property
    def secret(self) -> bytes:
        return self.store.secret()

    def ticket(self, size: int, ttl_ms: int = 600_000, name: str = "t1") -> str:
        return links.upload_ticket(self.secret, name, size, int(time.time() * 1000) + ttl_ms)

    def upload_url(self, token: str) -> str:
        return f"{self.url}files/upload?ticket={token}"

    def link(self, file_id: int, sha: str, name: str) -> str:
        return self.url + links.file_link(self.secret, file_id, sha, name)

    def leftovers(self) -> list[Path]:
        return list(self.store.tmp.iterdir()) if self.store.tmp.exists() else []

    def blobs(self) -> list[Path]:
        return sorted(p for p in self.store.blobs.glob("*/*")) if self.store.blobs.exists() else []


SiteFactory = Callable[..., Awaitable[Site]]


@pytest.fixture
async def make_site(tmp_path: Path) -> AsyncIterator[SiteFactory]:
    """Start gateways with a files folder (``files_root`` may be overridden); nobody listens upstream."""
    runners = []

    async def start(connect_local: object = None, **settings: object) -> Site:
        config = GatewayConfig(upstream_port=free_port(), http_host="127.0.0.1", http_port=0,
                               base_path="/chat/", files_root=tmp_path / "files")
        for name, value in settings.items():
            setattr(config, name, value)
        runner, port = await start_gateway(config, connect_local=connect_local)  # type: ignore[arg-type]
        runners.append(runner)
        root = config.files_root or tmp_path / "files-off"
        return Site(f"http://127.0.0.1:{port}/chat/", port, BlobStore(root))

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT * 4)) as session:
        yield session


async def upload(http: aiohttp.ClientSession, site: Site, data: bytes, size: int | None = None) -> dict[str, object]:
    async with http.post(site.upload_url(site.ticket(size or len(data))), data=data) as answer:
        assert answer.status == 200, await answer.text()
        result: dict[str, object] = await answer.json()
        return result


async def raw_request(port: int, head: str, body: bytes = b"") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head.encode("latin-1") + body)
    await writer.drain()
    return reader, writer


def upload_head(site: Site, token: str, length: int) -> str:
    return (f"POST /chat/files/upload?ticket={token} HTTP/1.1\r\nHost: 127.0.0.1:{site.port}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {length}\r\n\r\n")


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """The status and JSON body of one HTTP answer read from a raw socket."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    status = int(head.split(b" ", 2)[1])
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    body = await asyncio.wait_for(reader.readexactly(length), TIMEOUT)
    return status, json.loads(body)


async def test_an_image_goes_up_and_comes_back_inline_with_its_thumbnail(http, make_site) -> None:
    site = await make_site()
    data = image_bytes("PNG", (640, 400))
    result = await upload(http, site, data)
    sha = hashlib.sha256(data).hexdigest()
    assert {k: v for k, v in result.items() if k != "receipt"} == {
        "sha": sha, "size": len(data), "type": "image/png", "width": 640, "height": 400}
    assert links.read_receipt(site.secret, str(result["receipt"])) == links.Receipt(
        "t1", sha, len(data), "image/png", 640, 400)
    link = site.link(12, sha, "holiday photo.png")
    async with http.get(link) as answer:
        assert answer.status == 200 and await answer.read() == data
        headers = answer.headers
        assert headers["Content-Type"] == "image/png"
        assert headers["Content-Disposition"] == "inline; filename*=UTF-8''holiday%20photo.png"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Security-Policy"] == CSP
        assert headers["Cache-Control"] == "private, max-age=86400"
        assert headers["Referrer-Policy"] == "no-referrer"
    async with http.get(link + "?thumb=1") as answer:
        assert answer.status == 200 and answer.headers["Content-Type"] == "image/png"
        assert answer.headers["Content-Security-Policy"] == CSP
        with Image.open(io.BytesIO(await answer.read())) as thumb:
            assert thumb.size == (320, 200)
    async with http.get(link, headers={"Range": "bytes=0-7"}) as answer:
        assert answer.status == 206 and await answer.read() == data[:8]
    assert site.leftovers() == []


@pytest.mark.parametrize(("data", "served"), [
    (b"<!doctype html><script>alert(document.cookie)</script>", "application/octet-stream"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "application/octet-stream"),
    (b"plain notes\n", "text/plain; charset=utf-8"),
    (b"%PDF-1.4\n1 0 obj\n", "application/pdf"),
    (image_bytes("PNG", (50, 50))[:70], "application/octet-stream"),  # a PNG cut short: it does not decode
])
async def test_what_is_not_an_image_is_an_attachment_whatever_its_name(http, make_site, data, served) -> None:
    site = await make_site()
    result = await upload(http, site, data)
    assert (result["width"], result["height"]) == (0, 0)
    assert result["type"] == served.split(";")[0]
    link = site.link(3, str(result["sha"]), "cute cat.png")
    async with http.get(link) as answer:
        assert answer.status == 200 and await answer.read() == data
        assert answer.headers["Content-Type"] == served
        assert answer.headers["Content-Disposition"] == "attachment; filename*=UTF-8''cute%20cat.png"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Content-Security-Policy"] == CSP
    async with http.get(link + "?thumb=1") as answer:
        assert answer.status == 404
        assert await answer.json() == {"error": texts.FILE_NOT_FOUND}


@pytest.mark.parametrize("tail", [b"<html><script>alert(1)</script></html>", b"PK\x03\x04" + b"\0" * 26])
async def test_a_png_that_is_also_html_or_zip_is_served_as_a_png_only(http, make_site, tail) -> None:
    site = await make_site()
    data = image_bytes("PNG", (32, 32)) + tail  # a polyglot: the trailing bytes are another format
    result = await upload(http, site, data)
    assert (result["type"], result["width"]) == ("image/png", 32)
    async with http.get(site.link(1, str(result["sha"]), "x.html")) as answer:
        # The browser may only treat it as an image, in a sandbox, with nothing else loaded.
        assert answer.headers["Content-Type"] == "image/png"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Content-Security-Policy"] == CSP
        assert answer.headers["Content-Disposition"] == "inline; filename*=UTF-8''x.html"


async def test_the_same_bytes_twice_are_stored_once(http, make_site) -> None:
    site = await make_site()
    data = b"the same report\n" * 5000
    first, second = await upload(http, site, data), await upload(http, site, data)
    assert first["sha"] == second["sha"] and first["receipt"] != "" and second["size"] == len(data)
    assert [p.name for p in site.blobs()] == [first["sha"]] and site.leftovers() == []
    assert site.store.used_bytes() == len(data)


async def test_more_bytes_than_the_ticket_allows_are_refused_and_nothing_is_kept(http, make_site) -> None:
    site = await make_site()
    token = site.ticket(1000)
    # Announced: refused before the body is read.
    async with http.post(site.upload_url(token), data=b"x" * 5000) as answer:
        assert answer.status == 413 and await answer.json() == {"error": texts.UPLOAD_TOO_LARGE}

    async def chunks() -> AsyncIterator[bytes]:  # not announced (chunked): refused once past the size
        for _ in range(10):
            yield b"y" * 300

    async with http.post(site.upload_url(token), data=chunks()) as answer:
        assert answer.status == 413 and await answer.json() == {"error": texts.UPLOAD_TOO_LARGE}
    assert site.leftovers() == [] and site.blobs() == []
    async with http.post(site.upload_url(token), data=b"z" * 1000) as answer:  # exactly the size: fine
        assert answer.status == 200


async def test_forged_expired_and_missing_tickets_are_refused_before_the_body(http, make_site) -> None:
    site = await make_site()
    real = site.ticket(10_000_000)
    payload, mac = real.split(".")
    forged = links._b64(b'["t1",10000000,99999999999999]') + "." + mac
    for token, status, text in [(forged, 403, texts.UPLOAD_FORBIDDEN),
                                (site.ticket(100, ttl_ms=-1), 403, texts.UPLOAD_FORBIDDEN),
                                (links.upload_ticket(b"another key" * 3, "t1", 100, 2**50), 403, texts.UPLOAD_FORBIDDEN),
                                ("", 400, texts.UPLOAD_FORBIDDEN)]:
        # 10 MB announced and not a byte sent: the answer comes all the same.
        reader, writer = await raw_request(site.port, upload_head(site, token, 10_000_000))
        assert await read_answer(reader) == (status, {"error": text})
        writer.close()
    # A client that asks before sending (Expect: 100-continue) gets the refusal, not the go-ahead.
    reader, writer = await raw_request(site.port, upload_head(site, forged, 10_000_000).replace(
        "\r\n\r\n", "\r\nExpect: 100-continue\r\n\r\n"))
    assert await read_answer(reader) == (403, {"error": texts.UPLOAD_FORBIDDEN})
    writer.close()
    async with http.post(site.upload_url(site.ticket(5)), data=b"12345", expect100=True) as answer:
        assert answer.status == 200 and (await answer.json())["size"] == 5
    assert site.leftovers() == [] and [p.read_bytes() for p in site.blobs()] == [b"12345"]


async def test_an_upload_cut_halfway_leaves_no_part_file(make_site) -> None:
    site = await make_site()
    reader, writer = await raw_request(site.port, upload_head(site, site.ticket(200_000), 200_000), b"h" * 100_000)
    await eventually(lambda: len(site.leftovers()) == 1)  # being received
    writer.transport.abort()  # the browser's tab is closed
    await eventually(lambda: site.leftovers() == [])
    assert site.blobs() == []


async def test_a_stalled_upload_gets_408_and_leaves_no_part_file(make_site) -> None:
    site = await make_site(upload_stall_timeout=0.5)
    reader, writer = await raw_request(site.port, upload_head(site, site.ticket(50_000), 50_000), b"s" * 1000)
    started = time.monotonic()
    assert await read_answer(reader) == (408, {"error": texts.UPLOAD_STALLED})
    assert 0.4 < time.monotonic() - started < 0.5 + TIMEOUT
    writer.close()
    assert site.leftovers() == [] and site.blobs() == []


async def test_guessed_links_are_not_found(http, make_site) -> None:
    site = await make_site()
    result = await upload(http, site, b"secret plans\n")
    sha = str(result["sha"])
    good = site.link(4, sha, "plans.txt")
    async with http.get(good) as answer:
        assert answer.status == 200
    sig = good.split("/")[-2]
    other_sha = hashlib.sha256(b"other").hexdigest()
    for path in [f"files/4/{sha}/{'A' * 22}/plans.txt",  # a guessed signature
                 f"files/5/{sha}/{sig}/plans.txt",  # another file's id
                 f"files/4/{sha}/{sig}/other.txt",  # another name
                 f"files/4/{sha.upper()}/{sig}/plans.txt",
                 f"files/x/{sha}/{sig}/plans.txt",
                 links.file_link(site.secret, 4, other_sha, "plans.txt")]:  # signed, but no such bytes
        async with http.get(site.url + path) as answer:
            assert answer.status == 404, path
            assert await answer.json() == {"error": texts.FILE_NOT_FOUND}
            assert answer.headers["X-Content-Type-Options"] == "nosniff"


async def test_without_a_files_folder_file_sharing_is_off(http, make_site) -> None:
    site = await make_site(files_root=None)
    async with http.post(site.url + "files/upload?ticket=x", data=b"abc") as answer:
        assert answer.status == 404 and await answer.json() == {"error": texts.FILES_OFF}
    async with http.get(site.url + f"files/1/{'a' * 64}/{'b' * 22}/x.txt") as answer:
        assert answer.status == 404 and await answer.json() == {"error": texts.FILES_OFF}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: a disk that fills up."""
    with small_tmpfs(tmp_path / "small-disk", "1m") as mount:
        yield mount


async def test_a_full_disk_mid_upload_is_507_and_what_was_stored_is_intact(http, make_site, small_disk) -> None:
    site = await make_site(files_root=small_disk / "files")
    first = b"kept safe\n" * 40_000  # 400 kB
    stored = await upload(http, site, first)
    too_big = b"no room\n" * 100_000  # 800 kB: the disk fills halfway through
    async with http.post(site.upload_url(site.ticket(len(too_big))), data=too_big) as answer:
        assert answer.status == 507
        assert await answer.json() == {"error": texts.UPLOAD_DISK_FULL}
    assert site.leftovers() == [] and [p.name for p in site.blobs()] == [stored["sha"]]
    async with http.get(site.link(1, str(stored["sha"]), "a.txt")) as answer:
        assert answer.status == 200 and await answer.read() == first
    assert (await upload(http, site, b"small\n"))["size"] == 6  # room again once the part is gone


async def test_chat_goes_on_during_a_stalled_upload(http, make_site, server: ChatServer) -> None:
    site = await make_site(upstream_port=server.port, connect_local=server.connect_local,
                           upload_stall_timeout=2.0)
    reader, writer = await raw_request(site.port, upload_head(site, site.ticket(90_000), 90_000), b"w" * 30_000)
    await eventually(lambda: len(site.leftovers()) == 1)
    started = time.monotonic()
    ann = await ws_login(http, site.url + "ws", "ann")
    bob = await ws_login(http, site.url + "ws", "bob")
    await ann.send_str("CHAT,rec=bob,still here?")
    assert (await ws_next(bob, "CHATR")).content == "still here?"
    assert (await upload(http, site, b"another upload meanwhile"))["size"] == 24
    assert time.monotonic() - started < 2.0  # all of it while the upload is stalled
    assert await read_answer(reader) == (408, {"error": texts.UPLOAD_STALLED})
    writer.close()
    for ws in (ann, bob):
        await ws.close()


async def test_uploads_together_get_no_more_than_the_upload_rate(http, make_site) -> None:
    """Two uploads of 1.5 MB at --upload-rate 2M (2 MiB/s for both together) take at least 1.2 s (less the
    pacer's 0.25 s burst), and both arrive whole: paced, not refused. (A lower bound only: a slow machine is
    slower still.)"""
    site = await make_site(upload_rate=2 * 1024 * 1024)
    first, second = os.urandom(1_500_000), os.urandom(1_500_000)
    started = time.monotonic()
    async def send(data: bytes) -> dict[str, object]:
        async with http.post(site.upload_url(site.ticket(len(data))), data=io.BytesIO(data)) as answer:
            assert answer.status == 200, await answer.text()
            result: dict[str, object] = await answer.json()
            return result

    results = await asyncio.gather(send(first), send(second))
    took = time.monotonic() - started
    assert took >= 3_000_000 / (2 * 1024 * 1024) - 0.25 - 0.05
    assert sorted(r["sha"] for r in results) == sorted(hashlib.sha256(d).hexdigest() for d in (first, second))
