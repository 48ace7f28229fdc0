"""Persistence across restarts and kill -9, the original client on the wire, TLS, the user CLI."""

from __future__ import annotations

import asyncio
import signal
import socket
import sqlite3
import ssl
import subprocess
import time
from pathlib import Path

from certs import self_signed
from conftest import add_account
from serverproc import PARLEY, ServerProcess
from parley.protocol import parse_frame
from wire import Client


async def test_history_survives_a_clean_restart(make_server, data_dir) -> None:
    first = await make_server()
    ann = await Client.connect(first.port)
    await ann.login("ann")
    await ann.send("CHAT,rec=-ALL,before restart")
    sent = await ann.expect("CHATR")
    await ann.close()
    await first.close()
    second = await make_server()
    bob = await Client.connect(second.port)
    try:
        await bob.login("bob")
        await bob.send("REF,,")
        await bob.expect("CONFIRM")
        assert await bob.drain() == [sent]
    finally:
        await bob.close()


async def test_every_received_message_survives_kill_9(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data, "--chat-rate", "0", "--history", "1000").start()
    received: list = []
    try:
        sender, watcher = await Client.connect(server.port), await Client.connect(server.port)
        await sender.login("sender")
        await watcher.login("watcher")
        await sender.drain()

        async def burst() -> None:
            try:
                for i in range(300):
                    await sender.send(f"CHAT,rec=-ALL,burst {i}")
            except OSError:
                pass

        task = asyncio.create_task(burst())
        while len(received) < 50:
            frame = await watcher.recv()
            if frame.reason == "CHATR":
                received.append(frame)
        server.stop(signal.SIGKILL)
        received += [f for f in await watcher.drain() if f.reason == "CHATR"]
        await task
        await sender.close(), await watcher.close()
    finally:
        server.stop(signal.SIGKILL)
    restarted = ServerProcess(data, "--history", "1000").start()
    try:
        reader = await Client.connect(restarted.port)
        await reader.login("reader")
        await reader.send("REF,,")
        await reader.expect("CONFIRM")
        replayed = {(f.params["id"], f.content) for f in await reader.drain()}
        assert {(f.params["id"], f.content) for f in received} <= replayed
        await reader.close()
    finally:
        restarted.stop()
    db = sqlite3.connect(data / "parley.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()


def original_recv(sock: socket.socket) -> str:
    """One recv(2048) as the original client did: it must hold exactly one frame."""
    text = sock.recv(2048).decode("utf-8")
    assert "\n" not in text, text
    parse_frame(text)
    return text


async def test_a_client_of_the_original_program_chats_and_is_kicked(make_server, data_dir) -> None:
    add_account(data_dir, "Boss", "secret1", "admin")
    server = await make_server()
    boss = await Client.connect(server.port)
    await boss.login("Boss", password="secret1")

    def original_client() -> list[str]:
        seen: list[str] = []
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.send(b"CON,nickname=oldie;password=;color=#00FF00,")
        seen += [original_recv(sock) for _ in range(3)]  # CONVER, INFO, USER
        time.sleep(0.1)
        sock.send(b"CHAT,rec=-ALL,hi from 2019, really")
        seen.append(original_recv(sock))
        sock.send(b"CHAT,rec=Boss,psst")
        seen.append(original_recv(sock))
        sock.send(b"USER,,")
        seen.append(original_recv(sock))
        sock.send(b"REF,,")
        seen += [original_recv(sock) for _ in range(3)]  # CONFIRM + two messages
        sock.send(b"UPDATE,color=#123456,")
        seen += [original_recv(sock) for _ in range(3)]  # CONFIRM, INFO, USER
        seen.append(original_recv(sock))  # the WARN of the kick below
        seen.append(sock.recv(2048).decode())  # then the server closes
        sock.close()
        return seen

    async def kick_when_ready() -> None:
        while True:
            frame = await boss.recv()
            if frame.reason == "INFO" and "color changed" in frame.content:
                await boss.expect("USER")  # oldie has its list too by now
                await asyncio.sleep(0.2)
                await boss.send("KICK,user=oldie,being old")
                return

    seen, _ = await asyncio.gather(asyncio.to_thread(original_client), kick_when_ready())
    await boss.close()
    assert seen[0].startswith("CONVER,time=") and seen[0].endswith(",OK")
    assert seen[1].endswith(",oldie has joined the chat!") and seen[2].startswith("USER,")
    assert seen[3].endswith(",hi from 2019, really") and ";rec=-ALL;" in seen[3]
    assert seen[4].endswith(",psst") and ";rec=Boss;" in seen[4]
    assert parse_frame(seen[5]).params["num"] == "2"
    assert seen[6].endswith("reason=REF,Resending messages...")
    assert [parse_frame(t).content for t in seen[7:9]] == ["hi from 2019, really", "psst"]
    assert seen[9].endswith("reason=UPDATE,OK")
    assert seen[12] .endswith(",You have been kicked for reason: being old")
    assert seen[13] == ""


async def test_legacy_client_gets_confirm_then_close_on_discon(server) -> None:
    def run() -> list[str]:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.send(b"CON,nickname=oldie;password=;color=#FFF,")
        for _ in range(3):
            original_recv(sock)
        sock.send(b"DISCON,,")
        got = [original_recv(sock), sock.recv(2048).decode()]
        sock.close()
        return got

    confirm, end = await asyncio.to_thread(run)
    assert confirm.endswith(";reason=DISCON,Disconnected Successfully.") and end == ""


async def test_framed_login_pays_no_legacy_delay(server) -> None:
    client = await Client.connect(server.port)
    started = time.perf_counter()
    await client.send("CON,nickname=quick;password=;color=#FFF,")
    await client.expect("CONVER")
    assert time.perf_counter() - started < server.config.legacy_grace
    await client.close()


async def test_tls_clients_chat_and_untrusting_clients_are_refused(make_server, tmp_path) -> None:
    cert, key = self_signed(tmp_path)
    server = await make_server(tls_cert=cert, tls_key=key)
    trusting = ssl.create_default_context(cafile=str(cert))
    ann, bob = await Client.connect(server.port, trusting), await Client.connect(server.port, trusting)
    try:
        await ann.login("ann")
        await bob.login("bob")
        await ann.drain()
        await bob.send("CHAT,rec=-ALL,over tls")
        assert (await ann.expect("CHATR")).content == "over tls"
        try:
            await Client.connect(server.port, ssl.create_default_context())
            raise AssertionError("an unverified certificate was accepted")
        except ssl.SSLCertVerificationError:
            pass
        plain = await Client.connect(server.port)  # plain TCP to the TLS port
        await plain.send("CON,nickname=plain;password=;color=#FFF,")
        assert await plain.closed_by_server()
        await plain.close()
        await bob.send("CHAT,rec=-ALL,still up")
        assert (await ann.expect("CHATR")).content == "still up"
    finally:
        await ann.close(), await bob.close()


async def test_a_tls_handshake_never_started_is_cut_off_like_a_login_that_never_comes(make_server, tmp_path) -> None:
    # The connection is not the core's until its handshake ends: asyncio alone would hold it 60 s.
    cert, key = self_signed(tmp_path)
    server = await make_server(tls_cert=cert, tls_key=key, login_timeout=1.0)
    silent = await Client.connect(server.port)  # plain TCP, sending nothing
    started = time.perf_counter()
    try:
        assert await silent.closed_by_server(timeout=4.0)
        assert time.perf_counter() - started < 3.0
    finally:
        await silent.close()


def parley(*args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PARLEY, *args], input=password, capture_output=True, text=True, timeout=60)


async def test_user_cli_adds_lists_changes_and_removes_accounts(tmp_path) -> None:
    data = str(tmp_path / "data")
    assert parley("user", "add", "Ann", "--admin", "--data-dir", data, password="first-pw\n").returncode == 0
    assert parley("user", "add", "Bob", "--data-dir", data, password="bob-password\n").returncode == 0
    assert parley("user", "list", "--data-dir", data).stdout == "Ann\tadmin\nBob\tmember\n"
    refused = parley("user", "add", "1abc", "--data-dir", data, password="whatever\n")
    assert refused.returncode != 0 and "must start with a letter" in refused.stderr
    short = parley("user", "add", "Cat", "--data-dir", data, password="abcdefg\n")
    assert short.returncode != 0 and "at least 8" in short.stderr
    assert parley("user", "passwd", "ann", "--data-dir", data, password="second-pw\n").returncode == 0
    server = ServerProcess(tmp_path / "data").start()
    try:
        client = await Client.connect(server.port)
        await client.send("CON,nickname=Ann;password=first-pw;color=#FFF,")
        assert (await client.expect("CONVER")).content == "Error: User is a registered user"
        conver = await client.login("Ann", password="second-pw")
        assert conver.params["role"] == "admin"
        await client.close()
    finally:
        assert server.stop() == 0
    assert "first-pw" not in server.log.read_text() and "second-pw" not in server.log.read_text()
    assert parley("user", "remove", "Bob", "--data-dir", data).returncode == 0
    assert parley("user", "list", "--data-dir", data).stdout == "Ann\tadmin\n"



def test_fsync_flag_is_honoured_and_logged(tmp_path: Path) -> None:
    for flag in ("on", "off"):
        data = tmp_path / flag
        server = ServerProcess(data, "--fsync", flag).start()
        server.stop()
        assert f"(fsync {flag})" in server.log.read_text()
