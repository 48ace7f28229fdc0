"""The desktop client's HTTP side: a shared file's upload, download and thumbnail, each off the Tk thread.

No Tk here. The functions are plain blocking HTTP/1.1 (http.client) and run
on `Transfers`' daemon threads; what they report (progress, the outcome)
goes on a queue that `Transfers.poll` drains on the Tk thread, where the
callbacks run (the way desktop.connection hands the network's events over).

The wire (PROTOCOL.md, "Files"): the file's raw bytes are POSTed to the
UPLOAD grant's ``url`` with ``?ticket=T``, streamed from disk in chunks and
never held whole; the answer is JSON, ``{"receipt": ...}`` or ``{"error":
"<text>"}``. A file is fetched from the files base URL (CONVER ``files=``)
joined with its ``flink``; its thumbnail with ``?thumb=1``.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urljoin, urlsplit

from parley.net import tls

CHUNK = 64 * 1024
TIMEOUT = 30.0  # seconds without a byte either way: as the server's upload stall timeout
MAX_ANSWER = 64 * 1024  # an upload's JSON answer, an error's body
MAX_THUMBNAIL = 2 * 1024 * 1024  # a 320x320 PNG is far smaller
FETCHERS = 3  # thumbnails fetched at once

T = TypeVar("T")
Progress = Callable[[int, int], None]  # (bytes so far, bytes in all)


class TransferError(Exception):
    """An upload or download that did not succeed; ``str()`` is the sentence to show."""


@dataclass(frozen=True)
class Uploaded:
    """The gateway's answer to a whole upload: the receipt to post with ``CHAT,rec=R;file=RECEIPT``."""

    receipt: str
    sha: str
    size: int
    type: str
    width: int
    height: int


def file_url(base: str, link: str, thumb: bool = False) -> str:
    """Return the address of a file (``thumb``: of its thumbnail): the files base URL joined with its flink."""
    url = urljoin(base if base.endswith("/") else base + "/", link)
    return url + "?thumb=1" if thumb else url


def upload_url(url: str, ticket: str) -> str:
    """Return the upload address ``url?ticket=T``."""
    return f"{url}{'&' if '?' in url else '?'}ticket={quote(ticket, safe='')}"


def _connect(url: str, ca_file: str | None) -> tuple[http.client.HTTPConnection, str]:
    """Return a connection to ``url``'s host and the request target (path and query)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TransferError(f"Not a web address: {url}")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        if parts.scheme == "https":
            context = tls.client_context(ca_file or None)
            return http.client.HTTPSConnection(parts.hostname, parts.port, timeout=TIMEOUT,
                                               context=context), target
        return http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT), target
    except (OSError, ssl.SSLError) as error:
        raise TransferError(f"Cannot use the CA file {ca_file}: {error}") from error


def _failure(error: BaseException, host: str) -> TransferError:
    if isinstance(error, TimeoutError):
        return TransferError(f"{host} stopped answering.")
    if isinstance(error, ConnectionRefusedError):
        return TransferError(f"Nothing answers at {host}.")
    return TransferError(f"The transfer with {host} failed: {getattr(error, 'strerror', None) or error}.")


def _error_text(response: http.client.HTTPResponse) -> str:
    """The server's words for a refusal: its JSON ``error``, else the status."""
    body = response.read(MAX_ANSWER)
    try:
        said = json.loads(body).get("error")
    except (ValueError, AttributeError):
        said = None
    return said if isinstance(said, str) and said else f"The server answered {response.status} {response.reason}."


def upload(path: Path, size: int, url: str, ticket: str, progress: Progress,
           stopped: Callable[[], bool], ca_file: str | None = None) -> Uploaded:
    """POST ``size`` bytes of ``path`` to ``url?ticket=T``, streamed from disk; return the receipt.

    Raises TransferError with the gateway's own text (``413``, ``403``...) or
    what went wrong here (the file changed, the connection failed).
    """
    connection, target = _connect(upload_url(url, ticket), ca_file)
    host = urlsplit(url).netloc
    try:
        with path.open("rb") as source:
            connection.putrequest("POST", target)
            connection.putheader("Content-Type", "application/octet-stream")
            connection.putheader("Content-Length", str(size))
            connection.endheaders()
            try:
                _send_body(connection, source, size, progress, stopped)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the gateway refused before the end (413): its answer says why
        return _uploaded(connection.getresponse())
    except (OSError, http.client.HTTPException) as error:
        raise _failure(error, host) from error
    finally:
        connection.close()


def _send_body(connection: http.client.HTTPConnection, source: Any, size: int, progress: Progress,
               stopped: Callable[[], bool]) -> None:
    sent = 0
    while sent < size:
        if stopped():
            raise TransferError("The upload was cancelled.")
        chunk = source.read(min(CHUNK, size - sent))
        if not chunk:
            raise TransferError("The file got shorter while it was sent: attach it again.")
        connection.send(chunk)
        sent += len(chunk)
        progress(sent, size)
    if source.read(1):
        raise TransferError("The file grew while it was sent: attach it again.")


def _uploaded(response: http.client.HTTPResponse) -> Uploaded:
    if response.status != 200:
        raise TransferError(_error_text(response))
    try:
        answer = json.loads(response.read(MAX_ANSWER))
        return Uploaded(str(answer["receipt"]), str(answer["sha"]), int(answer["size"]), str(answer["type"]),
                        int(answer.get("width") or 0), int(answer.get("height") or 0))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise TransferError("The server's answer to the upload cannot be read.") from error


def download(url: str, dest: Path, limit: int, progress: Progress, stopped: Callable[[], bool],
             ca_file: str | None = None) -> int:
    """GET ``url`` into ``dest`` (through ``dest.part``, renamed when whole); return the bytes written.

    More than ``limit`` bytes is an error (a file is the size its message says).
    """
    part = dest.with_name(dest.name + ".part")
    try:
        with part.open("wb") as out:
            written = _fetch(url, limit, out.write, progress, stopped, ca_file)
        os.replace(part, dest)
    except OSError as error:
        raise TransferError(f"Cannot write {dest}: {error.strerror or error}.") from error
    finally:
        part.unlink(missing_ok=True)
    return written


def fetch(url: str, limit: int = MAX_THUMBNAIL, ca_file: str | None = None) -> bytes:
    """GET ``url`` whole (a thumbnail): at most ``limit`` bytes."""
    parts: list[bytes] = []
    _fetch(url, limit, parts.append, lambda _sent, _total: None, lambda: False, ca_file)
    return b"".join(parts)


def _fetch(url: str, limit: int, write: Callable[[bytes], object], progress: Progress,
           stopped: Callable[[], bool], ca_file: str | None) -> int:
    connection, target = _connect(url, ca_file)
    host = urlsplit(url).netloc
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        if response.status != 200:
            raise TransferError(_error_text(response))
        total = int(response.getheader("Content-Length") or limit)
        if total > limit:
            raise TransferError(f"The server sent more than the {limit} bytes expected.")
        got = 0
        while chunk := response.read(CHUNK):
            got += len(chunk)
            if got > limit:
                raise TransferError(f"The server sent more than the {limit} bytes expected.")
            if stopped():
                raise TransferError("The download was cancelled.")
            write(chunk)
            progress(got, total)
        return got
    except (OSError, http.client.HTTPException) as error:
        raise _failure(error, host) from error
    finally:
        connection.close()


# ---- threads ------------------------------------------------------------------------------------


class Job(Generic[T]):
    """One transfer: ``work`` on a thread; ``on_progress`` and ``on_done`` on the Tk thread."""

    def __init__(self, work: Callable[[Progress, Callable[[], bool]], T],
                 on_done: Callable[[T | TransferError], None], on_progress: Progress | None) -> None:
        self.work, self.on_done, self.on_progress = work, on_done, on_progress
        self.finished = False


class Transfers:
    """Runs transfers on daemon threads; `poll` (on the Tk thread) hands back their progress and outcomes.

    Uploads and downloads get a thread each (they are few and long);
    thumbnails share FETCHERS threads. ``pace``, when set, is called on the
    transfer's thread after each chunk (tests hold an upload half-way with it).
    """

    def __init__(self) -> None:
        self._done: queue.Queue[tuple[Job[Any], str, Any]] = queue.Queue()
        self._fetches: queue.Queue[Job[Any] | None] = queue.Queue()
        self._fetchers: list[threading.Thread] = []
        self._closed = threading.Event()
        self.running: list[Job[Any]] = []
        self.pace: Callable[[int, int], object] | None = None

    def start(self, work: Callable[[Progress, Callable[[], bool]], T],
              on_done: Callable[[T | TransferError], None], on_progress: Progress | None = None) -> Job[T]:
        """Run ``work(progress, stopped)`` on a thread of its own (an upload, a download)."""
        job = Job(work, on_done, on_progress)
        self.running.append(job)
        threading.Thread(target=self._run, args=(job,), name="parley-transfer", daemon=True).start()
        return job

    def fetch(self, work: Callable[[Progress, Callable[[], bool]], T],
              on_done: Callable[[T | TransferError], None]) -> Job[T]:
        """Run ``work`` on one of the shared fetching threads (a thumbnail)."""
        job = Job(work, on_done, None)
        self.running.append(job)
        if len(self._fetchers) < FETCHERS:
            thread = threading.Thread(target=self._fetcher, name="parley-fetch", daemon=True)
            self._fetchers.append(thread)
            thread.start()
        self._fetches.put(job)
        return job

    def _fetcher(self) -> None:
        while (job := self._fetches.get()) is not None:
            self._run(job)

    def _run(self, job: Job[Any]) -> None:
        def progress(sent: int, total: int) -> None:
            self._done.put((job, "progress", (sent, total)))
            if self.pace is not None:
                self.pace(sent, total)

        try:
            outcome: Any = job.work(progress, self._closed.is_set)
        except TransferError as error:
            outcome = error
        except Exception as error:  # noqa: BLE001  # a bug must not end the thread silently
            outcome = TransferError(f"Internal error in the transfer: {error}")
        self._done.put((job, "done", outcome))

    def poll(self) -> None:
        """Call the callbacks of what happened since (on the Tk thread): the newest progress, outcomes."""
        latest: dict[int, tuple[Job[Any], tuple[int, int]]] = {}
        ended: list[tuple[Job[Any], Any]] = []
        while True:
            try:
                job, kind, value = self._done.get_nowait()
            except queue.Empty:
                break
            if kind == "progress":
                latest[id(job)] = (job, value)
            else:
                ended.append((job, value))
        for job, (sent, total) in latest.values():
            if job.on_progress is not None and not job.finished:
                job.on_progress(sent, total)
        for job, outcome in ended:
            job.finished = True
            self.running.remove(job)
            job.on_done(outcome)

    def close(self) -> None:
        """Stop every transfer at its next chunk (the window closes)."""
        self._closed.set()
        for _ in self._fetchers:
            self._fetches.put(None)
