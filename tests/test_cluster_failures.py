"""Three nodes on one PostgreSQL and one Redis when something fails: a node killed or paused, Redis
restarted or hung, PostgreSQL restarted. What every user sees: who is online, and every stored message
once, in the same order as everyone else in the conversation."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from clusters import cluster_of
from services import PostgresServer, RedisServer
from test_browser_rooms import LegacyClient
from test_rooms import rooms_login
from wire import Client, Closed, users

from parley.protocol import Frame, parse_frame, texts

NODE_TIMEOUT = 3.0  # --node-timeout of the nodes of these tests
FAST = ("--node-timeout", str(NODE_TIMEOUT), "--chat-rate", "0")


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


class Reader:
    """A client read all the time: every frame it got, and the user list it holds (USER, USERCHANGES)."""

    def __init__(self, name: str, client: Client | None = None,
                 ws: aiohttp.ClientWebSocketResponse | None = None) -> None:
        self.name = name
        self.client = client
        self.ws = ws
        self.frames: list[Frame] = []
        self.online: set[str] = set()
        self.closed = False
        self.task = asyncio.ensure_future(self._read_tcp() if client is not None else self._read_ws())

    async def _read_tcp(self) -> None:
        assert self.client is not None
        while True:
            try:
                frame = await self.client.recv(3600)
            except (Closed, ConnectionError):
                break
            self._got(frame)
        self.closed = True

    async def _read_ws(self) -> None:
        assert self.ws is not None
        async for message in self.ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                self._got(parse_frame(message.data))
        self.closed = True

    def _got(self, frame: Frame) -> None:
        self.frames.append(frame)
        if frame.reason == "USER":
            self.online = set(users(frame))
        elif frame.reason == "USERCHANGES":
            for i in range(int(frame.params["num"])):
                if f"join{i}" in frame.params:
                    self.online.add(frame.params[f"join{i}"])
                if f"leave{i}" in frame.params:
                    self.online.discard(frame.params[f"leave{i}"])
                if f"rename{i}" in frame.params:
                    self.online.discard(frame.params[f"rename{i}"])
                    self.online.add(frame.params[f"to{i}"])

    def chats(self, prefix: str) -> list[str]:
        """The contents of the live CHATRs (not history) starting with ``prefix``, in the order they came."""
        return [f.content for f in self.frames
                if f.reason == "CHATR" and f.params.get("old") != "1" and f.content.startswith(prefix)]

    def errors(self) -> list[str]:
        return [f.content for f in self.frames if f.reason == "ERR"]

    async def send(self, text: str) -> None:
        if self.client is not None:
            await self.client.send(text)
        else:
            assert self.ws is not None
            await self.ws.send_str(text)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
        if self.ws is not None:
            await self.ws.close()
        self.task.cancel()


async def tcp(port: int, name: str) -> Reader:
    client, first = await rooms_login(port, name)
    reader = Reader(name, client=client)
    for frame in first:
        reader._got(frame)
    return reader


async def web(http: aiohttp.ClientSession, url: str, name: str) -> Reader:
    """A page's client: the WebSocket of the node's own gateway."""
    ws = await http.ws_connect(url + "ws")
    await ws.send_str(f"CON,nickname={name};password=;color=#123456,")
    conver = parse_frame((await ws.receive(15)).data)
    assert (conver.reason, conver.content) == ("CONVER", "OK"), conver
    return Reader(name, ws=ws)


async def until(condition: Any, timeout: float, what: str) -> float:
    """Wait until ``condition()`` holds; how long it took. Fails after ``timeout`` seconds."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"{what}: not within {timeout}s"
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def legacy_users(old: LegacyClient) -> list[str]:
    """The user list of the newest USER frame an original client got."""
    text = "".join(old.received)
    start = text.rfind("USER,")
    assert start >= 0, text
    reason, params, _ = text[start:].split(",", 2)  # USER has no content: the frame ends at the second comma
    return users(parse_frame(f"{reason},{params},"))


def legacy_chats(old: LegacyClient, prefix: str) -> list[str]:
    """The numbered messages (``prefix...NNNN.``) an original client got, in order."""
    return re.findall(re.escape(prefix) + r"s\d:\d{4}\.", "".join(old.received))


async def who_is_online(port: int) -> list[str]:
    """The user list a new client of the node gets when it logs in (it then leaves)."""
    probe = await Client.connect(port)
    try:
        await probe.send(f"CON,nickname=probe{port % 1000};password=;color=#336699,")
        conver = await probe.expect("CONVER", 15)
        assert conver.content == "OK", conver
        return users(await probe.next("USER"))
    finally:
        await probe.close()


# 1. A node killed mid-chat -------------------------------------------------------------------------------


async def test_a_killed_node_s_users_leave_everywhere_within_the_node_timeout_and_nothing_sent_is_lost(
        tmp_path: Path, pg_url: str, redis: RedisServer) -> None:
    with cluster_of(tmp_path, pg_url, redis, 3, *FAST) as cluster:
        async with aiohttp.ClientSession() as http:
            ann = await tcp(cluster.nodes[0].port, "ann")
            bob = await web(http, cluster.nodes[1].url, "bob")
            cat = await tcp(cluster.nodes[2].port, "cat")
            dan = await web(http, cluster.nodes[2].url, "dan")
            eve = await tcp(cluster.nodes[1].port, "eve")
            everyone = [ann, bob, cat, dan, eve]
            try:
                await until(lambda: {"ann", "bob", "cat", "dan", "eve"} <= ann.online
                            and {"ann", "bob", "cat", "dan", "eve"} <= eve.online, 10, "everyone online")
                sent: list[str] = []
                for n in range(30):  # every client of every node talks in the lobby
                    speaker = everyone[n % len(everyone)]
                    text = f"L:{speaker.name}:{n:04d}."
                    await speaker.send(f"CHAT,rec=-ALL,{text}")
                    sent.append(text)
                    await asyncio.sleep(0.02)
                # Committed: its sender got it back (a CHATR is sent only once stored).
                await until(lambda: all(len(r.chats("L:")) == len(sent) for r in everyone), 15,
                            "every message everywhere before the kill")
                committed = ann.chats("L:")
                assert sorted(committed) == sorted(sent)

                killed_at = time.monotonic()
                cluster.kill(2)
                await asyncio.sleep(0.5)
                for reader in (ann, eve):
                    assert {"cat", "dan"} <= reader.online, "the killed node's users left before its timeout"
                took = await until(lambda: not ({"cat", "dan"} & (ann.online | eve.online)), 2 * NODE_TIMEOUT,
                                   "the killed node's users leave the others' lists")
                took += 0.5
                assert took >= NODE_TIMEOUT / 3, took
                assert time.monotonic() - killed_at <= 2 * NODE_TIMEOUT + 1
                # bob (a page on node1) sees them gone too: a new client of each node does not list them.
                for node in cluster.nodes[:2]:
                    online = await who_is_online(node.port)
                    assert "cat" not in online and "dan" not in online and {"ann", "bob", "eve"} <= set(online)

                # Every message committed before the kill reached every remaining client once, in one order.
                for reader in (ann, bob, eve):
                    assert reader.chats("L:") == committed, reader.name
                # And the chat goes on between the nodes left.
                await eve.send("CHAT,rec=-ALL,after the kill")
                await until(lambda: all("after the kill" in r.chats("after") for r in (ann, bob, eve)), 10,
                            "chat after the kill")
            finally:
                for reader in everyone:
                    await reader.close()


# 2. Redis restarted and away mid-chat ---------------------------------------------------------------------


async def chatter(sender: Reader, rounds: int, pause: float) -> list[str]:
    """Send a numbered sequence, lobby and room in turn; what was sent."""
    sent = []
    for n in range(rounds):
        prefix, rec = ("L:", "-ALL") if n % 2 == 0 else ("R:", "#ops")
        text = f"{prefix}{sender.name}:{n:04d}."
        await sender.send(f"CHAT,rec={rec},{text}")
        sent.append(text)
        await asyncio.sleep(pause)
    return sent


def in_room(reader: Reader, room: str) -> bool:
    return any(f.reason == "CONV" and f.params.get("rec") == room for f in reader.frames)


async def join(reader: Reader, room: str) -> None:
    """JOIN ``room``; again while this node has not heard of it yet (it was made on another a moment ago)."""
    deadline = time.monotonic() + 5
    while not in_room(reader, room):
        assert time.monotonic() < deadline, f"{reader.name} could not join {room}: {reader.errors()}"
        await reader.send(f"JOIN,room={room},")
        await asyncio.sleep(0.2)
    reader.frames = [f for f in reader.frames if f.reason != "ERR"]


async def disrupt_redis(redis: RedisServer) -> None:
    await asyncio.sleep(1.0)
    await asyncio.to_thread(redis.restart)
    await asyncio.sleep(1.0)
    await asyncio.to_thread(redis.stop)  # unreachable
    await asyncio.sleep(4.0)
    await asyncio.to_thread(redis.start)
    await asyncio.sleep(1.5)
    redis.pause()  # hung: connections open, nothing answers
    await asyncio.sleep(4.0)
    redis.resume()


async def test_redis_restarted_away_and_hung_mid_chat_loses_no_message_doubles_none_and_keeps_one_order(
        tmp_path: Path, pg_url: str, redis: RedisServer) -> None:
    with cluster_of(tmp_path, pg_url, redis, 3, *FAST) as cluster:
        async with aiohttp.ClientSession() as http:
            senders = [await tcp(cluster.nodes[i].port, f"s{i}") for i in range(3)]
            page = await web(http, cluster.nodes[1].url, "page")
            old = LegacyClient(cluster.nodes[2].port, "oldie")
            try:
                await senders[0].send("CREATE,room=#ops,Operations")
                await until(lambda: in_room(senders[0], "#ops"), 10, "room made")
                for sender in senders[1:]:
                    await join(sender, "#ops")
                await asyncio.sleep(0.5)

                chats = [asyncio.ensure_future(chatter(s, 140, 0.1)) for s in senders]
                await disrupt_redis(redis)
                sent = [text for done in await asyncio.gather(*chats) for text in done]
                # Committed = echoed to its sender (a CHATR goes out only once stored); refused = an ERR.
                lobby_sent = sorted(t for t in sent if t.startswith("L:"))
                room_sent = sorted(t for t in sent if t.startswith("R:"))
                for s in senders:
                    assert s.errors() == [], (s.name, s.errors())
                lobby_readers = [*senders, page]

                def complete() -> bool:
                    return (all(len(r.chats("L:")) >= len(lobby_sent) for r in lobby_readers)
                            and all(len(r.chats("R:")) >= len(room_sent) for r in senders)
                            and len(legacy_chats(old, "L:")) >= len(lobby_sent))

                try:
                    await until(complete, 20, "every message to every client after Redis came back")
                finally:
                    await asyncio.sleep(0.5)  # anything doubled arrives too
                lobby = senders[0].chats("L:")
                assert sorted(lobby) == lobby_sent, "lost or doubled in the lobby"
                for reader in lobby_readers:
                    assert reader.chats("L:") == lobby, f"{reader.name}: lobby not as node0's s0 got it"
                assert legacy_chats(old, "L:") == lobby, "the original client's lobby"
                room = senders[0].chats("R:")
                assert sorted(room) == room_sent, "lost or doubled in #ops"
                for reader in senders:
                    assert reader.chats("R:") == room, f"{reader.name}: #ops not as s0 got it"
                assert page.chats("R:") == [] and legacy_chats(old, "R:") == []
                # Each sender's own messages in the order it sent them.
                for s in senders:
                    mine = [t for t in lobby if t.startswith(f"L:{s.name}:")]
                    assert mine == sorted(mine)
            finally:
                redis.resume()
                old.close()
                for reader in [*senders, page]:
                    await reader.close()


# 3. PostgreSQL restarted mid-chat -------------------------------------------------------------------------


def heard_or_refused(text: str, readers: list[Reader], speaker: Reader) -> Callable[[], bool]:
    """Whether every reader got ``text``, or its speaker got another error than those it had."""
    before = len(speaker.errors())
    return lambda: all(r.chats(text) for r in readers) or len(speaker.errors()) > before


async def test_postgresql_restarted_a_message_meanwhile_is_refused_and_every_node_chats_again_after(
        tmp_path: Path, pg_url: str, redis: RedisServer, postgres_server: PostgresServer) -> None:
    with cluster_of(tmp_path, pg_url, redis, 3, "--chat-rate", "0") as cluster:
        async with aiohttp.ClientSession() as http:
            clients = [await tcp(cluster.nodes[0].port, "ann"), await web(http, cluster.nodes[1].url, "bob"),
                       await tcp(cluster.nodes[2].port, "cat")]
            try:
                await clients[0].send("CHAT,rec=-ALL,before")
                await until(lambda: all(r.chats("before") for r in clients), 10, "chat before")

                await asyncio.to_thread(postgres_server.stop)
                try:
                    await clients[2].send("CHAT,rec=-ALL,while away")
                    await until(lambda: clients[2].errors(), 15, "an error for the message not stored")
                    assert clients[2].errors() == [texts.NOT_STORED]
                    await asyncio.sleep(0.5)
                    assert not any(r.chats("while away") for r in clients), "a message not stored was sent"
                finally:
                    await asyncio.to_thread(postgres_server.start)

                # Every node chats again at once, without a restart: no message refused, all delivered.
                for i, speaker in enumerate(clients):
                    await speaker.send(f"CHAT,rec=-ALL,back {i}")
                    await until(heard_or_refused(f"back {i}", clients, speaker), 15,
                                f"chat from node{i} after PostgreSQL returned")
                assert clients[2].errors() == [texts.NOT_STORED] and clients[0].errors() == [] \
                    and clients[1].errors() == [], [r.errors() for r in clients]
                for reader in clients:
                    assert [t for t in reader.chats("") if t != "before"] == ["back 0", "back 1", "back 2"]
            finally:
                for reader in clients:
                    await reader.close()


async def test_postgresql_restarted_between_two_messages_the_next_message_on_every_node_is_stored(
        tmp_path: Path, pg_url: str, redis: RedisServer, postgres_server: PostgresServer) -> None:
    """A quick restart (no store call in between): each node's connection died unnoticed; none may show."""
    with cluster_of(tmp_path, pg_url, redis, 3, "--chat-rate", "0") as cluster:
        clients = [await tcp(cluster.nodes[i].port, f"u{i}") for i in range(3)]
        try:
            await clients[0].send("CHAT,rec=-ALL,before")
            await until(lambda: all(r.chats("before") for r in clients), 10, "chat before")
            await asyncio.to_thread(postgres_server.restart)
            for i, speaker in enumerate(clients):
                await speaker.send(f"CHAT,rec=-ALL,right after {i}")
            await until(lambda: all(len(r.chats("right after")) == 3 for r in clients)
                        or any(r.errors() for r in clients), 15, "the messages right after the restart")
            assert [r.errors() for r in clients] == [[], [], []]
            for reader in clients:
                assert sorted(reader.chats("right after")) == ["right after 0", "right after 1", "right after 2"]
        finally:
            for reader in clients:
                await reader.close()


# 4. A paused node written off, then thawed ----------------------------------------------------------------


async def test_a_node_paused_past_its_timeout_ends_its_stale_sessions_and_never_doubles_a_nickname(
        tmp_path: Path, pg_url: str, redis: RedisServer) -> None:
    with cluster_of(tmp_path, pg_url, redis, 3, *FAST) as cluster:
        ann = await tcp(cluster.nodes[0].port, "ann")
        vic = await tcp(cluster.nodes[2].port, "vic")
        old = LegacyClient(cluster.nodes[1].port, "oldie")
        stale = LegacyClient(cluster.nodes[2].port, "oldvic")  # an original client on the node to be paused
        taker: Reader | None = None
        paused = cluster.nodes[2]
        assert paused.process is not None
        try:
            await until(lambda: {"ann", "vic", "oldie", "oldvic"} <= ann.online, 10, "everyone online")
            os.kill(paused.process.pid, signal.SIGSTOP)
            try:
                await until(lambda: "vic" not in ann.online, 3 * NODE_TIMEOUT, "vic leaves ann's list")
                await until(lambda: "vic" not in legacy_users(old), 5, "vic leaves the original client's list")
                taker = await tcp(cluster.nodes[1].port, "vic")  # the nickname is free again: someone takes it
                await until(lambda: "vic" in ann.online, 5, "the new vic in ann's list")
            finally:
                os.kill(paused.process.pid, signal.SIGCONT)

            # The thawed node finds itself written off: its stale session ends cleanly.
            await until(lambda: vic.closed, 15, "the stale vic's connection closes")
            assert [f.content for f in vic.frames if f.reason == "WARN"] == [texts.NODE_WRITTEN_OFF], vic.frames[-5:]
            assert not taker.closed, "the new vic was thrown out"
            await until(lambda: not stale.thread.is_alive(), 10, "the stale original client's connection closes")
            assert "WARN," in "".join(stale.received) and texts.NODE_WRITTEN_OFF in "".join(stale.received)
            await asyncio.sleep(NODE_TIMEOUT)  # the thawed node rejoined and settled
            for node in cluster.nodes:
                online = await who_is_online(node.port)
                assert online.count("vic") == 1 and "ann" in online, (node.port, online)
            assert legacy_users(old).count("vic") == 1
            # No list anyone got, at any time, held one nickname twice.
            for reader in (ann, vic, taker):
                for frame in reader.frames:
                    if frame.reason == "USER":
                        assert len(users(frame)) == len(set(users(frame))), (reader.name, frame)
            for text in "".join(old.received).split("USER,")[1:]:
                listed = users(parse_frame("USER," + text.split(",", 1)[0] + ","))
                assert len(listed) == len(set(listed)), listed
            # The nickname is not free on the thawed node, and it chats with the others again.
            again = await Client.connect(paused.port)
            await again.send("CON,nickname=vic;password=;color=#336699,")
            refused = await again.expect("CONVER", 15)
            assert refused.content != "OK"
            await again.close()
            zed = await tcp(paused.port, "zed")
            await zed.send("CHAT,rec=-ALL,thawed")
            await until(lambda: ann.chats("thawed") and taker.chats("thawed"), 10, "chat from the thawed node")
            await zed.close()
        finally:
            old.close()
            stale.close()
            for reader in (ann, vic, taker):
                if reader is not None:
                    await reader.close()
