"""How the server reads a connection: no task while idle, half-closes, bursts."""

from __future__ import annotations

import asyncio

from server.core.chat import MAX_UNSENT
from wire import Client, eventually


async def test_idle_connections_hold_no_task_or_timer(make_server) -> None:
    server = await make_server()
    baseline = len(asyncio.all_tasks())
    clients = [await Client.connect(server.port) for _ in range(30)]
    try:
        for i, client in enumerate(clients):
            await client.login(f"idle{i}")
        await clients[0].send("CHAT,rec=-ALL,hello")
        for client in clients:
            assert (await client.next("CHATR")).content == "hello"
        await eventually(lambda: len(asyncio.all_tasks()) == baseline)
        assert all(conn.task is None and conn.timer_at is None for conn in server.core.connections.values())
        assert all(protocol.timer is None for protocol in server.adapter.protocols.values())
        # Idle does not mean deaf: everyone still answers at once.
        for client in clients:
            await client.send("PING,,still here")
        for client in clients:
            assert (await client.next("PONG")).content == "still here"
    finally:
        for client in clients:
            await client.close()


async def test_a_login_deadline_is_a_timer_that_goes_with_the_login(make_server) -> None:
    server = await make_server(login_timeout=30)
    client = await Client.connect(server.port)
    try:
        await client.send("PING,,x")
        await client.expect("PONG")
        (protocol,) = server.adapter.protocols.values()
        assert protocol.timer is not None  # waiting for a login
        await client.login("ann")
        assert protocol.timer is None
    finally:
        await client.close()


async def test_frames_sent_before_a_half_close_are_all_answered(server) -> None:
    client = await Client.connect(server.port)
    try:
        await client.send_raw(b"PING,,one\nPING,,two\n")
        client.writer.write_eof()
        assert [f.content for f in await client.drain()] == ["one", "two"]
        assert await client.closed_by_server()
        await eventually(lambda: not server.adapter.protocols)
    finally:
        await client.close()


async def test_a_burst_larger_than_the_read_limit_loses_nothing(make_server) -> None:
    """Reading pauses while MAX_UNSENT of a connection's messages wait for their commit, and resumes."""
    server = await make_server(chat_rate=0)
    sender, reader = await Client.connect(server.port), await Client.connect(server.port)
    try:
        await sender.login("sender")
        await reader.login("reader")
        await sender.drain()
        count = 3000
        lines = b"".join(b"CHAT,rec=-ALL,%05d %s\n" % (i, b"x" * 100) for i in range(count))
        assert count > 4 * MAX_UNSENT
        await sender.send_raw(lines)
        got: list[str] = []
        while len(got) < count:
            frame = await reader.next("CHATR")
            got.append(frame.content[:5])
        assert got == [f"{i:05d}" for i in range(count)]
        await sender.send("PING,,after")
        assert (await sender.next("PONG")).content == "after"
    finally:
        await sender.close(), await reader.close()
