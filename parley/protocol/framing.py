"""Turning a connection's byte stream into frames, and frames into bytes. No I/O.

Framed clients end every frame with ``\\n`` (``\\r\\n`` accepted). Clients
written for the original program (legacy clients) send no terminator and rely
on one TCP write per frame. The decoder tells them apart from the first CON:

* a first line that ends in ``\\n`` makes the connection *framed*, at once;
* a complete ``CON,...,`` with no ``\\n`` and nothing after it asks the
  adapter for a grace period (``awaiting_grace``); if nothing more arrives
  before it runs out, the adapter calls ``grace_expired()`` and the
  connection is *legacy*: from then on every read is one frame.

The decoder never holds more than ``max_frame`` bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Union

from .errors import RemoteProtocolError
from .frames import Frame, format_frame, parse_frame


class Mode(enum.Enum):
    UNDECIDED = "undecided"
    FRAMED = "framed"
    LEGACY = "legacy"


@dataclass(frozen=True)
class FrameReceived:
    frame: Frame


@dataclass(frozen=True)
class FrameRejected:
    """A frame that could not be read; the connection may go on unless ``fatal``."""

    error: RemoteProtocolError
    fatal: bool = False


@dataclass(frozen=True)
class StreamEnded:
    """The peer closed its side; ``partial`` is the count of unread bytes it left."""

    partial: int = 0


Event = Union[FrameReceived, FrameRejected, StreamEnded]


class FrameTooLong(RemoteProtocolError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"frame longer than {limit} bytes", "too-long")
        self.limit = limit


class NotUtf8(RemoteProtocolError):
    def __init__(self) -> None:
        super().__init__("frame is not valid UTF-8", "not-utf8")


def decode_frame(data: bytes) -> Frame:
    """Parse one frame's bytes. Raises RemoteProtocolError (NotUtf8 included)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NotUtf8() from None
    return parse_frame(text)


def encode_frame(frame: Frame) -> bytes:
    """Return the frame's UTF-8 bytes without a terminator."""
    return format_frame(frame).encode("utf-8")


def _strip_terminator(line: bytes) -> bytes:
    if line.endswith(b"\n"):
        line = line[:-1]
    if line.endswith(b"\r"):
        line = line[:-1]
    return line


def _is_legacy_login(data: bytes) -> bool:
    """True when ``data`` is a whole unterminated CON frame with both commas."""
    try:
        frame = decode_frame(data)
    except RemoteProtocolError:
        return False
    return frame.reason == "CON" and data.count(b",") >= 2


class FrameDecoder:
    """Incremental decoder for one connection: feed bytes, get events."""

    __slots__ = ("max_frame", "mode", "awaiting_grace", "_buffer", "_scanned", "_done")

    def __init__(self, max_frame: int = 8192, detect_legacy: bool = True) -> None:
        self.max_frame = max_frame
        self.mode = Mode.UNDECIDED if detect_legacy else Mode.FRAMED
        self.awaiting_grace = False
        self._buffer = bytearray()
        self._scanned = 0  # bytes of _buffer already known to hold no b"\n"
        self._done = False

    @property
    def buffered(self) -> int:
        """Bytes of an unfinished frame held (a slow frame's progress)."""
        return len(self._buffer)

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed received bytes (``b""`` means end of stream); return the events."""
        if self._done:
            return []
        if not data:
            self._done = True
            return [StreamEnded(len(self._buffer))]
        if self.mode is Mode.LEGACY:
            return [self._legacy_frame(data)]
        self._buffer += data
        events = self._extract_lines()
        self.awaiting_grace = (
            self.mode is Mode.UNDECIDED
            and bool(self._buffer)
            and _is_legacy_login(bytes(self._buffer))
        )
        if not self._done and len(self._buffer) > self.max_frame:
            events.append(self._fatal(FrameTooLong(self.max_frame)))
        return events

    def grace_expired(self) -> list[Event]:
        """The grace period ran out with no more data: the peer is a legacy client."""
        if not self.awaiting_grace or self._done:
            return []
        self.awaiting_grace = False
        self.mode = Mode.LEGACY
        data = bytes(self._buffer)
        self._buffer.clear()
        return [self._legacy_frame(data)]

    def _legacy_frame(self, data: bytes) -> Event:
        data = _strip_terminator(data)
        if len(data) > self.max_frame:
            return self._fatal(FrameTooLong(self.max_frame))
        return self._decode(data)

    def _extract_lines(self) -> list[Event]:
        events: list[Event] = []
        buffer = self._buffer
        start = 0
        while not self._done:
            end = buffer.find(b"\n", max(start, self._scanned))
            if end < 0:
                break
            if self.mode is Mode.UNDECIDED:
                self.mode = Mode.FRAMED
            line = bytes(buffer[start:end])
            start = end + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > self.max_frame:
                events.append(self._fatal(FrameTooLong(self.max_frame)))
                break
            if line:  # an empty line carries no frame and is ignored
                events.append(self._decode(line))
        del buffer[:start]
        self._scanned = len(buffer)
        return events

    def _decode(self, data: bytes) -> Event:
        try:
            return FrameReceived(decode_frame(data))
        except RemoteProtocolError as error:
            return FrameRejected(error)

    def _fatal(self, error: RemoteProtocolError) -> FrameRejected:
        self._done = True
        self._buffer.clear()
        return FrameRejected(error, fatal=True)
