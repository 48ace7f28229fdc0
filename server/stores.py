"""Which store a node uses: SQLite in its data folder (the default), or a PostgreSQL database (``--database``)."""

from __future__ import annotations

from pathlib import Path

from parley.startup import StartupError

from .pgstore import PgStore, describe
from .store import Store, check_usable, database_path

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(database: str | None) -> bool:
    return database is not None and database.startswith(POSTGRES_SCHEMES)


def open_store(database: str | None, data_dir: Path, *, durable: bool = True) -> Store:
    """Open the store ``database`` names: None or ``sqlite`` is DATA's SQLite file, a ``postgresql://`` URL a
    PgStore. Blocking (run it off the loop). Raises StartupError naming what cannot be used (never a password).
    """
    if database is None or database == "sqlite":
        path = database_path(data_dir)
        check_usable(path)
        return Store(path, durable=durable)
    if is_postgres(database):
        return PgStore(database, durable=durable)
    shown = describe(database) if "@" in database else database
    raise StartupError(f"unknown database {shown!r}: give 'sqlite' or a postgresql://USER@HOST:PORT/DB URL")
