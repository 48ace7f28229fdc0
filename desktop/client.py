"""The desktop client's protocol logic, with no I/O, no threads and no Tk.

Frames in, events out; calls in, frames out (the codec is parley.protocol).
`Session` is one login's state machine, kept across reconnects:

    OFFLINE --connection_made()--> LOGGING_IN --CONVER OK--> CHATTING
    LOGGING_IN --CONVER Error--> LOGGING_IN (the adapter decides: retry or give up)
    any --connection_lost()--> OFFLINE

Rules (PROTOCOL.md):
* CHAT, UPDATE, REF, KICK and DISCON are sent only while CHATTING; building
  one in another state raises LocalProtocolError.
* The server answers UPDATEs in order, so pending UPDATEs are a FIFO and a
  change (a new nickname, color, password) is applied only on its
  ``CONFIRM,...;reason=UPDATE,OK``.
* What a server frame means (a login's outcome and whether to retry it, a
  WARN and whether to reconnect after it, a chat message, a user list, our
  own join) is read by parley.protocol.reading, the readers the web page
  mirrors (tests/vectors/client.json holds both to them). After a kick or a
  flood disconnect, or after our own DISCON, the session never reconnects.

`History` orders chat messages by their server ``id`` and drops duplicates
("Clients de-duplicate by id"), so a REF after a reconnect fills gaps only.
"""

from __future__ import annotations

import bisect
import enum
from dataclasses import dataclass, field, fields, replace
from typing import Callable, Union

from parley.protocol import Frame, LocalProtocolError, make_frame, texts
from parley.protocol.names import (
    is_color as is_color,  # re-exported: the window checks colors with it
)
from parley.protocol.names import nickname_error, same_nickname
from parley.protocol.reading import EVERYONE as EVERYONE
from parley.protocol.reading import (
    BanList,
    FileInfo,
    LoginAccepted,
    UserListState,
    chat_frame,
    conversation_key,
    edit_frame,
    file_chat_frame,
    follow_members,
    follow_users,
    number,
    own_join,
    read_answer,
    read_bans,
    read_chat,
    read_conv,
    read_deleted,
    read_edited,
    read_file,
    read_files_base,
    read_info,
    read_login,
    read_members,
    read_muted,
    read_rooms,
    read_session,
    read_update,
    read_upload,
    read_warn,
    search_frame,
    template_pattern,
    until_reason,
    upload_frame,
)
from parley.protocol.reading import (
    ChatMessage as ChatMessage,  # the shared readers' values are our events
)
from parley.protocol.reading import (
    Conversation as Conversation,  # a CONV frame, as the shared reader reads it
)
from parley.protocol.reading import LoginRefused as LoginRefused
from parley.protocol.reading import (
    Muted as Muted,  # a refused CHAT or EDIT's mute, as the shared reader reads it
)
from parley.protocol.reading import RoomMembers as RoomMembers
from parley.protocol.reading import RoomSummary as RoomSummary
from parley.protocol.reading import UploadGrant as UploadGrant

from .text import encode_lines

MAX_MESSAGE = 300  # "Refused to send messages over 300 characters" (the original client)
# "Your session has ended; please log in again." (CON with a token that no longer works)
SESSION_ENDED = "Error: Your session has ended; please log in again."
_SESSION_ENDED = template_pattern(SESSION_ENDED)
ROOM_REASONS = ("CREATE", "JOIN", "PART", "TOPIC", "INVITE", "REMOVE", "OP", "READ", "MEMBERS", "ROOMS")
# Moderation (issue 14): answered by ``CONFIRM,...;reason=X`` like the rooms' requests.
MODERATION_REASONS = ("BAN", "UNBAN", "BANS", "MUTE", "UNMUTE", "DELETE", "REPORT", "EDIT")
SEARCH_LIMIT = 20
_NICK, _ROOM = r"\S+", r"#\S*"  # neither holds a space
_MUTE_INFOS = (  # (pattern, True: a mute / False: an unmute)
    (template_pattern(texts.MUTED_INFO, nick=_NICK, room=_ROOM, op=_NICK), True),
    (template_pattern(texts.MUTED_LOBBY_INFO, nick=_NICK, op=_NICK), True),
    (template_pattern(texts.UNMUTED_INFO, nick=_NICK, room=_ROOM, op=_NICK), False),
    (template_pattern(texts.UNMUTED_LOBBY_INFO, nick=_NICK, op=_NICK), False),
)


@dataclass(frozen=True)
class LoginDetails:
    """What the connect screen gathers. The password is never shown or stored."""

    host: str
    port: int
    nickname: str
    color: str
    password: str = field(default="", repr=False)
    tls: bool = False
    ca_file: str = ""
    token: str = field(default="", repr=False)  # a resume token: logs in without the password
    remember: bool = False  # ask for a token that lasts (remember=1)

    @property
    def address(self) -> str:
        """Return ``host:port`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


# ---- Events: what the session makes of the server's frames ---------------


@dataclass(frozen=True)
class LoggedIn:
    nickname: str
    role: str | None  # admin, member, guest; None from a server without roles
    reconnected: bool
    files: str = ""  # the files base URL (CONVER ``files=``); empty: this server shares no files with us


@dataclass(frozen=True)
class FileMessage(ChatMessage):
    """A CHATR that carries a file (``file=...;flink=...``): its text is the legacy line, ``file`` what to show."""

    file: FileInfo | None = None


@dataclass(frozen=True)
class UploadRequest:
    """An UPLOAD we asked for: where to, the name and size announced, and the local file (``source``)."""

    rec: str
    name: str
    size: int
    source: str


@dataclass(frozen=True)
class UploadGranted:
    """The server's ``UPLOAD`` answer to ``request``: POST the bytes to ``grant.url`` with ``grant.ticket``."""

    request: UploadRequest | None  # None: a grant we never asked for (ignored)
    grant: UploadGrant


@dataclass(frozen=True)
class UploadRefused:
    """The ERR answering ``request``: no byte is sent; ``text`` says why."""

    request: UploadRequest
    text: str


@dataclass(frozen=True)
class InfoMessage:
    time: str
    sender: str
    text: str
    rec: str = EVERYONE  # a room's event names the room; the lobby's has no rec
    ts: int | None = None
    topic: str | None = None  # a room's new topic ("clients take the topic from topic")
    until: int | None = None  # a ban's or mute's end (epoch ms, 0 for good)


@dataclass(frozen=True)
class ConvChanged:
    """A CONV frame: what the list needs to show a conversation."""

    conversation: Conversation


@dataclass(frozen=True)
class MembersListed:
    """A room's member list, whole, after a MEMBERS or MEMBER frame (or a rename)."""

    members: RoomMembers


@dataclass(frozen=True)
class RoomsListed:
    rooms: tuple[RoomSummary, ...]


@dataclass(frozen=True)
class SessionIssued:
    token: str = field(repr=False)
    expires: int  # epoch ms; 0: it lasts only for the grace period


@dataclass(frozen=True)
class HistoryLoaded:
    rec: str
    count: int
    more: bool  # older messages exist (newer ones, for an ``after`` page)
    after: bool = False  # the answer to ``HISTORY,...;after=ID``


@dataclass(frozen=True)
class RoomAnswer:
    """The CONFIRM of a room reason: ``ok``, the server's text, and the room or rec it names."""

    reason: str
    target: str
    ok: bool
    text: str


@dataclass(frozen=True)
class MessageEdited:
    """An EDITED frame: message ``id`` now reads ``text`` (ids are unique over every conversation)."""

    id: int
    text: str
    edited_ms: int


@dataclass(frozen=True)
class MessageDeleted:
    """A DELETED frame: message ``id`` is gone."""

    id: int


@dataclass(frozen=True)
class BansListed:
    """A BANS answer: the active bans and mutes of the server (``room`` '') or of one room."""

    bans: BanList


@dataclass(frozen=True)
class SearchDone:
    """The CONFIRM ending a SEARCH: ``count`` results came, ``more`` older ones exist."""

    ok: bool
    text: str
    count: int
    more: bool


@dataclass(frozen=True)
class Unmuted:
    """We may write in ``room`` (``-ALL``: the lobby) again."""

    room: str


@dataclass(frozen=True)
class UsersChanged:
    users: tuple[str, ...]
    admins: tuple[str, ...]
    resync: bool = False  # the list is out of step: send ``list_users()`` for a whole one


@dataclass(frozen=True)
class UpdateAnswer:
    ok: bool
    text: str  # the server's answer as sent: "OK" or "Error: ..."
    nickname: str  # ours after the answer
    color: str


@dataclass(frozen=True)
class RefreshStarted:
    text: str


@dataclass(frozen=True)
class DisconnectConfirmed:
    text: str


@dataclass(frozen=True)
class ServerError:
    text: str  # ERR content, or a frame we could not read


@dataclass(frozen=True)
class ServerWarning:
    text: str
    final: bool  # kicked, banned or flooding: the server closes and we do not come back


@dataclass(frozen=True)
class Pong:
    text: str


@dataclass(frozen=True)
class UnknownFrame:
    frame: Frame


Event = Union[
    LoggedIn, LoginRefused, ChatMessage, InfoMessage, UsersChanged, UpdateAnswer,
    RefreshStarted, DisconnectConfirmed, ServerError, ServerWarning, Pong, UnknownFrame,
    ConvChanged, MembersListed, RoomsListed, SessionIssued,
    HistoryLoaded, RoomAnswer, MessageEdited, MessageDeleted, BansListed, SearchDone, Muted, Unmuted,
    FileMessage, UploadGranted, UploadRefused,
]


class State(enum.Enum):
    OFFLINE = "offline"
    LOGGING_IN = "logging in"
    CHATTING = "chatting"


@dataclass(frozen=True)
class _PendingUpdate:
    nickname: str
    color: str
    password: str = field(repr=False)


class Session:
    """One user's protocol state across connections: feed frames, get events."""

    def __init__(self, login: LoginDetails) -> None:
        self.login = login
        self.state = State.OFFLINE
        self.role: str | None = None
        self.user_list = UserListState()
        self.logged_in_once = False
        self.final = False  # kicked, flooded, or we said DISCON: never reconnect
        self.reconnecting = False
        self._pending: list[_PendingUpdate] = []
        self._handlers: dict[str, Callable[[Frame], list[Event]]] = {
            "CONVER": self._conver, "CHATR": self._chatr, "INFO": self._info,
            "USER": self._user, "USERCHANGES": self._user, "CONFIRM": self._confirm, "ERR": self._err,
            "WARN": self._warn, "PONG": self._pong, "CONV": self._conv, "MEMBERS": self._members,
            "MEMBER": self._members, "ROOMS": self._rooms, "SESSION": self._session,
            "EDITED": self._edited, "DELETED": self._deleted, "BANS": self._bans, "UPLOAD": self._upload,
        }
        self.rooms: dict[str, RoomMembers] = {}  # member lists of the rooms asked for, by conversation_key
        self._member_parts: dict[str, tuple[tuple[str, bool], ...]] = {}  # MEMBERS parts (more=1) so far
        self.used_token = False
        self._histories: list[bool] = []  # HISTORY requests not answered yet: True for an ``after`` page
        self._uploads: list[UploadRequest] = []  # UPLOADs not answered yet, oldest first
        self.files_base = ""  # CONVER ``files=``: where files are fetched from

    @property
    def nickname(self) -> str:
        """Return our nickname as the server knows it."""
        return self.login.nickname

    @property
    def users(self) -> tuple[str, ...]:
        """The nicknames online, in the order they joined."""
        return self.user_list.online

    @property
    def may_reconnect(self) -> bool:
        """True when a lost connection should be re-established."""
        return self.logged_in_once and not self.final

    def is_me(self, nickname: str) -> bool:
        """True when ``nickname`` is ours (compared as the server does)."""
        return same_nickname(nickname, self.nickname)

    # ---- the connection's life -----------------------------------------

    def connection_made(self) -> Frame:
        """A new connection is open: return the CON frame to send first."""
        self.reconnecting = self.logged_in_once
        self.state = State.LOGGING_IN
        self._pending.clear()
        self.user_list = UserListState()
        login = self.login
        # lists=changes: user-list changes (USERCHANGES) rather than a whole list for each;
        # rooms=1: rooms and conversations; session=1: a resume token (a dropped
        # connection comes back within the grace period without a leave line).
        params = [("nickname", login.nickname), ("password", login.password), ("color", login.color),
                  ("lists", "changes"), ("rooms", "1"), ("session", "1")]
        self.used_token = bool(login.token)
        if login.token:
            params.append(("token", login.token))
        if login.remember:
            params.append(("remember", "1"))
        return make_frame("CON", params)

    def connection_lost(self) -> None:
        """The connection is gone (for whatever reason)."""
        self.state = State.OFFLINE
        self._pending.clear()
        self._histories.clear()
        self._uploads.clear()  # a ticket is for its connection: the grant would not come

    def receive(self, frame: Frame) -> list[Event]:
        """Return the events one server frame means. Never raises for a frame."""
        handler = self._handlers.get(frame.reason)
        if handler is None:
            return [UnknownFrame(frame)]
        return handler(frame)

    # ---- frames to send --------------------------------------------------

    def _require_chatting(self, what: str) -> None:
        if self.state is not State.CHATTING:
            raise LocalProtocolError(f"cannot send {what} while {self.state.value}")

    def chat(self, rec: str, text: str) -> Frame:
        """Return ``CHAT,rec=REC[;lines=...],text`` (line breaks as spaces). Raises LocalProtocolError
        when not logged in."""
        self._require_chatting("CHAT")
        return chat_frame(rec, text)

    def room_request(self, reason: str, params: list[tuple[str, str]], content: str = "") -> Frame:
        """Return a rooms frame (CREATE, JOIN, PART, TOPIC, INVITE, REMOVE, OP, ROOMS, MEMBERS, READ)."""
        self._require_chatting(reason)
        if reason not in ROOM_REASONS:
            raise LocalProtocolError(f"not a room request: {reason}")
        return make_frame(reason, params, content)

    def history(self, rec: str, before: int | None, limit: int = 50, after: int | None = None) -> Frame:
        """Return ``HISTORY,rec=R[;before=ID|;after=ID];limit=N,`` (``after``: the page newer than ID)."""
        self._require_chatting("HISTORY")
        params = [("rec", rec)] + ([("before", str(before))] if before is not None else [])
        params += [("after", str(after))] if after is not None else []
        self._histories.append(after is not None)  # "the server answers in order": which page each is
        return make_frame("HISTORY", params + [("limit", str(limit))])

    def request(self, reason: str, params: list[tuple[str, str]], content: str = "") -> Frame:
        """Return a moderation frame (BAN, UNBAN, BANS, MUTE, UNMUTE, DELETE, REPORT)."""
        self._require_chatting(reason)
        if reason not in MODERATION_REASONS:
            raise LocalProtocolError(f"not a moderation request: {reason}")
        return make_frame(reason, params, content)

    def edit(self, message_id: int, text: str) -> Frame:
        """Return ``EDIT,id=N[;lines=L],TEXT`` (line breaks as the composer's)."""
        self._require_chatting("EDIT")
        return edit_frame(message_id, text)

    def upload(self, request: UploadRequest) -> Frame:
        """Return ``UPLOAD,rec=R;name=N;size=S,``: the server checks the limits before any byte is sent."""
        self._require_chatting("UPLOAD")
        frame = upload_frame(request.rec, request.name, request.size)
        self._uploads.append(request)  # "answered in order": an UPLOAD grant or an ERR, one each
        return frame

    def file_chat(self, rec: str, receipt: str) -> Frame:
        """Return ``CHAT,rec=R;file=RECEIPT,``: post an uploaded file."""
        self._require_chatting("CHAT")
        return file_chat_frame(rec, receipt)

    def search(self, query: str, rec: str | None = None, before: int | None = None,
               limit: int = SEARCH_LIMIT) -> Frame:
        """Return ``SEARCH[,rec=R][;before=ID];limit=N,QUERY`` (no rec: every conversation)."""
        self._require_chatting("SEARCH")
        return search_frame(query, rec, before, limit)

    def update(self, nickname: str = "", color: str = "", password: str = "") -> Frame:
        """Return an UPDATE with the non-empty fields; remember it until answered."""
        self._require_chatting("UPDATE")
        params = [(k, v) for k, v in (("nickname", nickname), ("color", color),
                                      ("password", password)) if v]
        self._pending.append(_PendingUpdate(nickname, color, password))
        return make_frame("UPDATE", params)

    def refresh(self) -> Frame:
        """Return ``REF,,``."""
        self._require_chatting("REF")
        return make_frame("REF")

    def list_users(self) -> Frame:
        """Return ``USER,,``: a whole user list, when ours is out of step."""
        self._require_chatting("USER")
        return make_frame("USER")

    def kick(self, user: str, reason: str, ban: list[tuple[str, str]] | None = None) -> Frame:
        """Return ``KICK,user=NICK[;ban=1;duration=S;addresses=1],reason`` (``ban``: the ban's parameters)."""
        self._require_chatting("KICK")
        extra = [("ban", "1"), *ban] if ban is not None else []
        return make_frame("KICK", [("user", user), *extra], reason)

    def disconnect(self) -> Frame:
        """Return ``DISCON,,``; the session will not reconnect after it."""
        self.final = True
        return make_frame("DISCON")

    # ---- handlers, one per server reason ----------------------------------

    def _conver(self, frame: Frame) -> list[Event]:
        if self.state is not State.LOGGING_IN:
            return [ServerError(frame.content)]
        login = read_login(frame, self.reconnecting)
        if not isinstance(login, LoginAccepted):
            if self.used_token and _SESSION_ENDED.match(frame.content):
                # The token no longer works: forget it; a reconnect tries the password (or as a guest).
                self.login = replace(self.login, token="")
                return [replace(login, retry=self.reconnecting)]
            return [login]
        self.state = State.CHATTING
        self.role = login.role
        self.files_base = read_files_base(frame)
        reconnected, self.logged_in_once = self.logged_in_once, True
        return [LoggedIn(self.nickname, self.role, reconnected, self.files_base)]

    def _chatr(self, frame: Frame) -> list[Event]:
        # Line breaks decoded (a bad lines= shows as sent); ``old``: a HISTORY replay; ``found``: a SEARCH result.
        message = read_chat(frame, self.nickname)
        file = read_file(frame)  # a malformed file= is shown as its legacy line
        if file is None:
            return [message]
        return [FileMessage(**{f.name: getattr(message, f.name) for f in fields(message)}, file=file)]

    def _upload(self, frame: Frame) -> list[Event]:
        request = self._uploads.pop(0) if self._uploads else None
        return [UploadGranted(request, read_upload(frame))]

    def _info(self, frame: Frame) -> list[Event]:
        spelling = own_join(frame, self.nickname)
        if spelling is not None:
            self.login = replace(self.login, nickname=spelling)
        notice = read_info(frame)
        info = InfoMessage(notice.time, notice.sender, notice.text, notice.rec, notice.ts, frame.get("topic"),
                           number(frame.get("until")))
        return [info, *self._own_mute(info)]

    def _own_mute(self, info: InfoMessage) -> list[Event]:
        """Our own mute or unmute, as the room (or everyone) is told it: for the composer's notice."""
        for pattern, muted in _MUTE_INFOS:
            found = pattern.match(info.text)
            if found is None or not self.is_me(found["nick"]):
                continue
            room = found.groupdict().get("room") or EVERYONE
            reason = until_reason(found) if muted else ""
            if reason is not None:
                return [Muted(room, info.until or 0, reason) if muted else Unmuted(room)]
        return []

    def _edited(self, frame: Frame) -> list[Event]:
        edit = read_edited(frame)
        return [MessageEdited(edit.id, edit.text, edit.edited_ms)] if edit.id else [UnknownFrame(frame)]

    def _deleted(self, frame: Frame) -> list[Event]:
        deletion = read_deleted(frame)
        return [MessageDeleted(deletion.id)] if deletion.id else [UnknownFrame(frame)]

    def _bans(self, frame: Frame) -> list[Event]:
        return [BansListed(read_bans(frame))]

    def _conv(self, frame: Frame) -> list[Event]:
        conversation = read_conv(frame)
        if conversation.gone:
            self.rooms.pop(conversation_key(conversation.rec), None)
        return [ConvChanged(conversation)]

    def _members(self, frame: Frame) -> list[Event]:
        key = conversation_key(frame.get("room") or "")
        if frame.reason == "MEMBERS":
            # A long list comes in parts marked more=1: gathered, then shown whole.
            part = read_members(frame)
            gathered = self._member_parts.pop(key, ())
            whole = replace(part, members=gathered + part.members)
            if frame.get("more") == "1":
                self._member_parts[key] = whole.members
                return []
            self.rooms[key] = whole
        elif key in self.rooms:
            self.rooms[key] = follow_members(self.rooms[key], frame)
        else:
            return []  # a change to a list we never asked for
        return [MembersListed(self.rooms[key])]

    def _rooms(self, frame: Frame) -> list[Event]:
        return [RoomsListed(read_rooms(frame))]

    def _session(self, frame: Frame) -> list[Event]:
        session = read_session(frame)
        if session is None:
            return []
        self.login = replace(self.login, token=session.token)  # a dropped connection resumes with it
        return [SessionIssued(session.token, session.expires)]

    def _user(self, frame: Frame) -> list[Event]:
        after = self.user_list = follow_users(self.user_list, frame)
        events: list[Event] = []
        if frame.reason == "USERCHANGES":  # renames: "clients rename in every list"
            for key, members in self.rooms.items():
                renamed = self.rooms[key] = follow_members(members, frame)
                if renamed != members:
                    events.append(MembersListed(renamed))
        if after.parts is None:
            events.append(UsersChanged(after.online, after.admins, after.resync))
        return events

    def _confirm(self, frame: Frame) -> list[Event]:
        reason = frame.get("reason")
        answer = read_update(frame)
        if answer is not None:
            return [self._update_answered(answer.ok, answer.text)]
        if reason == "REF":
            return [RefreshStarted(frame.content)]
        if reason == "DISCON":
            return [DisconnectConfirmed(frame.content)]
        if reason in ROOM_REASONS or reason in MODERATION_REASONS or reason in ("HISTORY", "SEARCH", "KICK"):
            answered = read_answer(frame)
            target = answered.room or answered.rec or ""
            text = answered.text
            if reason == "HISTORY":
                after = self._histories.pop(0) if self._histories else False
                if answered.ok:
                    return [HistoryLoaded(target or EVERYONE, answered.count or 0, answered.more, after)]
            if reason == "SEARCH":
                return [SearchDone(answered.ok, text, answered.count or 0, answered.more)]
            muted = read_muted(frame)  # an EDIT refused: "the mute ERR text (as CONFIRM here)"
            return [*([muted] if muted else []), RoomAnswer(reason, target, answered.ok, text)]
        return [UnknownFrame(frame)]

    def _update_answered(self, ok: bool, text: str) -> UpdateAnswer:
        pending = self._pending.pop(0) if self._pending else _PendingUpdate("", "", "")
        if ok:
            self.login = replace(
                self.login,
                nickname=pending.nickname or self.login.nickname,
                color=pending.color or self.login.color,
                password=pending.password or self.login.password,
            )
        return UpdateAnswer(ok, text, self.login.nickname, self.login.color)

    def _err(self, frame: Frame) -> list[Event]:
        muted = read_muted(frame)  # "ERR,time=...;until=MS,Error: You are muted ...": said above the composer
        said: list[Event] = [muted] if muted is not None else [ServerError(frame.content)]
        if self._uploads:  # an UPLOAD is answered by the grant or by an ERR, in order
            return [*([muted] if muted else []), UploadRefused(self._uploads.pop(0), frame.content)]
        return said

    def _warn(self, frame: Frame) -> list[Event]:
        warn = read_warn(frame)
        final = not warn.may_reconnect  # kicked, banned ("clients must not reconnect by themselves"), flooding
        self.final = self.final or final
        return [ServerWarning(warn.text, final)]

    def _pong(self, frame: Frame) -> list[Event]:
        return [Pong(frame.content)]


# ---- helpers the UI uses, kept here to be testable without a window ------


def parse_address(text: str) -> tuple[str, int | None]:
    """Return (host, port or None) from ``HOST``, ``HOST:PORT``, ``[V6]`` or ``[V6]:PORT``.

    Raises ValueError for a port that is not a number from 1 to 65535.
    """
    host, port = text.strip(), ""
    if host.startswith("["):
        inside, _, rest = host[1:].partition("]")
        host, port = inside, rest.removeprefix(":")
    elif host.count(":") == 1:
        host, port = host.split(":")
    if not port:
        return host, None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not a port: {port!r}")
    return host, int(port)


def check_message(text: str) -> str | None:
    """Return why ``text`` cannot be sent, or None when it can (line breaks count one each)."""
    if not text.strip():
        return "Type a message first."
    length = len(encode_lines(text)[0])
    if length > MAX_MESSAGE:
        return f"Message too long: {length} characters, the limit is {MAX_MESSAGE}."
    return None


def check_update(nickname: str, color: str, password: str) -> str | None:
    """Return why this customize request cannot be sent, or None when it can."""
    if not (nickname or color or password):
        return "You must change at least one thing."
    if color and not is_color(color):
        return "The color must look like #RRGGBB or #RGB."
    if nickname:
        # The server's own rules and text (an UPDATE would be refused with it).
        return nickname_error(nickname)
    return None


def chat_heading(message: ChatMessage) -> str:
    """Return the text after the sender's name: `` TIME (To everyone).``."""
    target = "everyone" if not message.private else message.rec
    return f" {message.time} (To {target})."


@dataclass(frozen=True)
class Placement:
    """Where a message goes in the log: before message ``before``, or at the end."""

    before: int | None


class History:
    """The ids of the chat messages shown, in order: de-duplicates and orders."""

    def __init__(self) -> None:
        self._ids: list[int] = []
        self._seen: set[int] = set()

    def place(self, message_id: int | None) -> Placement | None:
        """Return where a message goes, or None when it is already shown.

        Messages without an id (from a server that sends none) always go at
        the end. A late one (a replay after a reconnect) goes before the
        first shown message with a larger id.
        """
        if message_id is None:
            return Placement(None)
        if message_id in self._seen:
            return None
        at = bisect.bisect(self._ids, message_id)
        self._ids.insert(at, message_id)
        self._seen.add(message_id)
        return Placement(self._ids[at + 1] if at + 1 < len(self._ids) else None)

    def clear(self) -> None:
        """Forget every message (the log was emptied)."""
        self._ids.clear()
        self._seen.clear()

    def __len__(self) -> int:
        return len(self._ids)
