"""One client connection: decodes frames as they arrive, runs the handler for each, answers.

The session is an asyncio protocol, a thin adapter between a socket and the
codec (framing.py) and the chat rules. Every client frame gets a response; a
remote protocol error becomes an ERR or CONVER frame and never an exception
text. Answers keep the order of the frames that caused them, and a CHAT is
sent to anyone only once its commit is done.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable, Sequence, cast

from parley.net.proxy import MAX_LINE, SIGNATURE, ProxyHeaderError, parse_proxy_line
from parley.protocol import Frame, messages, names, texts
from parley.protocol.framing import (
    Event,
    FrameDecoder,
    FrameReceived,
    FrameRejected,
    Mode,
    StreamEnded,
    encode_frame,
)
from parley.protocol.messages import Stamp

from .hub import OnlineUser
from .limits import TokenBucket
from .outbox import Outbox
from .passwords import hash_password, verify_password
from .states import State, is_allowed
from .store import Account, AccountExists, NewMessage

if TYPE_CHECKING:
    from .app import ChatServer

log = logging.getLogger("parley.server")
MAX_UNHANDLED = 256 * 1024  # received bytes queued for the worker before reading pauses
MAX_UNSENT = 256  # a connection's messages being stored before reading pauses
ALL = "-ALL"


def now() -> Stamp:
    return Stamp.at(time.time())


class ClientSession(asyncio.Protocol):
    """One connection, as an asyncio protocol.

    An idle connection holds no task, stream or coroutine: received bytes are
    queued by ``data_received``, and a worker task exists only while there
    are bytes (or a passed deadline, or the end of the stream) to handle. The
    deadlines (login, frame completion, the legacy grace) are one timer.
    """

    # Slots: a thousand idle connections should cost little memory each.
    __slots__ = (
        "server", "config", "transport", "peer", "peer_host", "decoder", "outbox", "state",
        "nickname", "color", "account", "guest_ident", "leave_text", "login_deadline", "_frame_started",
        "_admitted", "_chat_bucket", "_strikes", "_events", "_queued_bytes", "_reading_paused", "_worker",
        "_timer", "_deadline_due", "_input_over", "_proxy_pending", "_proxy_header", "_unsent", "_chats_waiter",
        "_ended", "_finished",
    )
    transport: asyncio.Transport
    peer: str
    peer_host: str
    outbox: Outbox

    def __init__(self, server: "ChatServer") -> None:
        self.server = server
        self.config = server.config
        self.decoder = FrameDecoder(self.config.max_frame)
        self.state = State.AWAITING_LOGIN
        self.nickname = ""
        self.color = "#FFFFFF"
        self.account: Account | None = None
        self.guest_ident = f"g:{secrets.token_hex(8)}"
        self.leave_text: str | None = texts.DISCONNECTED_INFO
        self.login_deadline = 0.0
        self._frame_started = 0.0
        self._admitted = False
        self._chat_bucket = TokenBucket(self.config.chat_rate, self.config.chat_burst)
        self._strikes = TokenBucket(1.0 if self.config.flood_strikes else 0, self.config.flood_strikes)
        self._events: list[Event | Closing] = []  # received, not handled yet, in order
        self._queued_bytes = 0  # received while the worker runs
        self._reading_paused = False
        self._worker: asyncio.Task | None = None  # exists only while an event waits
        self._timer: asyncio.TimerHandle | None = None  # the next deadline's
        self._deadline_due = False
        self._input_over = False  # nothing more is read (end of stream, a deadline, a refusal)
        self._proxy_pending = False
        self._proxy_header = b""
        self._unsent: list[StagedChat] = []  # messages being stored, sent in this order
        self._chats_waiter: asyncio.Future[None] | None = None
        self._ended = False  # no more events are handled
        self._finished = False  # left the hub, closing

    # Identity -----------------------------------------------------------

    @property
    def ident(self) -> str:
        return self.account.ident if self.account else self.guest_ident

    @property
    def role(self) -> str:
        return self.account.role if self.account else "guest"

    @property
    def is_admin(self) -> bool:
        return self.account is not None and self.account.is_admin

    def online_user(self) -> OnlineUser:
        return OnlineUser(self.nickname, self.ident, self.is_admin)

    # Sending (the hub's Member interface included) ----------------------

    def send(self, frame: Frame) -> None:
        self.outbox.send(encode_frame(frame))

    def deliver(self, payload: bytes) -> None:
        self.outbox.send(payload)

    def kicked(self, warning: bytes) -> None:
        self.outbox.send(warning)
        self.leave_text = None  # the kicker announces it
        self.state = State.CLOSED
        self.outbox.close_when_sent()

    def _overflowed(self) -> None:
        log.warning("%s %s: outgoing buffer overflowed; disconnected", self.peer, self.nickname or "-")
        self.state = State.CLOSED

    # The transport's calls ----------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        peer = transport.get_extra_info("peername") or ("?", 0)
        self.peer = f"{peer[0]}:{peer[1]}"
        self.peer_host = str(peer[0])
        self.outbox = self.server.new_outbox(self.transport, self._overflowed)
        self.login_deadline = asyncio.get_running_loop().time() + self.config.login_timeout
        if not self.server.session_started(self):
            self._input_over = self._ended = self._finished = True
            return
        self._proxy_pending = self.server.is_trusted_proxy(self.peer_host)
        if not self._proxy_pending and not self._admit():
            self._end()
            return
        self._arm_timer()

    def data_received(self, data: bytes) -> None:
        if self._input_over:
            return
        self._events += self._decode(data)
        if self._worker is None:
            self._run_events()
            return
        self._queued_bytes += len(data)
        self._pace_reading()

    def _pace_reading(self) -> None:
        """Stop reading while too much waits: received events (the worker is waiting for a
        login's database work, say) or messages being stored; start again once they are handled."""
        pause = self._queued_bytes > MAX_UNHANDLED or len(self._unsent) >= MAX_UNSENT
        if pause is not self._reading_paused and not self.transport.is_closing():
            self._reading_paused = pause
            if pause:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def eof_received(self) -> bool:
        self._end_of_input(None)
        # Keep the sending side open so the answers to the last frames still go
        # out (TLS cannot half-close: there the transport closes).
        return self.transport.get_extra_info("sslcontext") is None

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_of_input(exc)

    def _end_of_input(self, error: Exception | None) -> None:
        if self._input_over:
            return
        self._input_over = True
        if error is not None:
            log.info("%s %s: connection lost (%s)", self.peer, self.nickname or "-", error.__class__.__name__)
            self._events.append(Closing())
        else:
            self._events += self.decoder.receive_data(b"")
        if self._worker is None:
            self._run_events()

    def _decode(self, data: bytes) -> "Sequence[Event | Closing]":
        """The events in a received chunk (after a trusted proxy's header, if one is due)."""
        if self._proxy_pending:
            self._proxy_header += data
            data, self._proxy_pending = self._take_proxy_header(self._proxy_header)
            if not self._proxy_pending:
                self._proxy_header = b""
            if self.state is State.CLOSED or (not self._proxy_pending and not self._admit()):
                self._input_over = True
                return [Closing()]
            if not data:
                return []
        was_undecided = self.decoder.mode is Mode.UNDECIDED
        had_partial = self.decoder.buffered > 0
        events = self.decoder.receive_data(data)
        if was_undecided and self.decoder.mode is Mode.LEGACY:
            self.outbox.use_legacy_framing()
        if not had_partial or events:
            # A frame's clock starts with its first byte.
            self._frame_started = asyncio.get_running_loop().time()
        return events

    # Handling events ----------------------------------------------------
    #
    # Events are handled as they arrive, in the transport's callback, unless
    # one has to wait (a handler that awaits the database or a password hash,
    # or an answer due after CHATs still being stored); then a worker task
    # takes the queue until it is empty again. An idle connection holds no
    # task, stream or coroutine: only this object, its codec and its outbox.

    def _run_events(self) -> None:
        """Handle the queued events in order, here and now, until one has to wait."""
        events = self._events
        handled = 0
        try:
            for event in events:
                outcome = self._handle_now(event)
                if outcome is Outcome.WAIT:
                    break
                handled += 1
                if outcome is Outcome.END:
                    self._end()
                    return
        except Exception:
            log.exception("%s %s: unexpected error", self.peer, self.nickname or "-")
            self._end()
            return
        del events[:handled]
        if events:
            self._worker = asyncio.get_running_loop().create_task(self._work())
        else:
            self._arm_timer()

    async def _work(self) -> None:
        """Handle the queue, waiting where an event must, until it is empty."""
        try:
            while self._events and not self._ended:
                events, self._events = self._events, []
                self._queued_bytes = 0
                self._pace_reading()
                for event in events:
                    outcome = self._handle_now(event)
                    if outcome is Outcome.WAIT:
                        await self._chats_delivered()
                        outcome = self._handle_now(event)
                    if outcome is Outcome.WAIT:
                        assert isinstance(event, FrameReceived)
                        await ASYNC_HANDLERS[event.frame.reason](self, event.frame)
                        outcome = self._outcome()
                    if outcome is Outcome.END:
                        self._end()
                        return
                if self._deadline_due:
                    self._deadline_due = False
                    self._events += self._deadline_events()
            if not self._ended:
                self._arm_timer()
        except Exception:
            log.exception("%s %s: unexpected error", self.peer, self.nickname or "-")
            self._end()
        finally:
            self._worker = None

    def _handle_now(self, event: "Event | Closing") -> "Outcome":
        """Handle ``event`` unless that needs waiting (WAIT: left untouched); END once the connection is over."""
        if self._ended or self.state is State.CLOSED:
            return Outcome.END
        if isinstance(event, FrameReceived):
            frame = event.frame
            if frame.reason == "CHAT" and self._stage_chat_now(frame):
                return Outcome.DONE
            if self._unsent:
                return Outcome.WAIT  # its answer comes after the CHATs being stored
            if not is_allowed(self.state, frame.reason):
                self._refuse(frame)
            elif frame.reason in ASYNC_HANDLERS:
                return Outcome.WAIT
            else:
                SYNC_HANDLERS[frame.reason](self, frame)
            return self._outcome()
        if self._unsent:
            return Outcome.WAIT
        if isinstance(event, FrameRejected):
            self._rejected(event)
            return Outcome.END if event.fatal else self._outcome()
        if isinstance(event, StreamEnded):
            if event.partial:
                log.info("%s %s: closed mid-frame (%d bytes unread)", self.peer, self.nickname or "-", event.partial)
            else:
                log.info("%s %s: closed by peer", self.peer, self.nickname or "-")
            return Outcome.END
        if event.warning is not None:
            self.send(event.warning)
        return Outcome.END

    def _outcome(self) -> "Outcome":
        if self.outbox.closed:
            self.state = State.CLOSED
        return Outcome.END if self.state is State.CLOSED else Outcome.DONE

    def _end(self) -> None:
        """Stop handling input; leave and close once this connection's stored messages are sent."""
        if self._ended:
            return
        self._ended = self._input_over = True
        self._events = []
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._unsent:
            self._finish()  # else the last stored message's delivery finishes

    def _finish(self) -> None:
        self._finished = True
        try:
            self._leave()
        finally:
            if self._admitted:
                self.server.connections.close(self.peer_host)
            self.outbox.close_when_sent()
            self.server.session_ended(self)

    # Deadlines ----------------------------------------------------------

    def _next_deadline(self) -> tuple[float, str] | None:
        """The earliest deadline that applies now, and what passes with it; None if none."""
        deadlines: list[tuple[float, str]] = []
        if self.state is State.AWAITING_LOGIN:
            deadlines.append((self.login_deadline, "login"))
        if self.decoder.awaiting_grace:
            deadlines.append((self._frame_started + self.config.legacy_grace, "grace"))
        elif self.decoder.buffered and self.config.frame_timeout > 0:
            deadlines.append((self._frame_started + self.config.frame_timeout, "frame"))
        return min(deadlines) if deadlines else None

    def _arm_timer(self) -> None:
        """Be called back when the next deadline passes (no timer when none applies)."""
        deadline = self._next_deadline()
        timer = self._timer
        if timer is not None:
            if deadline is not None and timer.when() == deadline[0]:
                return
            timer.cancel()
            self._timer = None
        if deadline is not None:
            self._timer = asyncio.get_running_loop().call_at(deadline[0], self._deadline_passed)

    def _deadline_passed(self) -> None:
        self._timer = None
        if self._worker is not None:
            self._deadline_due = True  # the worker looks once its events are handled
            return
        self._events += self._deadline_events()
        self._run_events()

    def _deadline_events(self) -> "list[Event | Closing]":
        """What a deadline that has passed brings: the legacy frame held back, or the end."""
        deadline = self._next_deadline()
        if deadline is None or deadline[0] > asyncio.get_running_loop().time() or self._input_over:
            return []  # what it waited for came in time
        kind = deadline[1]
        if kind == "grace":
            self.outbox.use_legacy_framing()
            log.info("%s: legacy client (unterminated frames)", self.peer)
            return list(self.decoder.grace_expired())
        self._input_over = True
        if kind == "login":
            log.info("%s: no login within %gs; closing", self.peer, self.config.login_timeout)
            return [Closing(messages.warn(now(), texts.LOGIN_TIMEOUT.format(seconds=self.config.login_timeout)))]
        log.info("%s %s: frame not completed in %gs; closing", self.peer, self.nickname or "-", self.config.frame_timeout)
        return [Closing(messages.warn(now(), texts.FRAME_TIMEOUT.format(seconds=self.config.frame_timeout)))]

    def _admit(self) -> bool:
        """Count this connection against its address's limit; False if over it."""
        if self.server.connections.open(self.peer_host):
            self._admitted = True
            return True
        log.warning("%s: refused: too many connections from this address", self.peer)
        self.send(messages.conver(now(), texts.TOO_MANY_CONNECTIONS))
        self.state = State.CLOSED
        return False

    def _take_proxy_header(self, header: bytes) -> tuple[bytes, bool]:
        """Strip a PROXY v1 header a trusted proxy sent first.

        Returns (the bytes after it, whether more bytes are needed to decide).
        """
        if len(header) < len(SIGNATURE) and SIGNATURE.startswith(header):
            return b"", True
        if not header.startswith(SIGNATURE):
            return header, False
        end = header.find(b"\r\n", 0, MAX_LINE)
        if end < 0:
            if len(header) < MAX_LINE:
                return b"", True
            error: Exception = ProxyHeaderError("PROXY header too long")
        else:
            try:
                client = parse_proxy_line(header[:end])
            except ProxyHeaderError as bad:
                error = bad
            else:
                if client is not None:
                    log.info("%s: proxied client %s:%d", self.peer, client[0], client[1])
                    self.peer_host = client[0]
                    self.peer = f"{client[0]}:{client[1]}"
                return header[end + 2 :], False
        log.warning("%s: bad PROXY header from a trusted proxy (%s); closing", self.peer, error)
        self.state = State.CLOSED
        return b"", False

    def _rejected(self, event: FrameRejected) -> None:
        code = event.error.code
        if code == "too-long":
            text = texts.FRAME_TOO_LONG.format(limit=self.config.max_frame)
        elif code == "not-utf8":
            text = texts.NOT_UTF8
        else:
            text = texts.MALFORMED_FRAME.format(detail=str(event.error))
        # The code only: an error's text can quote a frame, and a frame can hold a password.
        log.info("%s %s: bad frame (%s)", self.peer, self.nickname or "-", code)
        if self.state is State.AWAITING_LOGIN and not event.fatal:
            self.send(messages.conver(now(), text))
        else:
            self.send(messages.err(now(), text))

    def _refuse(self, frame: Frame) -> None:
        """Answer a frame that is not allowed in this state."""
        if self.state is State.AWAITING_LOGIN:
            self.send(messages.conver(now(), texts.UNKNOWN_CONNECTION))
        else:
            self.send(messages.err(now(), texts.UNKNOWN_REASON.format(reason=frame.reason)))


    # Handlers -----------------------------------------------------------

    async def on_con(self, frame: Frame) -> None:
        nickname, password, color = (frame.get(k) for k in ("nickname", "password", "color"))
        if nickname is None or password is None or color is None:
            self.send(messages.conver(now(), texts.MISSING_CON_PARAMS))
            return
        error, account = await self._check_login(nickname, password)
        if error is None:
            self.account = account
            self.nickname = account.name if account else nickname
            # "An invalid color at CON was silently replaced with #FFFFFF."
            self.color = color if names.is_color(color) else "#FFFFFF"
            if not self.server.hub.claim(self.online_user(), self):
                error = texts.ALREADY_LOGGED_IN
        if error is not None:
            log.info("%s: login as %r refused: %s", self.peer, nickname[:32], error)
            self.account, self.nickname = None, ""
            self.send(messages.conver(now(), error))
            return
        self.state = State.CHATTING
        log.info("%s %s: joined as %s", self.peer, self.nickname, self.role)
        self.send(messages.conver(now(), texts.OK, role=self.role))
        hub = self.server.hub
        hub.broadcast(messages.info(now(), self.nickname, texts.JOINED.format(nick=self.nickname)))
        await self.server.broadcast_user_list(refresh_admins=account is not None)

    async def _check_login(self, nickname: str, password: str) -> tuple[str | None, Account | None]:
        """Apply the original's login rules in its order; return (error, account)."""
        if self.server.hub.lookup(nickname) is not None:
            return texts.ALREADY_LOGGED_IN, None
        account = await self.server.db.call(self.server.db.store.get_account, nickname)
        if account is not None:
            locked = self.server.login_lockout(self.peer_host, account.name)
            if locked:
                return texts.LOCKED_OUT.format(seconds=locked), None
            if await self.server.run_hashing(verify_password, password, account.password_hash):
                return None, account
            self.server.login_failed(self.peer_host, account.name)
            return texts.REGISTERED_USER, None
        return names.nickname_error(nickname), None

    def on_chat(self, frame: Frame) -> None:
        """A CHAT that could not be staged at once: refused, or staged after all."""
        if not self._chat_allowed():
            return
        error, target = self._chat_target(frame)
        if error is not None:
            self.send(messages.err(now(), error))
            return
        self._stage_chat(frame, target)

    def _stage_chat_now(self, frame: Frame) -> bool:
        """Stage a CHAT that needs no answer of its own; False (nothing done) for any other."""
        if self.state is not State.CHATTING:
            return False
        error, target = self._chat_target(frame)
        if error is not None or not self._chat_bucket.take(asyncio.get_running_loop().time()):
            return False  # on_chat answers it (a refused take spends nothing)
        self._stage_chat(frame, target)
        return True

    def _chat_target(self, frame: Frame) -> tuple[str | None, OnlineUser | None]:
        """(the ERR text, None) for a CHAT that cannot be sent, else (None, recipient or None for all)."""
        rec = frame.get("rec")
        if not rec:
            return texts.REC_REQUIRED, None
        if rec == ALL:
            return None, None
        target = self.server.hub.lookup(rec)
        if target is None:
            return texts.UNRECOGNIZED_RECIPIENT.format(rec=rec), None
        return None, target

    def _stage_chat(self, frame: Frame, target: OnlineUser | None) -> None:
        """Store a message; it is sent once committed, after this connection's earlier ones."""
        stamp = now()
        record = NewMessage(
            ts_ms=stamp.ms,
            time_text=stamp.text,
            sender=self.nickname,
            color=self.color,
            rec=target.nickname if target else ALL,
            content=frame.content,
            sender_ident=self.ident,
            rec_ident=target.ident if target else None,
        )
        chat = StagedChat(self, stamp, record, target)
        self._unsent.append(chat)
        self.server.db.submit_message(record, chat.stored)
        if len(self._unsent) == MAX_UNSENT:
            self._pace_reading()

    def _chat_stored(self) -> None:
        """Send the stored messages at the head of the queue, in order (the database calls this)."""
        unsent = self._unsent
        count = 0
        while count < len(unsent) and unsent[count].done:
            count += 1
        ready = unsent[:count]
        del unsent[:count]
        for chat in ready:
            self._send_chat(chat)
        if self._reading_paused:
            self._pace_reading()
        if unsent:
            return
        waiter, self._chats_waiter = self._chats_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self._ended and not self._finished:
            self._finish()

    async def _chats_delivered(self) -> None:
        """Wait until every message this connection staged has been sent."""
        while self._unsent:
            self._chats_waiter = asyncio.get_running_loop().create_future()
            await self._chats_waiter

    def _send_chat(self, chat: "StagedChat") -> None:
        if chat.error is not None:
            log.error("%s %s: storing a message failed: %r", self.peer, self.nickname, chat.error)
            self.send(messages.err(now(), texts.NOT_STORED))
            return
        record = chat.record
        chatr = messages.chatr(chat.stamp, record.sender, record.rec, record.color, chat.message_id, record.content)
        if chat.target is None:
            self.server.hub.broadcast(chatr)
        else:
            # As the original: the recipient first, then the sender.
            self.server.hub.send_to(chat.target.nickname, chatr)
            if chat.target.ident != self.ident:
                self.send(chatr)

    def _chat_allowed(self) -> bool:
        """Flood control: a token bucket per connection; persistent flooders are cut off."""
        clock = asyncio.get_running_loop().time()
        if self._chat_bucket.take(clock):
            return True
        if self._strikes.take(clock):
            self.send(messages.err(now(), texts.FLOODING))
            return False
        log.warning("%s %s: disconnected for flooding", self.peer, self.nickname)
        self.send(messages.warn(now(), texts.FLOOD_DISCONNECT))
        self.state = State.CLOSED
        return False

    async def on_update(self, frame: Frame) -> None:
        # An empty value means "no change", as the customize screen sends it.
        new_nick = frame.get("nickname") or None
        color = frame.get("color") or None
        password = frame.get("password") or None
        old = self.nickname
        error = self._update_error(new_nick, color, password)
        if error is None and password is not None:
            error = await self._set_password(password, new_nick)
        elif error is None and new_nick is not None:
            error = await self._rename(new_nick)
        if error is not None:
            self.send(messages.confirm(now(), "UPDATE", error))
            return
        parts = []
        if new_nick is not None:
            self.nickname = new_nick if self.account is None else self.account.name
            parts.append(texts.NAME_CHANGED.format(nick=self.nickname))
        if color is not None:
            self.color = color
            parts.append(texts.COLOR_CHANGED.format(color=color))
        self.send(messages.confirm(now(), "UPDATE", texts.OK))
        if parts:
            log.info("%s %s: updated (%s)", self.peer, old, "".join(parts).strip())
            text = texts.CHANGED_PREFIX.format(old=old) + "".join(parts)
            self.server.hub.broadcast(messages.info(now(), self.nickname, text))
            await self.server.broadcast_user_list(refresh_admins=self.is_admin)

    def _update_error(self, new_nick: str | None, color: str | None, password: str | None) -> str | None:
        if new_nick is not None and names.name_key(new_nick) != names.name_key(self.nickname):
            if self.server.hub.lookup(new_nick) is not None:
                return texts.UPDATE_NAME_ERROR.format(error=texts.ALREADY_LOGGED_IN)
            error = names.nickname_error(new_nick)
            if error is not None:
                return texts.UPDATE_NAME_ERROR.format(error=error)
        if color is not None and not names.is_color(color):
            return texts.UPDATE_BAD_COLOR
        if password is not None:
            if len(password) < self.config.min_password:
                return texts.UPDATE_PASSWORD_TOO_SHORT.format(minimum=self.config.min_password)
            if self.account is None and self.config.registration != "open":
                return texts.UPDATE_REGISTRATION_CLOSED
        return None

    async def _rename(self, new_nick: str) -> str | None:
        """Move the session (and its account, if any) to ``new_nick``."""
        db = self.server.db
        if names.name_key(new_nick) != names.name_key(self.nickname):
            existing = await db.call(db.store.get_account, new_nick)
            if existing is not None and (self.account is None or existing.id != self.account.id):
                return texts.UPDATE_NAME_ERROR.format(error=texts.REGISTERED_USER)
        old_user = self.online_user()
        if not self.server.hub.rename(self, OnlineUser(new_nick, self.ident, self.is_admin)):
            return texts.UPDATE_NAME_ERROR.format(error=texts.ALREADY_LOGGED_IN)
        if self.account is not None:
            try:
                await db.call(db.store.rename_account, self.account.id, new_nick)
            except AccountExists:
                self.server.hub.rename(self, old_user)
                return texts.UPDATE_NAME_ERROR.format(error=texts.REGISTERED_USER)
            self.account = Account(self.account.id, new_nick, self.account.role, self.account.password_hash)
        return None

    async def _set_password(self, password: str, new_nick: str | None) -> str | None:
        """Rename first if asked, then change the password or register the guest."""
        if new_nick is not None:
            error = await self._rename(new_nick)
            if error is not None:
                return error
            self.nickname = new_nick
        password_hash = await self.server.run_hashing(hash_password, password)
        db = self.server.db
        if self.account is not None:
            await db.call(db.store.set_password, self.account.id, password_hash)
            self.account = Account(self.account.id, self.account.name, self.account.role, password_hash)
            log.info("%s %s: password changed", self.peer, self.nickname)
            return None
        try:
            account = await db.call(db.store.add_account, self.nickname, "member", password_hash)
        except AccountExists:
            return texts.UPDATE_NAME_ERROR.format(error=texts.REGISTERED_USER)
        await db.call(db.store.move_private_messages, self.guest_ident, account.ident)
        self.account = account
        self.server.hub.rename(self, self.online_user())
        log.info("%s %s: registered as a member", self.peer, self.nickname)
        return None

    def on_discon(self, frame: Frame) -> None:
        self.send(messages.confirm(now(), "DISCON", texts.DISCONNECTED))
        self.state = State.CLOSED
        log.info("%s %s: disconnected", self.peer, self.nickname or "-")

    async def on_ref(self, frame: Frame) -> None:
        self.send(messages.confirm(now(), "REF", texts.REF_RESENDING))
        db = self.server.db
        idents = {self.ident, self.guest_ident}
        history = await db.call(db.store.recent_messages, sorted(idents), self.config.history)
        for m in history:
            self.send(messages.chatr(Stamp(m.time_text, m.ts_ms), m.sender, m.rec, m.color, m.id, m.content))

    def on_user(self, frame: Frame) -> None:
        self.send(self.server.user_list_frame())

    def on_kick(self, frame: Frame) -> None:
        if not self.is_admin:
            self.send(messages.err(now(), texts.NOT_ADMIN))
            return
        nickname = frame.get("user")
        if not nickname:
            self.send(messages.err(now(), texts.USER_REQUIRED))
            return
        target = self.server.hub.lookup(nickname)
        if target is None:
            self.send(messages.err(now(), texts.NOT_ONLINE.format(user=nickname)))
            return
        if target.is_admin:
            self.send(messages.err(now(), texts.CANNOT_KICK_ADMIN.format(user=target.nickname)))
            return
        warning = messages.warn(now(), texts.KICKED.format(reason=frame.content))
        self.server.hub.kick(target.nickname, warning)
        log.info("%s %s: kicked %s (%s)", self.peer, self.nickname, target.nickname, frame.content[:100])
        text = texts.KICKED_INFO.format(nick=target.nickname, admin=self.nickname)
        self.server.hub.broadcast(messages.info(now(), target.nickname, text))
        self.server.schedule_user_list()

    def on_ping(self, frame: Frame) -> None:
        self.send(messages.pong(now(), frame.content))

    # Leaving ------------------------------------------------------------

    def _leave(self) -> None:
        hub = self.server.hub
        if not hub.release(self):
            return
        log.info("%s %s: left", self.peer, self.nickname)
        if self.leave_text is not None and not self.server.closing:
            hub.broadcast(messages.info(now(), self.nickname, self.leave_text.format(nick=self.nickname)))
            self.server.schedule_user_list()


# What each client reason runs (the session state table says when each is allowed).
# These answer at once:
SYNC_HANDLERS: dict[str, Callable[[ClientSession, Frame], None]] = {
    "CHAT": ClientSession.on_chat,
    "DISCON": ClientSession.on_discon,
    "USER": ClientSession.on_user,
    "KICK": ClientSession.on_kick,
    "PING": ClientSession.on_ping,
}
# These wait for the database or a password hash (in a worker task):
ASYNC_HANDLERS: dict[str, Callable[[ClientSession, Frame], Awaitable[None]]] = {
    "CON": ClientSession.on_con,
    "UPDATE": ClientSession.on_update,
    "REF": ClientSession.on_ref,
}


class Outcome(enum.Enum):
    """What handling one event came to."""

    DONE = "done"
    WAIT = "wait"  # not handled: it must wait, in a worker task
    END = "end"  # the connection is over


@dataclass(frozen=True)
class Closing:
    """Not from the peer: the connection ends (a deadline passed, a refusal, a broken link), after ``warning``."""

    warning: Frame | None = None


class StagedChat:
    """A message being stored; its session sends it once ``stored`` is called with its id."""

    __slots__ = ("session", "stamp", "record", "target", "done", "message_id", "error")

    def __init__(self, session: ClientSession, stamp: Stamp, record: NewMessage, target: OnlineUser | None) -> None:
        self.session = session
        self.stamp = stamp
        self.record = record
        self.target = target
        self.done = False
        self.message_id = 0
        self.error: BaseException | None = None

    def stored(self, message_id: int | None, error: BaseException | None) -> None:
        self.done = True
        self.message_id = message_id or 0
        self.error = error
        self.session._chat_stored()
