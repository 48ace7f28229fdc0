"""What one connection has still to send, and how it goes out.

Framed peers: frames queue up and go out joined in one ``write`` per event
loop iteration, whichever number of broadcasts produced them (one write per
frame per client costs about 30x more at a thousand clients). A shared
``WriteBatcher`` flushes every outbox that has something, once per iteration.

Legacy peers (clients of the original program): one frame per write, with at
least ``legacy_pace`` seconds between writes so that two frames never arrive
in one ``recv()``.

A peer whose unsent bytes pass ``max_buffer`` is cut off: a reader that
stopped reading must not grow the server's memory without bound.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Callable


class WriteBatcher:
    """Flushes every marked outbox once, at the next loop iteration."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._marked: list[Outbox] = []

    def mark(self, outbox: "Outbox") -> None:
        if not self._marked:
            self._loop.call_soon(self._flush)
        self._marked.append(outbox)

    def _flush(self) -> None:
        marked, self._marked = self._marked, []
        for outbox in marked:
            outbox.flush()


class Outbox:
    def __init__(
        self,
        transport: asyncio.WriteTransport,
        batcher: WriteBatcher,
        *,
        max_buffer: int,
        legacy_pace: float,
        on_overflow: Callable[[], None],
    ) -> None:
        self._transport = transport
        self._batcher = batcher
        self._max_buffer = max_buffer
        self._legacy_pace = legacy_pace
        self._on_overflow = on_overflow
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._legacy = False
        self._legacy_queue: collections.deque[bytes] = collections.deque()
        self._legacy_timer: asyncio.TimerHandle | None = None
        self._last_legacy_write = float("-inf")
        self._close_when_sent = False
        self.closed = False

    def use_legacy_framing(self) -> None:
        """From now on send one unterminated frame per write, paced."""
        self._legacy = True

    def send(self, payload: bytes) -> None:
        """Queue one frame's bytes (without terminator)."""
        if self.closed or self._close_when_sent:
            return
        self._pending_size += len(payload) + 1
        if self._legacy:
            self._legacy_queue.append(payload)
            if self._legacy_timer is None:
                self._write_legacy()
        else:
            if not self._pending:
                self._batcher.mark(self)
            self._pending.append(payload)
            self._pending.append(b"\n")
        if self._pending_size + self._transport.get_write_buffer_size() > self._max_buffer:
            self.abort()
            self._on_overflow()

    def flush(self) -> None:
        if not self._pending or self.closed:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_size = 0
        if not self._transport.is_closing():
            self._transport.write(data)
        if self._close_when_sent:
            self._close_now()

    def _write_legacy(self) -> None:
        self._legacy_timer = None
        if self.closed:
            return
        loop = asyncio.get_running_loop()
        wait = self._last_legacy_write + self._legacy_pace - loop.time()
        if wait > 0:
            self._legacy_timer = loop.call_later(wait, self._write_legacy)
            return
        if self._legacy_queue:
            payload = self._legacy_queue.popleft()
            self._pending_size -= len(payload) + 1
            if not self._transport.is_closing():
                self._transport.write(payload)
            self._last_legacy_write = loop.time()
        if self._legacy_queue:
            self._legacy_timer = loop.call_later(self._legacy_pace, self._write_legacy)
        elif self._close_when_sent:
            self._close_now()

    def close_when_sent(self) -> None:
        """Close the connection once everything queued has been written."""
        if self.closed:
            return
        self._close_when_sent = True
        if self._legacy:
            if self._legacy_timer is None and not self._legacy_queue:
                self._close_now()
        elif not self._pending:
            self._close_now()

    def _close_now(self) -> None:
        self.closed = True
        self._transport.close()

    def abort(self) -> None:
        """Drop everything and reset the connection."""
        self.closed = True
        self._pending.clear()
        self._legacy_queue.clear()
        if self._legacy_timer is not None:
            self._legacy_timer.cancel()
            self._legacy_timer = None
        self._transport.abort()
