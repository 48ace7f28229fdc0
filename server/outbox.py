"""What one connection has still to send, and how it goes out.

Framed peers: frames go out joined in one ``write`` per event loop iteration,
whichever number of frames produced them (one write per frame per client
costs about 30x more at a thousand clients). A shared ``WriteBatcher`` does
the writing, once per iteration:

* a broadcast is kept once, in the batcher, not once per member: at the end
  of the iteration the iteration's broadcasts are joined into one bytes
  object, and each subscribed (logged-in) member gets it in a single write.
  A broadcast then costs nothing per member in Python until that write.
* a frame for one connection (an answer, a private message) is queued in
  that connection's outbox. To keep each connection's frames in the order
  they were sent, a member that is sent a frame of its own first takes the
  broadcasts of this iteration it has not taken yet into its queue.

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
    """Writes, once per loop iteration, every marked outbox and the iteration's broadcasts."""

    def __init__(self) -> None:
        self._marked: list[Outbox] = []
        self._scheduled = False
        self._shared: list[bytes] = []  # this iteration's broadcasts, without terminators
        self._subscribers: dict[Outbox, None] = {}  # logged-in members, in join order

    def mark(self, outbox: "Outbox") -> None:
        """Have ``outbox`` written at the end of this iteration."""
        self._marked.append(outbox)
        self._schedule()

    def broadcast(self, payload: bytes) -> None:
        """Send one frame's bytes to every subscriber."""
        self._shared.append(payload)
        self._schedule()

    def subscribe(self, outbox: "Outbox") -> None:
        """``outbox`` receives broadcasts from now on (not those already made this iteration)."""
        outbox.shared_from = len(self._shared)
        outbox.subscribed = True
        self._subscribers[outbox] = None

    def unsubscribe(self, outbox: "Outbox") -> None:
        """No more broadcasts for ``outbox``; it keeps those it was due."""
        if self._subscribers.pop(outbox, 0) is None:
            outbox.take_shared(self.shared_since(outbox.shared_from))
            outbox.subscribed = False

    def shared_since(self, offset: int) -> list[bytes]:
        """The broadcasts of this iteration from index ``offset`` on."""
        return self._shared[offset:] if offset < len(self._shared) else []

    @property
    def shared_count(self) -> int:
        return len(self._shared)

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        shared, self._shared = self._shared, []
        if shared:
            joined = b"\n".join(shared) + b"\n"
            suffixes: dict[int, bytes] = {0: joined}  # one join per distinct offset
            for outbox in list(self._subscribers):
                offset = outbox.shared_from
                if offset not in suffixes:
                    suffixes[offset] = b"".join(p + b"\n" for p in shared[offset:])
                outbox.flush(shared, offset, suffixes[offset])
        marked, self._marked = self._marked, []
        for outbox in marked:
            outbox.flush()


class Outbox:
    __slots__ = (
        "_transport", "_batcher", "_max_buffer", "_legacy_pace", "_on_overflow", "_pending",
        "_pending_size", "subscribed", "shared_from", "_legacy_queue", "_legacy_timer",
        "_last_legacy_write", "_close_when_sent", "closed", "_writing_paused", "_on_drained",
        "close_transport",
    )

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
        self._pending: list[bytes] = []  # terminated frames of this connection's own
        self._pending_size = 0
        self.subscribed = False  # receives broadcasts (a logged-in member)
        self.shared_from = 0  # the first broadcast of this iteration not yet taken
        self._legacy_queue: collections.deque[bytes] | None = None  # made for legacy peers only
        self._legacy_timer: asyncio.TimerHandle | None = None
        self._last_legacy_write = float("-inf")
        self._close_when_sent = False
        self.closed = False
        self._writing_paused = False  # the transport is over its high-water mark (pause_writing)
        self._on_drained: Callable[[], None] | None = None
        # How the transport is closed once everything is sent: the adapter lingers (see ClientProtocol).
        self.close_transport: Callable[[], None] = transport.close

    # Drain: what waits for the peer to take what it was sent (a REF's replay) -----------

    def notify_drained(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once, when this connection's unsent output is drained: nothing queued in
        here and the transport under its high-water mark (at once, if so now). Never, if it closes."""
        self._on_drained = callback
        self._check_drained()

    def writing_paused(self, paused: bool) -> None:
        """The transport's flow control: over its high-water mark (True), back under its low one (False)."""
        self._writing_paused = paused
        if not paused:
            self._check_drained()

    def _check_drained(self) -> None:
        callback = self._on_drained
        if callback is None or self.closed or self._writing_paused or self._pending_size:
            return
        self._on_drained = None
        callback()

    def use_legacy_framing(self) -> None:
        """From now on send one unterminated frame per write, paced."""
        self._legacy_queue = collections.deque()

    def send(self, payload: bytes) -> None:
        """Queue one frame's bytes (without terminator) for this connection alone."""
        if self.closed or self._close_when_sent:
            return
        if self.subscribed and self.shared_from < self._batcher.shared_count:
            # Broadcasts made before this frame go out before it.
            self.take_shared(self._batcher.shared_since(self.shared_from))
        self._queue(payload)
        self._check_overflow(0)

    def take_shared(self, payloads: list[bytes]) -> None:
        """Queue broadcasts as this connection's own (keeping their order)."""
        self.shared_from += len(payloads)
        for payload in payloads:
            self._queue(payload)

    def _queue(self, payload: bytes) -> None:
        if self.closed:
            return
        self._pending_size += len(payload) + 1
        if self._legacy_queue is not None:
            self._legacy_queue.append(payload)
            if self._legacy_timer is None:
                self._write_legacy()
        else:
            if not self._pending:
                self._batcher.mark(self)
            self._pending.append(payload + b"\n")

    def _check_overflow(self, extra: int) -> bool:
        """Cut the connection off if too much is unsent; return whether it was."""
        if self.closed:
            return True
        if self._pending_size + extra + self._transport.get_write_buffer_size() > self._max_buffer:
            self.abort()
            self._on_overflow()
            return True
        return False

    def flush(self, shared: list[bytes] | None = None, offset: int = 0, joined: bytes = b"") -> None:
        """Write what is queued, then the broadcasts ``shared[offset:]`` (``joined``, ready made)."""
        self.shared_from = 0
        if self.closed:
            return
        if self._legacy_queue is not None:
            if shared and offset < len(shared):
                self.take_shared(shared[offset:])
                self.shared_from = 0
                self._check_overflow(0)
            return
        if shared and offset < len(shared):
            # What the peer has not taken from earlier writes counts, not this
            # iteration's batch: a burst to a reader that keeps up is no overflow.
            if self._check_overflow(0):
                return
            # Its own frames, then the batch every member shares, in one call: the shared batch
            # is not copied (a room's member with a frame pending copied the whole lobby batch).
            parts = [b"".join(self._pending), joined] if self._pending else [joined]
        elif self._pending:
            parts = [b"".join(self._pending)]
        else:
            return
        self._pending.clear()
        self._pending_size = 0
        if not self._transport.is_closing():
            if len(parts) == 1:
                self._transport.write(parts[0])
            else:
                self._transport.writelines(parts)
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
        queue = self._legacy_queue
        if queue:
            payload = queue.popleft()
            self._pending_size -= len(payload) + 1
            if not self._transport.is_closing():
                self._transport.write(payload)
            self._last_legacy_write = loop.time()
            if not queue:
                self._check_drained()
        if queue:
            self._legacy_timer = loop.call_later(self._legacy_pace, self._write_legacy)
        elif self._close_when_sent:
            self._close_now()

    def close_when_sent(self) -> None:
        """Close the connection once everything queued has been written."""
        if self.closed:
            return
        self._close_when_sent = True
        self._batcher.unsubscribe(self)  # takes the broadcasts it is already due
        if self._legacy_queue is not None:
            if self._legacy_timer is None and not self._legacy_queue:
                self._close_now()
        elif not self._pending:
            self._close_now()

    def _close_now(self) -> None:
        self.closed = True
        self._batcher.unsubscribe(self)
        self.close_transport()

    def abort(self) -> None:
        """Drop everything and reset the connection."""
        self.closed = True
        self._batcher.unsubscribe(self)
        self._pending.clear()
        if self._legacy_queue is not None:
            self._legacy_queue.clear()
        if self._legacy_timer is not None:
            self._legacy_timer.cancel()
            self._legacy_timer = None
        self._transport.abort()
