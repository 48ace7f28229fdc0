"""The chat core: Parley's rules as a state machine with no I/O.

``ChatCore.handle(event, now)`` takes one event (events.py: bytes from a
connection, a commit done, a timer, an answer to a request...) and the time,
and returns the actions (actions.py) that follow from it: frames to send to
whom, messages to store, requests to answer, timers to set, connections to
close. It never touches a socket, the event loop, the database or the clock;
the adapter (server/adapter.py) feeds it and performs what it returns. Who
is online it reads through the hub's ``Presence``; everything it changes
there goes out as an action, so the hub can be in-process or distributed.

The rules of one connection's life are in connection.py; CHAT in chats.py;
CON and UPDATE in accounts.py; the other reasons in room.py.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Callable, Generator, NamedTuple

from parley.net.groups import limit_key
from parley.net.proxy import ProxyHeaderError, ProxyHeaderReader
from parley.protocol import Frame, messages, names, texts
from parley.protocol.framing import (
    FrameReceived,
    FrameRejected,
    StreamEnded,
    encode_frame,
)
from parley.protocol.messages import Stamp, UserChange
from parley.protocol.names import name_key

from ..config import ServerConfig
from ..limits import (
    BucketTable,
    Budget,
    ConnectionCounter,
    FailureWindow,
    LoginGuard,
    TokenBucket,
)
from ..records import Restriction, Room
from . import accounts, admission, chats, files, moderation, room, rooms
from .accounts import Held
from .actions import (
    Action,
    Audience,
    Background,
    Broadcast,
    Close,
    Drop,
    Release,
    Request,
    RoomBroadcast,
    Send,
    SetGraceTimer,
    SetReading,
    SetTimer,
    SetUserListTimer,
    ShareLimit,
    StoreCall,
    UseLegacyFraming,
)
from .chats import StagedChat
from .connection import (
    Closing,
    Connection,
    Deadline,
    DeadlineCheck,
    Input,
    Phase,
    is_allowed,
)
from .events import (
    Completed,
    Connected,
    ConnectionLost,
    DataReceived,
    Event,
    GraceDue,
    InputEnded,
    Kicked,
    LimitShared,
    MessageStored,
    NodeGone,
    OutputOverflowed,
    PresenceChanged,
    RestrictionsLoaded,
    RoomChanged,
    ShutdownStarted,
    TimerFired,
    UserListDue,
)
from .presence import Presence
from .restrictions import Restrictions

log = logging.getLogger("parley.server")
MAX_UNHANDLED = 256 * 1024  # bytes received and waiting to be handled before reading pauses
MAX_UNSENT = 256  # a connection's answers waiting behind messages being stored before reading pauses
MAX_USER_LIST_DELAY = 1.0  # seconds: the longest a user list waits for more changes
UNLIMITED = TokenBucket(0, 0)
NO_NODES: dict[str, dict[str, int]] = {}  # (never written)  # an address's work budget until its address is known


class Ghost(NamedTuple):
    """A user online with no session, in its grace after its last connection dropped."""

    nickname: str
    until: float  # monotonic


class Now(NamedTuple):
    """The time of an event: ``monotonic`` for deadlines and limits, ``wall`` (POSIX seconds) for frames."""

    monotonic: float
    wall: float


Handler = Callable[["ChatCore", Connection, Frame], "Generator[Any, Any, Any] | None"]


class ChatCore:
    """Every connection's state and the rules between them. Feed events with ``handle``."""

    def __init__(self, config: ServerConfig, presence: Presence, admins: list[str] | None = None,
                 restrictions: list[Restriction] | None = None) -> None:
        self.config = config
        self.presence = presence
        self.admins: list[str] = list(admins or [])  # admin account names, for user lists
        self.closing = False
        self.connections: dict[int, Connection] = {}
        self.now = Now(0.0, 0.0)
        self._actions: list[Action] = []
        self._stamp: Stamp | None = None
        self._user_list_at: float | None = None
        # The user-list changes not yet sent (USERCHANGES), and the serial the next one gets.
        self._changes: list[UserChange] = []
        self._serial = 0
        self._admins_sent: list[str] = list(self.admins)  # as USERCHANGES last sent them
        self._per_address = ConnectionCounter(config.max_connections_per_address)
        self._logins = LoginGuard(config.login_failures_per_address, config.login_failures_per_nickname,
                                  config.login_failures_per_account, ipv6_prefix=config.ipv6_prefix)
        self._creations = FailureWindow(config.accounts_per_address, window=3600.0)
        self._hashing = ConnectionCounter(config.max_hashing_per_address)
        self._work_by_address = BucketTable(config.address_request_rate, config.work_bursts[1])
        self._room_creations = FailureWindow(config.rooms_per_address, window=3600.0)
        # Several nodes: the other nodes' open connections by address (NO_NODES: one process, nothing shared).
        self._connections_elsewhere: dict[str, dict[str, int]] = {} if config.clustered else NO_NODES
        self.rooms: dict[str, Room] = {}  # by key: every room a user online is in or asked about
        self.tokens: dict[str, Held] = {}  # resume tokens (by hash) good only while their user is online
        self.files_secret: bytes | None = None  # the key of upload tickets, receipts and links (None: files off)
        self.uploads = files.Uploads()  # tickets granted, not used yet
        self.ghosts: dict[str, Ghost] = {}  # by ident: users in their grace
        self._grace_at: float | None = None
        self.restrictions = Restrictions(restrictions or [])  # bans and mutes in force
        self.restrictions_seen: set[int] = {r.id for r in restrictions or []}  # applied to those online
        self.restrictions_lifted: set[int] = set()  # lifted here: a load begun before it does not bring them back
        self.reserved = [names.name_key(n) for n in config.reserved_nicknames]
        self.reserved_looks = {key for n in config.reserved_nicknames for key in names.lookalike_keys(n)}

    def reserved_error(self, nickname: str) -> str | None:
        """RESERVED_NICKNAME when ``nickname`` is, or looks like, a reserved one."""
        if not self.reserved:
            return None
        if names.name_key(nickname) in self.reserved or self.reserved_looks.intersection(names.lookalike_keys(nickname)):
            return texts.RESERVED_NICKNAME
        return None

    def handle(self, event: Event, now: Now) -> list[Action]:
        """Apply one event at time ``now``; return the actions that follow, in order."""
        self.now = now
        self._stamp = None
        actions = self._actions = []
        _EVENTS[type(event)](self, event)
        return actions

    # What handlers use ------------------------------------------------------

    def emit(self, action: Action) -> None:
        self._actions.append(action)

    def send(self, conn: Connection, frame: Frame) -> None:
        """Answer ``conn``: at once, or after its messages being stored, if any (answers keep their order)."""
        if conn.unsent:
            conn.unsent.append(frame)
        else:
            self._actions.append(Send(conn.id, frame))

    def stamp(self) -> Stamp:
        """Now, as frames carry it."""
        if self._stamp is None:
            self._stamp = Stamp.at(self.now.wall)
        return self._stamp

    def end(self, conn: Connection) -> None:
        """Handle nothing more from ``conn``; it leaves once its messages being stored have gone out."""
        if not conn.live:
            return
        conn.move_to(Phase.ENDING)
        conn.input_open = False
        conn.inbox.clear()
        conn.inbox_bytes = 0
        if conn.task is not None:
            conn.task.close()
            conn.task = None
        if conn.timer_at is not None:
            conn.timer_at = None
            self.emit(SetTimer(conn.id, None))
        if not conn.unsent:
            self._finish(conn)

    def schedule_user_list(self) -> None:
        """Broadcast one user list for every change within the user-list window.

        A list per join would cost N^2 bytes for N joins (the original sent one
        per join); changes close together share one list. The window grows with
        the room: ``user_list_delay`` for every 100 connections, at most
        ``MAX_USER_LIST_DELAY``, since a list of N names goes to N people.
        """
        if self._user_list_at is not None or self.closing:
            return
        self._user_list_at = self.now.monotonic + user_list_window(self.config.user_list_delay,
                                                                   len(self.connections))
        self.emit(SetUserListTimer(self._user_list_at))

    def user_changed(self, old: str | None, new: str | None) -> None:
        """Someone joined (``old`` None), left (``new`` None) or was renamed: tell everyone in the window."""
        self._changes.append(UserChange(old, new))
        self._serial += 1
        self.schedule_user_list()

    def send_user_list(self, conn: Connection) -> int:
        """Send ``conn`` the whole list (numbered with the next change's serial when it asked for changes); return its bytes."""
        serial = self._serial if conn.list_changes else None
        sent = 0
        for frame in messages.user_list(self.stamp(), self.presence.online(), self.admins, serial):
            self.send(conn, frame)
            sent += len(encode_frame(frame))
        return sent

    def lockout(self, address: str, nickname: str) -> int:
        """Whole seconds until this address may try this nickname's password again (0: now)."""
        return math.ceil(self._logins.wait(address, name_key(nickname), self.now.monotonic))

    def address_lockout(self, address: str) -> int:
        """Whole seconds until this address, which guessed too much, may try any password again (0: now)."""
        return math.ceil(self._logins.address_wait(address, self.now.monotonic))

    def login_failed(self, address: str, nickname: str, elsewhere: bool = False) -> None:
        """Count a wrong password for ``nickname``, or a probe of it as a registered name, from ``address``
        (``elsewhere``: on another node, which logged it)."""
        if not elsewhere:
            self.emit(ShareLimit("login", address, nickname))
        locked, attacked = self._logins.failed(address, name_key(nickname), self.now.monotonic)
        if elsewhere:
            return
        window = self._logins.window
        if locked:
            log.warning("%s: %d failed logins or registered-name probes in %gs; this address may try no "
                        "password for now", address, self.config.login_failures_per_address, window)
        if attacked:
            log.warning("account %r: %d failed logins in %gs from anywhere; only addresses without failures "
                        "may try its password for now", nickname[:32], self.config.login_failures_per_account,
                        window)

    def cache_room(self, room: Room) -> str:
        """Remember ``room`` (its topic and whether it is private); return its key."""
        key = room.key
        self.rooms[key] = room
        return key

    def room_creation_wait(self, address: str) -> int:
        """Whole seconds until ``address`` may create another room (0: now)."""
        return math.ceil(self._room_creations.locked_for(self._address_key(address), self.now.monotonic))

    def room_created(self, address: str) -> None:
        self._room_creations.fail(self._address_key(address), self.now.monotonic)
        self.emit(ShareLimit("room", address))

    def revoke_token(self, conn: Connection) -> None:
        """Revoke the session's resume token: it leaves at once when it ends, with no grace (Leave, a flood)."""
        if conn.token_hash is None:
            return
        if conn.token_stored:
            self.emit(Background(StoreCall("revoke_token", (conn.token_hash,))))
        elif self.config.clustered:
            self.emit(Background(StoreCall("drop_held_token", (conn.token_hash,))))
        self.tokens.pop(conn.token_hash, None)
        conn.token_hash = None

    def forget_tokens(self, ident: str, keep: str | None = None) -> None:
        """Forget the in-memory resume tokens of ``ident`` (but ``keep``)."""
        for token_hash in [h for h, held in self.tokens.items() if held.ident == ident and h != keep]:
            del self.tokens[token_hash]
        if self.config.clustered:
            self.emit(Background(StoreCall("drop_held_tokens", (ident, keep))))

    def _address_key(self, address: str) -> str:
        return limit_key(address, self.config.ipv6_prefix)

    def creation_wait(self, address: str) -> int:
        """Whole seconds until guests of ``address`` may create another account (0: now)."""
        return math.ceil(self._creations.locked_for(self._address_key(address), self.now.monotonic))

    def account_creation_started(self, address: str) -> None:
        self._creations.fail(self._address_key(address), self.now.monotonic)
        self.emit(ShareLimit("account", address))

    def hashing_full(self, address: str) -> bool:
        """Whether ``address`` has as many password changes hashing as it may."""
        limit = self.config.max_hashing_per_address
        return limit > 0 and self._hashing.count(self._address_key(address)) >= limit

    def hashing_started(self, address: str) -> None:
        """Count a password hash for ``address`` (admitted by ``hashing_full`` when its UPDATE was checked)."""
        self._hashing.open(self._address_key(address), force=True)

    def hashing_ended(self, address: str) -> None:
        self._hashing.close(self._address_key(address))

    # Events -------------------------------------------------------------------

    def _connected(self, event: Connected) -> None:
        config = self.config
        conn = Connection(
            event.conn, event.host, event.port, max_frame=config.max_frame,
            login_deadline=self.now.monotonic + config.login_timeout,
            chat_bucket=TokenBucket(config.chat_rate, config.chat_burst),
            strikes=TokenBucket(1.0 if config.flood_strikes else 0, config.flood_strikes),
            budget=Budget(TokenBucket(config.request_rate, config.work_bursts[0]), UNLIMITED),
        )
        self.connections[conn.id] = conn
        if event.full:  # the adapter logs it (once in a while: a flood must not flood the log)
            self.send(conn, messages.conver(self.stamp(), texts.SERVER_FULL))
            self.end(conn)
            return
        conn.admins_only = event.admins_only
        if event.proxied:
            conn.proxy = ProxyHeaderReader()
        elif not self._admit(conn):
            return
        self._settle(conn)

    def _admit(self, conn: Connection) -> bool:
        """Count ``conn`` against its address's limit; refuse and end it if over."""
        key = limit_key(conn.host, self.config.ipv6_prefix)  # an IPv6 /64 is one address
        limit = self._per_address.limit
        elsewhere = sum(counts.get(key, 0) for counts in self._connections_elsewhere.values()) if limit else 0
        if (not elsewhere or self._per_address.count(key) + elsewhere < limit) and self._per_address.open(key):
            conn.admitted = True
            if self._connections_elsewhere is not NO_NODES:
                self.emit(ShareLimit("connections", key, count=self._per_address.count(key)))
            conn.budget.shared = self._work_by_address.get(key)
            return True
        log.warning("%s: refused: too many connections from this address", conn.peer)
        self.send(conn, messages.conver(self.stamp(), texts.TOO_MANY_CONNECTIONS))
        self.end(conn)
        return False

    def _data_received(self, event: DataReceived) -> None:
        conn = self.connections.get(event.conn)
        if conn is None or not conn.input_open:
            return
        data = event.data
        if conn.proxy is not None:
            rest = self._after_proxy_header(conn, conn.proxy, data)
            if not rest:
                return
            data = rest
        decoder = conn.decoder
        had_partial = decoder.buffered > 0
        events = decoder.receive_data(data)
        if not had_partial or events:
            conn.frame_started = self.now.monotonic  # a frame's clock starts with its first byte
        if conn.inbox:
            conn.inbox_bytes += len(data)
        conn.inbox.extend(events)
        self._pump(conn)

    def _after_proxy_header(self, conn: Connection, reader: ProxyHeaderReader, data: bytes) -> bytes | None:
        """The bytes after a trusted proxy's header (None: more needed, or the connection ended)."""
        try:
            rest = reader.feed(data)
        except ProxyHeaderError as error:
            log.warning("%s: bad PROXY header from a trusted proxy (%s); closing", conn.peer, error)
            self.end(conn)
            return None
        if rest is None:
            return None
        conn.proxy = None
        if reader.client is not None:
            log.info("%s: proxied client %s:%d", conn.peer, *reader.client)
            conn.host, conn.peer = reader.client[0], f"{reader.client[0]}:{reader.client[1]}"
        if not self._admit(conn):
            return None
        if not rest:
            self._settle(conn)
        return rest

    def _input_ended(self, event: InputEnded) -> None:
        conn = self.connections.get(event.conn)
        if conn is None or not conn.input_open:
            return
        conn.input_open = False
        conn.inbox.extend(conn.decoder.receive_data(b""))
        self._pump(conn)

    def _connection_lost(self, event: ConnectionLost) -> None:
        conn = self.connections.get(event.conn)
        if conn is None or not conn.input_open:
            return
        if event.error is None:
            self._input_ended(InputEnded(event.conn))
            return
        log.info("%s %s: connection lost (%s)", conn.peer, conn.who, event.error)
        conn.input_open = False
        conn.inbox.append(Closing())
        self._pump(conn)

    def _timer_fired(self, event: TimerFired) -> None:
        conn = self.connections.get(event.conn)
        if conn is None or not conn.live:
            return
        conn.timer_at = None
        conn.inbox.append(DeadlineCheck())
        self._pump(conn)

    def _completed(self, event: Completed) -> None:
        conn = self.connections.get(event.conn)
        if conn is None or conn.task is None:
            return  # it ended while the request ran
        task, conn.task = conn.task, None
        self._advance(conn, task, event.result, event.error)
        self._pump(conn)

    def _message_stored(self, event: MessageStored) -> None:
        chat = event.chat
        chat.done = True
        chat.message_id = event.message_id or 0
        chat.seq = event.seq
        chat.error = event.error
        conn = chat.conn
        unsent = conn.unsent
        ready = 0
        for head in unsent:
            if type(head) is StagedChat:
                if not head.done:
                    break
                chats.deliver(self, head)
            else:
                self.emit(Send(conn.id, head))
            ready += 1
        del unsent[:ready]
        if conn.phase is Phase.ENDING:
            if not unsent:
                self._finish(conn)
        elif conn.inbox or not conn.reading:
            self._pump(conn)  # what waited for these messages goes on

    def _kicked(self, event: Kicked) -> None:
        conn = self.connections.get(event.conn)
        if conn is None:
            return
        conn.online = False  # the hub took it offline
        conn.leave_text = None  # the kicker announces it
        if conn.live:
            self.send(conn, event.warning)
            self.end(conn)

    def _output_overflowed(self, event: OutputOverflowed) -> None:
        conn = self.connections.get(event.conn)
        if conn is None or not conn.live:
            return
        log.warning("%s %s: outgoing buffer overflowed; disconnected", conn.peer, conn.who)
        self.end(conn)

    def _restrictions_loaded(self, event: RestrictionsLoaded) -> None:
        moderation.restrictions_loaded(self, list(event.restrictions), self.stamp().ms)

    def _presence_changed(self, event: PresenceChanged) -> None:
        if not self.closing:
            self.user_changed(event.old, event.new)

    def _room_changed(self, event: RoomChanged) -> None:
        if event.room.key in self.rooms:
            self.rooms[event.room.key] = event.room

    def _limit_shared(self, event: LimitShared) -> None:
        if event.kind == "login":
            self.login_failed(event.address, event.nickname, elsewhere=True)
        elif event.kind == "account":
            self._creations.fail(self._address_key(event.address), self.now.monotonic)
        elif event.kind == "room":
            self._room_creations.fail(self._address_key(event.address), self.now.monotonic)
        elif event.kind == "connections":
            if self._connections_elsewhere is NO_NODES:
                self._connections_elsewhere = {}
            counts = self._connections_elsewhere.setdefault(event.node, {})
            if event.count > 0:
                counts[event.address] = event.count
            else:
                counts.pop(event.address, None)

    def _node_gone(self, event: NodeGone) -> None:
        if self._connections_elsewhere is not NO_NODES:
            self._connections_elsewhere.pop(event.node, None)

    def _user_list_due(self, event: UserListDue) -> None:
        """The window is over: whole lists to the clients that want them, the changes to the others."""
        self._user_list_at = None
        changes, self._changes = self._changes, []
        if self.closing:
            return
        sessions, wanting_changes = self.presence.count_list_changes()
        online = self.presence.online()
        if wanting_changes < sessions:
            for frame in messages.user_list(self.stamp(), online, self.admins):
                self.emit(Broadcast(frame, Audience.LISTS))
        admins = self.admins if self.admins != self._admins_sent else None
        if wanting_changes and (changes or admins is not None):
            self._admins_sent = list(self.admins)
            first = self._serial - len(changes)
            for frame in messages.user_changes(self.stamp(), first, changes, len(online), admins):
                self.emit(Broadcast(frame, Audience.CHANGES))

    def _grace_due(self, event: GraceDue) -> None:
        """Users whose grace is over without a session back leave now."""
        self._grace_at = None
        now = self.now.monotonic
        for ident, ghost in list(self.ghosts.items()):
            if ghost.until > now:
                continue
            del self.ghosts[ident]
            user = self.presence.lookup(ghost.nickname)
            if user is None or user.ident != ident or self.presence.sessions(ghost.nickname):
                continue  # resumed, or gone some other way
            log.info("%s: did not come back within %gs; left", ghost.nickname, self.config.resume_grace)
            self.emit(Drop(ghost.nickname))
            self.user_gone(ghost.nickname, ident, texts.DISCONNECTED_INFO)
        self._schedule_grace()

    def _schedule_grace(self) -> None:
        at = min((ghost.until for ghost in self.ghosts.values()), default=None)
        if at != self._grace_at and not self.closing:
            self._grace_at = at
            self.emit(SetGraceTimer(at))

    def user_gone(self, nickname: str, ident: str, leave_text: str | None) -> None:
        """The user is offline for good: everyone is told (unless ``leave_text`` is None: a kick said it);
        a guest's rooms and the user's in-memory tokens are forgotten."""
        self.ghosts.pop(ident, None)
        self.forget_tokens(ident)
        if ident.startswith("g:"):
            for key in self.presence.rooms_of(ident):
                room_ = self.rooms.get(key)
                if room_ is not None:
                    self.emit(RoomBroadcast(key, messages.room_member(self.stamp(), room_.rec, nickname,
                                                                      "leave")))
            self.emit(Background(StoreCall("drop_guest", (ident,))))
        if leave_text is not None and not self.closing:
            self.emit(Broadcast(messages.info(self.stamp(), nickname, leave_text.format(nick=nickname))))
            self.user_changed(nickname, None)

    def _shutdown_started(self, event: ShutdownStarted) -> None:
        if self.closing:
            return
        self.closing = True
        log.info("shutting down: %d connections", len(self.connections))
        if self._user_list_at is not None:
            self._user_list_at = None
            self.emit(SetUserListTimer(None))
        if self._grace_at is not None:
            self._grace_at = None
            self.emit(SetGraceTimer(None))
        warning = messages.warn(self.stamp(), texts.SHUTTING_DOWN)
        for conn in list(self.connections.values()):
            if conn.live:
                self.send(conn, warning)
                self.end(conn)

    # One connection's inbox ---------------------------------------------------

    def _pump(self, conn: Connection) -> None:
        """Handle the connection's received input in order, until it is empty or has to wait."""
        inbox = conn.inbox
        done = 0  # handled from the front (a list: a burst must not cost a shift per frame)
        while done < len(inbox) and conn.task is None and conn.live:
            item = inbox[done]
            if conn.unsent and not (type(item) is FrameReceived and item.frame.reason == "CHAT"):
                break  # its answer comes after the messages being stored
            done += 1
            found = self._handle_input(conn, item)
            if found:
                inbox[done:done] = found  # what a deadline brought comes next
        del inbox[:done]
        if not inbox:
            conn.inbox_bytes = 0
        self._settle(conn)

    def _settle(self, conn: Connection) -> None:
        """Pause or resume reading as work piles up; set the timer for the deadline an idle connection has."""
        if not conn.live:
            return
        pause = conn.inbox_bytes > MAX_UNHANDLED or len(conn.unsent) >= MAX_UNSENT
        if pause is conn.reading:
            conn.reading = not pause
            self.emit(SetReading(conn.id, conn.reading))
        if conn.task is not None or conn.inbox:
            return  # a deadline that passes meanwhile is looked at when the inbox gets to it
        config = self.config
        due = conn.next_deadline(config.login_timeout, config.legacy_grace, config.frame_timeout)
        at = due[0] if due is not None else None
        if at != conn.timer_at:
            conn.timer_at = at
            self.emit(SetTimer(conn.id, at))

    def _handle_input(self, conn: Connection, item: Input) -> list[Input] | None:
        """Handle one received item; return the items it brings to handle next, if any."""
        kind = type(item)
        if kind is FrameReceived:
            assert isinstance(item, FrameReceived)
            self._frame(conn, item.frame)
        elif kind is FrameRejected:
            assert isinstance(item, FrameRejected)
            self._rejected(conn, item)
        elif kind is StreamEnded:
            assert isinstance(item, StreamEnded)
            if item.partial:
                log.info("%s %s: closed mid-frame (%d bytes unread)", conn.peer, conn.who, item.partial)
            else:
                log.info("%s %s: closed by peer", conn.peer, conn.who)
            self.end(conn)
        elif kind is DeadlineCheck:
            return self._deadline_check(conn)
        else:
            assert isinstance(item, Closing)
            self.end(conn)
        return None

    def _frame(self, conn: Connection, frame: Frame) -> None:
        if not admission.admit_frame(self, conn, frame):
            return
        if not is_allowed(conn.phase, frame.reason, conn.rooms):
            self._refuse(conn, frame)
            return
        try:
            task = HANDLERS[frame.reason](self, conn, frame)
        except Exception:
            log.exception("%s %s: unexpected error", conn.peer, conn.who)
            self.end(conn)
            return
        if task is not None:
            self._advance(conn, task, None, None)

    def _advance(self, conn: Connection, task: Generator[Any, Any, Any], value: Any,
                 error: BaseException | None) -> None:
        """Run a handler until it asks for something (a Request action) or returns."""
        try:
            wanted = task.throw(error) if error is not None else task.send(value)
        except StopIteration:
            return
        except Exception:
            log.exception("%s %s: unexpected error", conn.peer, conn.who)
            self.end(conn)
            return
        conn.task = task
        self.emit(Request(conn.id, wanted))

    def _deadline_check(self, conn: Connection) -> list[Input] | None:
        """The timer went off: act on the deadline that passed, if one did (else what it waited for came).

        Returns the frame a legacy client's grace held back.
        """
        config = self.config
        due = conn.next_deadline(config.login_timeout, config.legacy_grace, config.frame_timeout)
        if due is None or due[0] > self.now.monotonic or not conn.input_open:
            return None
        if due[1] is Deadline.GRACE:
            log.info("%s: legacy client (unterminated frames)", conn.peer)
            self.emit(UseLegacyFraming(conn.id))
            return list(conn.decoder.grace_expired())
        conn.input_open = False
        if due[1] is Deadline.LOGIN:
            log.info("%s: no login within %gs; closing", conn.peer, config.login_timeout)
            warning = texts.LOGIN_TIMEOUT.format(seconds=config.login_timeout)
        else:
            log.info("%s %s: frame not completed in %gs; closing", conn.peer, conn.who, config.frame_timeout)
            warning = texts.FRAME_TIMEOUT.format(seconds=config.frame_timeout)
        self.send(conn, messages.warn(self.stamp(), warning))
        self.end(conn)
        return None

    def _rejected(self, conn: Connection, event: FrameRejected) -> None:
        if not event.fatal and not admission.admit_rejected(self, conn):
            return
        code = event.error.code
        if code == "too-long":
            text = texts.FRAME_TOO_LONG.format(limit=self.config.max_frame)
        elif code == "not-utf8":
            text = texts.NOT_UTF8
        else:
            text = texts.MALFORMED_FRAME.format(detail=str(event.error))
        # The code only: an error's text can quote a frame, and a frame can hold a password.
        log.info("%s %s: bad frame (%s)", conn.peer, conn.who, code)
        if conn.phase is Phase.AWAITING_LOGIN and not event.fatal:
            self.send(conn, messages.conver(self.stamp(), text))
        else:
            self.send(conn, messages.err(self.stamp(), text))
        if event.fatal:
            self.end(conn)

    def _refuse(self, conn: Connection, frame: Frame) -> None:
        """Answer a frame that is not allowed in this phase."""
        if conn.phase is Phase.AWAITING_LOGIN:
            self.send(conn, messages.conver(self.stamp(), texts.UNKNOWN_CONNECTION))
        else:
            self.send(conn, messages.err(self.stamp(), texts.UNKNOWN_REASON.format(reason=frame.reason)))

    def _finish(self, conn: Connection) -> None:
        """Leave (the others are told, unless a kick or a shutdown said it already) and close."""
        conn.move_to(Phase.CLOSED)
        del self.connections[conn.id]
        if conn.online:
            conn.online = False
            self._leave(conn)
        if conn.admitted:
            key = limit_key(conn.host, self.config.ipv6_prefix)
            self._per_address.close(key)
            if self._connections_elsewhere is not NO_NODES:
                self.emit(ShareLimit("connections", key, count=self._per_address.count(key)))
        self.emit(Close(conn.id))


    def _leave(self, conn: Connection) -> None:
        """End ``conn``'s session; its user leaves with its last session, or is held for its grace."""
        if self.presence.sessions(conn.nickname) > 1:
            self.emit(Release(conn.id))
            log.info("%s %s: a session ended (others remain)", conn.peer, conn.nickname)
            return
        hold = (conn.token_hash is not None and conn.leave_text is not None and not self.closing
                and self.config.resume_grace > 0)
        if hold:
            self.emit(Release(conn.id, hold=True))
            self.ghosts[conn.ident] = Ghost(conn.nickname, self.now.monotonic + self.config.resume_grace)
            self._schedule_grace()
            log.info("%s %s: dropped; held online for %gs", conn.peer, conn.nickname, self.config.resume_grace)
            return
        self.emit(Release(conn.id))
        self.user_gone(conn.nickname, conn.ident, conn.leave_text)
        log.info("%s %s: left", conn.peer, conn.nickname)


def user_list_window(base: float, connections: int) -> float:
    """Seconds user-list changes are gathered for: ``base`` per 100 connections, at least ``base``."""
    return min(MAX_USER_LIST_DELAY, base * max(1.0, connections / 100))


# What each client reason runs (connection.ALLOWED says when each may).
HANDLERS: dict[str, Handler] = {
    "CON": accounts.on_con,
    "CHAT": chats.on_chat,
    "UPDATE": accounts.on_update,
    "DISCON": room.on_discon,
    "REF": room.on_ref,
    "USER": room.on_user,
    "KICK": room.on_kick,
    "PING": room.on_ping,
    "CREATE": rooms.on_create,
    "JOIN": rooms.on_join,
    "PART": rooms.on_part,
    "TOPIC": rooms.on_topic,
    "INVITE": rooms.on_invite,
    "REMOVE": rooms.on_remove,
    "OP": rooms.on_op,
    "ROOMS": rooms.on_rooms,
    "MEMBERS": rooms.on_members,
    "HISTORY": rooms.on_history,
    "READ": rooms.on_read,
    "BAN": moderation.on_ban,
    "UNBAN": moderation.on_unban,
    "BANS": moderation.on_bans,
    "MUTE": moderation.on_mute,
    "UNMUTE": moderation.on_unmute,
    "EDIT": moderation.on_edit,
    "DELETE": moderation.on_delete,
    "REPORT": moderation.on_report,
    "REPORTS": moderation.on_reports,
    "RESOLVE": moderation.on_resolve,
    "ACCOUNTS": moderation.on_accounts,
    "AUDIT": moderation.on_audit,
    "SEARCH": moderation.on_search,
    "UPLOAD": files.on_upload,
}

_EVENTS: dict[type, Callable[[ChatCore, Any], None]] = {
    Connected: ChatCore._connected,
    DataReceived: ChatCore._data_received,
    InputEnded: ChatCore._input_ended,
    ConnectionLost: ChatCore._connection_lost,
    TimerFired: ChatCore._timer_fired,
    Completed: ChatCore._completed,
    MessageStored: ChatCore._message_stored,
    Kicked: ChatCore._kicked,
    OutputOverflowed: ChatCore._output_overflowed,
    UserListDue: ChatCore._user_list_due,
    RestrictionsLoaded: ChatCore._restrictions_loaded,
    GraceDue: ChatCore._grace_due,
    ShutdownStarted: ChatCore._shutdown_started,
    PresenceChanged: ChatCore._presence_changed,
    RoomChanged: ChatCore._room_changed,
    LimitShared: ChatCore._limit_shared,
    NodeGone: ChatCore._node_gone,
}
