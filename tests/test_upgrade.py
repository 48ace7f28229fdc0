"""Upgrade safety: a database written by an older Parley opens with this one, nothing lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from server.store import SCHEMA_VERSION, Store, database_path
from wire import Client

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def old_database(data_dir: Path, version: int) -> Path:
    """Write the kept schema-``version`` database into ``data_dir``."""
    path = database_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.executescript((FIXTURES / f"parley-schema-v{version}.sql").read_text())
    db.close()
    return path


async def test_a_version_1_database_opens_with_its_accounts_and_history(make_server, data_dir: Path) -> None:
    path = old_database(data_dir, 1)
    server = await make_server()  # migrates forward on start
    zoe, bob = await Client.connect(server.port), await Client.connect(server.port)
    try:
        assert (await zoe.login("zoë", password="secret-zoe")).params["role"] == "admin"
        assert (await bob.login("Bob", password="bobpass1")).params["role"] == "member"
        await zoe.send("REF,,")
        seen = [f for f in await zoe.drain() if f.reason == "CHATR"]
        assert [(f.params["id"], f.params["sender"], f.params["rec"], f.content) for f in seen] == [
            ("1", "Zoë", "-ALL", "welcome, everyone"),
            ("2", "bob", "Zoë", "a private word, with commas, and / slashes"),
            ("3", "guest1", "-ALL", "héllo 世界 👋"),
            ("4", "Zoë", "bob", "only for bob"),
        ]
        assert seen[0].params["time"] == "2026-11-23 04:53:20" and seen[0].params["ts"] == "1795400000000"
    finally:
        await zoe.close(), await bob.close()
    await server.close()
    store = Store(path)
    try:
        assert store.integrity_check() == "ok"
        assert [(a.name, a.role) for a in store.list_accounts()] == [("Zoë", "admin"), ("bob", "member")]
    finally:
        store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()
