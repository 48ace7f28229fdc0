"""One client connection: reads frames, runs the handler for each, answers.

The session is a thin adapter between a socket and the codec (framing.py)
and the chat rules. Every client frame gets a response; a remote protocol
error becomes an ERR or CONVER frame and never an exception text.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable, cast

from . import names
from .hub import OnlineUser
from .passwords import hash_password, verify_password
from .protocol import Frame, messages, texts
from .protocol.framing import (
    FrameDecoder,
    FrameReceived,
    FrameRejected,
    Mode,
    StreamEnded,
    encode_frame,
)
from .protocol.messages import Stamp
from .protocol.session import State, is_allowed
from .proxy import MAX_LINE, SIGNATURE, ProxyHeaderError, parse_proxy_line
from .limits import TokenBucket
from .outbox import Outbox
from .store import AccountExists, Account, NewMessage

if TYPE_CHECKING:
    from .app import ChatServer

log = logging.getLogger("parley.server")
MAX_UNHANDLED = 256 * 1024  # received bytes queued before reading pauses
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
        "_admitted", "_chat_bucket", "_strikes", "_inbox", "_inbox_size", "_reading_paused", "_worker",
        "_timer", "_deadline_due", "_eof", "_lost", "_proxy_pending", "_proxy_header", "_finished",
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
        self._inbox: list[bytes] = []  # received chunks not handled yet, in order
        self._inbox_size = 0
        self._reading_paused = False
        self._worker: asyncio.Task | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline_due = False
        self._eof = False
        self._lost: Exception | None = None
        self._proxy_pending = False
        self._proxy_header = b""
        self._finished = False

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
            self._finished = True
            return
        self._proxy_pending = self.server.is_trusted_proxy(self.peer_host)
        if not self._proxy_pending and not self._admit():
            self._finish()
            return
        self._arm_timer()

    def data_received(self, data: bytes) -> None:
        if self._finished or self._eof:
            return
        self._inbox.append(data)
        self._inbox_size += len(data)
        if self._inbox_size > MAX_UNHANDLED and not self._reading_paused:
            # The worker is waiting (on the database, say): stop reading until it catches up.
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self._end_of_stream()
        # Keep the sending side open so the answers to the last frames still go
        # out (TLS cannot half-close: there the transport closes).
        return self.transport.get_extra_info("sslcontext") is None

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and not self._eof:
            self._lost = exc
        self._end_of_stream()

    def _end_of_stream(self) -> None:
        if not self._eof:
            self._eof = True
            self._wake()

    # Handling what arrived ----------------------------------------------

    def _wake(self) -> None:
        """Start the worker unless it runs (it handles whatever is queued before it stops)."""
        if self._worker is None and not self._finished:
            self._worker = asyncio.get_running_loop().create_task(self._work())

    async def _work(self) -> None:
        """Handle the queued chunks, a passed deadline, the end of the stream; then stop or finish."""
        try:
            while True:
                if self._inbox:
                    chunks, self._inbox = self._inbox, []
                    self._inbox_size = 0
                    if self._reading_paused:
                        self._reading_paused = False
                        if not self.transport.is_closing():
                            self.transport.resume_reading()
                    for data in chunks:  # one chunk at a time: a legacy frame is one read
                        if not await self._received(data):
                            return self._finish()
                    del chunks, data  # nothing of these stays alive while idle
                elif self._deadline_due:
                    self._deadline_due = False
                    if not await self._check_deadlines():
                        return self._finish()
                elif self._eof:
                    if self._lost is not None:
                        log.info("%s %s: connection lost (%s)", self.peer, self.nickname or "-", self._lost.__class__.__name__)
                    else:
                        await self._handle_events(self.decoder.receive_data(b""))
                    return self._finish()
                else:
                    self._arm_timer()
                    return None
        except (ConnectionError, OSError) as error:
            log.info("%s %s: connection lost (%s)", self.peer, self.nickname or "-", error.__class__.__name__)
            self._finish()
        except Exception:
            log.exception("%s %s: unexpected error", self.peer, self.nickname or "-")
            self._finish()
        finally:
            self._worker = None

    def _finish(self) -> None:
        """Leave the hub and close once everything queued is sent (once)."""
        if self._finished:
            return
        self._finished = True
        self._inbox = []
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            self._leave()
        finally:
            if self._admitted:
                self.server.connections.close(self.peer_host)
            self.outbox.close_when_sent()
            self.server.session_ended(self)

    async def _received(self, data: bytes) -> bool:
        """Handle one received chunk; False once the connection is over."""
        if self._proxy_pending:
            self._proxy_header += data
            data, self._proxy_pending = self._take_proxy_header(self._proxy_header)
            if not self._proxy_pending:
                self._proxy_header = b""
            if self.state is State.CLOSED or (not self._proxy_pending and not self._admit()):
                return False
            if not data:
                return True
        was_undecided = self.decoder.mode is Mode.UNDECIDED
        had_partial = self.decoder.buffered > 0
        events = self.decoder.receive_data(data)
        if was_undecided and self.decoder.mode is Mode.LEGACY:
            self.outbox.use_legacy_framing()
        if not had_partial or events:
            # A frame's clock starts with its first byte.
            self._frame_started = asyncio.get_running_loop().time()
        return await self._handle_events(events)

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
        """Have the worker woken when the next deadline passes (no timer when none applies)."""
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
        self._deadline_due = True
        self._wake()

    async def _check_deadlines(self) -> bool:
        """Act on a deadline that has passed; False once the connection is over."""
        deadline = self._next_deadline()
        if deadline is None or deadline[0] > asyncio.get_running_loop().time():
            return True  # what it waited for came in time
        kind = deadline[1]
        if kind == "grace":
            self.outbox.use_legacy_framing()
            log.info("%s: legacy client (unterminated frames)", self.peer)
            return await self._handle_events(self.decoder.grace_expired())
        if kind == "login":
            log.info("%s: no login within %gs; closing", self.peer, self.config.login_timeout)
            self.send(messages.warn(now(), texts.LOGIN_TIMEOUT.format(seconds=self.config.login_timeout)))
        else:
            log.info("%s %s: frame not completed in %gs; closing", self.peer, self.nickname or "-", self.config.frame_timeout)
            self.send(messages.warn(now(), texts.FRAME_TIMEOUT.format(seconds=self.config.frame_timeout)))
        return False

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

    async def _handle_events(self, events: list) -> bool:
        """Handle decoded events; return False once the connection is over.

        Valid CHATs in a row are stored together (one commit) and delivered in
        order once stored; anything else first waits for the CHATs before it,
        so every answer keeps the order of the frames that caused it.
        """
        staged: list[StagedChat] = []
        try:
            for event in events:
                if self.state is State.CLOSED:
                    return False
                if isinstance(event, FrameReceived):
                    chat = self._stage_chat(event.frame)
                    if chat is not None:
                        staged.append(chat)
                        continue
                    await self._deliver_chats(staged)
                    await self._dispatch(event.frame)
                elif isinstance(event, FrameRejected):
                    await self._deliver_chats(staged)
                    self._rejected(event)
                    if event.fatal:
                        return False
                elif isinstance(event, StreamEnded):
                    if event.partial:
                        log.info("%s %s: closed mid-frame (%d bytes unread)", self.peer, self.nickname or "-", event.partial)
                    else:
                        log.info("%s %s: closed by peer", self.peer, self.nickname or "-")
                    return False
        finally:
            await self._deliver_chats(staged)  # stored messages always go out
        if self.outbox.closed:
            self.state = State.CLOSED
        return self.state is not State.CLOSED

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

    async def _dispatch(self, frame: Frame) -> None:
        if not is_allowed(self.state, frame.reason):
            if self.state is State.AWAITING_LOGIN:
                self.send(messages.conver(now(), texts.UNKNOWN_CONNECTION))
            else:
                self.send(messages.err(now(), texts.UNKNOWN_REASON.format(reason=frame.reason)))
            return
        await HANDLERS[frame.reason](self, frame)

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

    async def on_chat(self, frame: Frame) -> None:
        if not self._chat_allowed():
            return
        error, target = self._chat_target(frame)
        if error is not None:
            self.send(messages.err(now(), error))
            return
        await self._deliver_chats([self._store_chat(frame, target)])

    def _stage_chat(self, frame: Frame) -> "StagedChat | None":
        """Start storing a CHAT that needs no answer of its own; None for any other frame."""
        if frame.reason != "CHAT" or self.state is not State.CHATTING:
            return None
        error, target = self._chat_target(frame)
        if error is not None or not self._chat_bucket.take(asyncio.get_running_loop().time()):
            return None  # on_chat answers it (a refused take spends nothing)
        return self._store_chat(frame, target)

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

    def _store_chat(self, frame: Frame, target: OnlineUser | None) -> "StagedChat":
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
        return StagedChat(stamp, record, target, self.server.db.submit_message(record))

    async def _deliver_chats(self, staged: "list[StagedChat]") -> None:
        """Send each stored message, in order, once its commit is done (emptying ``staged``)."""
        hub = self.server.hub
        for chat in staged:
            try:
                message_id = await chat.stored
            except Exception:
                log.exception("%s %s: storing a message failed", self.peer, self.nickname)
                self.send(messages.err(now(), texts.NOT_STORED))
                continue
            record = chat.record
            chatr = messages.chatr(chat.stamp, record.sender, record.rec, record.color, message_id, record.content)
            if chat.target is None:
                hub.broadcast(chatr)
            else:
                # As the original: the recipient first, then the sender.
                hub.send_to(chat.target.nickname, chatr)
                if chat.target.ident != self.ident:
                    self.send(chatr)
        staged.clear()

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

    async def on_discon(self, frame: Frame) -> None:
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

    async def on_user(self, frame: Frame) -> None:
        self.send(self.server.user_list_frame())

    async def on_kick(self, frame: Frame) -> None:
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
        await self.server.broadcast_user_list()

    async def on_ping(self, frame: Frame) -> None:
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
HANDLERS: dict[str, Callable[[ClientSession, Frame], Awaitable[None]]] = {
    "CON": ClientSession.on_con,
    "CHAT": ClientSession.on_chat,
    "UPDATE": ClientSession.on_update,
    "DISCON": ClientSession.on_discon,
    "REF": ClientSession.on_ref,
    "USER": ClientSession.on_user,
    "KICK": ClientSession.on_kick,
    "PING": ClientSession.on_ping,
}


@dataclass(frozen=True)
class StagedChat:
    """A CHAT being stored; it is delivered once ``stored`` gives its id."""

    stamp: Stamp
    record: NewMessage
    target: OnlineUser | None
    stored: "asyncio.Future[int]"
