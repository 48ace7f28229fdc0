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
