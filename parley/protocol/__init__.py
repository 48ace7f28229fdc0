"""Parley's wire protocol, with no I/O: frames, framing, texts and sessions."""

from .errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from .frames import Frame, escape, format_frame, make_frame, parse_frame, unescape

__all__ = [
    "Frame",
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
    "escape",
    "format_frame",
    "make_frame",
    "parse_frame",
    "unescape",
]
