"""Signed tokens and links of shared files, and the names files are kept under.

Every signature is an HMAC-SHA256 keyed with the files folder's ``secret``
(store.py). An upload ticket and a receipt are ``base64url(payload).base64url(mac[:16])``
with a JSON payload; each kind signs under its own label, so one can never
pass for the other. A file's link carries 22 characters of the HMAC of
``<file id>/<sha>/<name>``: a link cannot be guessed nor pointed at other bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import unicodedata
import urllib.parse
from dataclasses import astuple, dataclass
from typing import Any

MAX_NAME = 120  # characters of a kept file name
MAX_EXTENSION = 16  # characters after the last dot that are kept as the extension when a name is cut
SIG_LENGTH = 22  # base64url characters of a link's signature (16 bytes of MAC)
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
_LEADING = re.compile(r"^[\s.]+")


@dataclass(frozen=True)
class Ticket:
    """The server's leave to upload one file of at most ``size`` bytes until ``expires_ms``."""

    ticket: str
    size: int
    expires_ms: int


@dataclass(frozen=True)
class Receipt:
    """The gateway's word that the bytes of ``sha`` are stored for ``ticket`` (width = height = 0: not an image)."""

    ticket: str
    sha: str
    size: int
    type: str
    width: int
    height: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, label: str, message: bytes) -> bytes:
    return hmac.new(secret, label.encode("ascii") + b"\n" + message, hashlib.sha256).digest()[:16]


def _sign(secret: bytes, label: str, fields: tuple[Any, ...]) -> str:
    payload = json.dumps(list(fields), separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return f"{_b64(payload)}.{_b64(_mac(secret, label, payload))}"


def _verified(secret: bytes, label: str, token: str) -> list[Any] | None:
    """The fields of a token signed under ``label``, or None if it is malformed or forged."""
    payload_text, dot, mac_text = token.partition(".")
    if not dot:
        return None
    try:
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except (binascii.Error, ValueError):
        return None
    if not hmac.compare_digest(mac, _mac(secret, label, payload)):
        return None
    try:
        fields = json.loads(payload)
    except ValueError:
        return None
    return fields if isinstance(fields, list) else None


def upload_ticket(secret: bytes, ticket: str, size: int, expires_ms: int) -> str:
    """A signed token allowing one upload of at most ``size`` bytes until ``expires_ms``."""
    return _sign(secret, "upload", (ticket, size, expires_ms))


def read_ticket(secret: bytes, token: str, now_ms: int) -> Ticket | None:
    """The ticket in ``token``; None if it is malformed, forged or expired at ``now_ms``."""
    fields = _verified(secret, "upload", token)
    if fields is None or len(fields) != 3:
        return None
    ticket, size, expires_ms = fields
    if not (isinstance(ticket, str) and _whole(size) and _whole(expires_ms)):
        return None
    return Ticket(ticket, size, expires_ms) if now_ms < expires_ms else None


def receipt(secret: bytes, r: Receipt) -> str:
    """``r`` as a signed token for the chat server."""
    return _sign(secret, "receipt", astuple(r))


def read_receipt(secret: bytes, token: str) -> Receipt | None:
    """The receipt in ``token``; None if it is malformed or forged."""
    fields = _verified(secret, "receipt", token)
    if fields is None or len(fields) != 6:
        return None
    ticket, sha, size, mime, width, height = fields
    if not (isinstance(ticket, str) and isinstance(sha, str) and isinstance(mime, str)
            and _whole(size) and _whole(width) and _whole(height)):
        return None
    return Receipt(ticket, sha, size, mime, width, height)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _link_sig(secret: bytes, file_id: int, sha: str, name: str) -> str:
    message = f"{file_id}/{sha}/{name}".encode("utf-8", "surrogatepass")
    return _b64(hmac.new(secret, message, hashlib.sha256).digest()[:16])


def file_link(secret: bytes, file_id: int, sha: str, name: str) -> str:
    """The file's path relative to the page's base path: ``files/<id>/<sha>/<sig>/<quoted name>``."""
    return f"files/{file_id}/{sha}/{_link_sig(secret, file_id, sha, name)}/{urllib.parse.quote(name, safe='')}"


def check_link(secret: bytes, file_id: int, sha: str, sig: str, name: str) -> bool:
    """Whether ``sig`` is the signature of the link to ``file_id``'s bytes ``sha`` named ``name``."""
    return hmac.compare_digest(sig.encode("ascii", "replace"),
                               _link_sig(secret, file_id, sha, name).encode("ascii"))


def safe_name(name: str) -> str:
    """The name to keep for an uploaded file called ``name``.

    Its last path component (after ``/`` or ``\\``), without control and
    format characters (bidi overrides included), line separators, leading dots
    and surrounding spaces, cut to ``MAX_NAME`` characters keeping its
    extension; ``file`` when nothing is left.
    """
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in _DROPPED_CATEGORIES)
    name = _LEADING.sub("", name).rstrip()
    if len(name) > MAX_NAME:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and 0 < len(extension) <= MAX_EXTENSION:
            name = stem[: MAX_NAME - len(extension) - 1].rstrip() + "." + extension
        else:
            name = name[:MAX_NAME].rstrip()
    return name or "file"
