"""REF's replay goes out as the connection drains, never over the output cap (issue 12, item 7).

With ``--history 300`` and messages of 8 KB, one REF is 2.4 MB: more than
the 2 MiB ``--max-outbuf``. A client that reads gets every message; one that
pauses gets the rest when it reads again; one that never reads is cut off
after ``--drain-timeout`` once the kernel's socket buffers are full too, as
a stalled reader always was cut off.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

from wire import Client

from parley.protocol import Frame
from server.records import NewMessage
from server.store import Store, database_path

HISTORY = 300
CONTENT = 8000  # bytes of each message: 300 of them pass the 2 MiB cap


def fill_history(data_dir: Path, count: int = HISTORY) -> None:
    store = Store(database_path(data_dir))
    try:
        store.append_messages([
            NewMessage(1_700_000_000_000 + i, "2023-11-14 22:13:20", "writer", "#123456", "-ALL",
                       f"{i:04d} " + "x" * (CONTENT - 5), "g:writer", None)
            for i in range(count)
        ])
    finally:
        store.close()


async def replayed(client: Client) -> list[str]:
    """Send REF and read its CONFIRM and every CHATR it brings; return the messages' numbers."""
    await client.send("REF,,")
    assert (await client.expect("CONFIRM")).content == "Resending messages..."
    numbers = []
    while len(numbers) < HISTORY:
        chatr = await client.expect("CHATR")
        numbers.append(chatr.content[:4])
    return numbers


async def test_a_ref_larger_than_the_output_cap_reaches_a_client_that_reads(make_server, data_dir: Path) -> None:
    fill_history(data_dir)
    server = await make_server(history=HISTORY)
    assert HISTORY * CONTENT > server.config.max_outbuf
    client = await Client.connect(server.port)
    try:
        await client.login("reader")
        assert await replayed(client) == [f"{i:04d}" for i in range(HISTORY)]
        await client.send("PING,,still here")
        assert (await client.expect("PONG")).content == "still here"
    finally:
        await client.close()


async def test_a_client_that_pauses_during_a_ref_gets_the_rest_when_it_reads(make_server, data_dir: Path) -> None:
    fill_history(data_dir)
    server = await make_server(history=HISTORY, drain_timeout=5.0)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    client = Client(reader, writer)
    try:
        await client.login("pauser")
        await client.send("REF,,")
        await client.send("PING,,after the replay")
        await asyncio.sleep(1.0)  # reads nothing meanwhile: the replay waits, the cap is not reached
        assert (await client.expect("CONFIRM")).content == "Resending messages..."
        numbers = [(await client.expect("CHATR")).content[:4] for _ in range(HISTORY)]
        assert numbers == [f"{i:04d}" for i in range(HISTORY)]
        assert (await client.expect("PONG")).content == "after the replay"  # answers keep their order
    finally:
        await client.close()


async def test_a_client_that_never_reads_its_ref_is_cut_off_and_the_others_are_served(make_server,
                                                                                      data_dir: Path) -> None:
    # 4.8 MB: more than the kernel's socket buffers take (4 MiB at most here) besides the cap.
    fill_history(data_dir, 2 * HISTORY)
    server = await make_server(history=2 * HISTORY, drain_timeout=1.0)
    bystander = await Client.connect(server.port)
    sock = socket.socket()
    try:
        await bystander.login("bystander")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(b"CON,nickname=stalled;password=;color=#FFF,\nREF,,\n")
        assert (await bystander.expect("INFO")).content == "stalled has joined the chat!"
        started = time.monotonic()
        await bystander.send(Frame("CHAT", {"rec": "-ALL"}, "served meanwhile"))
        assert (await bystander.next("CHATR")).content == "served meanwhile"
        info = await bystander.next("INFO")
        assert info.content == "stalled has disconnected"
        assert 0.9 < time.monotonic() - started < 5.0  # after --drain-timeout, not at once
    finally:
        sock.close()
        await bystander.close()
