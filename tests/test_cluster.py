"""Several nodes on one PostgreSQL and one Redis: what works on one node works across them."""

from __future__ import annotations

from pathlib import Path

import pytest
from clusters import cluster_of
from services import RedisServer
from test_rooms import rooms_login
from wire import Client


@pytest.fixture
def redis() -> RedisServer:
    with RedisServer() as server:
        yield server


async def test_two_nodes_chat_in_the_lobby_and_see_each_other(tmp_path: Path, pg_url: str, redis: RedisServer) -> None:
    with cluster_of(tmp_path, pg_url, redis, 2) as cluster:
        ann, _ = await rooms_login(cluster.nodes[0].port, "ann")
        bob, _ = await rooms_login(cluster.nodes[1].port, "bob")
        try:
            await ann.send("CHAT,rec=-ALL,hello from node0")
            got = await bob.next("CHATR")
            assert got.content == "hello from node0"
            echo = await ann.next("CHATR")
            assert echo.content == "hello from node0"
            await bob.send("CHAT,rec=ann,psst")
            private = await ann.next("CHATR")
            assert (private.content, private.get("sender")) == ("psst", "bob")
            taken = await Client.connect(cluster.nodes[1].port)
            await taken.send("CON,nickname=Ann;password=;color=#336699,")
            refused = await taken.expect("CONVER")
            assert refused.content != "OK"
            await taken.close()
        finally:
            await ann.close()
            await bob.close()
