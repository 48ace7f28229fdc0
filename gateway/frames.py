"""What crosses the gateway: one WebSocket text message is one protocol frame. Pure.

Browser to server: a text message is checked (no line break, at most the
frame limit in UTF-8 bytes) and sent on with ``\\n``; anything else closes the
WebSocket with a code and reason from here. Server to browser: the TCP byte
stream is cut at each ``\\n`` and every line goes out as one text message.
Frames are not parsed: the server answers malformed ones itself.
"""

from __future__ import annotations

from dataclasses import dataclass

# WebSocket close codes (RFC 6455 section 7.4.1, and the IANA registry).
NORMAL = 1000
GOING_AWAY = 1001
UNSUPPORTED_DATA = 1003
INVALID_PAYLOAD = 1007
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013


@dataclass(frozen=True)
class Refusal:
    """Why a browser's message closes its WebSocket."""

    code: int
    reason: str


BINARY = Refusal(UNSUPPORTED_DATA, "Binary messages are not accepted: send one frame per text message")
LINE_BREAK = Refusal(INVALID_PAYLOAD, "A message must be one frame, without line breaks")
SERVER_CLOSED = Refusal(NORMAL, "Chat server closed the connection")
SERVER_LOST = Refusal(INTERNAL_ERROR, "Lost the connection to the chat server")
SERVER_UNAVAILABLE = Refusal(TRY_AGAIN_LATER, "Chat server unavailable; try again later")
SERVER_FRAME_TOO_LONG = Refusal(INTERNAL_ERROR, "The chat server sent an oversized frame")
SHUTTING_DOWN = Refusal(GOING_AWAY, "Gateway shutting down")


def too_long(limit: int) -> Refusal:
    return Refusal(MESSAGE_TOO_BIG, f"Frame longer than {limit} bytes")


def check_browser_frame(payload: bytes, limit: int) -> Refusal | None:
    """Return why a text message's UTF-8 ``payload`` cannot be a frame, or None."""
    if len(payload) > limit:
        return too_long(limit)
    if b"\n" in payload or b"\r" in payload:
        return LINE_BREAK
    return None


def text_frames(payloads: list[bytes]) -> bytes:
    """The WebSocket text frames (server to client: final, unmasked) for ``payloads``, joined.

    RFC 6455 section 5.2: the length is 7 bits, or 126 and 16 bits, or 127 and 64 bits.
    """
    parts: list[bytes] = []
    for payload in payloads:
        size = len(payload)
        if size < 126:
            parts.append(bytes((0x81, size)))
        elif size < 65536:
            parts.append(b"\x81\x7e" + size.to_bytes(2, "big"))
        else:
            parts.append(b"\x81\x7f" + size.to_bytes(8, "big"))
        parts.append(payload)
    return b"".join(parts)


class LineTooLong(Exception):
    pass


class LineSplitter:
    """Cuts a byte stream into lines; holds at most ``limit`` bytes of one line."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._partial = b""

    def feed(self, data: bytes) -> list[bytes]:
        """Return the complete lines in ``data`` (without ``\\n``), keeping the rest.

        Raises LineTooLong when a line grows past the limit.
        """
        if self._partial:
            data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > self.limit or any(len(line) > self.limit for line in lines):
            raise LineTooLong()
        return [line for line in lines if line]  # an empty line carries no frame


PROTOCOL_ERROR = 1002
UNMASKED = Refusal(PROTOCOL_ERROR, "Frames from a browser must be masked")


def close_frame(refusal: Refusal) -> bytes:
    """A server's close frame (final, unmasked) carrying ``refusal``'s code and reason."""
    payload = refusal.code.to_bytes(2, "big") + refusal.reason.encode("utf-8")[:123]
    return bytes((0x88, len(payload))) + payload


class MaskCheck:
    """Follows a browser's frame stream by its headers alone and tells whether every frame is masked.

    RFC 6455 section 5.1: "The server MUST close the connection upon receiving
    a frame that is not masked." Payloads are skipped, never held: at most one
    header (14 bytes) is kept between reads.
    """

    def __init__(self) -> None:
        self._header = b""
        self._skip = 0  # payload bytes of the current frame still to come

    def feed(self, data: bytes) -> bool:
        """Take the next bytes of the stream; False once a frame without a mask has started."""
        pos, end = 0, len(data)
        if self._skip:  # the rest of a payload
            pos = min(self._skip, end)
            self._skip -= pos
        if self._header and pos < end:  # a header cut by the last read
            data, pos, end, self._header = self._header + data[pos:], 0, len(self._header) + end - pos, b""
        while pos < end:
            if end - pos < 2:
                self._header = data[pos:]
                return True
            second = data[pos + 1]
            if not second & 0x80:
                return False
            size = second & 0x7F
            extended = 2 if size == 126 else 8 if size == 127 else 0
            header = 2 + extended + 4
            if end - pos < header:
                self._header = data[pos:]
                return True
            if extended:
                size = int.from_bytes(data[pos + 2:pos + 2 + extended], "big")
            pos += header + size
        if pos > end:  # the payload runs on into the next reads
            self._skip = pos - end
        return True
