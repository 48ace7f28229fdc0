"""``parley db migrate`` and ``parley db copy``: a data folder's SQLite database moved into PostgreSQL, whole."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from serverproc import REPO

from parley.cli import main
from server.pgstore import SCHEMA_VERSION, PgStore
from server.records import FileRecord, NewMessage, Room
from server.store import Store, database_path

T0 = 1_800_000_000_000


def said(sender: str, ident: str, content: str, *, to: tuple[str, str] | None = None, room: Room | None = None,
         file: FileRecord | None = None, offline_for: int | None = None) -> NewMessage:
    rec = to[0] if to else room.rec if room else "-ALL"
    return NewMessage(T0, "12:00", sender, "#ABCDEF", rec, content, ident, to[1] if to else None,
                      room_id=room.id if room else None, file=file, offline_for=offline_for)


def make_folder(data_dir: Path) -> None:
    """A data folder with some of everything a server keeps."""
    store = Store(database_path(data_dir))
    try:
        ann = store.add_account("Ann", "admin", "hash-ann")
        bob = store.add_account("Bob", "member", "hash-bob")
        room = store.create_room("#café", "coffee", False, ann.ident, "Ann", T0)
        secret = store.create_room("#secret", "", True, bob.ident, "Bob", T0)
        store.add_member(room.id, bob.ident, "Bob", False, T0)
        store.add_member(room.id, "g:guest", "Guest", False, T0)
        ids = store.append_messages(
            [said("Ann", ann.ident, f"hello lobby {n}") for n in range(5)]
            + [said("Bob", bob.ident, "psst Ann", to=("Ann", ann.ident), offline_for=ann.id),
               said("Ann", ann.ident, "a picture", room=room, file=FileRecord("ab" * 32, 1234, "image/png", "p.png",
                                                                                 20, 10)),
               said("Bob", bob.ident, "only us", room=secret), said("Ann", ann.ident, "doomed words")])
        store.delete_message(ids[-1])
        store.edit_message(ids[0], "hello edited lobby", T0 + 5)
        store.set_read(ann.id, "lobby", ids[2])
        store.add_session(ann.id, "token-hash", T0, T0 + 10**9, "127.0.0.1")
        store.add_restriction("user", "Mallory", "mallory", None, None, "spam", "Ann", T0, 0)
        store.add_audit(T0, "Ann", "ban", "Mallory", "", "spam", "")
        store.add_report(ids[1], "Bob", bob.ident, "rude", T0)
    finally:
        store.close()


def test_copy_moves_everything_and_the_postgresql_store_reads_the_same(tmp_path: Path, pg_url: str,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "data"
    make_folder(data_dir)
    assert main(["db", "copy", "--data", str(data_dir), "--database", pg_url]) == 0
    printed = capsys.readouterr().out
    assert "messages" in printed and "MISMATCH" not in printed
    sqlite, pg = Store(database_path(data_dir)), PgStore(pg_url)
    try:
        assert pg.list_accounts() == sqlite.list_accounts()
        ann = pg.get_account("ann")
        assert ann is not None and ann.password_hash == "hash-ann"
        for viewer in (["a:1"], ["a:2"]):
            assert pg.recent_messages(viewer, 50) == sqlite.recent_messages(viewer, 50)
            assert pg.summaries(int(viewer[0][2:]), viewer, "Ann") == sqlite.summaries(int(viewer[0][2:]), viewer,
                                                                                      "Ann")
        room = pg.get_room("café")
        assert room is not None and room == sqlite.get_room("#CAFÉ")
        assert pg.room_members(room.id) == sqlite.room_members(room.id)  # join order kept
        assert pg.room_history(room.id, None, 10) == sqlite.room_history(room.id, None, 10)
        assert pg.room_history(room.id, None, 10)[0][0].file == FileRecord("ab" * 32, 1234, "image/png", "p.png",
                                                                           20, 10)
        assert pg.active_restrictions(T0) == sqlite.active_restrictions(T0)
        assert pg.audit_log(None, 10) == sqlite.audit_log(None, 10)
        assert pg.open_reports(10) == sqlite.open_reports(10)
        assert pg.list_sessions(1) == sqlite.list_sessions(1)
        assert pg.take_offline_count(1) == 1
        assert pg.search(["edit"], ["a:2"], True, [], True, None, None, 10) == sqlite.search(
            ["edit"], ["a:2"], True, [], True, None, None, 10)
        assert pg.search(["doomed"], ["a:1"], True, [], True, None, None, 10) == ([], False)
        # Ids and seqs go on from the copied ones.
        (new_id, new_seq), = pg.append_sequenced([said("Bob", "a:2", "after the move")])
        assert new_id == 10 and new_seq == 7  # after the lobby's six (one deleted: its place is kept)
        assert pg.add_account("Cat", "member", "hash").id == 3
        assert [(m.seq, m.deleted) for m in pg.messages_after("lobby", 5, 10)] == [(6, True), (7, False)]
    finally:
        sqlite.close()
        pg.close()


def test_copy_refuses_a_database_that_holds_rows(tmp_path: Path, pg_url: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "data"
    make_folder(data_dir)
    store = PgStore(pg_url)
    store.add_account("Zed", "member", "hash")
    store.close()
    assert main(["db", "copy", "--data-dir", str(data_dir), "--database", pg_url]) == 1
    assert "not empty" in capsys.readouterr().err
    store = PgStore(pg_url)
    try:
        assert [a.name for a in store.list_accounts()] == ["Zed"]  # nothing was copied
    finally:
        store.close()


def test_migrate_from_the_command_line_with_the_url_from_the_environment(tmp_path: Path, pg_url: str) -> None:
    done = subprocess.run([sys.executable, "-m", "parley", "db", "migrate"], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "PARLEY_DATABASE": pg_url}, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert f"schema version {SCHEMA_VERSION}" in done.stdout
    store = PgStore(pg_url)
    try:
        assert store.schema_version() == SCHEMA_VERSION and store.list_accounts() == []
    finally:
        store.close()


def test_db_without_a_postgresql_url_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARLEY_DATABASE", raising=False)
    assert main(["db", "copy", "--data-dir", str(tmp_path)]) == 2
    assert "--database postgresql://" in capsys.readouterr().err
