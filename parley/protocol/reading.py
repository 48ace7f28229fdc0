"""What a client concludes from the server's frames. Pure functions, no I/O.

Every Parley client (the desktop client here, the page in ``web/protocol.js``)
reads the server's frames the same way; tests/vectors/client.json holds both
to it. The rules:

* A login (CONVER) is accepted only on the content ``OK``, exactly, as the
  original client compared it. A refusal is retried automatically only by a
  client reconnecting after a drop, and only for the temporary ones: "already
  logged in" (the server may not have noticed the old connection go yet),
  too many connections from the address, too many failed logins, requests
  too fast (the address's work budget).
* A WARN names why the server is closing: after a kick or a flood disconnect
  the client never reconnects by itself; after anything else (a shutdown, a
  timeout) it may, with backoff, as after any dropped connection.
* A chat message (CHATR) is private unless ``rec`` is ``-ALL`` (an empty or
  missing ``rec`` counts as ``-ALL``); it is ours, or to us, when its sender,
  or recipient, is our nickname compared as the server compares nicknames.
  A color that is not ``#RGB``/``#RRGGBB`` is dropped (None); ``id`` and
  ``ts`` are numbers only when they are plain decimal digits (15 at most,
  exact in JavaScript too), else None.
* A user list (USER) has 0-based keys ``0``..``num-1`` and ``admin0``..;
  missing or empty entries are skipped, and a count is never trusted beyond
  the parameters the frame holds.
* A client that asked for changes (``CON ... lists=changes``) keeps its list
  with ``follow_users``: a USER frame replaces it (its parts marked ``more=1``
  gathered first) and numbers it (``v``); a USERCHANGES frame's changes apply
  in order, each once (those numbered below the list's own are in it
  already). A gap in the numbers, or a count (``num``) that differs from the
  list's length afterwards, means the list is out of step: the client asks
  for a whole one (``USER,,``) and ignores changes until it comes.
* Our own join INFO (``NICK has joined the chat!`` with our nickname as
  sender) gives the account's own spelling of the nickname.

Texts come from ``texts``: a text with ``{fields}`` matches with anything in
their place.
"""

from __future__ import annotations

import enum
import re
import string
from dataclasses import dataclass, replace
from typing import Union

from . import texts
from .frames import Frame
from .names import is_color, name_key, same_nickname

EVERYONE = "-ALL"
_NUMBER_RE = re.compile(r"[0-9]{1,15}\Z")


def template_pattern(template: str) -> re.Pattern[str]:
    """Return a regex matching ``template`` whole, each ``{field}`` captured as a named group."""
    parts: list[str] = []
    for literal, field, _spec, _conversion in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(f"(?P<{field}>.*)")
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


# Refusals that a reconnecting client should try again later.
_TEMPORARY_REFUSALS = tuple(
    template_pattern(text)
    for text in (texts.ALREADY_LOGGED_IN, texts.TOO_MANY_CONNECTIONS, texts.SERVER_FULL, texts.LOCKED_OUT, texts.TOO_FAST)
)


class WarnKind(enum.Enum):
    """Why the server sent a WARN (it closes the connection after each)."""

    KICKED = "kicked"
    FLOODING = "flooding"
    SHUTDOWN = "shutdown"
    LOGIN_TIMEOUT = "login-timeout"
    FRAME_TIMEOUT = "frame-timeout"
    OTHER = "other"


_WARN_PATTERNS = (
    (WarnKind.KICKED, template_pattern(texts.KICKED)),
    (WarnKind.FLOODING, template_pattern(texts.FLOOD_DISCONNECT)),
    (WarnKind.SHUTDOWN, template_pattern(texts.SHUTTING_DOWN)),
    (WarnKind.LOGIN_TIMEOUT, template_pattern(texts.LOGIN_TIMEOUT)),
    (WarnKind.FRAME_TIMEOUT, template_pattern(texts.FRAME_TIMEOUT)),
)
_FINAL_WARNINGS = frozenset({WarnKind.KICKED, WarnKind.FLOODING})
_JOINED = template_pattern(texts.JOINED)


@dataclass(frozen=True)
class LoginAccepted:
    """CONVER OK: ``role`` is admin, member or guest (None from a server without roles)."""

    role: str | None


@dataclass(frozen=True)
class LoginRefused:
    """CONVER with an error: the text as sent, and whether to try again on a reconnect."""

    text: str
    retry: bool


Login = Union[LoginAccepted, LoginRefused]


@dataclass(frozen=True)
class Warn:
    """A WARN: why the server closes, and the kick's reason (None for other kinds)."""

    kind: WarnKind
    text: str
    reason: str | None = None

    @property
    def may_reconnect(self) -> bool:
        """Return False after a kick or a flood disconnect: the client must stay out."""
        return self.kind not in _FINAL_WARNINGS


@dataclass(frozen=True)
class ChatMessage:
    """A CHATR as a client shows it; ``mine`` and ``to_me`` need our nickname."""

    sender: str
    rec: str
    color: str | None
    text: str
    time: str = ""
    id: int | None = None
    mine: bool = False
    to_me: bool = False
    ts: int | None = None

    @property
    def private(self) -> bool:
        """Return True when the message went to one user, not everyone."""
        return self.rec != EVERYONE


@dataclass(frozen=True)
class UserList:
    """A USER frame: online nicknames in join order, then admin accounts."""

    online: tuple[str, ...]
    admins: tuple[str, ...]


@dataclass(frozen=True)
class UpdateResult:
    """The answer to an UPDATE: ``ok``, and the server's text as sent."""

    ok: bool
    text: str


def is_temporary_refusal(text: str) -> bool:
    """Return True for a login refusal that may pass on a later try."""
    return any(pattern.match(text) for pattern in _TEMPORARY_REFUSALS)


def read_login(frame: Frame, reconnecting: bool) -> Login:
    """Return the outcome of a CONVER; ``reconnecting``: we were logged in before a drop."""
    if frame.content == texts.OK:
        return LoginAccepted(frame.get("role"))
    return LoginRefused(frame.content, reconnecting and is_temporary_refusal(frame.content))


def read_warn(frame: Frame) -> Warn:
    """Return what a WARN means."""
    for kind, pattern in _WARN_PATTERNS:
        found = pattern.match(frame.content)
        if found:
            return Warn(kind, frame.content, found.groupdict().get("reason"))
    return Warn(WarnKind.OTHER, frame.content)


def number(text: str | None) -> int | None:
    """Return ``text`` as a number when it is 1 to 15 decimal digits, else None."""
    return int(text) if text is not None and _NUMBER_RE.match(text) else None


def read_chat(frame: Frame, own_nickname: str) -> ChatMessage:
    """Return a CHATR as a message; ``own_nickname`` decides ``mine`` and ``to_me``."""
    sender = frame.get("sender") or ""
    rec = frame.get("rec") or EVERYONE
    color = frame.get("color") or ""
    return ChatMessage(
        sender=sender,
        rec=rec,
        color=color if is_color(color) else None,
        text=frame.content,
        time=frame.get("time") or "",
        id=number(frame.get("id")),
        mine=same_nickname(sender, own_nickname),
        to_me=rec != EVERYONE and same_nickname(rec, own_nickname),
        ts=number(frame.get("ts")),
    )


def read_users(frame: Frame) -> UserList:
    """Return the online users and admin accounts of a USER frame."""
    params = frame.params

    def listed(count: str | None, prefix: str) -> tuple[str, ...]:
        # A count larger than the frame could hold is a lie: never loop on it.
        total = min(number(count) or 0, len(params))
        names = (params.get(f"{prefix}{i}") for i in range(total))
        return tuple(name for name in names if name)

    return UserList(listed(params.get("num"), ""), listed(params.get("admin"), "admin"))


@dataclass(frozen=True)
class UserListState:
    """A client's user list, followed through USER and USERCHANGES frames (``follow_users``).

    ``serial``: the number of the next change it expects (None: it has no
    numbered list, and ignores changes); ``resync``: it is out of step and
    should send ``USER,,`` now; ``parts``: a whole list still being gathered.
    """

    online: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()
    serial: int | None = None
    resync: bool = False
    parts: UserList | None = None


def follow_users(state: UserListState, frame: Frame) -> UserListState:
    """Return the list after a USER or USERCHANGES frame (any other frame leaves it as it is)."""
    if frame.reason == "USER":
        part = read_users(frame)
        if state.parts is not None:
            part = UserList(state.parts.online + part.online, state.parts.admins + part.admins)
        if frame.get("more") == "1":
            return replace(state, parts=part, resync=False)
        return UserListState(part.online, part.admins, number(frame.get("v")))
    if frame.reason != "USERCHANGES" or state.serial is None or state.parts is not None:
        return replace(state, resync=False)
    params = frame.params
    first = number(params.get("v"))
    if first is None or first > state.serial:
        return replace(state, serial=None, resync=True)  # changes were missed
    online = list(state.online)
    count = min(number(params.get("changes")) or 0, len(params))
    for i in range(max(0, state.serial - first), count):
        joined, left = params.get(f"join{i}"), params.get(f"leave{i}")
        old, new = params.get(f"rename{i}"), params.get(f"to{i}")
        if joined:
            _user_joined(online, joined)
        elif left:
            _user_left(online, left)
        elif old and new:
            _user_renamed(online, old, new)
    admins = state.admins
    if "admin" in params:
        admins = read_users(frame).admins
    if number(params.get("num")) != len(online):
        return UserListState(tuple(online), admins, None, resync=True)
    return UserListState(tuple(online), admins, max(state.serial, first + count))


def _index(online: list[str], nickname: str) -> int:
    key = name_key(nickname)
    return next((i for i, name in enumerate(online) if name_key(name) == key), -1)


def _user_joined(online: list[str], nickname: str) -> None:
    if _index(online, nickname) < 0:
        online.append(nickname)


def _user_left(online: list[str], nickname: str) -> None:
    at = _index(online, nickname)
    if at >= 0:
        del online[at]


def _user_renamed(online: list[str], old: str, new: str) -> None:
    at = _index(online, old)
    if at < 0:
        _user_joined(online, new)
        return
    key = name_key(new)
    for i in reversed(range(len(online))):
        if i != at and name_key(online[i]) == key:  # never listed twice
            del online[i]
            at -= i < at
    online[at] = new


def own_join(frame: Frame, own_nickname: str) -> str | None:
    """Return our nickname as the server spells it if this INFO is our own join, else None.

    A registered nickname logs in under "the account's own spelling".
    """
    sender = frame.get("sender") or ""
    joined = _JOINED.match(frame.content)
    if joined and joined["nick"] == sender and sender and same_nickname(sender, own_nickname):
        return sender
    return None


def read_update(frame: Frame) -> UpdateResult | None:
    """Return the answer of a ``CONFIRM,...;reason=UPDATE``, or None for another CONFIRM."""
    if frame.get("reason") != "UPDATE":
        return None
    return UpdateResult(frame.content == texts.OK, frame.content)
