"""Hosting on a shared machine: a private data folder, one server per folder, narrow trust, safe logs.

Most tests run this tree's `parley` (``python -m parley``) as a child process,
on loopback, with its data in a real folder; the per-address counting runs a
server in this process over real sockets; the log escaping is also checked
alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ServerFactory, add_account
from serverproc import REPO, ParleyProcess, ServeProcess, ServerProcess
from wire import TIMEOUT, Client

from parley.logsafe import SafeFormatter, escape
from parley.net.proxy import parse_networks
from parley.protocol import texts
from server.store import Store, database_path


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    """This process's umask set to ``mask`` (children started meanwhile inherit it)."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def parley(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run this tree's ``parley ARGS`` to its end."""
    return subprocess.run([sys.executable, "-m", "parley", *args], input=stdin, capture_output=True, text=True, check=False,
                          cwd=REPO, timeout=30 * TIMEOUT / 5)


def process(command: str, data: Path, *flags: str) -> ParleyProcess:
    """``parley server`` or ``parley serve`` from this tree, on loopback, not started."""
    kind = ServerProcess if command == "server" else ServeProcess
    return kind(data, *flags, source=True)


# Item 5: the data folder and the database are private -------------------------------------------------


async def test_a_new_data_folder_and_its_database_files_are_private_to_their_owner(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with umask(0o022):  # the usual umask, under which main made them 755 and 644
        server = process("server", data).start()
    try:
        ann = await Client.connect(server.port)
        await ann.login("ann")
        await ann.send("CHAT,rec=-ALL,written to the write-ahead log")
        await ann.expect("CHATR")
        await ann.close()
        database = database_path(data)
        files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
        assert {str(path): oct(mode(path)) for path in [data, *files]} == {
            str(data): "0o700", **{str(path): "0o600" for path in files}}
        assert oct(mode(data / "parley.lock")) == "0o600"
    finally:
        server.stop()
    assert "open to other users" not in server.log.read_text()


def test_parley_user_creates_a_private_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "new" / "data"
    with umask(0o022):
        result = parley("user", "add", "ann", "--admin", "--data-dir", str(data), stdin="secret-pw\n")
    assert result.returncode == 0, result.stderr
    assert (oct(mode(data)), oct(mode(database_path(data)))) == ("0o700", "0o600")
    assert result.stderr == ""


async def test_a_data_folder_open_to_others_is_warned_about_at_start_with_the_fix(tmp_path: Path) -> None:
    data = tmp_path / "data"
    database = database_path(data)
    Store(database).close()
    data.chmod(0o755)
    database.chmod(0o644)
    server = process("serve", data).start()
    server.stop()
    warnings = [line for line in server.log.read_text().splitlines() if "open to other users" in line]
    assert f"WARNING parley.server: the data folder {data} is open to other users of this machine (mode 755), " \
        f"who may read password hashes and private messages; fix: chmod 700 {data}" in warnings[0]
    assert warnings[1].endswith(f"the database file {database} is open to other users of this machine "
                                f"(mode 644); fix: chmod 600 {database}")
    # SQLite gives -wal and -shm the database's mode: each gets its line too.
    assert [line.rsplit(" ", 1)[-1] for line in warnings[2:]] == [f"{database}-wal", f"{database}-shm"]
    # Left as their owner made them: the warning says how to fix it.
    assert (oct(mode(data)), oct(mode(database))) == ("0o755", "0o644")
    listed = parley("user", "list", "--data-dir", str(data))
    assert listed.returncode == 0
    assert f"parley: warning: the data folder {data} is open to other users" in listed.stderr


# Item 9: one server per data folder --------------------------------------------------------------------


@pytest.mark.parametrize("command", ["serve", "server"])
async def test_a_second_server_on_one_data_folder_refuses_to_start_until_the_first_is_gone(
        tmp_path: Path, command: str) -> None:
    data = tmp_path / "data"
    first = process(command, data).start()
    try:
        ann = await Client.connect(first.port)
        await ann.login("ann")
        extra = ["--http-host", "127.0.0.1", "--http-port", "0"] if command == "serve" else []
        second = parley(command, "--host", "127.0.0.1", "--port", "0", *extra, "--data-dir", str(data))
        assert second.returncode == 1
        assert second.stdout == ""
        assert first.process is not None
        assert second.stderr == (f"parley: another Parley server (process {first.process.pid}) is running on "
                                 f"the data folder {data}; stop it first, or give this one another --data-dir\n")
        # Account commands still work beside a running server: SQLite serialises the writes.
        added = parley("user", "add", "bob", "--data-dir", str(data), stdin="bobs-password\n")
        assert added.returncode == 0, added.stderr
        # The first server was not disturbed.
        await ann.send("CHAT,rec=-ALL,still here")
        assert (await ann.expect("CHATR")).content == "still here"
        await ann.close()
    finally:
        first.stop(signal.SIGKILL)  # no clean stop: the system drops the lock with the process
    again = process(command, data).start()
    try:
        bob = await Client.connect(again.port)
        await bob.login("bob", "bobs-password")
        await bob.close()
    finally:
        assert again.stop() == 0


# Item 10: trust only what must be trusted ---------------------------------------------------------------


async def proxied_login(port: int, claimed: str) -> str:
    """Connect, send a PROXY header claiming to be ``claimed`` and a CON; the CONVER's text."""
    client = await Client.connect(port)
    try:
        with contextlib.suppress(asyncio.TimeoutError):  # refused as it connects, before it sends
            return (await client.expect("CONVER", timeout=0.5)).content
        await client.send_raw(f"PROXY TCP4 {claimed} 127.0.0.1 40000 {port}\r\n".encode())
        await client.send("CON,nickname=spoof;password=;color=#FFFFFF,")
        return (await client.expect("CONVER")).content
    finally:
        await client.close()


@pytest.mark.parametrize("command", ["serve", "server"])
async def test_a_local_process_cannot_claim_another_address_with_a_proxy_header(tmp_path: Path, command: str) -> None:
    server = process(command, tmp_path / "data", "--max-connections-per-address", "1").start()
    try:
        ann = await Client.connect(server.port)
        await ann.login("ann")
        # On main 127/8 was a trusted proxy, so this was admitted as 203.0.113.7, past the cap.
        assert await proxied_login(server.port, "203.0.113.7") == texts.TOO_MANY_CONNECTIONS
        await ann.close()
    finally:
        server.stop()
    assert "proxied client" not in server.log.read_text()


async def test_a_proxy_named_by_the_host_is_believed(tmp_path: Path) -> None:
    server = process("server", tmp_path / "data", "--max-connections-per-address", "1",
                     "--trusted-proxy", "127.0.0.1").start()
    try:
        ann = await Client.connect(server.port)
        await ann.send_raw(f"PROXY TCP4 198.51.100.1 127.0.0.1 40000 {server.port}\r\n".encode())
        await ann.login("ann")
        assert await proxied_login(server.port, "203.0.113.7") == "OK"
        assert await proxied_login(server.port, "198.51.100.1") == texts.TOO_MANY_CONNECTIONS
        await ann.close()
    finally:
        server.stop()


async def test_forty_addresses_of_one_ipv6_64_meet_the_per_address_cap(make_server: ServerFactory) -> None:
    server = await make_server(trusted_proxies=parse_networks(["127.0.0.1"]), max_connections_per_address=32)
    clients = [await Client.connect(server.port) for _ in range(41)]
    try:
        answers = []
        for i, client in enumerate(clients):
            # 40 addresses of 2001:db8:1:2::/64, then one of another /64.
            address = f"2001:db8:1:2::{i + 1:x}" if i < 40 else "2001:db8:1:3::1"
            await client.send_raw(f"PROXY TCP6 {address} ::1 40000 6666\r\nPING,,x\n".encode())
            answers.append((await client.recv()).reason)
        assert answers == ["PONG"] * 32 + ["CONVER"] * 8 + ["PONG"]
    finally:
        for client in clients:
            await client.close()


async def test_an_ipv6_prefix_of_128_counts_each_address_alone(make_server: ServerFactory) -> None:
    server = await make_server(trusted_proxies=parse_networks(["127.0.0.1"]), max_connections_per_address=1,
                               ipv6_prefix=128)
    clients = [await Client.connect(server.port) for _ in range(3)]
    try:
        for i, client in enumerate(clients):
            await client.send_raw(f"PROXY TCP6 2001:db8::{i + 1} ::1 40000 6666\r\nPING,,x\n".encode())
            assert (await client.recv()).reason == "PONG"
    finally:
        for client in clients:
            await client.close()


# Item 13: what users control is escaped in the log ------------------------------------------------------


def http_get(port: int, user_agent: bytes) -> bytes:
    """A GET of the page with ``user_agent`` sent as raw bytes; the status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " + user_agent
                     + b"\r\nConnection: close\r\n\r\n")
        return sock.recv(4096).split(b"\r\n", 1)[0]


async def test_control_characters_from_users_are_escaped_in_the_log(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_account(data, "boss", "boss-pw", role="admin")
    serve = process("serve", data).start()
    try:
        boss, bob = await Client.connect(serve.port), await Client.connect(serve.port)
        await boss.login("boss", "boss-pw")
        await bob.login("bob")
        await boss.send("KICK,user=bob,\x1b[31mred\x1b[0m\u202eevil")
        assert (await bob.next("WARN")).content == "You have been kicked for reason: \x1b[31mred\x1b[0m\u202eevil"
        agent = "curl\u0085forged line\u2028another".encode()
        assert await asyncio.to_thread(http_get, serve.http_port, agent) == b"HTTP/1.1 200 OK"
        await boss.close(), await bob.close()
    finally:
        serve.stop()
    log = serve.log.read_text(encoding="utf-8")
    assert "reason '\\x1b[31mred\\x1b[0m\\u202eevil'" in log
    assert '"curl\\x85forged line\\u2028another"' in log  # aiohttp's access log line
    assert not {"\x1b", "\x85", "\u2028", "\u202e"} & set(log)


def test_escape_writes_each_unprintable_character_as_repr_would() -> None:
    for code in range(0x110000):
        char = chr(code)
        if char not in "'\"\\":
            assert escape(char) == repr(char)[1:-1], hex(code)
    assert escape("ann \x1b]0;title\x07 \u0085 \u2028 \u202e \ufeff") == \
        "ann \\x1b]0;title\\x07 \\x85 \\u2028 \\u202e \\ufeff"
    assert escape("Zoë 漢字 😀 \\x1b") == "Zoë 漢字 😀 \\x1b"  # printable text is left as it is


def test_a_record_stays_one_line_and_its_traceback_keeps_its_own_lines() -> None:
    try:
        raise ValueError("bad \x1b[2J name")
    except ValueError:
        record = logging.LogRecord("parley", logging.INFO, __file__, 1, "%s: kicked (%s)", ("ann", "a\nFAKE\u2028x"),
                                   sys.exc_info())
    lines = SafeFormatter("%(levelname)s %(message)s").format(record).split("\n")
    assert lines[0] == "INFO ann: kicked (a\\nFAKE\\u2028x)"
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: bad \\x1b[2J name"
