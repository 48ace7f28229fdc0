"""Three nodes on one PostgreSQL and one Redis, with clients of every kind spread over them: rooms, private and
offline messages, user lists, moderation, edits, read markers, resume tokens, files and nickname claims work
across nodes as they do on one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from clusters import cluster_of
from services import RedisServer
from test_moderation import answer
from test_nicknames import LegacyClient, legacy
from test_rooms import ORIGINAL_REASONS, legacy_frames, rooms_login
from wire import TIMEOUT, Client, users, ws_next

from parley.protocol import Frame
from server.passwords import hash_password
from server.pgstore import PgStore

PASSWORD = "password1"


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def add_accounts(url: str, *accounts: tuple[str, str]) -> None:
    """Create accounts (name, role) in the cluster's database, as `parley user add` does."""
    store = PgStore(url)
    try:
        for name, role in accounts:
            store.add_account(name, role, hash_password(PASSWORD))
    finally:
        store.close()


async def legacy_login(port: int, nickname: str) -> LegacyClient:
    old = await legacy(port)
    old.send(f"CON,nickname={nickname};password=;color=#00FF00,")
    first = await asyncio.to_thread(legacy_frames, old)
    assert [f.reason for f in first][:3] == ["CONVER", "INFO", "USER"], first
    return old


async def until(client: Client, reason: str, test: Callable[[Frame], bool]) -> Frame:
    """The next frame with ``reason`` that passes ``test`` (others are skipped)."""
    while True:
        frame = await client.next(reason)
        if test(frame):
            return frame


async def frames_until(client: Client, test: Callable[[Frame], bool]) -> list[Frame]:
    """Every frame up to and including the first that passes ``test``."""
    got = [await client.recv()]
    while not test(got[-1]):
        got.append(await client.recv())
    return got


async def listed(client: Client, *nicknames: str) -> list[str]:
    """Ask for the user list until it holds ``nicknames`` (other nodes' joins arrive over the bus)."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while True:
        await client.send("USER,,")
        got = users(await client.next("USER"))
        if set(nicknames) <= set(got) or asyncio.get_running_loop().time() > deadline:
            return got
        await asyncio.sleep(0.1)


async def closing(*clients: Client | LegacyClient | None) -> None:
    for client in clients:
        if isinstance(client, Client):
            await client.close()
        elif client is not None:
            client.close()


async def test_rooms_span_the_nodes_and_a_private_room_reaches_only_its_members(
        tmp_path: Path, pg_url: str, redis: RedisServer) -> None:
    with cluster_of(tmp_path, pg_url, redis, 3) as cluster:
        n0, n1, n2 = (node.port for node in cluster.nodes)
        old = await legacy_login(n1, "oldie")
        ann, _ = await rooms_login(n0, "ann")
        bob, _ = await rooms_login(n1, "bob")
        cat, _ = await rooms_login(n2, "cat")
        try:
            reading = asyncio.ensure_future(asyncio.to_thread(legacy_frames, old, 3.0))
            await ann.send("CREATE,room=#general,Everything")
            assert (await answer(ann, "CREATE")).content == "OK"
            await ann.send("CREATE,room=#hidden;private=1,")
            assert (await answer(ann, "CREATE")).content == "OK"
            await bob.send("ROOMS,,")
            rooms = await bob.next("ROOMS")
            assert rooms.params["0"] == "#general"  # listed on another node; #hidden is not
            assert rooms.params["num"] == "1"
            await bob.send("JOIN,room=#general,")
            assert (await answer(bob, "JOIN")).content == "OK"
            joined = await until(ann, "INFO", lambda f: f.get("rec") == "#general")
            assert joined.content == "bob joined #general"
            await cat.send("JOIN,room=#general,")
            assert (await answer(cat, "JOIN")).content == "OK"

            await ann.send("CHAT,rec=#general,from node0")
            got = await until(bob, "CHATR", lambda f: f.get("rec") == "#general")
            assert (got.content, got.get("sender")) == ("from node0", "ann")
            await bob.send("CHAT,rec=#general,from node1")
            got = await until(ann, "CHATR", lambda f: f.content == "from node1")
            assert (got.get("rec"), got.get("sender")) == ("#general", "bob")

            await ann.send("TOPIC,room=#general,New topic")
            topic = await until(cat, "INFO", lambda f: f.get("topic") is not None)
            assert (topic.get("rec"), topic.get("topic")) == ("#general", "New topic")
            assert topic.content == "ann set the topic of #general: New topic"

            await ann.send("INVITE,room=#hidden;user=cat,")
            assert (await answer(ann, "INVITE")).content == "OK"
            conv = await until(cat, "CONV", lambda f: f.get("rec") == "#hidden")
            assert conv.get("private") == "1"
            await ann.send("CHAT,rec=#hidden,members only")
            got = await until(cat, "CHATR", lambda f: f.get("rec") == "#hidden")
            assert got.content == "members only"
            await ann.send("CHAT,rec=#general,after the secret")
            await until(bob, "CHATR", lambda f: f.content == "after the secret")
            await cat.next("CHATR")
            seen_by_bob = [f for f in await bob.drain(0.5)] + bob.frames
            assert all("members only" not in f.content and f.get("rec") != "#hidden" for f in seen_by_bob)

            # The original client on node1 saw none of it: only the lobby's joins and lists.
            seen = await reading
            assert {f.reason for f in seen} <= ORIGINAL_REASONS, seen
            assert not any("#" in f.content or "from node" in f.content for f in seen), seen
        finally:
            await closing(ann, bob, cat, old)


async def test_private_and_offline_messages_and_every_nodes_user_lists(
        tmp_path: Path, pg_url: str, redis: RedisServer) -> None:
    add_accounts(pg_url, ("dora", "member"))
    with cluster_of(tmp_path, pg_url, redis, 3) as cluster:
        n0, n1, n2 = (node.port for node in cluster.nodes)
        old0 = await legacy_login(n0, "old0")
        old1 = await legacy_login(n1, "old1")
        ann, _ = await rooms_login(n0, "ann")
        watcher, _ = await rooms_login(n2, "watcher")  # lists=changes: USERCHANGES
        bob = await Client.connect(n2)
        dora = None
        try:
            await bob.login("bob")
            everyone = {"old0", "old1", "ann", "watcher", "bob"}
            assert set(await listed(ann, *everyone)) == everyone
            assert set(await listed(bob, *everyone)) == everyone

            # Each original client asks for its node's list and sees everyone on every node.
            for old in (old0, old1):
                await asyncio.to_thread(legacy_frames, old, 0.3)
                old.send("USER,,")
                got = [f for f in await asyncio.to_thread(legacy_frames, old, 0.5) if f.reason == "USER"]
                assert got and set(users(got[-1])) == everyone, got

            # A new user on node1: the watcher on node2 hears of it as a change.
            eve = await Client.connect(n1)
            await eve.login("eve")
            change = await until(watcher, "USERCHANGES", lambda f: "eve" in f.params.values())
            assert int(change.params["num"]) == len(everyone) + 1
            await eve.send("DISCON,,")
            await eve.close()
            gone = await until(watcher, "USERCHANGES", lambda f: any(
                k.startswith("leave") and v == "eve" for k, v in f.params.items()))
            assert int(gone.params["num"]) == len(everyone)

            # Private messages both ways between node0 and node2.
            await ann.send("CHAT,rec=bob,to node2")
            got = await bob.next("CHATR")
            assert (got.content, got.get("sender"), got.get("rec")) == ("to node2", "ann", "bob")
            await bob.send("CHAT,rec=ann,back to node0")
            got = await until(ann, "CHATR", lambda f: f.get("sender") == "bob")
            assert got.content == "back to node0"

            # dora is offline: kept for her, and she finds them logging in on node1.
            await ann.send("CHAT,rec=dora,while you were out")
            await bob.send("CHAT,rec=dora,me too")
            echo = await until(ann, "CHATR", lambda f: f.get("rec") == "dora")
            assert echo.content == "while you were out"
            await until(bob, "CHATR", lambda f: f.get("rec") == "dora")
            dora = await Client.connect(n1)
            await dora.send(f"CON,nickname=dora;password={PASSWORD};color=#336699;rooms=1,")
            conver = await dora.expect("CONVER")
            assert (conver.content, conver.get("away")) == ("OK", "2")
            note = await until(dora, "INFO", lambda f: "while you were away" in f.content)
            assert note.content == "2 private messages arrived while you were away."
            await dora.send("HISTORY,rec=ann,")
            old_one = await dora.next("CHATR")
            assert (old_one.content, old_one.get("sender")) == ("while you were out", "ann")
        finally:
            await closing(ann, watcher, bob, dora, old0, old1)


async def test_an_admin_kicks_bans_and_mutes_users_on_other_nodes(
        tmp_path: Path, pg_url: str, redis: RedisServer) -> None:
    add_accounts(pg_url, ("boss", "admin"))
    with cluster_of(tmp_path, pg_url, redis, 3) as cluster:
        n0, n1, n2 = (node.port for node in cluster.nodes)
        boss, _ = await rooms_login(n0, "boss", PASSWORD)
        pest, _ = await rooms_login(n1, "pest")
        troll, _ = await rooms_login(n1, "troll")
        loud, _ = await rooms_login(n2, "loud")
        old = await legacy_login(n2, "oldie")
        again = None
        try:
            assert set(await listed(boss, "pest", "troll", "loud", "oldie")) >= {"pest", "troll", "loud"}
            reading = asyncio.ensure_future(asyncio.to_thread(legacy_frames, old, 3.0))

            await boss.send("KICK,user=pest,behave")
            warn = await pest.next("WARN")
            assert warn.content == "You have been kicked for reason: behave"
            assert await pest.closed_by_server()
            info = await until(loud, "INFO", lambda f: "kicked" in f.content)
            assert info.content == "pest has been kicked by boss: behave"

            await boss.send("BAN,user=troll,spam")
            assert (await answer(boss, "BAN")).content == "OK"
            warn = await troll.next("WARN")
            assert warn.content == "You have been banned for good: spam"
            assert await troll.closed_by_server()
            again = await Client.connect(n2)
            for _ in range(50):  # node2 hears of troll's leave a moment after the ban
                await again.send("CON,nickname=troll;password=;color=#336699;rooms=1,")
                refused = await again.expect("CONVER")
                if refused.content != "Error: User is already logged in":
                    break
                await asyncio.sleep(0.05)
            assert refused.content == "Error: You are banned for good: spam"

            await boss.send("MUTE,room=-ALL;user=loud,hush")
            assert (await answer(boss, "MUTE")).content == "OK"
            told = await until(loud, "INFO", lambda f: "muted" in f.content)
            assert told.content == "loud was muted by boss for good: hush"
            await asyncio.sleep(0.5)  # node2 loads the new mute from the database when it hears of it
            await loud.send("CHAT,rec=-ALL,can you hear me")
            err = await loud.next("ERR")
            assert err.content == "Error: You are muted for good: hush"
            await loud.send("CHAT,rec=boss,only privately")  # a lobby mute stops the lobby only
            got = await until(boss, "CHATR", lambda f: f.get("sender") == "loud")
            assert got.content == "only privately"

            seen = [f.content for f in await reading]
            assert "pest has been kicked by boss: behave" in seen
            assert "troll has been banned by boss for good: spam" in seen
            assert "can you hear me" not in seen
        finally:
            await closing(boss, pest, troll, loud, again, old)


async def test_edits_deletes_and_read_markers_reach_the_other_nodes(
        tmp_path: Path, pg_url: str, redis: RedisServer) -> None:
    add_accounts(pg_url, ("ann", "member"))
    with cluster_of(tmp_path, pg_url, redis, 3) as cluster:
        n0, n1, n2 = (node.port for node in cluster.nodes)
        ann0, _ = await rooms_login(n0, "ann", PASSWORD)
        ann1, _ = await rooms_login(n1, "ann", PASSWORD)
        bob, _ = await rooms_login(n2, "bob")
        try:
            await bob.send("CHAT,rec=-ALL,first from bob")
            await bob.send("CHAT,rec=-ALL,second from bob")
            second = await until(ann1, "CHATR", lambda f: f.content == "second from bob")
            await until(ann0, "CHATR", lambda f: f.content == "second from bob")

            await ann0.send(f"READ,rec=-ALL;id={second.params['id']},")
            conv = await until(ann1, "CONV", lambda f: f.get("rec") == "-ALL")
            assert (conv.get("read"), conv.get("unread")) == (second.params["id"], "0")

            await ann0.send("CHAT,rec=-ALL,tpyo here")
            mine = await until(bob, "CHATR", lambda f: f.content == "tpyo here")
            await ann0.send(f"EDIT,id={mine.params['id']},typo here")
            assert (await answer(ann0, "EDIT")).content == "OK"
            for reader in (bob, ann1):
                edited = await reader.next("EDITED")
                assert (edited.get("id"), edited.content, edited.get("sender")) == (mine.params["id"], "typo here", "ann")

            await ann0.send(f"DELETE,id={mine.params['id']},")
            assert (await answer(ann0, "DELETE")).content == "OK"
            for reader in (bob, ann1):
                deleted = await reader.next("DELETED")
                assert (deleted.get("id"), deleted.get("rec")) == (mine.params["id"], "-ALL")
            await bob.drain(0.5)
            await bob.send("HISTORY,rec=-ALL,")
            history = [f async for f in _history(bob)]
            assert [f.content for f in history] == ["first from bob", "second from bob"]
        finally:
            await closing(ann0, ann1, bob)


async def _history(client: Client) -> AsyncIterator[Frame]:
    """The CHATR frames of a HISTORY answer, up to its CONFIRM."""
    while True:
        frame = await client.recv()
        if frame.reason == "CONFIRM" and frame.get("reason") == "HISTORY":
            return
        if frame.reason == "CHATR":
            yield frame


async def ws_session(http: aiohttp.ClientSession, url: str, con: str) -> tuple[aiohttp.ClientWebSocketResponse, Frame]:
    """Open the page's WebSocket at ``url``, send ``con``; return it with its CONVER."""
    ws = await http.ws_connect(url)
    await ws.send_str(con)
    return ws, await ws_next(ws, "CONVER")


async def test_a_page_resumes_its_session_through_another_nodes_gateway(
        tmp_path: Path, pg_url: str, redis: RedisServer) -> None:
    add_accounts(pg_url, ("ann", "member"))
    with cluster_of(tmp_path, pg_url, redis, 3) as cluster:
        n0, n1, n2 = cluster.nodes
        watcher, _ = await rooms_login(n2.port, "watcher")
        async with aiohttp.ClientSession() as http:
            for nickname, password in (("guest", ""), ("ann", PASSWORD)):
                con = f"CON,nickname={nickname};password={password};color=#123456;rooms=1;session=1,"
                ws, conver = await ws_session(http, n0.url + "ws", con)
                assert conver.content == "OK"
                token = (await ws_next(ws, "SESSION")).params["token"]
                await until(watcher, "USERCHANGES", lambda f, nick=nickname: nick in f.params.values())
                await ws.close()  # the tab reloads: no DISCON

                back, conver = await ws_session(
                    http, n1.url + "ws", f"CON,nickname={nickname};password=;color=#123456;rooms=1;token={token},")
                assert conver.content == "OK", conver
                await back.send_str("CHAT,rec=-ALL,still me")
                between = await frames_until(watcher, lambda f: f.reason == "CHATR" and f.content == "still me")
                assert between[-1].get("sender") == nickname
                # Nobody saw it leave: no leave line, no list change, and it is listed.
                assert not any(f.reason == "INFO" and nickname in f.content for f in between), between
                assert not any(f.reason == "USERCHANGES" and nickname in f.params.values() for f in between), between
                assert nickname in await listed(watcher, nickname)
                await back.send_str("DISCON,,")
                await back.close()
                await until(watcher, "USERCHANGES", lambda f, nick=nickname: any(
                    k.startswith("leave") and v == nick for k, v in f.params.items()))
        await watcher.close()


async def test_a_user_with_sessions_on_two_nodes_stays_online_when_one_closes(
        tmp_path: Path, pg_url: str, redis: RedisServer) -> None:
    add_accounts(pg_url, ("ann", "member"))
    with cluster_of(tmp_path, pg_url, redis, 3) as cluster:
        n0, n1, n2 = (node.port for node in cluster.nodes)
        ann0, _ = await rooms_login(n0, "ann", PASSWORD)
        ann1, _ = await rooms_login(n1, "ann", PASSWORD)
        old = await legacy_login(n2, "oldie")
        try:
            reading = asyncio.ensure_future(asyncio.to_thread(legacy_frames, old, 1.5))
            await ann0.send("DISCON,,")
            await ann0.close()
            seen = await reading
            assert not any("ann" in f.content for f in seen if f.reason == "INFO"), seen
            old.send("USER,,")
            lists = [f for f in await asyncio.to_thread(legacy_frames, old, 0.5) if f.reason == "USER"]
            assert lists and "ann" in users(lists[-1])
            old.send("CHAT,rec=ann,are you there")
            got = await until(ann1, "CHATR", lambda f: f.get("sender") == "oldie")
            assert got.content == "are you there"
        finally:
            await closing(ann0, ann1, old)


async def test_a_file_uploaded_through_one_gateway_downloads_through_another(
        tmp_path: Path, pg_url: str, redis: RedisServer) -> None:
    with cluster_of(tmp_path, pg_url, redis, 3) as cluster:
        n0, _, n2 = cluster.nodes
        bob, _ = await rooms_login(n2.port, "bob")
        data = b"shared across the nodes\n" * 100
        async with aiohttp.ClientSession() as http:
            ws, conver = await ws_session(http, n0.url + "ws", "CON,nickname=ann;password=;color=#123456;rooms=1,")
            assert conver.content == "OK"
            await ws.send_str(f"UPLOAD,rec=-ALL;name=notes.txt;size={len(data)},")
            grant = await ws_next(ws, "UPLOAD")
            url = grant.params["url"] or n0.url + "files/upload"
            async with http.post(f"{url}?ticket={grant.params['ticket']}", data=data) as answer_:
                assert answer_.status == 200, await answer_.text()
                receipt = (await answer_.json())["receipt"]
            await ws.send_str(f"CHAT,rec=-ALL;file={receipt},")
            got = await until(bob, "CHATR", lambda f: f.get("file") is not None)
            assert (got.get("fname"), got.get("fsize")) == ("notes.txt", str(len(data)))
            async with http.get(n2.url + got.params["flink"]) as download:
                assert download.status == 200
                assert await download.read() == data
            await ws.close()
        await bob.close()


async def test_one_nickname_claimed_at_once_on_three_nodes_is_given_once(
        tmp_path: Path, pg_url: str, redis: RedisServer) -> None:
    with cluster_of(tmp_path, pg_url, redis, 3) as cluster:
        for round_ in range(5):
            clients = [await Client.connect(node.port) for node in cluster.nodes]
            try:
                nickname = f"racer{round_}"
                await asyncio.gather(*(c.send(f"CON,nickname={nickname};password=;color=#336699,") for c in clients))
                firsts = [await c.recv() for c in clients]
                assert all(f.reason == "CONVER" for f in firsts), firsts  # nothing before the answer
                answers = [f.content for f in firsts]
                assert answers.count("OK") == 1, answers
                # The others are told the name is taken (or, just claimed elsewhere, looks like a taken one).
                assert all(a in ("OK", "Error: User is already logged in", "Error: Username looks like another user's name")
                           for a in answers), answers
            finally:
                await closing(*clients)
