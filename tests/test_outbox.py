"""The write batcher over real socket pairs: broadcasts shared, per-connection order kept."""

from __future__ import annotations

import asyncio
import socket
from typing import AsyncIterator

import pytest

from server.outbox import Outbox, WriteBatcher


class Pair:
    """An outbox writing into one end of a socket pair; the test reads the other."""

    def __init__(self, outbox: Outbox, reader: socket.socket, writer: asyncio.StreamWriter) -> None:
        self.outbox, self.reader, self.writer = outbox, reader, writer
        self.overflowed = False

    async def received(self) -> bytes:
        """Everything written so far (after letting the loop flush)."""
        for _ in range(3):
            await asyncio.sleep(0)
        chunks = []
        while True:
            try:
                chunk = self.reader.recv(65536)
            except BlockingIOError:
                break
            if not chunk:
                chunks.append(b"<EOF>")
                break
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.fixture
async def pairs() -> AsyncIterator:
    made: list[Pair] = []
    batcher = WriteBatcher()

    async def make(max_buffer: int = 1 << 20) -> Pair:
        ours, theirs = socket.socketpair()
        theirs.setblocking(False)
        _, writer = await asyncio.open_connection(sock=ours)
        pair: Pair

        def overflow() -> None:
            pair.overflowed = True

        outbox = Outbox(writer.transport, batcher, max_buffer=max_buffer, legacy_pace=0.05, on_overflow=overflow)
        pair = Pair(outbox, theirs, writer)
        made.append(pair)
        return pair

    yield batcher, make
    for pair in made:
        pair.writer.transport.abort()
        pair.reader.close()


async def test_a_private_frame_keeps_its_place_among_broadcasts(pairs) -> None:
    batcher, make = pairs
    ann, bob = await make(), await make()
    batcher.subscribe(ann.outbox)
    batcher.subscribe(bob.outbox)
    batcher.broadcast(b"B1")
    ann.outbox.send(b"P")
    batcher.broadcast(b"B2")
    assert await ann.received() == b"B1\nP\nB2\n"
    assert await bob.received() == b"B1\nB2\n"


async def test_a_member_who_joins_gets_only_later_broadcasts(pairs) -> None:
    batcher, make = pairs
    ann, cat = await make(), await make()
    batcher.subscribe(ann.outbox)
    batcher.broadcast(b"before")
    batcher.subscribe(cat.outbox)
    cat.outbox.send(b"welcome")
    batcher.broadcast(b"after")
    assert await cat.received() == b"welcome\nafter\n"
    assert await ann.received() == b"before\nafter\n"


async def test_a_member_who_leaves_keeps_what_it_was_due(pairs) -> None:
    batcher, make = pairs
    ann, bob = await make(), await make()
    batcher.subscribe(ann.outbox)
    batcher.subscribe(bob.outbox)
    batcher.broadcast(b"seen by both")
    batcher.unsubscribe(bob.outbox)
    batcher.broadcast(b"ann only")
    bob.outbox.send(b"goodbye")
    bob.outbox.close_when_sent()
    assert await bob.received() == b"seen by both\ngoodbye\n<EOF>"
    assert await ann.received() == b"seen by both\nann only\n"


async def test_close_when_sent_delivers_due_broadcasts_first(pairs) -> None:
    batcher, make = pairs
    ann = await make()
    batcher.subscribe(ann.outbox)
    batcher.broadcast(b"news")
    ann.outbox.close_when_sent()
    batcher.broadcast(b"too late")
    assert await ann.received() == b"news\n<EOF>"


async def test_many_broadcasts_reach_each_member_joined_in_one_write(pairs) -> None:
    batcher, make = pairs
    members = [await make() for _ in range(50)]
    for member in members:
        batcher.subscribe(member.outbox)
    for i in range(100):
        batcher.broadcast(b"m%d" % i)
    expected = b"".join(b"m%d\n" % i for i in range(100))
    for member in members:
        assert await member.received() == expected


async def test_a_member_that_stops_reading_is_cut_off_and_the_rest_served(pairs) -> None:
    batcher, make = pairs
    stalled, calm = await make(max_buffer=10_000), await make()
    batcher.subscribe(stalled.outbox)
    batcher.subscribe(calm.outbox)
    # One big batch is no overflow: what counts is output the peer leaves unread.
    batcher.broadcast(b"x" * 20_000)
    assert len(await calm.received()) == 20_001
    assert not stalled.overflowed
    for i in range(2000):  # bounded: the kernel's buffer fills long before
        batcher.broadcast(b"y" * 2000)
        assert len(await calm.received()) == 2001
        if stalled.overflowed:
            break
    assert stalled.overflowed and stalled.outbox.closed
    batcher.broadcast(b"next")
    assert await calm.received() == b"next\n"


async def test_a_connection_that_is_not_a_member_never_gets_broadcasts(pairs) -> None:
    """Regression: an answer to a connection not logged in took the iteration's broadcasts along."""
    batcher, make = pairs
    ann, stranger = await make(), await make()
    batcher.subscribe(ann.outbox)
    batcher.broadcast(b"members only")
    stranger.outbox.send(b"CONVER error")
    assert await stranger.received() == b"CONVER error\n"
    batcher.broadcast(b"still members only")
    stranger.outbox.send(b"again")
    assert await stranger.received() == b"again\n"
