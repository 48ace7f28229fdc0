"""Database failures get a clear answer, the connection stays, and the log names the cause.

The failures are real: the server's data folder is on a small tmpfs that the
test fills until the kernel says ENOSPC, so SQLite itself fails ("database or
disk is full"). Then the disk is freed and everything works again.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import add_account
from disks import small_tmpfs
from wire import Client

from parley.protocol import texts


class TinyDisk:
    """A 16 MiB tmpfs mounted for one test; ``fill`` takes every free byte, ``free`` gives them back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / "filler"

    def fill(self) -> None:
        with open(self.filler, "ab", buffering=0) as file:
            try:
                while True:
                    file.write(b"\0" * 65536)
            except OSError as error:
                assert error.errno == errno.ENOSPC, error
        try:
            with open(self.path / "crumbs", "ab", buffering=0) as crumbs:  # the last partial block
                while True:
                    crumbs.write(b"\0")
        except OSError as error:
            assert error.errno == errno.ENOSPC, error

    def free(self) -> None:
        for path in (self.filler, self.path / "crumbs"):
            path.unlink(missing_ok=True)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[TinyDisk]:
    with small_tmpfs(tmp_path / "disk", "16m") as mount:
        yield TinyDisk(mount)


@pytest.fixture
def data_dir(tiny_disk: TinyDisk) -> Path:
    return tiny_disk.path / "data"


def assert_cause_logged(caplog: pytest.LogCaptureFixture, failed: str) -> None:
    """The log says what failed and SQLite's own reason, and neither the masking ROLLBACK error nor a crash."""
    lines = [r.getMessage() for r in caplog.records if r.name == "parley.server"]
    assert any(failed in line and "database or disk is full" in line for line in lines), lines
    assert not any("cannot rollback" in line or "unexpected error" in line for line in lines), lines


async def still_served(client: Client) -> None:
    await client.send("PING,,still here")
    assert (await client.next("PONG")).content == "still here"


async def update_answer(client: Client, frame: str) -> str:
    await client.send(frame)
    answer = await client.next("CONFIRM")
    assert answer.get("reason") == "UPDATE"
    return answer.content


async def test_a_password_change_on_a_full_disk_is_answered_and_works_once_there_is_room(
        make_server, tiny_disk: TinyDisk, data_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Regression: the connection was dropped ("unexpected error"); the log said "cannot rollback".
    add_account(data_dir, "ann", "first pass")
    server = await make_server()
    ann = await Client.connect(server.port)
    try:
        await ann.login("ann", "first pass")
        tiny_disk.fill()
        with caplog.at_level(logging.INFO, logger="parley.server"):
            assert await update_answer(ann, "UPDATE,password=second pass,") == texts.UPDATE_FAILED
            await still_served(ann)
        assert_cause_logged(caplog, "SetPassword failed")
        tiny_disk.free()
        assert await update_answer(ann, "UPDATE,password=second pass,") == texts.OK
    finally:
        await ann.close()
    again = await Client.connect(server.port)
    try:
        await again.login("ann", "second pass")
    finally:
        await again.close()


async def test_registering_and_renaming_on_a_full_disk_change_nothing(
        make_server, tiny_disk: TinyDisk, data_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    add_account(data_dir, "bob", "bob's pass")
    server = await make_server()
    guest, bob, watcher = [await Client.connect(server.port) for _ in range(3)]
    try:
        await guest.login("guest")
        await bob.login("bob", "bob's pass")
        await watcher.login("watcher")
        await guest.send("CHAT,rec=watcher,a private word")  # moves to the account when registering works
        await guest.next("CHATR")
        await watcher.drain()
        tiny_disk.fill()
        with caplog.at_level(logging.INFO, logger="parley.server"):
            # A guest registering under a new name: nothing changes, not even the name.
            assert await update_answer(guest, "UPDATE,nickname=newname;password=guest pass,") == texts.UPDATE_FAILED
            assert await update_answer(bob, "UPDATE,nickname=robert,") == texts.UPDATE_FAILED
            await still_served(guest), await still_served(bob)
        assert_cause_logged(caplog, "CreateAccount failed")
        assert_cause_logged(caplog, "RenameAccount failed")
        assert not [f for f in await watcher.drain() if f.reason == "INFO"]  # no rename was announced
        await watcher.send("USER,,")
        listed = (await watcher.next("USER")).params
        assert {"guest", "bob"} <= set(listed.values()) and "newname" not in listed.values()
        tiny_disk.free()
        assert await update_answer(guest, "UPDATE,nickname=newname;password=guest pass,") == texts.OK
        await guest.send("REF,,")
        await guest.next("CONFIRM")
        assert (await guest.next("CHATR")).content == "a private word"  # the guest's message came along
    finally:
        for client in (guest, bob, watcher):
            await client.close()


async def test_a_message_on_a_full_disk_is_refused_once_logged_and_the_next_one_goes_through(
        make_server, tiny_disk: TinyDisk, caplog: pytest.LogCaptureFixture) -> None:
    server = await make_server()
    ann = await Client.connect(server.port)
    try:
        await ann.login("ann")
        tiny_disk.fill()
        with caplog.at_level(logging.INFO, logger="parley.server"):
            await ann.send("CHAT,rec=-ALL," + "z" * 6000)
            assert (await ann.next("ERR")).content == texts.NOT_STORED
            await still_served(ann)
        assert_cause_logged(caplog, "storing 1 messages failed")
        tiny_disk.free()
        await ann.send("CHAT,rec=-ALL,room again")
        assert (await ann.next("CHATR")).content == "room again"
    finally:
        await ann.close()


async def test_a_database_that_stops_answering_gets_logins_and_history_refused_and_connections_kept(
        make_server, data_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Reads fail too: here the server's SQLite connection is closed under it (on its own thread)."""
    add_account(data_dir, "boss", "boss pass", role="admin")
    server = await make_server()
    ann, late = await Client.connect(server.port), await Client.connect(server.port)
    try:
        await ann.login("ann")
        await server.db.call(server.db.store.close)
        with caplog.at_level(logging.INFO, logger="parley.server"):
            await ann.send("REF,,")
            assert (await ann.next("CONFIRM")).content == texts.REF_RESENDING
            assert (await ann.next("ERR")).content == texts.HISTORY_FAILED
            await still_served(ann)
            for nickname, password in (("boss", "boss pass"), ("carl", "")):
                await late.send(f"CON,nickname={nickname};password={password};color=#FFFFFF,")
                assert (await late.next("CONVER")).content == texts.LOGIN_FAILED
            await still_served(late)
        lines = [r.getMessage() for r in caplog.records if r.name == "parley.server"]
        for failed in ("LoadHistory failed", "LoadAccount failed"):
            assert any(failed in line and "closed database" in line for line in lines), lines
        assert not any("unexpected error" in line for line in lines), lines
    finally:
        await ann.close(), await late.close()
