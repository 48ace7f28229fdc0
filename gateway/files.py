"""The gateway's files routes (PROTOCOL.md, "Files"), under its base path.

* ``POST files/upload?ticket=T``: the file's raw bytes, streamed to
  ``tmp/`` while hashed, in chunks, each written in a thread; the ticket is
  checked before a byte of the body is read. Then the type is sniffed, the
  thumbnail made (in a thread), the part renamed into ``blobs/``, and a
  signed receipt returned for the chat server.
* ``GET files/<id>/<sha>/<sig>/<name>`` (``?thumb=1``: the thumbnail): the
  bytes, if the link's signature checks and they are stored, served so a
  browser never runs them (nosniff, a sandboxing CSP, attachment unless an
  image that decoded).

Errors are JSON ``{"error": text}`` with the texts of parley/protocol/texts.py.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import ClientPayloadError, HttpVersion11, web
from aiohttp.http_exceptions import HttpProcessingError

from parley.files import links
from parley.files.images import make_thumbnail
from parley.files.sniff import HEAD, INLINE_TYPES, OCTET_STREAM, sniff
from parley.files.store import BlobStore, Part, is_sha
from parley.protocol import texts

from .config import GatewayConfig

log = logging.getLogger("parley.gateway")
CHUNK = 64 * 1024  # bytes read from the request at a time
WRITE_BATCH = 1024 * 1024  # bytes gathered before one write (and hash) in a thread: fewer hand-offs
PACE_BURST = 0.25  # seconds of --upload-rate that uploads may get ahead by
STALE_PART = 3600.0  # seconds after which a part file left in tmp/ at start is removed
FULL_DISK = frozenset({errno.ENOSPC, errno.EDQUOT})
FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'",
    "Cache-Control": "private, max-age=86400",
    "Referrer-Policy": "no-referrer",
}
T = TypeVar("T")


class UploadError(Exception):
    """An upload refused or failed: its HTTP status and the text for the client."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


class Pacer:
    """Every upload together gets at most ``rate`` bytes a second (0: no limit), first come first served.

    Uploads share the event loop with the chat (``parley serve``): unpaced,
    a few over loopback or a fast LAN take the CPU the chat needs
    (BENCHMARKS.md, "Files"). Waiting here is not stalling: the stall
    timeout counts only the time the client sends nothing.
    """

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._free_at = 0.0  # loop time from which the next bytes may be read without waiting

    async def take(self, size: int) -> None:
        if self.rate <= 0:
            return
        now = asyncio.get_running_loop().time()
        start = max(self._free_at, now - PACE_BURST)
        self._free_at = start + size / self.rate
        if start > now:
            await asyncio.sleep(start - now)


@dataclass
class Files:
    """The files routes of one gateway; ``store`` is None when file sharing is off."""

    config: GatewayConfig
    store: BlobStore | None
    secret: bytes = b""
    pacer: Pacer = field(init=False)

    def __post_init__(self) -> None:
        self.pacer = Pacer(self.config.upload_rate)

    async def start(self) -> None:
        """Load (or create) the signing key and clear uploads a stopped process left behind."""
        if self.store is not None:
            store = self.store
            self.secret = await _in_thread(store.secret)
            removed = await _in_thread(store.clear_tmp, STALE_PART, time.time())
            if removed:
                log.info("removed %d unfinished uploads left in %s", removed, store.tmp)

    def _admit(self, request: web.Request) -> tuple[links.Ticket | None, web.Response | None]:
        """The upload's ticket, or the answer refusing it: all decided before the body is read."""
        if self.store is None:
            return None, _error(404, texts.FILES_OFF)
        token = request.query.get("ticket", "")
        if not token:
            return None, _refused(request, 400, texts.UPLOAD_FORBIDDEN)
        ticket = links.read_ticket(self.secret, token, int(time.time() * 1000))
        if ticket is None:
            return None, _refused(request, 403, texts.UPLOAD_FORBIDDEN)
        if request.content_length is not None and request.content_length > self._limit(ticket):
            return None, _refused(request, 413, texts.UPLOAD_TOO_LARGE)
        return ticket, None

    def _limit(self, ticket: links.Ticket) -> int:
        return min(ticket.size, self.config.max_upload_size)

    async def expect(self, request: web.Request) -> web.Response | None:
        """``Expect: 100-continue``: the refusal instead of the go-ahead, so a refused body is never sent."""
        _, refusal = self._admit(request)
        if refusal is not None:
            return refusal
        if request.version != HttpVersion11 or request.headers.get("Expect", "").lower() != "100-continue":
            raise web.HTTPExpectationFailed(text="Unknown Expect: " + request.headers.get("Expect", "")[:50])
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return None

    async def upload(self, request: web.Request) -> web.StreamResponse:
        ticket, refusal = self._admit(request)
        if refusal is not None:
            return refusal
        assert ticket is not None and self.store is not None
        try:
            receipt = await self._receive(request, self.store, ticket.ticket, self._limit(ticket))
        except UploadError as error:
            return _refused(request, error.status, error.text)
        return web.json_response({"receipt": links.receipt(self.secret, receipt), "sha": receipt.sha,
                                  "size": receipt.size, "type": receipt.type, "width": receipt.width,
                                  "height": receipt.height})

    async def _receive(self, request: web.Request, store: BlobStore, ticket: str, limit: int) -> links.Receipt:
        """Stream the body into the store; return the receipt. Raises UploadError."""
        address = request.remote
        sha = ""
        try:
            part = await _in_thread(store.receive)
            with part:
                await self._stream(request, part, limit)
                sha = await _in_thread(part.finish)
                mime, width, height = await self._describe(store, part, sha)
                fresh = await _in_thread(part.keep, sha)
        except OSError as error:
            await _in_thread(_drop_orphan_thumbnail, store, sha)
            if error.errno in FULL_DISK:
                log.error("%s: upload not stored: the disk of %s is full", address, store.root)
                raise UploadError(507, texts.UPLOAD_DISK_FULL) from None
            log.exception("%s: upload not stored", address)
            raise UploadError(500, texts.UPLOAD_STALLED) from None
        log.info("%s: stored a file of %d bytes (%s, %s)%s", address, part.size, mime, sha[:12],
                 "" if fresh else ", the same bytes as one stored already")
        return links.Receipt(ticket, sha, part.size, mime, width, height)

    async def _stream(self, request: web.Request, part: Part, limit: int) -> None:
        """Read the body into ``part``: 64 KiB reads gathered into 1 MiB writes, each written (and hashed) in a
        thread while the next is read; never the whole body in memory. Raises UploadError, OSError (the disk)."""
        expected = request.content_length
        stall = self.config.upload_stall_timeout
        pacer = self.pacer
        loop = asyncio.get_running_loop()
        batch = bytearray()  # at most WRITE_BATCH + CHUNK bytes held, and one batch being written
        received = 0
        writing: asyncio.Future[None] | None = None
        try:
            while True:
                try:
                    async with asyncio.timeout(stall):  # cheaper than wait_for, which makes a task a chunk
                        chunk = await request.content.read(CHUNK)
                except TimeoutError:
                    log.info("%s: upload stalled after %d bytes", request.remote, received)
                    raise UploadError(408, texts.UPLOAD_STALLED) from None
                except (ConnectionError, ClientPayloadError, HttpProcessingError) as error:  # the client went away
                    log.info("%s: upload cut after %d bytes: %s", request.remote, received, error)
                    raise UploadError(408, texts.UPLOAD_STALLED) from None
                if chunk:
                    received += len(chunk)
                    if received > limit:
                        raise UploadError(413, texts.UPLOAD_TOO_LARGE)
                    batch += chunk
                if batch and (len(batch) >= WRITE_BATCH or not chunk):
                    if writing is not None:
                        await writing  # one batch written at a time, in order
                    writing = loop.run_in_executor(None, part.write, bytes(batch))
                    batch.clear()
                if not chunk:
                    break
                await pacer.take(len(chunk))
        finally:
            if writing is not None:
                await writing  # its error (a full disk) is this upload's; never a write left behind a discard
        if expected is not None and received < expected:
            raise UploadError(408, texts.UPLOAD_STALLED)

    async def _describe(self, store: BlobStore, part: Part, sha: str) -> tuple[str, int, int]:
        """The type, width and height of a finished part; an image's thumbnail is written in a thread."""
        mime = sniff(part.head)
        if mime not in INLINE_TYPES:
            return mime, 0, 0
        size = await _in_thread(make_thumbnail, part.path, store.thumb_path(sha), self.config.max_image_pixels)
        if size is None:
            return OCTET_STREAM, 0, 0  # an image that did not decode is never shown inline
        return mime, size[0], size[1]

    async def download(self, request: web.Request) -> web.StreamResponse:
        if self.store is None:
            return _error(404, texts.FILES_OFF)
        info = request.match_info
        file_id, sha, sig, name = info["id"], info["sha"], info["sig"], info["name"]
        if not (file_id.isdigit() and is_sha(sha)
                and links.check_link(self.secret, int(file_id), sha, sig, name)):
            return _error(404, texts.FILE_NOT_FOUND)
        thumb = request.query.get("thumb") == "1"
        found = await _in_thread(_look_up, self.store, sha, thumb)
        if found is None:
            return _error(404, texts.FILE_NOT_FOUND)
        path, mime = found
        quoted = urllib.parse.quote(name, safe="")
        disposition = "inline" if mime in INLINE_TYPES else "attachment"
        return web.FileResponse(path, headers={
            **FILE_HEADERS,
            "Content-Type": "text/plain; charset=utf-8" if mime == "text/plain" else mime,
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quoted}",
        })


def _drop_orphan_thumbnail(store: BlobStore, sha: str) -> None:
    """Remove the thumbnail of an upload that failed after it was made, unless its bytes are stored."""
    if is_sha(sha) and not store.blob_path(sha).exists():
        store.thumb_path(sha).unlink(missing_ok=True)


def _look_up(store: BlobStore, sha: str, thumb: bool) -> tuple[Path, str] | None:
    """The file to serve and its type, or None when it is not stored (runs in a thread).

    The type is sniffed from the blob now, and an image type holds only when
    the thumbnail exists, i.e. the bytes decoded as that image at upload.
    """
    blob, thumbnail = store.blob_path(sha), store.thumb_path(sha)
    try:
        if thumb:
            return (thumbnail, "image/png") if thumbnail.is_file() and blob.is_file() else None
        with blob.open("rb") as file:
            mime = sniff(file.read(HEAD))
    except OSError:
        return None
    if mime in INLINE_TYPES and not thumbnail.is_file():
        mime = OCTET_STREAM
    return blob, mime


def _error(status: int, text: str) -> web.Response:
    return web.json_response({"error": text}, status=status, headers={"Cache-Control": "no-store"})


def _refused(request: web.Request, status: int, text: str) -> web.Response:
    """An error answered before the body was read whole: the connection is not kept alive after it.

    aiohttp still reads (and drops) what the client sends for up to 10 s after
    the answer (its lingering close), so the client can read the answer
    instead of meeting a reset."""
    response = _error(status, text)
    if not request.content.at_eof():
        response.force_close()
    return response


async def _in_thread(function: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


def add_routes(app: web.Application, base: str, config: GatewayConfig) -> Files:
    """Add the files routes under ``base``; file sharing is off (404) without ``config.files_root``."""
    files = Files(config, BlobStore(config.files_root) if config.files_root is not None else None)
    app.router.add_post(base + "files/upload", files.upload, expect_handler=files.expect)
    app.router.add_get(base + "files/{id}/{sha}/{sig}/{name}", files.download)

    async def start(app: web.Application) -> None:
        await files.start()

    app.on_startup.append(start)
    return files
