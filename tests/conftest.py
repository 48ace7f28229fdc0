"""Fixtures: a real Parley server on a free loopback port, with a real SQLite file."""

from __future__ import annotations

import itertools
import logging
import os
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import pytest

from parley.net.proxy import parse_networks
from server.app import ChatServer
from server.config import ServerConfig
from server.passwords import hash_password
from server.store import Store, database_path
from serverproc import ParleyProcess
from services import PostgresServer, RedisServer
from wire import Client

ServerFactory = Callable[..., Awaitable[ChatServer]]

# Test traffic stays on this machine: no server a test starts announces itself with mDNS, and no desktop
# client a test starts looks for servers, unless the test runs them in its own network namespaces
# (tests/lan.py) and says otherwise.
os.environ["PARLEY_NO_ANNOUNCE"] = "1"
os.environ["PARLEY_NO_DISCOVERY"] = "1"


# PARLEY_TEST_STORE=postgresql: the servers the fixtures start (and add_account) keep their store in a fresh
# PostgreSQL database instead of data_dir's SQLite file. Tests that read the SQLite file themselves fail then.
TEST_STORE = os.environ.get("PARLEY_TEST_STORE", "sqlite")
_pg_urls: dict[Path, str] = {}  # data_dir: its PostgreSQL database, under PARLEY_TEST_STORE=postgresql


@pytest.fixture
def data_dir(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    data = tmp_path / "data"
    if TEST_STORE == "postgresql":
        _pg_urls[data] = request.getfixturevalue("pg_url")
    return data


def open_test_store(data_dir: Path) -> Store:
    """The store of the servers started on ``data_dir`` (its SQLite file, or its PostgreSQL database)."""
    if data_dir in _pg_urls:
        from server.pgstore import PgStore

        return PgStore(_pg_urls[data_dir])
    return Store(database_path(data_dir))


def add_account(data_dir: Path, name: str, password: str, role: str = "member") -> None:
    """Create an account straight in the database (as `parley user add` does)."""
    store = open_test_store(data_dir)
    try:
        store.add_account(name, role, hash_password(password))
    finally:
        store.close()


def trusting_a_local_gateway(make_server: ServerFactory) -> ServerFactory:
    """``make_server``'s servers, trusting the PROXY headers of a gateway on 127.0.0.1 (as a host
    passes ``--trusted-proxy 127.0.0.1`` to ``parley server`` with a separate ``parley gateway``)."""
    async def start(**settings: object) -> ChatServer:
        settings.setdefault("trusted_proxies", parse_networks(["127.0.0.1"]))
        return await make_server(**settings)

    return start


@pytest.fixture
async def make_server(data_dir: Path) -> AsyncIterator[ServerFactory]:
    """Start servers with chosen settings; all are closed at the end."""
    started: list[ChatServer] = []

    async def start(**settings: object) -> ChatServer:
        config = ServerConfig(host="127.0.0.1", port=0, data_dir=data_dir, database=_pg_urls.get(data_dir))
        for name, value in settings.items():
            setattr(config, name, value)
        server = ChatServer(config)
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.close()


@pytest.fixture
async def server(make_server: ServerFactory) -> ChatServer:
    return await make_server()


@pytest.fixture
async def connect(server: ChatServer) -> AsyncIterator[Callable[[], Awaitable[Client]]]:
    """Open framed clients to the ``server`` fixture; all closed at the end."""
    clients: list[Client] = []

    async def open_client() -> Client:
        client = await Client.connect(server.port)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.close()


@pytest.fixture
async def tcp() -> AsyncIterator[Callable[[int], Awaitable[Client]]]:
    """Open framed clients to any port; all closed at the end."""
    clients: list[Client] = []

    async def connect(port: int) -> Client:
        clients.append(await Client.connect(port))
        return clients[-1]

    yield connect
    for client in clients:
        await client.close()


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (see tests/browser.py)."""
    from playwright.async_api import async_playwright

    from browser import launch

    async with async_playwright() as playwright:
        browser = await launch(playwright)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture(autouse=True)
def _quiet_asyncio_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="parley")


@pytest.fixture
def processes() -> Iterator[list[ParleyProcess]]:
    """Parley processes a test started; all stopped at the end."""
    started: list[ParleyProcess] = []
    yield started
    for process in reversed(started):
        process.stop()


@pytest.fixture
def start_serve(tmp_path: Path, data_dir: Path, processes: list[ParleyProcess]) -> Callable[..., ParleyProcess]:
    """Start `parley serve` on loopback over ``data_dir`` (stopped at the end); returns the process."""
    from browser import serve  # the browser tests' helper, imported only by the tests that use it

    def start(*flags: str) -> ParleyProcess:
        processes.append(serve(tmp_path / "logs", data_dir, *flags))
        return processes[-1]

    return start


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole run (initdb once); tests take databases of their own (``pg_url``)."""
    with PostgresServer() as postgres:
        yield postgres


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as redis:
        yield redis


_databases = itertools.count(1)


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database, dropped after the test."""
    if not postgres_server.running:  # a test that stopped or killed it
        postgres_server.start()
    postgres_server.resume()
    name = f"test_{os.getpid()}_{next(_databases)}"
    yield postgres_server.create_database(name)
    if not postgres_server.running:
        postgres_server.start()
    postgres_server.resume()
    postgres_server.drop_database(name)
