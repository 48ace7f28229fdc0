"""The network side of the desktop client: an asyncio loop on its own thread.

It never touches a widget. It drives a `client.Session` with the frames it
reads (newline framing through parley.protocol.framing.FrameDecoder, which
keeps a partial frame across reads) and puts every event on a
``queue.Queue`` as ``(connection, event)``; the Tk thread drains that queue.
Commands from the Tk thread (send, update, kick...) are handed to the loop
with ``call_soon_threadsafe``, so the session is only ever used on the loop.

A lost connection is re-established with exponential backoff (and jitter,
so a restarted server is not hit by every client at once), then CON and REF
are sent again. Never after a kick, flooding, or our own DISCON; never if
the first login did not succeed (the connect screen shows why).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import socket
import ssl
import threading
from dataclasses import dataclass
from typing import Any, Callable

from parley.net import tls
from parley.protocol import Frame, LocalProtocolError
from parley.protocol.framing import (
    FrameDecoder,
    FrameReceived,
    FrameRejected,
    StreamEnded,
    encode_frame,
)
from parley.protocol.messages import MAX_SERVER_FRAME

from .client import (
    Event,
    LoggedIn,
    LoginDetails,
    LoginRefused,
    ServerError,
    ServerWarning,
    Session,
    State,
    UploadRequest,
    UsersChanged,
)

log = logging.getLogger("parley.desktop")

# What we accept from the server: all it ever sends (it splits user lists to stay under it).
MAX_FRAME = MAX_SERVER_FRAME
CONNECT_TIMEOUT = 10.0
DISCON_GRACE = 1.5  # how long DISCON waits for the server to close the connection
CLOSE_TIMEOUT = 2.0


@dataclass(frozen=True)
class Status:
    """The connection's state for the status line."""

    state: str  # "connecting", "online", "reconnecting", "offline"
    text: str


@dataclass(frozen=True)
class ConnectFailed:
    """The first connection or login did not succeed: stay on the connect screen."""

    text: str


@dataclass(frozen=True)
class Closed:
    """The session is over for good (DISCON, a kick, a refused reconnect)."""

    text: str
    by_user: bool


class Backoff:
    """Exponential delays between reconnect attempts: base, 2*base, ... up to cap."""

    def __init__(self, base: float = 0.5, cap: float = 15.0, jitter: float = 0.2) -> None:
        self.base, self.cap, self.jitter = base, cap, jitter
        self.attempt = 0

    def next(self) -> float:
        """Return the delay before the next attempt, and count it."""
        self.attempt += 1
        delay = min(self.cap, self.base * 2.0 ** (self.attempt - 1))
        return delay * random.uniform(1 - self.jitter, 1 + self.jitter)

    def reset(self) -> None:
        """A login succeeded: start again from the base delay."""
        self.attempt = 0


def describe_error(error: BaseException, login: LoginDetails) -> str:
    """Return a sentence for a failed connection attempt (never a traceback)."""
    where = login.address
    if isinstance(error, ssl.SSLCertVerificationError):
        return (f"The TLS certificate of {where} is not trusted ({error.verify_message}). "
                "For a self-signed certificate, give its file as the CA file.")
    if isinstance(error, ssl.SSLError):
        return f"TLS failed with {where} ({error.reason or error}). Does the server use TLS?"
    if isinstance(error, ConnectionRefusedError):
        return f"Nothing answers at {where}. Is the server running?"
    if isinstance(error, socket.gaierror):
        return f"Unknown server address: {login.host}."
    if isinstance(error, (TimeoutError, asyncio.TimeoutError)):
        return f"No answer from {where} within {CONNECT_TIMEOUT:g} seconds."
    if isinstance(error, OSError):
        return f"Cannot connect to {where}: {error.strerror or error}."
    return f"Cannot connect to {where}: {error}."


class Connection:
    """One login's network thread. Methods are called from the Tk thread."""

    def __init__(self, events: "queue.Queue[tuple[Connection, object]]", login: LoginDetails,
                 backoff: Backoff | None = None, connect_timeout: float = CONNECT_TIMEOUT,
                 discon_grace: float = DISCON_GRACE) -> None:
        self.events = events
        self.session = Session(login)
        self.backoff = backoff or Backoff()
        self.connect_timeout = connect_timeout
        self.discon_grace = discon_grace
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._thread_main, name="parley-network", daemon=True)
        self._writer: asyncio.StreamWriter | None = None
        self._stop = asyncio.Event()  # set when the user leaves; wakes a backoff sleep
        self._user_closed = False
        self._started = False
        self._retry_reason = "Connection lost."
        self._final_text = "Disconnected by the server."

    # ---- called from the Tk thread --------------------------------------

    def start(self) -> None:
        """Start connecting; events arrive on the queue."""
        self._started = True
        self._thread.start()

    def send_chat(self, rec: str, text: str) -> None:
        """Send ``CHAT,rec=REC,text``."""
        self._call(lambda: self._send(self.session.chat, rec, text))

    def upload(self, request: UploadRequest) -> None:
        """Send ``UPLOAD,rec=R;name=N;size=S,``; UploadGranted or UploadRefused follows."""
        self._call(lambda: self._send(lambda: self.session.upload(request)))

    def send_file(self, rec: str, receipt: str) -> None:
        """Send ``CHAT,rec=R;file=RECEIPT,`` (an uploaded file)."""
        self._call(lambda: self._send(lambda: self.session.file_chat(rec, receipt)))

    def update(self, nickname: str, color: str, password: str) -> None:
        """Send an UPDATE of the non-empty fields."""
        self._call(lambda: self._send(self.session.update, nickname, color, password))

    def refresh(self) -> None:
        """Send ``REF,,``."""
        self._call(lambda: self._send(self.session.refresh))

    def kick(self, user: str, reason: str, ban: list[tuple[str, str]] | None = None) -> None:
        """Send ``KICK,user=NICK[;ban=1...],reason`` (``ban``: the ban's duration and addresses)."""
        self._call(lambda: self._send(lambda: self.session.kick(user, reason, ban)))

    def room_request(self, reason: str, params: list[tuple[str, str]], content: str = "") -> None:
        """Send a rooms frame (CREATE, JOIN, PART, TOPIC, INVITE, REMOVE, OP, ROOMS, MEMBERS, READ)."""
        self._call(lambda: self._send(lambda: self.session.room_request(reason, params, content)))

    def history(self, rec: str, before: int | None, limit: int = 50, after: int | None = None) -> None:
        """Send ``HISTORY,rec=R[;before=ID|;after=ID];limit=N,``."""
        self._call(lambda: self._send(lambda: self.session.history(rec, before, limit, after)))

    def request(self, reason: str, params: list[tuple[str, str]], content: str = "") -> None:
        """Send a moderation frame (BAN, UNBAN, BANS, MUTE, UNMUTE, DELETE, REPORT)."""
        self._call(lambda: self._send(lambda: self.session.request(reason, params, content)))

    def edit(self, message_id: int, text: str) -> None:
        """Send ``EDIT,id=N[;lines=L],TEXT``."""
        self._call(lambda: self._send(lambda: self.session.edit(message_id, text)))

    def search(self, query: str, rec: str | None, before: int | None) -> None:
        """Send ``SEARCH[,rec=R][;before=ID];limit=N,QUERY``."""
        self._call(lambda: self._send(lambda: self.session.search(query, rec, before)))

    def disconnect(self) -> None:
        """Say DISCON and end the session (no reconnect); Closed follows."""
        self._call(self._leave)

    def close(self, timeout: float | None = None, say_discon: bool = True) -> None:
        """Say DISCON if logged in (unless told not to), stop the thread and wait for it (bounded).

        Without DISCON the server keeps a remembered session (and holds the
        nickname for its grace period), as after a dropped connection.
        """
        if not self._started:
            self._loop.close()
            return
        self._call(lambda: self._leave(say_discon))
        if self._thread.is_alive():
            self._thread.join(self.discon_grace + 1.0 if timeout is None else timeout)

    @property
    def alive(self) -> bool:
        """True while the network thread runs."""
        return self._thread.is_alive()

    def _call(self, function: Callable[[], Any]) -> None:
        try:
            self._loop.call_soon_threadsafe(function)
        except RuntimeError:
            pass  # the loop is closed: the session has already ended

    # ---- on the loop ------------------------------------------------------

    def _emit(self, event: object) -> None:
        self.events.put((self, event))

    def _thread_main(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()

    async def _main(self) -> None:
        try:
            await self._run()
        except Exception as error:  # a bug must not leave the window hanging
            log.exception("network thread failed")
            self._emit(Closed(f"Internal error in the connection: {error}", by_user=False))

    def _send(self, build: Callable[..., Frame], *args: str) -> None:
        try:
            frame = build(*args)
        except LocalProtocolError:
            self._emit(ServerError("Not connected: nothing was sent."))
            return
        self._write(frame)

    def _write(self, frame: Frame) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(encode_frame(frame) + b"\n")
            log.debug("sent %s", frame.reason)  # reasons only: CON and UPDATE hold passwords

    def _leave(self, say_discon: bool = True) -> None:
        self._user_closed = True
        self.session.final = True
        self._stop.set()
        if self._writer is not None and self.session.state is State.CHATTING and say_discon:
            self._write(self.session.disconnect())
            self._loop.call_later(self.discon_grace, self._abort)
        else:
            self._abort()

    def _abort(self) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.close()

    async def _run(self) -> None:
        login = self.session.login
        try:
            context = tls.client_context(login.ca_file or None) if login.tls else None
        except (OSError, ssl.SSLError) as error:
            self._emit(ConnectFailed(f"Cannot use the CA file {login.ca_file}: {error}"))
            return
        while not self._user_closed:
            outcome = await self._attempt(context)
            if outcome is not None:
                self._finish(outcome)
                return
            if not await self._wait_before_retry():
                break
        self._emit(Status("offline", "Disconnected."))
        self._emit(Closed("Disconnected.", by_user=True))

    def _finish(self, outcome: ConnectFailed | Closed) -> None:
        self._emit(Status("offline", outcome.text))
        self._emit(outcome)

    async def _wait_before_retry(self) -> bool:
        """Sleep the backoff delay; return False when the user gave up meanwhile."""
        delay = self.backoff.next()
        self._emit(Status("reconnecting", f"{self._retry_reason} Reconnecting in {delay:.1f} s "
                                          f"(attempt {self.backoff.attempt})..."))
        try:
            await asyncio.wait_for(self._stop.wait(), delay)
            return False
        except asyncio.TimeoutError:
            return not self._user_closed

    async def _attempt(self, context: ssl.SSLContext | None) -> ConnectFailed | Closed | None:
        """Connect once and run the session; return the final outcome, or None to retry."""
        login = self.session.login
        verb = "Reconnecting" if self.session.logged_in_once else "Connecting"
        self._emit(Status("connecting", f"{verb} to {login.address}..."))
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                login.host, login.port, ssl=context,
                server_hostname=login.host if context else None), self.connect_timeout)
        except (OSError, ssl.SSLError, asyncio.TimeoutError) as error:
            log.info("connection to %s failed: %s", login.address, type(error).__name__)
            text = describe_error(error, login)
            self._retry_reason = text
            return None if self.session.may_reconnect else ConnectFailed(text)
        if self._user_closed:  # the window closed while we were connecting
            writer.close()
            return Closed("Disconnected.", by_user=True)
        self._writer = writer
        self._retry_reason = "Connection lost."
        try:
            return await self._converse(reader)
        finally:
            self._writer = None
            self.session.connection_lost()
            writer.close()
            try:  # bounded: a vanished TLS peer never answers the close_notify
                await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT)
            except (OSError, ssl.SSLError, asyncio.TimeoutError):
                pass  # already reset by the peer, or gone

    async def _converse(self, reader: asyncio.StreamReader) -> ConnectFailed | Closed | None:
        """Log in and relay frames until the stream ends; return as `_attempt` does."""
        self._write(self.session.connection_made())
        decoder = FrameDecoder(max_frame=MAX_FRAME, detect_legacy=False)
        while True:
            try:
                data = await reader.read(65536)
            except (OSError, ssl.SSLError):
                data = b""  # reset: as good as closed
            for event in decoder.receive_data(data):
                outcome = self._on_stream_event(event)
                if outcome is not _CONTINUE:
                    return outcome  # type: ignore[return-value]

    def _on_stream_event(self, event: object) -> object:
        if isinstance(event, FrameReceived):
            for session_event in self.session.receive(event.frame):
                outcome = self._on_session_event(session_event)
                if outcome is not _CONTINUE:
                    return outcome
            return _CONTINUE
        if isinstance(event, FrameRejected):
            self._emit(ServerError(f"The server sent a frame that cannot be read ({event.error.code})."))
            return _CONTINUE if not event.fatal else self._ended()
        assert isinstance(event, StreamEnded)
        return self._ended()

    def _on_session_event(self, event: Event) -> object:
        if not isinstance(event, LoginRefused):  # that one ends as ConnectFailed or Closed
            self._emit(event)
        if isinstance(event, LoggedIn):
            self.backoff.reset()
            self._emit(Status("online", f"Connected to {self.session.login.address} as "
                                        f"{event.nickname}{' (TLS)' if self.session.login.tls else ''}."))
            self._write(self.session.refresh())  # history, de-duplicated by id in the UI
        elif isinstance(event, UsersChanged) and event.resync:
            self._write(self.session.list_users())
        elif isinstance(event, ServerWarning) and event.final:
            self._final_text = event.text
        elif isinstance(event, LoginRefused):
            if event.retry:
                self._retry_reason = f"Login refused ({event.text})."
                return None
            if self.session.logged_in_once:
                return Closed(f"Could not log in again: {event.text}", by_user=False)
            return ConnectFailed(event.text)
        return _CONTINUE

    def _ended(self) -> ConnectFailed | Closed | None:
        """The stream ended: decide between retrying and giving up."""
        session = self.session
        if self._user_closed:
            return Closed("Disconnected.", by_user=True)
        if session.final:
            return Closed(self._final_text, by_user=False)
        if not session.logged_in_once:
            return ConnectFailed(f"{session.login.address} closed the connection before the login "
                                 "was answered. Does the server use TLS?")
        return None


_CONTINUE = object()
