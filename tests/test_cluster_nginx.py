"""Three nodes behind a real nginx running deploy/nginx-cluster.conf as shipped (only ports and paths changed).

The page's WebSockets go through nginx's `http` upstream (no sticky
sessions), the chat port through its `stream` module with PROXY protocol.
Clients reach nginx over IPv6 loopback (::1); nginx reaches the nodes over
IPv4 (127.0.0.1), the nodes' only --trusted-proxy: so a node that logs ::1
for a client got the client's address from nginx, by X-Forwarded-For on the
web port and by the PROXY protocol line on the chat port.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from certs import https_session, unverified
from clusters import Cluster, cluster_of
from proxies import NginxCluster
from services import RedisServer
from wire import TIMEOUT, Client, Closed

from parley.protocol import Frame, parse_frame

REJOIN = 30.0  # seconds a client of a killed node may take to log in again (its name is free after --node-timeout)


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@contextlib.contextmanager
def behind_nginx(root: Path, database: str, redis: RedisServer, *flags: str) -> Iterator[tuple[Cluster, NginxCluster]]:
    with cluster_of(root, database, redis, 3, "--trusted-proxy", "127.0.0.1/32", *flags) as cluster:
        proxy = NginxCluster(root / "nginx", [(node.port, node.http_port) for node in cluster.nodes])
        try:
            yield cluster, proxy.start()
        finally:
            proxy.stop()


class WebClient:
    """The page's side of the WebSocket, through nginx over TLS."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, line: str) -> None:
        await self.ws.send_str(line)

    async def recv(self) -> Frame | None:
        """The next frame; None once the connection has closed."""
        message = await self.ws.receive(TIMEOUT)
        if message.type != aiohttp.WSMsgType.TEXT:
            return None
        return parse_frame(message.data)

    async def close(self) -> None:
        await self.ws.close()


class TcpClient:
    """A desktop client on the chat port, through nginx's stream proxy."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def send(self, line: str) -> None:
        await self.client.send(line)

    async def recv(self) -> Frame | None:
        try:
            return await self.client.recv()
        except (Closed, ConnectionError):
            return None

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.close()


Chatter = WebClient | TcpClient


async def next_chat(client: Chatter, content: str) -> Frame:
    """The CHATR carrying ``content``, skipping every other frame."""
    while True:
        frame = await client.recv()
        assert frame is not None, f"the connection closed before {content!r} came"
        if frame.reason == "CHATR" and frame.content == content:
            return frame


async def until_closed(client: Chatter) -> None:
    deadline = time.monotonic() + TIMEOUT
    while await client.recv() is not None:
        assert time.monotonic() < deadline, "the connection stayed open"


@contextlib.asynccontextmanager
async def web_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with https_session(unverified()) as http:
        yield http


async def web_login(http: aiohttp.ClientSession, proxy: NginxCluster, nickname: str) -> tuple[WebClient, str]:
    """A WebSocket through nginx; returns it and the CONVER answer's content."""
    ws = await http.ws_connect(proxy.url + "ws", origin=f"https://[::1]:{proxy.https_port}")
    client = WebClient(ws)
    await client.send(f"CON,nickname={nickname};password=;color=#123456;rooms=1,")
    return client, await conver(client)


async def tcp_login(proxy: NginxCluster, nickname: str) -> tuple[TcpClient, str]:
    """A TCP chat connection through nginx over ::1; returns it and the CONVER answer's content."""
    reader, writer = await asyncio.open_connection("::1", proxy.chat_port)
    client = TcpClient(Client(reader, writer))
    await client.send(f"CON,nickname={nickname};password=;color=#123456;rooms=1,")
    return client, await conver(client)


async def conver(client: Chatter) -> str:
    while True:
        frame = await client.recv()
        if frame is None:
            return "(closed)"
        if frame.reason == "CONVER":
            return frame.content


def landed(cluster: Cluster, nickname: str) -> list[tuple[int, str]]:
    """(node index, client address) of every login of ``nickname`` the nodes logged."""
    found = []
    for i, node in enumerate(cluster.nodes):
        for address in re.findall(rf"(\S+):\d+ {re.escape(nickname)}: joined as", node.log.read_text()):
            found.append((i, address))
    return found


async def logged_in_everyone(http: aiohttp.ClientSession, proxy: NginxCluster,
                             names: list[str]) -> dict[str, Chatter]:
    clients: dict[str, Chatter] = {}
    for name in names:
        client, answer = await (web_login(http, proxy, name) if name.startswith("web") else tcp_login(proxy, name))
        assert answer == "OK", (name, answer)
        clients[name] = client
    return clients


NAMES = ["web1", "tcp1", "web2", "tcp2", "web3", "tcp3"]


async def test_web_and_tcp_clients_chat_through_nginx_on_different_nodes_with_their_real_address(
        tmp_path: Path, pg_url: str, redis: RedisServer) -> None:
    with behind_nginx(tmp_path, pg_url, redis) as (cluster, proxy):
        async with web_session() as http:
            clients = await logged_in_everyone(http, proxy, NAMES)
            try:
                await clients["web1"].send("CHAT,rec=-ALL,hello through nginx")
                for name, client in clients.items():
                    got = await next_chat(client, "hello through nginx")
                    assert got.get("sender") == "web1", (name, got)
                await clients["tcp1"].send("CHAT,rec=web2,psst")
                assert (await next_chat(clients["web2"], "psst")).get("sender") == "tcp1"
                await clients["web3"].send("CHAT,rec=tcp3,and back")
                assert (await next_chat(clients["tcp3"], "and back")).get("sender") == "web3"
            finally:
                for client in clients.values():
                    await client.close()
        places = {name: landed(cluster, name) for name in NAMES}
        assert all(len(found) == 1 for found in places.values()), places
        # Round robin, no stickiness: both kinds of client spread over the nodes.
        assert len({places[name][0][0] for name in NAMES if name.startswith("web")}) >= 2, places
        assert len({places[name][0][0] for name in NAMES if name.startswith("tcp")}) >= 2, places
        # Each node saw the client's address (::1), not nginx's (127.0.0.1): X-Forwarded-For on the web
        # port, the PROXY protocol line on the chat port.
        assert {found[0][1] for found in places.values()} == {"::1"}, places


async def test_a_killed_node_leaves_the_others_working_and_its_clients_come_back_on_a_live_one(
        tmp_path: Path, pg_url: str, redis: RedisServer) -> None:
    with behind_nginx(tmp_path, pg_url, redis, "--node-timeout", "3") as (cluster, proxy):
        async with web_session() as http:
            clients = await logged_in_everyone(http, proxy, NAMES)
            try:
                where = {name: landed(cluster, name)[0][0] for name in NAMES}
                victim = where["web1"]
                lost = [name for name in NAMES if where[name] == victim]
                kept = [name for name in NAMES if where[name] != victim]
                assert kept, where
                cluster.kill(victim)
                for name in lost:
                    await until_closed(clients[name])
                    await clients[name].close()
                # Those left chat on as before, through the same nginx.
                await clients[kept[0]].send("CHAT,rec=-ALL,still here")
                for name in kept:
                    await next_chat(clients[name], "still here")
                # The lost ones connect again through nginx and keep their names once the dead node is
                # written off (--node-timeout); nginx passes over the dead node.
                for name in lost:
                    deadline = time.monotonic() + REJOIN
                    while True:
                        client, answer = await (web_login(http, proxy, name) if name.startswith("web")
                                                else tcp_login(proxy, name))
                        if answer == "OK":
                            break
                        await client.close()
                        assert time.monotonic() < deadline, f"{name} could not log in again: {answer}"
                        await asyncio.sleep(0.5)
                    clients[name] = client
                    assert landed(cluster, name)[-1][0] != victim
                await clients["web1"].send("CHAT,rec=-ALL,back again")
                for name in NAMES:
                    await next_chat(clients[name], "back again")
                # New clients keep landing on the live nodes only.
                for i in range(4):
                    extra, answer = await (web_login(http, proxy, f"late{i}") if i % 2 else tcp_login(proxy, f"late{i}"))
                    assert answer == "OK"
                    clients[f"late{i}"] = extra
                    assert landed(cluster, f"late{i}")[-1][0] != victim
            finally:
                for client in clients.values():
                    await client.close()
