"""What load generators put on the wire: Parley frames, bench messages, WebSocket framing.

A bench chat message carries its send time: its content starts with
``^<monotonic ns> <tag> `` and is padded with ``x``. ``^`` appears nowhere
else in what the servers send (nicknames here are letters and digits), so a
receiver counts messages by counting ``^`` bytes, without parsing. A room's
bench message (scenario 8) starts with ``~<monotonic ns>:<room number> ``
instead, so the lobby's and the rooms' messages are counted apart.
"""

from __future__ import annotations

import base64
import os

MARK = b"^"
MARK_BYTE = MARK[0]
ROOM_MARK = b"~"
ROOM_MARK_BYTE = ROOM_MARK[0]
COLOR = "#336699"


def con_frame(nickname: str, lists: str = "", rooms: bool = False) -> bytes:
    """Return the CON frame (no terminator) logging ``nickname`` in as a guest (asking for ``lists=``, if given,
    and with ``rooms=1`` if ``rooms``)."""
    extra = (f";lists={lists}" if lists else "") + (";rooms=1" if rooms else "")
    return f"CON,nickname={nickname};password=;color={COLOR}{extra},".encode()


def room_name(room: int) -> bytes:
    """Return the name, with its ``#``, of the bench's room number ``room``."""
    return b"#r%d" % room


def room_frame(reason: str, room: int) -> bytes:
    """Return ``CREATE`` or ``JOIN`` (no terminator) of room number ``room``, with no topic."""
    return b"%s,room=%s," % (reason.encode(), room_name(room))


def room_chat_frame(t_ns: int, room: int, line_size: int) -> bytes:
    """Return a CHAT to room number ``room`` (no terminator), ``line_size`` bytes with its ``\\n``."""
    head = b"CHAT,rec=%s,~%d:%d " % (room_name(room), t_ns, room)
    return head + b"x" * max(0, line_size - 1 - len(head))


def chat_frame(t_ns: int, tag: bytes, line_size: int) -> bytes:
    """Return a CHAT to everyone (no terminator) whose framed line is ``line_size`` bytes with its ``\\n``."""
    head = b"CHAT,rec=-ALL,^%d%s" % (t_ns, tag)
    return head + b"x" * max(0, line_size - 1 - len(head))


def ping_frame(t_ns: int, line_size: int) -> bytes:
    """Return a PING (no terminator) carrying ``t_ns`` first in its content, ``line_size`` bytes with ``\\n``."""
    head = b"PING,,%d " % t_ns
    return head + b"x" * max(0, line_size - 1 - len(head))


def sender_tag(worker: int, index: int) -> bytes:
    """Return the tag a sender puts after its time stamp; no tag is a substring of another."""
    return b" s%d-%d " % (worker, index)


def ws_handshake(host: str, port: int, path: str, subprotocol: str | None = None) -> bytes:
    """Return a WebSocket upgrade request (no Origin: not a browser)."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if subprotocol:
        lines.append(f"Sec-WebSocket-Protocol: {subprotocol}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def ws_frame(payload: bytes, opcode: int = 1) -> bytes:
    """Return one final client frame (opcode 1 text, 2 binary, 10 pong, 8 close) holding ``payload``.

    The masking key is zero, which RFC 6455 allows: the server unmasks as
    always, and the load generator spends nothing on XOR.
    """
    size = len(payload)
    if size < 126:
        header = bytes((0x80 | opcode, 0x80 | size))
    elif size < 65536:
        header = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
    return header + b"\0\0\0\0" + payload
