"""What a file is, from its first bytes, never from its name (a name is the uploader's claim)."""

from __future__ import annotations

import codecs

HEAD = 512  # bytes ``sniff`` looks at
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
OCTET_STREAM = "application/octet-stream"

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),  # an empty archive
)
_TEXT_CONTROLS = frozenset("\t\r\n")


def sniff(head: bytes) -> str:
    """The MIME type of a file whose first bytes are ``head`` (at most ``HEAD`` of them are read)."""
    head = head[:HEAD]
    for signature, mime in _SIGNATURES:
        if head.startswith(signature):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return "text/plain" if _is_text(head) else OCTET_STREAM


def _is_text(head: bytes) -> bool:
    """Valid UTF-8 (a character cut at the end of ``head`` is fine) with no control character but
    tab, CR and LF, and not markup: a file whose first visible character is ``<`` may be HTML or SVG."""
    if not head:
        return False
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    if any((ord(c) < 32 or ord(c) == 127) and c not in _TEXT_CONTROLS for c in text):
        return False
    return not text.lstrip("\ufeff \t\r\n").startswith("<")
