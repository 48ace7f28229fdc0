"""The Redis bus between nodes, against a real redis-server: order, reconnection, drops, close."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
import redis.asyncio as aioredis
from services import RedisServer
from wire import TIMEOUT, eventually

from server.cluster.bus import Bus, Message

BusFactory = Callable[..., Awaitable["Node"]]


class Node:
    """A bus as one node sees it: what it received, and the states it went through."""

    def __init__(self, url: str, name: str, **settings: object) -> None:
        self.messages: list[Message] = []
        self.states: list[bool] = []
        self.bus = Bus(url, name, on_message=self.messages.append, on_state=self.states.append,
                       cluster="test", **settings)  # type: ignore[arg-type]


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis server of this test's own, to stop, restart and pause."""
    with RedisServer() as server:
        yield server


@pytest.fixture
async def node() -> AsyncIterator[BusFactory]:
    """Start buses (nodes) on a Redis URL, connected; all closed at the end."""
    started: list[Node] = []

    async def start(url: str, name: str, **settings: object) -> Node:
        node = Node(url, name, **settings)
        started.append(node)
        node.bus.start()
        await eventually(lambda: node.bus.connected)
        return node

    yield start
    for node in started:
        await node.bus.close()


async def test_two_nodes_hear_each_other_in_order_and_not_themselves(
        redis_server: RedisServer, node: BusFactory) -> None:
    a = await node(redis_server.url, "a")
    b = await node(redis_server.url, "b")
    for n in range(100):
        a.bus.publish({"t": "m", "seq": n})
    b.bus.publish({"t": "hello"})
    await eventually(lambda: len(b.messages) == 100 and len(a.messages) == 1 and a.bus.published == 100)
    assert b.messages == [{"t": "m", "seq": n, "n": "a"} for n in range(100)]
    assert a.messages == [{"t": "hello", "n": "b"}]  # none of its own 100
    assert (a.bus.published, a.bus.received, b.bus.received) == (100, 1, 100)
    assert a.bus.dropped == b.bus.dropped == 0
    assert await a.bus.ping()


async def test_ten_thousand_messages_in_a_burst_all_arrive_in_order(
        redis_server: RedisServer, node: BusFactory) -> None:
    a = await node(redis_server.url, "a")
    b = await node(redis_server.url, "b")
    started = time.perf_counter()
    for n in range(10_000):
        a.bus.publish({"seq": n})
    assert time.perf_counter() - started < 1.0  # queued, not awaited
    await eventually(lambda: len(b.messages) == 10_000, timeout=4 * TIMEOUT)
    assert [message["seq"] for message in b.messages] == list(range(10_000))
    await eventually(lambda: a.bus.published == 10_000)  # counted when Redis acknowledged the last batch
    assert a.bus.dropped == 0


async def test_both_nodes_reconnect_by_themselves_after_redis_stops_for_two_seconds(
        own_redis: RedisServer, node: BusFactory) -> None:
    a = await node(own_redis.url, "a")
    b = await node(own_redis.url, "b")
    await asyncio.to_thread(own_redis.stop)
    await eventually(lambda: not a.bus.connected and not b.bus.connected)
    assert a.states == b.states == [True, False]
    assert not await a.bus.ping()
    started = time.perf_counter()
    for n in range(1000):
        a.bus.publish({"during": n})  # neither raises nor waits
    assert time.perf_counter() - started < 0.5
    assert a.bus.dropped == 1000 and a.bus.published == 0
    await asyncio.sleep(2)
    await asyncio.to_thread(own_redis.start)
    await eventually(lambda: a.bus.connected and b.bus.connected, timeout=2 * TIMEOUT)
    assert a.states == b.states == [True, False, True]
    assert a.bus.reconnects == b.bus.reconnects == 1
    a.bus.publish({"after": 1})
    await eventually(lambda: b.messages == [{"after": 1, "n": "a"}])


async def test_both_nodes_reconnect_after_redis_restarts(own_redis: RedisServer, node: BusFactory) -> None:
    a = await node(own_redis.url, "a")
    b = await node(own_redis.url, "b")
    await asyncio.to_thread(own_redis.restart)
    await eventually(lambda: a.states == b.states == [True, False, True], timeout=2 * TIMEOUT)
    b.bus.publish({"after": "restart"})
    await eventually(lambda: a.messages == [{"after": "restart", "n": "b"}])


async def test_a_redis_that_stops_answering_is_a_lost_connection(own_redis: RedisServer, node: BusFactory) -> None:
    a = await node(own_redis.url, "a", dead_after=1.0)
    own_redis.pause()
    try:
        await eventually(lambda: a.states == [True, False], timeout=3 * TIMEOUT)
        assert not await a.bus.ping()
    finally:
        own_redis.resume()
    await eventually(lambda: a.states == [True, False, True], timeout=2 * TIMEOUT)


async def test_a_message_that_is_not_a_json_object_is_counted_and_ignored(
        redis_server: RedisServer, node: BusFactory) -> None:
    a = await node(redis_server.url, "a")
    raw = aioredis.Redis.from_url(redis_server.url)
    try:
        for junk in [b"\xff{", b"[1, 2]", b"null"]:
            await raw.publish("parley:test", junk)
        await raw.publish("parley:test", b'{"n": "z", "ok": true}')
    finally:
        await raw.aclose()
    await eventually(lambda: a.messages == [{"n": "z", "ok": True}])
    assert a.bus.malformed == 3 and a.bus.received == 1


async def test_a_failing_listener_does_not_stop_the_bus(redis_server: RedisServer, node: BusFactory) -> None:
    a = await node(redis_server.url, "a")
    got: list[Message] = []

    def fussy(message: Message) -> None:
        got.append(message)
        if message["k"] == 1:
            raise ValueError("listener bug")

    b = Bus(redis_server.url, "b", on_message=fussy, cluster="test")
    b.start()
    try:
        await eventually(lambda: b.connected)
        a.bus.publish({"k": 1})
        a.bus.publish({"k": 2})
        await eventually(lambda: [message["k"] for message in got] == [1, 2])
    finally:
        await b.close()


async def test_close_leaves_no_tasks_and_no_connections(redis_server: RedisServer) -> None:
    raw = aioredis.Redis.from_url(redis_server.url)
    try:
        before = len(await raw.client_list())
        bus = Bus(redis_server.url, "a", on_message=lambda message: None, cluster="test")
        ours = set(asyncio.all_tasks())
        bus.start()
        await eventually(lambda: bus.connected)
        bus.publish({"x": 1})
        await eventually(lambda: bus.published == 1)
        assert len(await raw.client_list()) > before
        await bus.close()
        assert set(asyncio.all_tasks()) == ours
        for _ in range(100):  # Redis notices the closed sockets in its own time
            if len(await raw.client_list()) == before:
                break
            await asyncio.sleep(0.02)
        assert len(await raw.client_list()) == before
        bus.publish({"x": 2})  # after close: dropped, no error
        assert bus.dropped == 1
    finally:
        await raw.aclose()


async def test_close_while_redis_is_away_or_hung_leaves_no_tasks(own_redis: RedisServer) -> None:
    ours = set(asyncio.all_tasks())
    away = Bus(own_redis.url, "a", on_message=lambda message: None, cluster="test")
    hung = Bus(own_redis.url, "b", on_message=lambda message: None, cluster="test")
    hung.start()
    await eventually(lambda: hung.connected)
    own_redis.pause()
    try:
        hung.publish({"x": 1})  # a send stuck on a frozen Redis
        await asyncio.sleep(0.2)
        await asyncio.wait_for(hung.close(), TIMEOUT)
    finally:
        own_redis.resume()
    await asyncio.to_thread(own_redis.stop)
    away.start()
    await asyncio.sleep(0.5)  # failing to connect, backing off
    assert not away.connected
    await asyncio.wait_for(away.close(), TIMEOUT)
    assert set(asyncio.all_tasks()) == ours
