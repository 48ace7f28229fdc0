"""/healthz and /metrics of a `parley serve` node on PostgreSQL (and Redis), with those services stopped for real."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from serverproc import ServeProcess
from services import PostgresServer, RedisServer
from test_rooms import rooms_login

SLOW = 20.0  # seconds a health answer may take to turn (cached a second, checks time out after one or two)


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


async def health(http: aiohttp.ClientSession, node: ServeProcess) -> tuple[int, str]:
    async with http.get(f"http://127.0.0.1:{node.http_port}/healthz") as answer:
        return answer.status, await answer.text()


async def health_becomes(http: aiohttp.ClientSession, node: ServeProcess, status: int, text: str) -> None:
    deadline = time.monotonic() + SLOW
    while (got := await health(http, node)) != (status, text):
        assert time.monotonic() < deadline, f"/healthz still answers {got}, not {(status, text)}"
        await asyncio.sleep(0.2)


async def says_postgresql_is_down_while_it_is(http: aiohttp.ClientSession, node: ServeProcess,
                                              postgres_server: PostgresServer) -> None:
    """Stop PostgreSQL: /healthz answers 503 naming it; start it again: 200 "ok"."""
    postgres_server.stop()
    try:
        await health_becomes(http, node, 503, "postgresql unavailable\n")
    finally:
        postgres_server.start()
    await health_becomes(http, node, 200, "ok\n")


async def metric(http: aiohttp.ClientSession, node: ServeProcess, name: str) -> float:
    """The value of one sample of /metrics (``name`` with its labels, as the text shows it)."""
    async with http.get(f"http://127.0.0.1:{node.http_port}/metrics") as answer:
        text = await answer.text()
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert found, text
    return float(found.group(1))


async def test_a_cluster_node_says_which_service_is_down_and_shows_its_bus(
        tmp_path: Path, pg_url: str, postgres_server: PostgresServer, redis: RedisServer) -> None:
    # /healthz asked only the chat server: with Redis or PostgreSQL gone it still said "ok".
    node = ServeProcess(tmp_path / "data", "--database", pg_url, "--redis", redis.url, "--node-name", "alpha",
                        source=True).start(timeout=30)
    try:
        async with aiohttp.ClientSession() as http:
            assert await health(http, node) == (200, "ok\n")
            ann, _ = await rooms_login(node.port, "ann")
            await ann.send("CHAT,rec=-ALL,hello")
            await ann.next("CHATR")
            await ann.close()
            assert await metric(http, node, 'parley_cluster_node_info{node="alpha"}') == 1
            assert await metric(http, node, "parley_cluster_bus_connected") == 1
            assert await metric(http, node, "parley_cluster_bus_published_total") >= 1
            # Shown, whatever its value: a publish before the subscription is confirmed counts as dropped.
            assert await metric(http, node, "parley_cluster_bus_dropped_total") >= 0
            assert await metric(http, node, "parley_cluster_sequencer_gaps") == 0
            assert await metric(http, node, "parley_cluster_fenced_total") == 0

            redis.stop()
            await health_becomes(http, node, 503, "redis unavailable\n")
            assert await metric(http, node, "parley_cluster_bus_connected") == 0
            redis.start()
            await health_becomes(http, node, 200, "ok\n")
            assert await metric(http, node, "parley_cluster_bus_reconnects_total") >= 1

            await says_postgresql_is_down_while_it_is(http, node, postgres_server)
    finally:
        node.stop()


async def test_a_single_node_on_postgresql_says_when_it_is_down(
        tmp_path: Path, pg_url: str, postgres_server: PostgresServer) -> None:
    node = ServeProcess(tmp_path / "data", "--database", pg_url, source=True).start(timeout=30)
    try:
        async with aiohttp.ClientSession() as http:
            assert await health(http, node) == (200, "ok\n")
            async with http.get(f"http://127.0.0.1:{node.http_port}/metrics") as answer:
                assert "parley_cluster" not in await answer.text()  # one node: no cluster figures
            await says_postgresql_is_down_while_it_is(http, node, postgres_server)
    finally:
        node.stop()
