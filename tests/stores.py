"""The store suites run against both stores: ``store`` is a SQLite Store in a temporary folder, then a PgStore on a
fresh PostgreSQL database (tests/services.py). A test of SQLite's own machinery asks for ``sqlite_only``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from server.pgstore import PgStore
from server.store import Store, database_path

KINDS = ["sqlite", "postgresql"]
INTEGRITY_ERRORS = (sqlite3.IntegrityError, psycopg.IntegrityError)  # a row the schema refuses


def open_kind(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A new, empty store of ``kind``."""
    if kind == "sqlite":
        return Store(database_path(tmp_path / "data"), durable=False)
    return PgStore(request.getfixturevalue("pg_url"))


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = open_kind(request.param, request, tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def sqlite_only(store: Store) -> None:
    """Skip the test on PostgreSQL: it checks SQLite's own machinery (FTS5, PRAGMA, its file)."""
    if isinstance(store, PgStore):
        pytest.skip("SQLite's own machinery")
