"""Sharing files through the chat server and the gateway in one process, as `parley serve` runs them:
UPLOAD over real TCP, the bytes over real HTTP, the metadata in a real SQLite file, the blobs on disk;
with a client of the original program in the lobby while it happens."""

from __future__ import annotations

import asyncio
import hashlib
import io
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from conftest import add_account
from PIL import Image
from test_nicknames import legacy
from test_rooms import ORIGINAL_REASONS, legacy_frames, rooms_login
from wire import Client, eventually

from gateway.app import start_gateway
from gateway.config import GatewayConfig
from parley.files import links
from parley.files.store import BlobStore
from parley.paths import files_dir
from parley.protocol import Frame, texts
from parley.protocol.sizes import human_size
from server.app import ChatServer
from server.store import database_path

PASSWORD = "password1"


def png(width: int = 64, height: int = 48, color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


class Served:
    """A chat server and its gateway in this process (as `parley serve`), and an HTTP client for its page."""

    def __init__(self, server: ChatServer, port: int, http: aiohttp.ClientSession) -> None:
        self.server = server
        self.http_port = port
        self.http = http
        self.base = f"http://127.0.0.1:{port}/"

    async def post(self, url: str, body: bytes) -> tuple[int, dict[str, Any]]:
        async with self.http.post(url, data=body) as response:
            return response.status, await response.json()

    async def get(self, link: str, thumb: bool = False) -> tuple[int, bytes, Any]:
        async with self.http.get(self.base + link + ("?thumb=1" if thumb else "")) as response:
            return response.status, await response.read(), response.headers


ServedFactory = Callable[..., Awaitable[Served]]


@pytest.fixture
async def serve(make_server, data_dir: Path, tmp_path: Path) -> AsyncIterator[ServedFactory]:
    runners: list[Any] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(**settings: object) -> Served:
        server = await make_server(**settings)
        web_root = tmp_path / "web"
        web_root.mkdir(exist_ok=True)
        config = GatewayConfig(upstream_port=server.port, http_host="127.0.0.1", http_port=0, web_root=web_root,
                               files_root=files_dir(data_dir))
        runner, port = await start_gateway(config, connect_local=server.connect_local)
        runners.append(runner)
        if "files_url" not in settings:
            server.config.files_url = f"http://127.0.0.1:{port}/"
        sessions.append(aiohttp.ClientSession())
        return Served(server, port, sessions[-1])

    yield start
    for session in sessions:
        await session.close()
    for runner in runners:
        await runner.cleanup()


async def upload(client: Client, served: Served, rec: str, name: str, body: bytes) -> Frame:
    """UPLOAD, POST the bytes, CHAT file=: return the CHATR the sender gets back."""
    await client.send(Frame("UPLOAD", {"rec": rec, "name": name, "size": str(len(body))}))
    grant = await client.next("UPLOAD")
    status, answer = await served.post(grant.params["url"] + "?ticket=" + grant.params["ticket"], body)
    assert status == 200, answer
    await client.send(Frame("CHAT", {"rec": rec, "file": answer["receipt"]}))
    return await client.next("CHATR")


async def refused(client: Client, rec: str, name: str, size: int) -> str:
    await client.send(Frame("UPLOAD", {"rec": rec, "name": name, "size": str(size)}))
    frame = await client.next("ERR")
    return frame.content


async def test_a_file_in_a_private_room_reaches_its_members_and_nobody_else(serve, data_dir) -> None:
    served = await serve()
    old = await legacy(served.server.port)
    ann, _ = await rooms_login(served.server.port, "ann")
    bob, _ = await rooms_login(served.server.port, "bob")
    cat, _ = await rooms_login(served.server.port, "cat")
    try:
        old.send("CON,nickname=oldie;password=;color=#00FF00,")
        await asyncio.to_thread(legacy_frames, old)
        await ann.send("CREATE,room=#secret;private=1,")
        await ann.send("INVITE,room=#secret;user=bob,")
        await ann.drain(0.3)
        await bob.drain(0.3)
        await bob.send("JOIN,room=#secret,")
        await bob.drain(0.3)
        picture = png()
        mine = await upload(ann, served, "#secret", "../../shot.png", picture)
        theirs = await bob.next("CHATR")
        assert theirs.params == mine.params
        params = theirs.params
        assert params["fname"] == "shot.png" and params["fsize"] == str(len(picture))
        assert params["ftype"] == "image/png" and (params["fw"], params["fh"]) == ("64", "48")
        assert params["file"] == params["id"] and params["rec"] == "#secret"
        line = f"[file] shot.png ({human_size(len(picture))}) {served.base}{params['flink']}"
        assert theirs.content == line
        status, body, headers = await served.get(params["flink"])
        assert (status, body) == (200, picture)
        assert headers["Content-Type"] == "image/png" and headers["X-Content-Type-Options"] == "nosniff"
        status, thumb, _ = await served.get(params["flink"], thumb=True)
        assert status == 200 and Image.open(io.BytesIO(thumb)).size == (64, 48)
        # Outside the room: nothing arrives, and a link made up from what can be guessed is not served.
        assert all(f.reason != "CHATR" for f in await cat.drain(0.3))
        assert all(f.reason != "CHATR" for f in await asyncio.to_thread(legacy_frames, old, 0.3))
        sha = hashlib.sha256(picture).hexdigest()
        for guess in (f"files/{params['file']}/{sha}/{'A' * 22}/shot.png",
                      params["flink"].replace(f"files/{params['file']}/", f"files/{int(params['file']) + 1}/"),
                      params["flink"].replace("shot.png", "other.png")):
            assert (await served.get(guess))[0] == 404
        # The members' history carries the file as it was sent.
        await bob.send("HISTORY,rec=#secret,")
        old_one = await bob.next("CHATR")
        assert old_one.params["flink"] == params["flink"] and old_one.params["old"] == "1"
        # One UPLOAD's receipt posts one message.
        await ann.send(Frame("UPLOAD", {"rec": "#secret", "name": "again.png", "size": str(len(picture))}))
        grant = await ann.next("UPLOAD")
        status, answer = await served.post(grant.params["url"] + "?ticket=" + grant.params["ticket"], picture)
        await ann.send(Frame("CHAT", {"rec": "#secret", "file": answer["receipt"]}))
        await ann.next("CHATR")
        await ann.send(Frame("CHAT", {"rec": "#secret", "file": answer["receipt"]}))
        assert (await ann.next("ERR")).content == texts.UPLOAD_INVALID
        assert BlobStore(files_dir(data_dir)).has(sha)  # the same bytes, stored once
    finally:
        old.close()
        for client in (ann, bob, cat):
            await client.close()


async def test_an_original_client_sees_a_lobby_file_as_a_line_with_its_name_and_link(serve) -> None:
    served = await serve()
    old = await legacy(served.server.port)
    ann, _ = await rooms_login(served.server.port, "ann")
    try:
        old.send("CON,nickname=oldie;password=;color=#00FF00,")
        await asyncio.to_thread(legacy_frames, old)
        notes = b"meeting at noon\n"
        sent = await upload(ann, served, "-ALL", "notes.txt", notes)
        seen = [f for f in await asyncio.to_thread(legacy_frames, old, 0.5) if f.reason == "CHATR"]
        assert [f.content for f in seen] == [f"[file] notes.txt (16 B) {served.base}{sent.params['flink']}"]
        assert {f.reason for f in await asyncio.to_thread(legacy_frames, old, 0.2)} <= ORIGINAL_REASONS
        # The link in that line works from a browser, as an attachment (only images are shown inline).
        status, body, headers = await served.get(sent.params["flink"])
        assert (status, body) == (200, notes)
        assert headers["Content-Disposition"].startswith("attachment")
        # REF replays the line; search finds the file by its name.
        old.send("REF,,")
        replay = [f for f in await asyncio.to_thread(legacy_frames, old, 0.5) if f.reason == "CHATR"]
        assert replay[-1].content == seen[0].content
        await ann.send("SEARCH,,notes")
        found = await ann.next("CHATR")
        assert found.params["found"] == "1" and found.params["flink"] == sent.params["flink"]
    finally:
        old.close()
        await ann.close()


async def test_uploads_are_refused_before_a_byte_is_sent_with_a_clear_reason(serve, data_dir) -> None:
    add_account(data_dir, "dee", PASSWORD)
    served = await serve(max_file_size=1000, guest_quota=1500, account_quota=4000, files_total=6000)
    ann, _ = await rooms_login(served.server.port, "ann")
    dee, _ = await rooms_login(served.server.port, "dee", PASSWORD)
    try:
        assert await refused(ann, "-ALL", "big.bin", 1500) == texts.FILE_TOO_LARGE.format(
            size="1.5 KB", limit="1.0 KB")
        assert await refused(ann, "-ALL", "empty.txt", 0) == texts.FILE_EMPTY
        await ann.send("UPLOAD,rec=-ALL;size=10,")
        assert (await ann.next("ERR")).content == texts.FILE_NAME_REQUIRED
        await ann.send("UPLOAD,rec=-ALL;name=x;size=ten,")
        assert (await ann.next("ERR")).content == texts.FILE_NAME_REQUIRED
        assert await refused(ann, "-ALL", "n" * 1001, 10) == texts.FILE_NAME_TOO_LONG.format(limit=1000)
        assert await refused(ann, "#nowhere", "a.txt", 10) == texts.NO_ROOM.format(room="#nowhere")
        assert await refused(ann, "nobody", "a.txt", 10) == texts.UNRECOGNIZED_RECIPIENT.format(rec="nobody")
        await dee.send("CREATE,room=#theirs,")
        await dee.drain(0.3)
        assert await refused(ann, "#theirs", "a.txt", 10) == texts.NOT_IN_ROOM.format(room="#theirs")
        # A guest's quota counts its tickets not used yet: two of 800 bytes are more than 1500.
        await ann.send("UPLOAD,rec=-ALL;name=one.bin;size=800,")
        await ann.next("UPLOAD")
        assert await refused(ann, "-ALL", "two.bin", 800) == texts.FILE_QUOTA.format(used="800 B", quota="1.5 KB")
        # An account has more; the server's total (6000) counts everyone's.
        for number in range(4):
            await upload(dee, served, "-ALL", f"{number}.bin", bytes([number]) * 1000)
        assert await refused(dee, "-ALL", "five.bin", 1000) == texts.FILE_QUOTA.format(
            used="4.0 KB", quota="4.0 KB")
        await upload(ann, served, "-ALL", "small.bin", b"x" * 100)  # its ticket of 800 still holds
        assert await refused(ann, "-ALL", "three.bin", 700) == texts.FILE_QUOTA.format(
            used="900 B", quota="1.5 KB")
        status, _ = await served.post(served.base + "files/upload?ticket=forged", b"abc")
        assert status == 403
        await ann.send(Frame("CHAT", {"rec": "-ALL", "file": "forged.receipt"}))
        assert (await ann.next("ERR")).content == texts.UPLOAD_INVALID
        # Everyone else is served all the while.
        await dee.send("CHAT,rec=-ALL,still here")
        assert (await ann.next("CHATR")).content == "still here"
    finally:
        await ann.close()
        await dee.close()


async def test_long_and_control_character_names_are_kept_short_and_a_private_room_stays_hidden(serve) -> None:
    served = await serve()
    ann, _ = await rooms_login(served.server.port, "ann")
    bob, _ = await rooms_login(served.server.port, "bob")
    try:
        # 300 characters with control characters: kept as 120, the extension whole.
        await ann.send(Frame("UPLOAD", {"rec": "-ALL", "name": "\x1b[31m" + "l" * 296 + ".png", "size": "10"}))
        kept = (await ann.next("UPLOAD")).params["name"]
        assert len(kept) == 120 and kept.endswith(".png") and "\x1b" not in kept
        # A private room bob is not in is, to bob, no room at all: for a file and for a message.
        await ann.send("CREATE,room=#vault;private=1,")
        await ann.drain(0.3)
        assert await refused(bob, "#vault", "a.txt", 10) == texts.NO_ROOM.format(room="#vault")
        await bob.send("CHAT,rec=#vault,hello?")
        assert (await bob.next("ERR")).content == texts.NO_ROOM.format(room="#vault")
    finally:
        await ann.close()
        await bob.close()


async def test_the_servers_total_counts_each_blob_once(serve) -> None:
    served = await serve(files_total=2500)
    ann, _ = await rooms_login(served.server.port, "ann")
    try:
        same = b"s" * 1000
        await upload(ann, served, "-ALL", "a.bin", same)
        await upload(ann, served, "-ALL", "b.bin", same)  # the same bytes: 1000 of the total, not 2000
        await upload(ann, served, "-ALL", "c.bin", b"c" * 1000)
        assert await refused(ann, "-ALL", "d.bin", 1000) == texts.FILES_FULL
    finally:
        await ann.close()


async def test_a_receipt_is_good_only_for_its_user_and_conversation(serve) -> None:
    served = await serve()
    ann, _ = await rooms_login(served.server.port, "ann")
    bob, _ = await rooms_login(served.server.port, "bob")
    try:
        await ann.send("UPLOAD,rec=bob;name=for-bob.txt;size=5,")
        grant = await ann.next("UPLOAD")
        assert grant.params["rec"] == "bob" and grant.params["url"] == served.base + "files/upload"
        status, answer = await served.post(grant.params["url"] + "?ticket=" + grant.params["ticket"], b"hello")
        assert status == 200
        await bob.send(Frame("CHAT", {"rec": "ann", "file": answer["receipt"]}))  # someone else's
        assert (await bob.next("ERR")).content == texts.UPLOAD_INVALID
        await ann.send("UPLOAD,rec=bob;name=for-bob.txt;size=5,")
        grant = await ann.next("UPLOAD")
        status, answer = await served.post(grant.params["url"] + "?ticket=" + grant.params["ticket"], b"hello")
        await ann.send(Frame("CHAT", {"rec": "-ALL", "file": answer["receipt"]}))  # another conversation
        assert (await ann.next("ERR")).content == texts.UPLOAD_INVALID
        # A ticket refused is spent: the right one now is refused too (attach the file again).
        await ann.send(Frame("CHAT", {"rec": "BOB", "file": answer["receipt"]}))
        assert (await ann.next("ERR")).content == texts.UPLOAD_INVALID
    finally:
        await ann.close()
        await bob.close()


async def test_a_file_cannot_be_edited_and_deleting_it_removes_its_bytes_unless_shared(serve, data_dir) -> None:
    served = await serve()
    ann, _ = await rooms_login(served.server.port, "ann")
    try:
        shared = png(color="blue")
        first = await upload(ann, served, "-ALL", "one.png", shared)
        second = await upload(ann, served, "-ALL", "two.png", shared)
        alone = await upload(ann, served, "-ALL", "three.txt", b"only here")
        await ann.send(f"EDIT,id={first.params['id']},new text")
        while (answer := await ann.next("CONFIRM")).params["reason"] != "EDIT":
            pass
        assert answer.content == texts.FILE_NO_EDIT
        blobs = BlobStore(files_dir(data_dir))
        sha = hashlib.sha256(shared).hexdigest()
        await ann.send(f"DELETE,id={first.params['id']},")
        await ann.next("DELETED")
        assert (await served.get(first.params["flink"]))[0] == 200  # two.png holds the same bytes
        assert blobs.has(sha)
        await ann.send(f"DELETE,id={second.params['id']},")
        await ann.next("DELETED")
        await eventually(lambda: not blobs.has(sha) and not blobs.thumb_path(sha).exists())
        assert (await served.get(second.params["flink"]))[0] == 404
        await ann.send(f"DELETE,id={alone.params['id']},")
        await ann.next("DELETED")
        await eventually(lambda: not blobs.has(hashlib.sha256(b"only here").hexdigest()))
        db = sqlite3.connect(database_path(data_dir))
        assert db.execute("SELECT count(*) FROM files").fetchone() == (0,)
        db.close()
    finally:
        await ann.close()


async def test_files_off_refuses_uploads(serve) -> None:
    served = await serve(files_enabled=False)
    ann, _ = await rooms_login(served.server.port, "ann")
    try:
        assert await refused(ann, "-ALL", "a.txt", 3) == texts.FILE_SHARING_OFF
        await ann.send(Frame("CHAT", {"rec": "-ALL", "file": "anything"}))
        assert (await ann.next("ERR")).content == texts.FILE_SHARING_OFF
    finally:
        await ann.close()


def test_a_link_is_signed_over_its_message_bytes_and_name() -> None:
    secret = b"k" * 32
    link = links.file_link(secret, 7, "a" * 64, "shot.png")
    _, file_id, sha, sig, name = link.split("/")
    assert links.check_link(secret, int(file_id), sha, sig, "shot.png")
    assert not links.check_link(secret, 8, sha, sig, "shot.png")
    assert not links.check_link(b"x" * 32, 7, sha, sig, "shot.png")
