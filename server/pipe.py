"""An in-process connection: two asyncio transports joined back to back.

``parley serve`` runs the chat server and the web gateway in one process;
each browser's connection to the server is such a pipe instead of a TCP
socket on loopback (``ChatServer.connect_local``), which saves four system
calls per round trip and a socket's buffers per browser. Both protocols see what they would see on a
socket:

* what one end writes reaches the other end's ``data_received`` soon after
  (a loop callback, never inside ``write``), in order, joined when several
  writes wait;
* an end whose reader paused reading keeps what is written to it; the
  writer's ``get_write_buffer_size()`` counts it, and the writer's protocol
  gets ``pause_writing()`` above the high-water mark and ``resume_writing()``
  below the low one;
* ``close()`` delivers what is pending, then the other end gets
  ``eof_received()`` (if that returns false the other end closes too);
  ``abort()`` drops what is pending and the other end sees the connection
  reset. Each protocol's ``connection_lost`` is called once.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

IN_PROCESS = "in_process"  # extra info that ChatServer.connect_local gives the server's end
HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024


def open_pipe(
    near_factory: Callable[[], asyncio.Protocol],
    far_factory: Callable[[], asyncio.Protocol],
    near_extra: dict[str, Any] | None = None,
    far_extra: dict[str, Any] | None = None,
) -> tuple["PipeEnd", asyncio.Protocol, "PipeEnd", asyncio.Protocol]:
    """Connect two new protocols; return (near end, near protocol, far end, far protocol).

    Both protocols get ``connection_made`` before this returns, the far one
    first (as a server's protocol exists before the client's connect returns).
    """
    loop = asyncio.get_running_loop()
    near, far = PipeEnd(loop, near_extra or {}), PipeEnd(loop, far_extra or {})
    near._peer, far._peer = far, near
    far_protocol = far_factory()
    far._start(far_protocol)
    near_protocol = near_factory()
    near._start(near_protocol)
    return near, near_protocol, far, far_protocol


class PipeEnd(asyncio.Transport):
    """One end: ``write`` sends to the other end; what the other end sent waits here until delivered."""

    def __init__(self, loop: asyncio.AbstractEventLoop, extra: dict[str, Any]) -> None:
        super().__init__(extra)
        self._loop = loop
        self._peer: PipeEnd | None = None
        self._protocol: asyncio.Protocol | None = None
        self._incoming: list[bytes] = []  # written by the peer, not yet given to our protocol
        self._incoming_size = 0
        self._delivery: asyncio.Handle | None = None
        self._reading = True
        self._eof_pending = False  # the peer closed: eof_received after the incoming bytes
        self._closing = False  # no more writing from this end
        self._lost = False  # our protocol's connection_lost was called
        self._writer_paused = False  # our protocol was told pause_writing
        self._high_water, self._low_water = HIGH_WATER, LOW_WATER

    def _start(self, protocol: asyncio.Protocol) -> None:
        self._protocol = protocol
        protocol.connection_made(self)

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._protocol is not None, "the connection is lost"
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        assert isinstance(protocol, asyncio.Protocol)
        self._protocol = protocol

    # Writing ------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or not data:
            return
        peer = self._peer
        if peer is None or peer._lost or peer._closing:
            return  # nobody reads any more: as a socket's peer that closed
        peer._incoming.append(bytes(data))
        peer._incoming_size += len(data)
        peer._schedule_delivery()
        self._check_writer()

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def can_write_eof(self) -> bool:
        return False

    def write_eof(self) -> None:
        raise NotImplementedError("a pipe end closes whole: use close()")

    def get_write_buffer_size(self) -> int:
        peer = self._peer
        return peer._incoming_size if peer is not None and not peer._lost else 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._low_water, self._high_water

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._high_water = HIGH_WATER if high is None else high
        self._low_water = self._high_water // 4 if low is None else low

    def _check_writer(self) -> None:
        """Tell our protocol to pause or resume writing, by the bytes the peer has not taken."""
        size = self.get_write_buffer_size()
        protocol = self._protocol
        if protocol is None or self._lost:
            return
        if not self._writer_paused and size > self._high_water:
            self._writer_paused = True
            protocol.pause_writing()
        elif self._writer_paused and size <= self._low_water:
            self._writer_paused = False
            protocol.resume_writing()

    # Reading ------------------------------------------------------------

    def pause_reading(self) -> None:
        self._reading = False

    def resume_reading(self) -> None:
        if not self._reading:
            self._reading = True
            self._schedule_delivery()

    def is_reading(self) -> bool:
        return self._reading and not self._lost

    def _schedule_delivery(self) -> None:
        if self._delivery is None and self._reading and not self._lost:
            self._delivery = self._loop.call_soon(self._deliver)

    def _deliver(self) -> None:
        self._delivery = None
        protocol = self._protocol
        if protocol is None or self._lost or not self._reading:
            return
        if self._incoming:
            data = self._incoming[0] if len(self._incoming) == 1 else b"".join(self._incoming)
            self._incoming, self._incoming_size = [], 0
            protocol.data_received(data)
            if self._peer is not None:
                self._peer._check_writer()
        if self._eof_pending and not self._incoming and not self._lost and self._reading:
            self._eof_pending = False
            keep_open = protocol.eof_received()
            if not keep_open:
                self.close()

    # Closing ------------------------------------------------------------

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Stop writing; the peer reads what is pending, then its end of stream."""
        if self._closing:
            return
        self._closing = True
        peer = self._peer
        if peer is not None and not peer._lost and not peer._closing:
            peer._eof_pending = True
            peer._schedule_delivery()
        # What we wrote is the peer's already: this side is done (unread input is dropped, as a socket's).
        self._loop.call_soon(self._connection_lost, None)

    def abort(self) -> None:
        """Drop everything; the peer sees the connection reset."""
        self._closing = True
        self._incoming, self._incoming_size = [], 0
        peer = self._peer
        if peer is not None and not peer._lost:
            peer._closing = True
            peer._incoming, peer._incoming_size = [], 0
            peer._eof_pending = False
            self._loop.call_soon(peer._connection_lost, ConnectionResetError("the pipe was aborted"))
        self._loop.call_soon(self._connection_lost, None)

    def _connection_lost(self, error: Exception | None) -> None:
        if self._lost:
            return
        self._lost = True
        self._closing = True
        if self._delivery is not None:
            self._delivery.cancel()
            self._delivery = None
        protocol, self._protocol = self._protocol, None
        if protocol is not None:
            protocol.connection_lost(error)
