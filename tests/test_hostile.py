"""Hostile conditions: floods, connection and login limits, slow frames."""

from __future__ import annotations

import asyncio
import socket

from conftest import add_account
from wire import Client


async def test_flooding_gets_err_then_disconnect_and_others_notice_nothing(make_server) -> None:
    server = await make_server(chat_rate=1.0, chat_burst=3, flood_strikes=2)
    flooder, calm = await Client.connect(server.port), await Client.connect(server.port)
    try:
        await flooder.login("flooder")
        await calm.login("calm")
        await flooder.drain()
        for i in range(10):
            await flooder.send(f"CHAT,rec=-ALL,spam {i}")
        got = await flooder.drain()
        assert [f.content for f in got if f.reason == "CHATR"] == ["spam 0", "spam 1", "spam 2"]
        errs = [f.content for f in got if f.reason == "ERR"]
        assert errs == ["Error: You are sending messages too fast. Please slow down."] * 2
        assert [f.content for f in got if f.reason == "WARN"] == [
            "You have been disconnected for flooding the chat."
        ]
        assert await flooder.closed_by_server()
        seen = await calm.drain()
        assert [f.content for f in seen if f.reason == "CHATR"] == ["spam 0", "spam 1", "spam 2"]
        await calm.send("CHAT,rec=-ALL,fine")
        assert (await calm.expect("CHATR")).content == "fine"
    finally:
        await flooder.close(), await calm.close()


async def test_a_person_typing_in_bursts_is_not_limited(make_server) -> None:
    server = await make_server()  # defaults
    ann = await Client.connect(server.port)
    try:
        await ann.login("ann")
        for i in range(15):
            await ann.send(f"CHAT,rec=-ALL,quick {i}")
        got = await ann.drain()
        assert [f.reason for f in got] == ["CHATR"] * 15
    finally:
        await ann.close()


async def test_connections_per_address_are_capped(make_server) -> None:
    server = await make_server(max_connections_per_address=2)
    first, second, third = [await Client.connect(server.port) for _ in range(3)]
    try:
        # Counted as they connect: loopback is no trusted proxy, so no PROXY header is awaited.
        for client in (first, second):
            await client.send("PING,,x")
            await client.expect("PONG")
        await third.send("PING,,x")
        conver = await third.expect("CONVER")
        assert conver.content == "Error: Too many connections from your address."
        assert await third.closed_by_server()
        await first.login("first")
        await second.login("second")
        await second.close()
        await asyncio.sleep(0.2)
        again = await Client.connect(server.port)
        await again.login("again")
        await again.close()
    finally:
        for client in (first, second, third):
            await client.close()


async def test_password_guessing_locks_the_nickname_out(make_server, data_dir) -> None:
    add_account(data_dir, "Victim", "right-pw")
    server = await make_server(login_failures_per_nickname=3, login_failures_per_address=100)
    guesser = await Client.connect(server.port)
    try:
        for attempt in range(3):
            await guesser.send(f"CON,nickname=victim;password=guess{attempt};color=#FFF,")
            assert (await guesser.expect("CONVER")).content == "Error: User is a registered user"
        await guesser.send("CON,nickname=victim;password=right-pw;color=#FFF,")
        locked = (await guesser.expect("CONVER")).content
        assert locked.startswith("Error: Too many failed logins. Try again in ")
        # Other nicknames are unaffected.
        await guesser.login("someone")
    finally:
        await guesser.close()


async def test_password_guessing_from_one_address_is_locked_out(make_server, data_dir) -> None:
    for name in ("Aaa", "Bbb", "Ccc"):
        add_account(data_dir, name, "right-pw")
    server = await make_server(login_failures_per_nickname=100, login_failures_per_address=2)
    guesser = await Client.connect(server.port)
    try:
        for name in ("Aaa", "Bbb"):
            await guesser.send(f"CON,nickname={name};password=nope;color=#FFF,")
            assert (await guesser.expect("CONVER")).content == "Error: User is a registered user"
        await guesser.send("CON,nickname=Ccc;password=right-pw;color=#FFF,")
        assert (await guesser.expect("CONVER")).content.startswith("Error: Too many failed logins.")
    finally:
        await guesser.close()


async def test_slowly_dribbled_frame_is_cut_off(make_server) -> None:
    server = await make_server(frame_timeout=0.5)
    slow, ann = await Client.connect(server.port), await Client.connect(server.port)
    try:
        await slow.login("slow")
        await ann.login("ann")
        await slow.drain()
        warn = None
        for char in b"CHAT,rec=-ALL,never ends":
            await slow.send_raw(bytes([char]))
            try:
                warn = await slow.recv(timeout=0.1)
                break
            except asyncio.TimeoutError:
                continue
        assert warn is not None and warn.reason == "WARN"
        assert warn.content == "Frame not completed within 0.5 seconds; closing the connection."
        assert await slow.closed_by_server()
        await ann.drain()
        await ann.send("CHAT,rec=-ALL,ok")
        assert (await ann.expect("CHATR")).content == "ok"
    finally:
        await slow.close(), await ann.close()


async def test_frames_spread_over_time_are_fine_when_each_completes(make_server) -> None:
    server = await make_server(frame_timeout=0.5)
    ann = await Client.connect(server.port)
    try:
        await ann.login("ann")
        for i in range(4):
            await asyncio.sleep(0.3)
            await ann.send(f"CHAT,rec=-ALL,{i}")
            assert (await ann.expect("CHATR")).content == str(i)
    finally:
        await ann.close()


async def test_accepted_sockets_use_tcp_keepalive(server) -> None:
    ann = await Client.connect(server.port)
    try:
        await ann.login("ann")
        (protocol,) = server.adapter.protocols.values()
        sock = protocol.transport.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 60
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 4
    finally:
        await ann.close()


async def test_a_flooder_cut_off_while_it_still_sends_reads_its_warning(make_server) -> None:
    """The server half-closes and drains what the peer still sends: a close with
    unread input would make the kernel reset the connection and destroy the WARN."""
    server = await make_server()
    loop = asyncio.get_running_loop()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.setblocking(False)
    received = b""
    try:
        await loop.sock_sendall(sock, b"CON,nickname=flood;password=;color=#123456,\n")
        # Megabytes of PINGs in one go: the work budget refuses them, then cuts the
        # connection off while most of them are still unread on the server's side.
        try:
            await asyncio.wait_for(loop.sock_sendall(sock, b"PING,,x\n" * 600_000), 10)
        except ConnectionError:
            pass  # the server stopped reading once it had closed: fine, as long as the WARN came
        while chunk := await asyncio.wait_for(loop.sock_recv(sock, 65536), 5):
            received += chunk
    finally:
        sock.close()
    last = received.rstrip(b"\n").rsplit(b"\n", 1)[-1].decode()
    assert last.startswith("WARN,") and last.endswith(",You have been disconnected for flooding the chat.")
