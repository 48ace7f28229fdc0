"""An event loop for load generators that reads counting sockets itself.

A receiver that only counts bench messages needs no transport, protocol or
callback per read: ``CountingLoop`` takes such sockets' read events straight
from the selector, ``recv_into`` one shared buffer and counts ``^`` bytes
(and ``~`` bytes, rooms' messages, for clients in rooms)
(about 1 µs a read instead of about 5 µs through asyncio's machinery), so the
load generator keeps up with a server delivering a million frames a second.
End of stream and errors are left to the socket's transport as usual.
"""

from __future__ import annotations

import asyncio
import selectors
import socket
import time
from typing import Any, Protocol

from .wire import MARK_BYTE, ROOM_MARK_BYTE


class Counter(Protocol):
    """What CountingLoop needs of a counting connection."""

    sock: socket.socket
    marks: int
    t_mark: int
    room_list: tuple[int, ...]
    room_marks: int


class CountingLoop(asyncio.SelectorEventLoop):
    """A selector event loop with a fast path for the sockets in ``counting`` (fd -> Counter)."""

    def __init__(self) -> None:
        super().__init__(selectors.EpollSelector())
        self.counting: dict[int, Counter] = {}
        self.buffer = bytearray(256 * 1024)
        self.reads = 0
        self.bytes = 0

    def _process_events(self, event_list: list[tuple[Any, int]]) -> None:
        counting = self.counting
        if not counting:
            super()._process_events(event_list)  # type: ignore[misc]
            return
        rest = []
        now = time.monotonic_ns()
        buffer = self.buffer
        reads = 0
        received = 0
        for key, mask in event_list:
            conn = counting.get(key.fd)
            if conn is None or not mask & selectors.EVENT_READ:
                rest.append((key, mask))
                continue
            if mask & selectors.EVENT_WRITE:
                rest.append((key, selectors.EVENT_WRITE))
            try:
                size = conn.sock.recv_into(buffer)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                rest.append((key, selectors.EVENT_READ))
                continue
            if not size:
                rest.append((key, selectors.EVENT_READ))  # the transport reads the end of stream
                continue
            reads += 1
            received += size
            found = buffer.count(MARK_BYTE, 0, size)
            if found:
                conn.marks += found
                conn.t_mark = now
            if conn.room_list:
                conn.room_marks += buffer.count(ROOM_MARK_BYTE, 0, size)
        self.reads += reads
        self.bytes += received
        if rest:
            super()._process_events(rest)  # type: ignore[misc]
