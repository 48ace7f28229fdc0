"""One connection's state in the chat core, and the table of what each phase allows. No I/O.

Rule 1: a new connection is AWAITING_LOGIN; a successful CON makes it
CHATTING. DISCON, a kick, a deadline, a fatal error or the peer leaving make
it ENDING: nothing more is handled, and the messages it sent that are still
being stored go out; then it leaves (the others are told) and is CLOSED.
``Connection.move_to`` is the only place the phase changes.

Rule 2: a reason not allowed in a phase is answered, as the original did,
with ``CONVER ... Error: Unknown connection attempt...`` before login and
with ``ERR ... Error: Unknown reason: X.`` after it (a second CON included).
PING (a Parley extension) and DISCON are allowed before login too.

Rule 3: a connection's frames are handled one at a time, in order. One that
needs a request answered (a database lookup, a password hash, a claim on a
nickname) holds up those after it until the answer comes. A CHAT is stored
at once; anything else waits until the messages the connection sent before
it have gone out, so that answers keep the order of the frames that caused
them.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from typing import Any, Generator, Union

from parley.net.proxy import ProxyHeaderReader
from parley.protocol import texts
from parley.protocol.framing import (
    FrameDecoder,
    FrameReceived,
    FrameRejected,
    StreamEnded,
)

from ..limits import Budget, TokenBucket
from ..records import Account
from .presence import OnlineUser, SessionKind


class Phase(enum.Enum):
    AWAITING_LOGIN = "awaiting login"
    CHATTING = "chatting"
    ENDING = "ending"  # handles nothing more; its stored messages still go out
    CLOSED = "closed"


ALLOWED: dict[Phase, frozenset[str]] = {
    Phase.AWAITING_LOGIN: frozenset({"CON", "PING", "DISCON"}),
    Phase.CHATTING: frozenset({"CHAT", "UPDATE", "DISCON", "REF", "USER", "KICK", "PING"}),
    Phase.ENDING: frozenset(),
    Phase.CLOSED: frozenset(),
}
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.AWAITING_LOGIN: frozenset({Phase.CHATTING, Phase.ENDING}),
    Phase.CHATTING: frozenset({Phase.ENDING}),
    Phase.ENDING: frozenset({Phase.CLOSED}),
    Phase.CLOSED: frozenset(),
}
LIVE = (Phase.AWAITING_LOGIN, Phase.CHATTING)
# What a chatting client that knows rooms (CON rooms=1) may send besides; to others they are unknown reasons.
ROOM_REASONS = frozenset({"CREATE", "JOIN", "PART", "TOPIC", "INVITE", "REMOVE", "OP", "ROOMS", "MEMBERS", "HISTORY",
                          "READ", "BAN", "UNBAN", "BANS", "MUTE", "UNMUTE", "EDIT", "DELETE", "REPORT", "REPORTS",
                          "RESOLVE", "ACCOUNTS", "AUDIT", "SEARCH", "UPLOAD"})


def is_allowed(phase: Phase, reason: str, rooms: bool = False) -> bool:
    """True when ``reason`` may be handled in ``phase`` (by a client that knows rooms, if ``rooms``)."""
    return reason in ALLOWED[phase] or (rooms and phase is Phase.CHATTING and reason in ROOM_REASONS)


@dataclass(frozen=True, slots=True)
class DeadlineCheck:
    """In the inbox: the connection's timer went off; see which deadline passed when its turn comes."""


@dataclass(frozen=True, slots=True)
class Closing:
    """In the inbox: the connection broke; it ends when its turn comes."""


Input = Union[FrameReceived, FrameRejected, StreamEnded, DeadlineCheck, Closing]
Task = Generator[Any, Any, None]  # a handler waiting for its request's answer


class Deadline(enum.Enum):
    LOGIN = "login"
    GRACE = "grace"  # is this a client of the original program?
    FRAME = "frame"


class Connection:
    """What the core knows of one connection. Slots: a thousand idle ones should cost little."""

    __slots__ = (
        "id", "host", "peer", "phase", "proxy", "decoder", "input_open", "inbox", "inbox_bytes", "task",
        "unsent", "reading", "timer_at", "nickname", "color", "account", "guest_ident", "online", "leave_text",
        "login_deadline", "frame_started", "admitted", "admins_only", "chat_bucket", "strikes", "budget",
        "list_changes", "rooms", "token_hash", "token_stored",
    )

    def __init__(self, conn: int, host: str, port: int, *, max_frame: int, login_deadline: float,
                 chat_bucket: TokenBucket, strikes: TokenBucket, budget: Budget) -> None:
        self.id = conn
        self.host = host
        self.peer = f"{host}:{port}"  # for the log
        self.phase = Phase.AWAITING_LOGIN
        self.proxy: ProxyHeaderReader | None = None  # set while a PROXY header may come
        self.decoder = FrameDecoder(max_frame)
        self.input_open = True  # more bytes may come
        # Lists, not deques: an empty deque costs 760 bytes, a list 56, and idle connections are many.
        self.inbox: list[Input] = []  # received, not handled yet
        self.inbox_bytes = 0  # bytes received while the inbox was not empty
        self.task: Task | None = None
        # Answers waiting behind messages being stored: each StagedChat goes out
        # once committed, then the frames after it, in order.
        self.unsent: list[Any] = []
        self.reading = True
        self.timer_at: float | None = None  # when the adapter's timer fires
        self.nickname = ""
        self.color = "#FFFFFF"
        self.account: Account | None = None
        self.guest_ident = f"g:{secrets.token_hex(8)}"
        self.online = False  # holds its nickname in the hub
        self.leave_text: str | None = texts.DISCONNECTED_INFO  # None: someone else announces the leave
        self.login_deadline = login_deadline
        self.frame_started = 0.0  # when the first byte of the frame being received came
        self.admitted = False  # counted against its address's connections
        self.admins_only = False  # in the admins' reserve of connections: only an admin may log in
        self.chat_bucket = chat_bucket
        self.strikes = strikes  # refusals (of any frame) before it is cut off for flooding
        self.budget = budget  # its work, and its address's (admission.py)
        self.list_changes = False  # sent USERCHANGES, not whole lists (CON lists=changes)
        self.rooms = False  # knows rooms and conversations (CON rooms=1)
        self.token_hash: str | None = None  # its resume token's hash: it may be resumed within the grace
        self.token_stored = False  # that token is in the database (remember=1), not only in memory

    def move_to(self, phase: Phase) -> None:
        """Change phase (the one place it changes). Raises ValueError for a move the table does not allow."""
        if phase not in TRANSITIONS[self.phase]:
            raise ValueError(f"connection {self.id}: {self.phase.value} cannot become {phase.value}")
        self.phase = phase

    @property
    def live(self) -> bool:
        """Frames are still handled."""
        return self.phase in LIVE

    @property
    def ident(self) -> str:
        return self.account.ident if self.account else self.guest_ident

    @property
    def role(self) -> str:
        return self.account.role if self.account else "guest"

    @property
    def is_admin(self) -> bool:
        return self.account is not None and self.account.is_admin

    @property
    def who(self) -> str:
        """The nickname for the log, or ``-`` before login."""
        return self.nickname or "-"

    def online_user(self) -> OnlineUser:
        return OnlineUser(self.nickname, self.ident, self.is_admin)

    def session_kind(self) -> SessionKind:
        return SessionKind(self.list_changes, self.rooms)

    @property
    def idents(self) -> tuple[str, ...]:
        """Every ident whose private messages are this user's (an account's, and its guest one before it registered)."""
        return tuple(sorted({self.ident, self.guest_ident}))

    def next_deadline(self, login_timeout: float, grace: float, frame_timeout: float) -> tuple[float, Deadline] | None:
        """The earliest deadline that applies now, and which it is; None if none."""
        best: tuple[float, Deadline] | None = None
        if self.phase is Phase.AWAITING_LOGIN and login_timeout > 0:
            best = (self.login_deadline, Deadline.LOGIN)
        if self.decoder.awaiting_grace:
            due = (self.frame_started + grace, Deadline.GRACE)
        elif self.decoder.buffered and frame_timeout > 0:
            due = (self.frame_started + frame_timeout, Deadline.FRAME)
        else:
            return best
        return due if best is None or due[0] < best[0] else best
