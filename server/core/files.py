"""Sharing files: UPLOAD grants a signed ticket, ``CHAT file=RECEIPT`` posts what was uploaded. No I/O.

The bytes never pass through here: the client sends them over HTTP to the
gateway (``files/upload?ticket=T``), which streams them into the data
folder's blobs and answers a signed receipt (parley/files/links.py). The
server checks everything it can before a byte is sent (the size against the
limits, the recipient, the quotas, counting tickets not yet used), and a
receipt only for the user and conversation its ticket was granted for, once.
A file is one message's (it has the message's id), and goes with it.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generator

from parley.files import links
from parley.protocol import Frame, messages, texts
from parley.protocol.messages import Stamp
from parley.protocol.sizes import human_size

from ..records import FileRecord, StoreFailed
from .actions import StoreCall
from .connection import Connection

if TYPE_CHECKING:
    from .chat import ChatCore
    from .chats import Recipient

log = logging.getLogger("parley.server")

Flow = Generator[Any, Any, None]
TICKET_LIFETIME_MS = 10 * 60 * 1000  # an upload has 10 minutes to start and finish
MAX_NAME = 1000  # characters of a name as asked (it is kept shorter: links.safe_name cuts it to 120)


@dataclass(frozen=True, slots=True)
class Grant:
    """An upload allowed: by whom, for which conversation, how many bytes at most, until when."""

    ident: str
    rec_key: str
    name: str
    size: int
    expires_ms: int


class Uploads:
    """The tickets granted and not used yet: what they hold back of each user's quota and the server's total."""

    def __init__(self) -> None:
        self._grants: dict[str, Grant] = {}

    def grant(self, grant: Grant) -> str:
        ticket = secrets.token_urlsafe(12)
        self._grants[ticket] = grant
        return ticket

    def take(self, ticket: str, now_ms: int) -> Grant | None:
        """The grant of ``ticket`` (forgotten: a receipt is good once), or None if there is none or it expired."""
        grant = self._grants.pop(ticket, None)
        return grant if grant is not None and grant.expires_ms >= now_ms else None

    def reserved(self, ident: str, now_ms: int) -> tuple[int, int]:
        """Bytes held back for ``ident``'s tickets, and for everyone's; expired tickets are forgotten."""
        for ticket in [t for t, g in self._grants.items() if g.expires_ms < now_ms]:
            del self._grants[ticket]
        mine = sum(g.size for g in self._grants.values() if g.ident == ident)
        return mine, sum(g.size for g in self._grants.values())


def on_upload(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    """``UPLOAD,rec=R;name=N;size=S,``: may this user send this file there? A ticket if so, the reason if not."""
    from . import chats

    secret = core.files_secret
    if secret is None:
        core.send(conn, messages.err(core.stamp(), texts.FILE_SHARING_OFF))
        return
    rec, name, size_text = frame.get("rec"), frame.get("name"), frame.get("size")
    if not rec:
        core.send(conn, messages.err(core.stamp(), texts.REC_REQUIRED))
        return
    if not name or not size_text or not size_text.isdigit():
        core.send(conn, messages.err(core.stamp(), texts.FILE_NAME_REQUIRED))
        return
    if len(name) > MAX_NAME:
        core.send(conn, messages.err(core.stamp(), texts.FILE_NAME_TOO_LONG.format(limit=MAX_NAME)))
        return
    size, limit = int(size_text), core.config.max_file_size
    if size == 0:
        core.send(conn, messages.err(core.stamp(), texts.FILE_EMPTY))
        return
    if size > limit:
        core.send(conn, messages.err(core.stamp(), texts.FILE_TOO_LARGE.format(
            size=human_size(size), limit=human_size(limit))))
        return
    recipient: Recipient | None = yield from chats.recipient_of(core, conn, rec)
    if recipient is None:
        return
    try:
        used, total = yield StoreCall("file_usage", (conn.ident,))
    except StoreFailed:
        core.send(conn, messages.err(core.stamp(), texts.NOT_STORED))
        return
    now_ms = core.stamp().ms
    held_mine, held_all = core.uploads.reserved(conn.ident, now_ms)
    quota = core.config.account_quota if conn.account is not None else core.config.guest_quota
    if used + held_mine + size > quota:
        core.send(conn, messages.err(core.stamp(), texts.FILE_QUOTA.format(
            used=human_size(used + held_mine), quota=human_size(quota))))
        return
    if total + held_all + size > core.config.files_total:
        log.warning("%s %s: an upload refused: the server's files total (%d bytes) is reached", conn.peer,
                    conn.nickname, core.config.files_total)
        core.send(conn, messages.err(core.stamp(), texts.FILES_FULL))
        return
    kept = links.safe_name(name)
    expires = now_ms + TICKET_LIFETIME_MS
    ticket = core.uploads.grant(Grant(conn.ident, recipient.key, kept, size, expires))
    token = links.upload_ticket(secret, ticket, size, expires)
    url = f"{core.config.files_url}files/upload" if core.config.files_url else ""
    core.send(conn, messages.upload(core.stamp(), recipient.rec, kept, size, token, url))


def on_file_chat(core: "ChatCore", conn: Connection, frame: Frame, rec: str) -> Flow:
    """``CHAT,rec=R;file=RECEIPT,``: post the file the gateway stored, if its ticket was this user's for ``rec``."""
    from . import chats

    secret = core.files_secret
    if secret is None:
        core.send(conn, messages.err(core.stamp(), texts.FILE_SHARING_OFF))
        return
    receipt = links.read_receipt(secret, frame.get("file") or "")
    grant = core.uploads.take(receipt.ticket, core.stamp().ms) if receipt is not None else None
    if receipt is None or grant is None or grant.ident != conn.ident or receipt.size > grant.size:
        core.send(conn, messages.err(core.stamp(), texts.UPLOAD_INVALID))
        return
    recipient: Recipient | None = yield from chats.recipient_of(core, conn, rec)
    if recipient is None:
        return
    if recipient.key != grant.rec_key:
        core.send(conn, messages.err(core.stamp(), texts.UPLOAD_INVALID))
        return
    file = FileRecord(receipt.sha, receipt.size, receipt.type, grant.name, receipt.width, receipt.height)
    line = stored_line(file)
    log.info("%s %s: shared %s (%d bytes, %s) with %s", conn.peer, conn.nickname, file.sha[:12], file.size,
             file.type, recipient.rec)
    chats.stage(core, conn, recipient, line, line, None, file=file)


def stored_line(file: FileRecord) -> str:
    """What a file message holds as text (searched as its words): ``[file] NAME (SIZE)``."""
    return f"[file] {file.name} ({human_size(file.size)})"


def file_chatr(core: "ChatCore", when: Stamp, sender: str, rec: str, color: str, message_id: int, text: str,
               file: FileRecord, *, old: bool = False, found: bool = False) -> Frame:
    """A file message's CHATR: the file in its parameters, and for clients that know none of them (the
    original's), its stored line and then its link."""
    link = links.file_link(core.files_secret or b"", message_id, file.sha, file.name)
    content = f"{text} {core.config.files_url}{link}" if core.config.files_url else text
    params = messages.file_params(message_id, file.name, file.size, file.type, link, file.width, file.height)
    return messages.chatr(when, sender, rec, color, message_id, content, old=old, found=found, file=params)
