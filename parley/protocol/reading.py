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
  missing ``rec`` counts as ``-ALL``) or a room (``#...``); it is ours, or to us, when its sender,
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
* Rooms and conversations (CON ``rooms=1``): a message is filed under its
  ``conversation``: ``-ALL`` (the lobby), ``#room``, or for a private
  message the other party (``rec`` if we sent it, else the sender); compare
  those with ``conversation_key``. ``lines=`` is decoded into the text (a bad
  one: the content as sent); ``old=1`` marks a HISTORY replay; content
  starting ``/me `` is an action. CONV, MEMBERS, MEMBER, ROOMS and SESSION are
  read into plain values; numbers that are not 1 to 15 plain digits count as
  0 (absent), and no count (``num``) is trusted beyond the parameters the
  frame holds.
* Moderation, editing and search (issue 14): a ban WARN (``You have been
  banned ...``) is final like a kick; a ban CONVER (``Error: You are banned
  ...``) is a refusal never retried; both give ``until=`` (epoch ms, 0: for
  good) and the reason after the first ``: `` that follows the until text.
  EDITED, DELETED, BANS, REPORTS, ACCOUNTS and AUDIT are read into plain
  values; ids and times that are not 1 to 15 plain digits count as 0, list
  entries without an id (or an account without a name) are skipped, and no
  count is trusted beyond the parameters the frame holds. A CHATR's
  ``edited=`` (0: never edited) and ``found=1`` (a SEARCH result) are read.
  A refused CHAT or EDIT with the mute text says where we are muted, until
  when and why (``read_muted``). ``search_words`` and ``highlight`` come
  from ``words.py``.
* Files (issue 15): ``read_file`` reads a message's ``file``, ``fname``,
  ``fsize``, ``ftype``, ``flink`` and ``fw``/``fh`` (None when it has no
  file or they are malformed: an id that is not a number above 0, a size or
  dimension that is not a number, a ``flink`` that is not relative: a
  scheme, a leading ``/`` or a ``..`` segment); it is an image only when
  ``fw`` and ``fh`` are both above 0. An UPLOAD grant's ``url`` and
  CONVER's ``files`` count only as absolute http(s) URLs. Sizes are shown
  with ``human_size`` (``sizes.py``). tests/vectors/files.json holds both
  clients to these.

Texts come from ``texts``: a text with ``{fields}`` matches with anything in
their place.
"""

from __future__ import annotations

import enum
import re
import string
from dataclasses import dataclass, replace
from typing import Union

from . import sizes, texts, words
from .frames import Frame, make_frame
from .lines import decode_lines, encode_lines
from .names import is_color, is_room, name_key, room_key, same_nickname

EVERYONE = "-ALL"
search_words = words.search_words  # the words of a SEARCH, as the server splits them (words.py)
highlight = words.highlight  # where they occur in a message's text
human_size = sizes.human_size  # a file's size as clients show it: 12 KB, 1.5 MB (sizes.py)
ACTION_PREFIX = "/me "  # "content starting with /me (slash, m, e, space) is an action"
_NUMBER_RE = re.compile(r"[0-9]{1,15}\Z")


def template_pattern(template: str, **fields: str) -> re.Pattern[str]:
    """Return a regex matching ``template`` whole, each ``{field}`` captured as a named group.

    A field matches anything, or the regex ``fields`` gives for it.
    """
    parts: list[str] = []
    for literal, field, _spec, _conversion in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(f"(?P<{field}>{fields.get(field, '.*')})")
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
    BANNED = "banned"
    OTHER = "other"


_WARN_PATTERNS = (
    (WarnKind.KICKED, template_pattern(texts.KICKED)),
    (WarnKind.FLOODING, template_pattern(texts.FLOOD_DISCONNECT)),
    (WarnKind.SHUTDOWN, template_pattern(texts.SHUTTING_DOWN)),
    (WarnKind.LOGIN_TIMEOUT, template_pattern(texts.LOGIN_TIMEOUT)),
    (WarnKind.FRAME_TIMEOUT, template_pattern(texts.FRAME_TIMEOUT)),
)
_FINAL_WARNINGS = frozenset({WarnKind.KICKED, WarnKind.FLOODING, WarnKind.BANNED})
_JOINED = template_pattern(texts.JOINED)
_BANNED_WARN = template_pattern(texts.BANNED_WARN)
_BANNED_LOGIN = template_pattern(texts.BANNED)
_UNTIL = template_pattern(texts.UNTIL)
_MUTED = template_pattern(texts.MUTED, room=r"#\S*")  # room names hold no spaces
_MUTED_LOBBY = template_pattern(texts.MUTED_LOBBY)


def until_reason(found: re.Match[str] | None) -> str | None:
    """Return the reason of a matched ban or mute text ('' when it gives none), or None when it is not one.

    "{until} is UNTIL or FOR_GOOD; ...: {reason} parts are left out when the
    reason is empty": the reason starts after the first ``: `` following
    the until text (``until 2026-11-25 10:00 UTC`` holds none).
    """
    if not found:
        return None
    until, _, reason = found["until"].partition(": ")
    if until != texts.FOR_GOOD and not _UNTIL.match(until):
        return None
    return reason


@dataclass(frozen=True)
class LoginAccepted:
    """CONVER OK: ``role`` is admin, member or guest (None from a server without roles).

    ``away``: private messages that arrived while the account was offline
    (``away=N``; 0 when absent).
    """

    role: str | None
    away: int = 0


@dataclass(frozen=True)
class LoginRefused:
    """CONVER with an error: the text as sent, and whether to try again on a reconnect.

    ``banned``: the refusal is a ban (never retried); then ``until_ms`` is
    when it ends (epoch ms, 0: for good) and ``reason`` its reason ('' when
    none given); both empty for any other refusal.
    """

    text: str
    retry: bool
    banned: bool = False
    until_ms: int = 0
    reason: str = ""


Login = Union[LoginAccepted, LoginRefused]


@dataclass(frozen=True)
class Warn:
    """A WARN: why the server closes, the kick's or ban's reason (None for other kinds).

    ``until_ms``: a ban's end (``until=``, epoch ms; 0: for good, or not a ban).
    """

    kind: WarnKind
    text: str
    reason: str | None = None
    until_ms: int = 0

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
    old: bool = False  # a HISTORY replay (``old=1``), not a live message
    action: bool = False  # ``/me waves``: shown as "* sender waves" (the words: ``text[4:]``)
    conversation: str = EVERYONE  # where a client files it: ``-ALL``, ``#room`` or the other party
    edited_ms: int = 0  # when its author last edited it (``edited=``, epoch ms); 0: never
    found: bool = False  # a SEARCH result (``found=1``)

    @property
    def room(self) -> bool:
        """Return True when the message went to a room (``rec`` starts with ``#``)."""
        return is_room(self.rec)

    @property
    def private(self) -> bool:
        """Return True when the message went to one user, not everyone and not a room."""
        return self.rec != EVERYONE and not self.room


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
        return LoginAccepted(frame.get("role"), number(frame.get("away")) or 0)
    reason = until_reason(_BANNED_LOGIN.match(frame.content))
    if reason is not None:  # "Not a temporary refusal (no retry)"
        return LoginRefused(frame.content, False, True, number(frame.get("until")) or 0, reason)
    return LoginRefused(frame.content, reconnecting and is_temporary_refusal(frame.content))


def read_warn(frame: Frame) -> Warn:
    """Return what a WARN means."""
    reason = until_reason(_BANNED_WARN.match(frame.content))
    if reason is not None:  # "Clients must not reconnect by themselves after the ban WARN."
        return Warn(WarnKind.BANNED, frame.content, reason, number(frame.get("until")) or 0)
    for kind, pattern in _WARN_PATTERNS:
        found = pattern.match(frame.content)
        if found:
            return Warn(kind, frame.content, found.groupdict().get("reason"))
    return Warn(WarnKind.OTHER, frame.content)


def number(text: str | None) -> int | None:
    """Return ``text`` as a number when it is 1 to 15 decimal digits, else None."""
    return int(text) if text is not None and _NUMBER_RE.match(text) else None


def read_chat(frame: Frame, own_nickname: str) -> ChatMessage:
    """Return a CHATR as a message; ``own_nickname`` decides ``mine``, ``to_me`` and ``conversation``."""
    sender = frame.get("sender") or ""
    rec = frame.get("rec") or EVERYONE
    color = frame.get("color") or ""
    mine = same_nickname(sender, own_nickname)
    return ChatMessage(
        sender=sender,
        rec=rec,
        color=color if is_color(color) else None,
        text=_text_of(frame),
        time=frame.get("time") or "",
        id=number(frame.get("id")),
        mine=mine,
        to_me=rec != EVERYONE and not is_room(rec) and same_nickname(rec, own_nickname),
        ts=number(frame.get("ts")),
        old=frame.get("old") == "1",
        action=frame.content.startswith(ACTION_PREFIX),
        conversation=rec if rec == EVERYONE or is_room(rec) or mine else sender,
        edited_ms=number(frame.get("edited")) or 0,
        found=frame.get("found") == "1",
    )


def _text_of(frame: Frame) -> str:
    """The frame's content with the spaces ``lines=`` lists made line breaks (a bad ``lines``: as sent)."""
    try:
        return decode_lines(frame.content, frame.get("lines"))
    except ValueError:
        return frame.content


def conversation_key(conversation: str) -> str:
    """Return the form under which conversations are compared: ``-ALL``, ``#`` and the room_key, or the name_key."""
    if conversation == EVERYONE:
        return EVERYONE
    if is_room(conversation):
        return "#" + room_key(conversation)
    return name_key(conversation)


def chat_frame(rec: str, text: str) -> Frame:
    """Return the CHAT that sends ``text`` to ``rec``: its line breaks as spaces listed in ``lines=``."""
    content, lines = encode_lines(text)
    params = [("rec", rec)] if lines is None else [("rec", rec), ("lines", lines)]
    return make_frame("CHAT", params, content)


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


# ---- rooms, conversations and sessions (CON rooms=1) -------------------------------------


@dataclass(frozen=True)
class Conversation:
    """A CONV frame: what a client needs to list conversation ``rec``.

    ``last``: the newest message's id (0: none); ``read``: the read marker;
    ``unread``: messages after it that are not ours; ``mentions``: how many
    of those mention us; ``topic``: a room's topic ('' otherwise); for rooms
    ``private``, ``op`` (we are an operator) and ``members`` (None when not
    given); ``gone``: we are no longer in ``rec``, drop it.
    """

    rec: str
    last: int = 0
    read: int = 0
    unread: int = 0
    mentions: int = 0
    topic: str = ""
    private: bool = False
    op: bool = False
    members: int | None = None
    gone: bool = False

    @property
    def room(self) -> bool:
        """Return True when the conversation is a room."""
        return is_room(self.rec)


def read_conv(frame: Frame) -> Conversation:
    """Return a CONV frame as a Conversation (a missing ``rec`` is the lobby's, as for CHATR)."""
    params = frame.params
    return Conversation(
        rec=params.get("rec") or EVERYONE,
        last=number(params.get("last")) or 0,
        read=number(params.get("read")) or 0,
        unread=number(params.get("unread")) or 0,
        mentions=number(params.get("mentions")) or 0,
        topic=frame.content,
        private=params.get("private") == "1",
        op=params.get("op") == "1",
        members=number(params.get("members")),
        gone=params.get("gone") == "1",
    )


@dataclass(frozen=True)
class RoomMembers:
    """A room's member list: (nickname, operator) pairs in the order they joined."""

    room: str
    members: tuple[tuple[str, bool], ...] = ()

    def is_op(self, nickname: str) -> bool:
        """Return True when ``nickname`` is listed as an operator."""
        return any(op for nick, op in self.members if same_nickname(nick, nickname))


def read_members(frame: Frame) -> RoomMembers:
    """Return a MEMBERS frame's room and members (keys ``0``.., ``op0``..; empty and repeated names skipped)."""
    params = frame.params
    total = min(number(params.get("num")) or 0, len(params))
    members: list[tuple[str, bool]] = []
    seen: set[str] = set()
    for i in range(total):
        nick = params.get(str(i))
        if nick and name_key(nick) not in seen:
            seen.add(name_key(nick))
            members.append((nick, params.get(f"op{i}") == "1"))
    return RoomMembers(params.get("room") or "", tuple(members))


def follow_members(members: RoomMembers, frame: Frame) -> RoomMembers:
    """Return the room's list after a frame: MEMBERS of the room replaces it, MEMBER changes it.

    ``change=join`` adds the user (not an operator) unless listed, ``leave``
    removes it, ``op`` and ``deop`` set its operator flag. A USERCHANGES
    frame's renames (``rename0``/``to0``..) rename in the list ("clients
    rename in every list"). Frames of another room, or any other frame,
    leave it as it is.
    """
    if frame.reason == "USERCHANGES":
        return _renamed_members(members, frame)
    if frame.reason not in ("MEMBERS", "MEMBER") or room_key(frame.get("room") or "") != room_key(members.room):
        return members
    if frame.reason == "MEMBERS":
        return read_members(frame)
    user, change = frame.get("user") or "", frame.get("change")
    listed = [nick for nick, _ in members.members]
    at = next((i for i, nick in enumerate(listed) if same_nickname(nick, user)), -1)
    after = list(members.members)
    if change == "join" and at < 0 and user:
        after.append((user, False))
    elif change == "leave" and at >= 0:
        del after[at]
    elif change in ("op", "deop") and at >= 0:
        after[at] = (after[at][0], change == "op")
    return replace(members, members=tuple(after))


def _renamed_members(members: RoomMembers, frame: Frame) -> RoomMembers:
    params = frame.params
    after = list(members.members)
    for i in range(min(number(params.get("changes")) or 0, len(params))):
        old, new = params.get(f"rename{i}"), params.get(f"to{i}")
        if not old or not new:
            continue
        at = next((j for j, (nick, _) in enumerate(after) if same_nickname(nick, old)), -1)
        if at >= 0:
            after[at] = (new, after[at][1])
    return replace(members, members=tuple(after))


@dataclass(frozen=True)
class RoomSummary:
    """One public room of a ROOMS frame."""

    name: str
    members: int = 0
    topic: str = ""


def read_rooms(frame: Frame) -> tuple[RoomSummary, ...]:
    """Return a ROOMS frame's public rooms, in its order (keys ``0``.., ``members0``.., ``topic0``..).

    Entries whose name is empty or not a room (no ``#``) are skipped.
    """
    params = frame.params
    total = min(number(params.get("num")) or 0, len(params))
    rooms: list[RoomSummary] = []
    for i in range(total):
        name = params.get(str(i)) or ""
        if is_room(name):
            rooms.append(RoomSummary(name, number(params.get(f"members{i}")) or 0, params.get(f"topic{i}") or ""))
    return tuple(rooms)


@dataclass(frozen=True)
class SessionToken:
    """A SESSION frame: the resume token, and when it expires (epoch ms; 0: only within the grace)."""

    token: str
    expires: int = 0

    @property
    def remembered(self) -> bool:
        """Return True when the token outlives the connection's grace (``remember=1`` was granted)."""
        return self.expires > 0


def read_session(frame: Frame) -> SessionToken | None:
    """Return a SESSION frame's token, or None when it holds none."""
    token = frame.get("token")
    return SessionToken(token, number(frame.get("expires")) or 0) if token else None


@dataclass(frozen=True)
class Notice:
    """An INFO: where it belongs (``rec``: ``-ALL`` for the lobby, or ``#room``), its text and who and when."""

    rec: str
    text: str
    sender: str = ""
    ts: int | None = None
    time: str = ""

    @property
    def room(self) -> bool:
        """Return True when the event belongs to a room."""
        return is_room(self.rec)


def read_info(frame: Frame) -> Notice:
    """Return an INFO as a Notice ("INFO without rec is the lobby's")."""
    return Notice(frame.get("rec") or EVERYONE, frame.content, frame.get("sender") or "",
                  number(frame.get("ts")), frame.get("time") or "")


@dataclass(frozen=True)
class Answer:
    """A CONFIRM: the request it answers (``reason``), ``ok`` (content ``OK``) and the text as sent.

    ``room``, ``rec`` and ``user`` as the CONFIRM gives them (None when
    absent); a HISTORY or SEARCH answer's ``count`` (None when absent) and
    ``more`` (more messages exist); the ``id`` (EDIT, DELETE, REPORT),
    ``ban`` (BAN, MUTE, UNBAN) and ``report`` (RESOLVE) the answer is about
    (None when absent or not plain digits).
    """

    reason: str
    ok: bool
    text: str
    room: str | None = None
    rec: str | None = None
    user: str | None = None
    count: int | None = None
    more: bool = False
    id: int | None = None
    ban: int | None = None
    report: int | None = None


def read_answer(frame: Frame) -> Answer:
    """Return a CONFIRM as an Answer (CREATE, JOIN, PART, TOPIC, INVITE, REMOVE, OP, HISTORY, ... alike)."""
    params = frame.params
    return Answer(params.get("reason") or "", frame.content == texts.OK, frame.content, params.get("room"),
                  params.get("rec"), params.get("user"), number(params.get("count")), params.get("more") == "1",
                  number(params.get("id")), number(params.get("ban")), number(params.get("report")))


# ---- moderation, editing and search (CON rooms=1) ---------------------------------------


@dataclass(frozen=True)
class Edit:
    """An EDITED frame: message ``id`` (0: not a number) of ``rec`` by ``sender`` now reads ``text``.

    ``text`` has the line breaks ``lines=`` lists (a bad ``lines``: the
    content as sent); ``edited_ms``: when (epoch ms; 0 when not a number).
    """

    id: int
    rec: str
    sender: str
    edited_ms: int
    text: str


def read_edited(frame: Frame) -> Edit:
    """Return an EDITED frame as an Edit (a missing ``rec`` is the lobby's, as for CHATR)."""
    return Edit(number(frame.get("id")) or 0, frame.get("rec") or EVERYONE, frame.get("sender") or "",
                number(frame.get("edited")) or 0, _text_of(frame))


@dataclass(frozen=True)
class Deletion:
    """A DELETED frame: message ``id`` (0: not a number) of ``rec`` is gone."""

    id: int
    rec: str


def read_deleted(frame: Frame) -> Deletion:
    """Return a DELETED frame as a Deletion."""
    return Deletion(number(frame.get("id")) or 0, frame.get("rec") or EVERYONE)


def _entries(frame: Frame, keys: tuple[str, ...]) -> list[dict[str, str]]:
    """The entries of a list frame: for i below ``num``, each key's ``KEYi`` ('' when absent).

    A count larger than the frame could hold is a lie: never loop on it.
    """
    params = frame.params
    total = min(number(params.get("num")) or 0, len(params))
    return [{key: params.get(f"{key}{i}") or "" for key in keys} for i in range(total)]


def _number0(text: str) -> int:
    return number(text) or 0


@dataclass(frozen=True)
class BanEntry:
    """One ban or mute of a BANS frame. ``kind``: user, address, room or mute; ``until_ms`` 0: for good."""

    id: int
    kind: str
    target: str
    until_ms: int
    by: str
    at_ms: int
    reason: str


@dataclass(frozen=True)
class BanList:
    """A BANS frame: the room it lists (``''``: the server's bans and lobby mutes), newest first."""

    room: str
    entries: tuple[BanEntry, ...] = ()


def read_bans(frame: Frame) -> BanList:
    """Return a BANS frame's list (``id0``, ``kind0``, ``target0``, ``until0``, ``by0``, ``at0``, ``reason0``, ...)."""
    entries = (BanEntry(_number0(e["id"]), e["kind"], e["target"], _number0(e["until"]), e["by"],
                        _number0(e["at"]), e["reason"])
               for e in _entries(frame, ("id", "kind", "target", "until", "by", "at", "reason")))
    return BanList(frame.get("room") or "", tuple(entry for entry in entries if entry.id))


@dataclass(frozen=True)
class ReportEntry:
    """One open report: ``by`` reported message ``msg`` of ``sender`` in ``rec``; ``text``: its start ('' once deleted)."""

    id: int
    at_ms: int
    by: str
    msg: int
    sender: str
    rec: str
    reason: str
    text: str


@dataclass(frozen=True)
class Reports:
    """A REPORTS frame: open reports newest first; ``new``: it holds one just made (``new=1``)."""

    new: bool
    entries: tuple[ReportEntry, ...] = ()


def read_reports(frame: Frame) -> Reports:
    """Return a REPORTS frame's reports (``id0``, ``at0``, ``by0``, ``msg0``, ``sender0``, ``rec0``, ``reason0``, ``text0``, ...)."""
    entries = (ReportEntry(_number0(e["id"]), _number0(e["at"]), e["by"], _number0(e["msg"]), e["sender"],
                           e["rec"], e["reason"], e["text"])
               for e in _entries(frame, ("id", "at", "by", "msg", "sender", "rec", "reason", "text")))
    return Reports(frame.get("new") == "1", tuple(entry for entry in entries if entry.id))


@dataclass(frozen=True)
class AccountEntry:
    """One account of an ACCOUNTS frame: ``role`` admin or member (anything else reads as member)."""

    name: str
    role: str
    created_ms: int


def read_accounts(frame: Frame) -> tuple[AccountEntry, ...]:
    """Return an ACCOUNTS frame's accounts, in its order (keys ``0``.., ``role0``.., ``created0``..; no name: skipped)."""
    entries = _entries(frame, ("", "role", "created"))
    return tuple(AccountEntry(e[""], "admin" if e["role"] == "admin" else "member", _number0(e["created"]))
                 for e in entries if e[""])


@dataclass(frozen=True)
class AuditRow:
    """One row of the audit log: ``actor`` did ``action`` to ``target`` (in ``room``: ``#R``, ``-ALL`` or '')."""

    id: int
    at_ms: int
    actor: str
    action: str
    target: str
    room: str
    reason: str
    detail: str


@dataclass(frozen=True)
class AuditPage:
    """An AUDIT frame: rows newest first; ``more``: older rows exist (ask with ``before=`` the last id)."""

    more: bool
    entries: tuple[AuditRow, ...] = ()


def read_audit(frame: Frame) -> AuditPage:
    """Return an AUDIT frame's rows (``id0``, ``at0``, ``actor0``, ``action0``, ``target0``, ``room0``, ``reason0``, ``detail0``, ...)."""
    entries = (AuditRow(_number0(e["id"]), _number0(e["at"]), e["actor"], e["action"], e["target"], e["room"],
                        e["reason"], e["detail"])
               for e in _entries(frame, ("id", "at", "actor", "action", "target", "room", "reason", "detail")))
    return AuditPage(frame.get("more") == "1", tuple(entry for entry in entries if entry.id))


@dataclass(frozen=True)
class Muted:
    """We are muted in ``room`` (``#R``, or ``-ALL``: the lobby) until ``until_ms`` (epoch ms; 0: for good)."""

    room: str
    until_ms: int
    reason: str


def read_muted(frame: Frame) -> Muted | None:
    """Return what a refused CHAT or EDIT says of our mute (an ERR or CONFIRM with the mute text), else None.

    "While muted, NICK's CHAT and EDIT in R get ERR,time=...;until=MS,Error:
    You are muted in #R {until}: REASON (lobby: Error: You are muted {until}: REASON)".
    """
    if frame.reason not in ("ERR", "CONFIRM"):
        return None
    until = number(frame.get("until")) or 0
    found = _MUTED.match(frame.content)
    reason = until_reason(found)
    if found and reason is not None:
        return Muted(found["room"], until, reason)
    reason = until_reason(_MUTED_LOBBY.match(frame.content))
    return None if reason is None else Muted(EVERYONE, until, reason)


def edit_frame(message_id: int, text: str) -> Frame:
    """Return the EDIT that makes message ``message_id`` read ``text``: its line breaks as spaces listed in ``lines=``."""
    content, lines = encode_lines(text)
    params = [("id", str(message_id))] if lines is None else [("id", str(message_id)), ("lines", lines)]
    return make_frame("EDIT", params, content)


def search_frame(query: str, rec: str | None = None, before: int | None = None, limit: int | None = None) -> Frame:
    """Return the SEARCH for ``query`` (line breaks sent as spaces: they separate words anyway).

    ``rec``: that conversation only (None: everywhere the user reads);
    ``before``: results with ids below it (the next page); ``limit``: how
    many (None: the server's default).
    """
    params = [("rec", rec)] if rec is not None else []
    if before is not None:
        params.append(("before", str(before)))
    if limit is not None:
        params.append(("limit", str(limit)))
    return make_frame("SEARCH", params, encode_lines(query)[0])


# ---- files (issue 15, CON rooms=1) -------------------------------------------------------

# "flink is file_link(...), relative to the page's base path": a relative
# reference with no scheme (RFC 3986 path-noscheme: no ":" before the first
# "/"), no leading "/" (nor "\", which browsers read as "/"), and nothing a
# URL parser would strip or reinterpret (spaces, controls, raw non-ASCII,
# "?" or "#"). A ".." segment (also spelled %2e%2e) is refused below.
_NOSCHEME = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=@]|%[0-9A-Fa-f]{2})"
_PCHAR = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})"
_LINK_RE = re.compile(rf"{_NOSCHEME}+(?:/{_PCHAR}*)*\Z")
# An absolute http(s) URL without user info, query or fragment, controls or spaces:
# the UPLOAD's url= and CONVER's files=, which a client puts a path after.
_BASE_URL_RE = re.compile(r"[Hh][Tt][Tt][Pp][Ss]?://[^\x00-\x20\x7f-\x9f/?#\\@]+(?:/[^\x00-\x20\x7f-\x9f?#\\]*)?\Z")
_CONTROLS_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode's Cc
DEFAULT_FILE_TYPE = "application/octet-stream"
THUMB_QUERY = "?thumb=1"  # "thumbnail at flink?thumb=1"


@dataclass(frozen=True)
class FileInfo:
    """The file of a file message (a CHATR, history, search result or EDITED with ``file=``).

    ``id``: the file's number; ``name`` as the server kept it; ``size`` in
    bytes; ``type``: its MIME type as sniffed; ``link``: its path relative
    to the page's base path (the desktop puts the files base URL before
    it); ``width`` and ``height``: an image's size in pixels, both 0 when it
    is not shown inline.
    """

    id: int
    name: str
    size: int
    type: str
    link: str
    width: int = 0
    height: int = 0

    @property
    def is_image(self) -> bool:
        """Return True for an image shown inline (its thumbnail at ``thumb_link``)."""
        return self.width > 0

    @property
    def thumb_link(self) -> str | None:
        """Return the thumbnail's path (``flink?thumb=1``), or None when the file is not an image."""
        return self.link + THUMB_QUERY if self.is_image else None


@dataclass(frozen=True)
class UploadGrant:
    """An UPLOAD granted: where to POST the file's bytes and the ticket for it.

    ``url``: the absolute upload URL, or '' when the server knows none (the
    page then uses ``files/upload`` relative to itself); the POST goes to
    it with ``?ticket=`` and the ticket URL-quoted. A grant without a ticket
    (``ticket == ''``) is not one: the upload would be refused.
    """

    rec: str
    name: str
    size: int
    ticket: str
    url: str


def is_file_link(link: str) -> bool:
    """Return True when ``link`` is a path relative to the page: no scheme, no leading ``/``, no ``..`` segment."""
    if not _LINK_RE.match(link):
        return False
    return all(segment.lower().replace("%2e", ".") != ".." for segment in link.split("/"))


def _base_url(url: str | None) -> str:
    """``url`` when it is an absolute http(s) URL with no query, fragment or user info, else ''."""
    return url if url and _BASE_URL_RE.match(url) else ""


def read_file(frame: Frame) -> FileInfo | None:
    """Return the file a message carries, or None when it carries none or its file params are malformed.

    Malformed (the message is then shown as its legacy line): ``file`` not
    a number above 0, ``fsize`` not a number, ``flink`` not relative, or
    ``fw``/``fh`` present but not numbers. ``fw``/``fh`` make an image only
    when both are above 0.
    """
    file_id, size, link = number(frame.get("file")), number(frame.get("fsize")), frame.get("flink") or ""
    if not file_id or size is None or not is_file_link(link):
        return None
    width, height = _dimension(frame.get("fw")), _dimension(frame.get("fh"))
    if width is None or height is None:
        return None
    if not (width and height):
        width = height = 0
    return FileInfo(file_id, frame.get("fname") or "file", size, frame.get("ftype") or DEFAULT_FILE_TYPE, link, width, height)


def _dimension(text: str | None) -> int | None:
    """An image's ``fw`` or ``fh``: 0 when absent, None when not a number."""
    return 0 if text is None else number(text)


def read_upload(frame: Frame) -> UploadGrant:
    """Return a granted UPLOAD (``rec``, ``name``, ``size``, ``ticket``, ``url``).

    A missing ``rec`` is the lobby's (as for CHATR); a ``size`` that is not
    a number reads 0; a ``url`` that is not an absolute http(s) URL reads ''.
    """
    return UploadGrant(frame.get("rec") or EVERYONE, frame.get("name") or "", number(frame.get("size")) or 0,
                       frame.get("ticket") or "", _base_url(frame.get("url")))


def upload_frame(rec: str, name: str, size: int) -> Frame:
    """Return the UPLOAD asking to send file ``name`` of ``size`` bytes to ``rec``.

    Control characters are left out of the name (a line break could not
    be sent; the server keeps only a safe name anyway). A size of 0 is sent
    as it is: the server answers that the file is empty. Raises ValueError
    for a negative size.
    """
    if size < 0:
        raise ValueError(f"a file's size is never negative: {size}")
    return make_frame("UPLOAD", [("rec", rec), ("name", _CONTROLS_RE.sub("", name)), ("size", str(size))])


def file_chat_frame(rec: str, receipt: str) -> Frame:
    """Return the CHAT that posts an uploaded file to ``rec`` with the upload's ``receipt``."""
    return make_frame("CHAT", [("rec", rec), ("file", receipt)])


def read_files_base(frame: Frame) -> str:
    """Return the files base URL a CONVER gives (``files=``), ending with ``/``; '' when it gives none.

    The desktop puts it before a file's ``link``. A value that is not an
    absolute http(s) URL (no query, fragment or user info) counts as none.
    """
    base = _base_url(frame.get("files"))
    return base if not base or base.endswith("/") else base + "/"
