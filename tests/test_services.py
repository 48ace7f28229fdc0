"""The test harness's real Redis and PostgreSQL servers: they start, answer, stop, come back and pause."""

from __future__ import annotations

import socket

import psycopg
import pytest
from services import PostgresServer, RedisServer


def redis_ping(port: int, timeout: float = 2) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16)


def test_redis_starts_stops_and_comes_back_on_its_port() -> None:
    with RedisServer() as redis:
        assert redis.url == f"redis://127.0.0.1:{redis.port}/0"
        assert redis_ping(redis.port) == b"+PONG\r\n"
        redis.stop()
        with pytest.raises(OSError):
            redis_ping(redis.port)
        redis.start()
        assert redis_ping(redis.port) == b"+PONG\r\n"
        redis.pause()
        with pytest.raises(OSError):  # a frozen server accepts (the kernel does) but never answers
            redis_ping(redis.port, timeout=0.3)
        redis.resume()
        assert redis_ping(redis.port) == b"+PONG\r\n"
    assert not redis.running and not redis.folder.exists()


def test_postgres_databases_are_fresh_and_survive_a_restart(postgres_server: PostgresServer, pg_url: str) -> None:
    with psycopg.connect(pg_url) as db:
        assert db.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
        db.execute("CREATE TABLE kept (x int)")
        db.execute("INSERT INTO kept VALUES (7)")
    postgres_server.restart()
    with psycopg.connect(pg_url) as db:
        assert db.execute("SELECT x FROM kept").fetchall() == [(7,)]


def test_postgres_kill_drops_connections_and_start_recovers(postgres_server: PostgresServer, pg_url: str) -> None:
    db = psycopg.connect(pg_url, autocommit=True)
    try:
        postgres_server.kill()
        assert not postgres_server.running
        with pytest.raises(psycopg.OperationalError):
            db.execute("SELECT 1")
    finally:
        db.close()
    postgres_server.start()
    with psycopg.connect(pg_url) as again:
        assert again.execute("SELECT 1").fetchone() == (1,)


def test_postgres_pause_holds_queries_until_resumed(postgres_server: PostgresServer, pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as db:
        db.execute("SET statement_timeout = 0")
        postgres_server.pause()
        try:
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(pg_url, connect_timeout=1)
        finally:
            postgres_server.resume()
        assert db.execute("SELECT 2").fetchone() == (2,)
