"""The desktop client's controller: views on the Tk thread, a Connection off it.

The network thread never touches a widget; it puts ``(connection, event)``
on a queue that `ParleyApp.poll` drains every 50 ms with ``after()`` (the id
kept and cancelled on close, as IDLE's pyshell does). Events from a
connection that is no longer the current one are dropped.

The chat screen shows one conversation at a time (the lobby, a room, or a
private conversation, desktop.conversations); the composer always writes
to the open one. What has been read is told to the server (READ) when the
window has the focus and the open conversation is scrolled to its newest
message.
"""

from __future__ import annotations

import logging
import queue
import tkinter as tk
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, cast

from parley.protocol.names import is_room, room_name_error, same_nickname
from parley.protocol.reading import conversation_key

from . import prefs as prefs_module
from . import themes
from .chatlog import ChatLog
from .client import (
    ROOM_REASONS,
    SESSION_ENDED,
    BansListed,
    ChatMessage,
    ConvChanged,
    DisconnectConfirmed,
    FileMessage,
    HistoryLoaded,
    InfoMessage,
    LoggedIn,
    LoginDetails,
    MembersListed,
    MessageDeleted,
    MessageEdited,
    Muted,
    Pong,
    RefreshStarted,
    RoomAnswer,
    RoomsListed,
    SearchDone,
    ServerError,
    ServerWarning,
    SessionIssued,
    UnknownFrame,
    Unmuted,
    UpdateAnswer,
    UploadGranted,
    UploadRefused,
    UsersChanged,
    check_message,
    check_update,
)
from .connection import Backoff, Closed, ConnectFailed, Connection, Status
from .conversations import LOBBY, Conversation, Conversations
from .discovery import Discovery, DiscoveryEvent, FoundServers
from .moderation import Moderation
from .prefs import Preferences, RememberedSession
from .sharing import Sharing
from .text import clock, localize_until
from .views import ChatView, ConnectView, CustomizeView

log = logging.getLogger("parley.desktop")

POLL_MS = 50
EVENTS_PER_POLL = 200  # a burst (a long REF) is spread over several polls; the UI stays live
HISTORY_PAGE = 50

ConnectionFactory = Callable[["queue.Queue[tuple[Connection, object]]", LoginDetails], Connection]


def sanitize_theme(root: tk.Misc, theme: dict[str, str], defaults: dict[str, str]) -> dict[str, str]:
    """Return ``theme`` with every value Tk cannot use replaced by the look's own."""
    clean = dict(defaults)
    for key, value in theme.items():
        try:
            if key == "text-font":
                root.tk.call("font", "actual", value)
            else:
                root.winfo_rgb(value)
                if not value.startswith("#"):  # a color name: as #rrggbb, for contrast sums
                    red, green, blue = root.winfo_rgb(value)
                    value = f"#{red >> 8:02x}{green >> 8:02x}{blue >> 8:02x}"
        except tk.TclError:
            log.warning("preference %s=%r is not usable; using %r", key, value, defaults.get(key))
            continue
        clean[key] = value
    return clean


def default_connection(events: "queue.Queue[tuple[Connection, object]]", login: LoginDetails) -> Connection:
    """Return a Connection with the production backoff (0.5 s doubling to 15 s)."""
    return Connection(events, login, Backoff())


class ParleyApp:
    """One window: the connect, chat and customize screens of one user."""

    def __init__(self, root: tk.Tk, preferences: Preferences,
                 save_preferences: Callable[[Preferences], None] = prefs_module.save,
                 connection_factory: ConnectionFactory = default_connection,
                 session_file: Path | None = None,
                 discovery_factory: Callable[["queue.Queue[DiscoveryEvent]"], Discovery] | None = None) -> None:
        self.root = root
        self.prefs = preferences
        self.save_preferences = save_preferences
        self.connection_factory = connection_factory
        self.session_file = session_file or prefs_module.session_path()
        self.look = themes.resolve(preferences.theme_name)
        defaults = themes.palette(self.look, {})
        self.theme = sanitize_theme(root, themes.palette(self.look, preferences.theme), defaults)
        self.events: queue.Queue[tuple[Connection, object]] = queue.Queue()
        self.connection: Connection | None = None
        self.login: LoginDetails | None = None
        self.nickname = ""
        self.color = preferences.color
        self.role: str | None = None
        self.users: tuple[str, ...] = ()
        self.online = False
        self.unread = 0
        self.rooms_server = False  # the server spoke rooms (sent a CONV): HISTORY and READ work
        self.conversations = Conversations("")
        self.open_rec = LOBBY
        self._open_when_listed: str | None = None
        self.drafts: dict[str, str] = {}  # unsent text of the conversations not open, by conversation_key
        self._loading: set[str] = set()  # conversations whose newest page was asked for, not yet answered
        self._redraw_id: str | None = None
        self._setup_root()
        # The servers found on the LAN, when looking (desktop.cli starts it; tests run it in a namespace).
        self.found = FoundServers()
        self.lan_events: queue.Queue[DiscoveryEvent] = queue.Queue()
        self.discovery = discovery_factory(self.lan_events) if discovery_factory is not None else None
        self.connect_view = ConnectView(root, self.theme, self.connect, discovering=self.discovery is not None)
        self.chat_view = ChatView(root, self.theme, self)
        self.customize_view = CustomizeView(root, self.theme, self)
        self.current: tk.Misc = self.connect_view
        self.chat_log = ChatLog(self.chat_view.log, self.theme)
        self.moderation = Moderation(self)
        self.sharing = Sharing(self)
        self.chat_log.files = self.sharing
        self.connect_view.fill(preferences)
        self.remembered = self._remembered_session()
        self._bind_keys()
        self.show(self.connect_view)
        self.connect_view.focus_first()
        self._handlers = self._event_handlers()
        self._poll_id: str | None = root.after(POLL_MS, self.poll)
        if self.discovery is not None:
            self.discovery.start()
        if self.remembered is not None:  # "logs in with token= next time"
            root.after(0, self.connect)

    # ---- setup ---------------------------------------------------------------

    def _setup_root(self) -> None:
        root = self.root
        root.title("Parley")
        root.geometry("900x700")
        root.minsize(640, 480)
        root.configure(bg=self.theme["bg-color"])
        root.protocol("WM_DELETE_WINDOW", self.close)
        root.report_callback_exception = self._report_error
        self.style = themes.apply_styles(root, self.theme, self.look)
        root.option_add("*Menu.background", self.theme["text-background"])
        root.option_add("*Menu.foreground", self.theme["default-text-color"])

    def _bind_keys(self) -> None:
        root, view = self.root, self.chat_view
        # Keyboard users: Return presses the focused button (Space already does).
        for key in ("<Return>", "<KP_Enter>"):
            root.bind_class("TButton", key, lambda e: cast(Any, e.widget).invoke())
        root.bind("<Control-Home>", lambda _e: self._if_chatting(self.chat_log.top))
        root.bind("<Control-End>", lambda _e: self._if_chatting(self.chat_log.bottom))
        root.bind("<F5>", lambda _e: self._if_chatting(self.refresh))
        root.bind("<Escape>", lambda _e: self._if_shown(self.customize_view, self.close_customize))
        root.bind("<Alt-c>", lambda _e: self._if_shown(self.connect_view, self.connect))
        root.bind("<Alt-l>", lambda _e: self._if_chatting(self.disconnect))
        root.bind("<Alt-u>", lambda _e: self._if_chatting(self.open_customize))
        root.bind("<Alt-r>", lambda _e: self._if_chatting(self.refresh))
        root.bind("<Alt-m>", lambda _e: self._if_chatting(view.entry.focus_set))
        root.bind("<Alt-o>", lambda _e: self._if_chatting(self.load_older))
        root.bind("<Alt-s>", lambda _e: self._if_shown(self.customize_view, self.save_customize))
        root.bind("<Alt-g>", lambda _e: self._if_shown(self.customize_view, self.close_customize))
        root.bind("<Control-Prior>", lambda _e: self._if_chatting(lambda: self.step_conversation(-1)))
        root.bind("<Control-Next>", lambda _e: self._if_chatting(lambda: self.step_conversation(1)))
        root.bind("<Control-f>", lambda _e: self._if_chatting(self.open_search))
        root.bind("<Control-o>", lambda _e: self._if_chatting(self.attach))

    def _if_shown(self, view: tk.Misc, action: Callable[[], Any]) -> None:
        if self.current is view:
            action()

    def _if_chatting(self, action: Callable[[], Any]) -> None:
        self._if_shown(self.chat_view, action)

    def _event_handlers(self) -> dict[type, Callable[[Any], None]]:
        return {
            Status: self._on_status, ConnectFailed: self._on_connect_failed, Closed: self._on_closed,
            LoggedIn: self._on_logged_in, ChatMessage: self._on_chat, FileMessage: self._on_chat,
            InfoMessage: self._on_info, UsersChanged: self._on_users, UpdateAnswer: self._on_update_answer,
            ServerError: self._on_error, ServerWarning: self._on_warning, UnknownFrame: self._on_unknown,
            ConvChanged: self._on_conv, MembersListed: self._on_members,
            RoomsListed: self._on_rooms, SessionIssued: self._on_session, HistoryLoaded: self._on_history,
            RoomAnswer: self._on_room_answer, RefreshStarted: _ignore, DisconnectConfirmed: _ignore, Pong: _ignore,
            MessageEdited: self.moderation.on_edited, MessageDeleted: self.moderation.on_deleted,
            BansListed: self.moderation.on_bans, SearchDone: self.moderation.on_search_done,
            Muted: self.moderation.on_muted, Unmuted: self.moderation.on_unmuted,
            UploadGranted: self.sharing.on_granted, UploadRefused: self.sharing.on_refused,
        }

    def show(self, view: tk.Misc) -> None:
        """Show one screen, hiding the others."""
        for other in (self.connect_view, self.chat_view, self.customize_view):
            if other is not view:
                other.pack_forget()
        cast(tk.Frame, view).pack(fill="both", expand=True)
        self.current = view

    # ---- the queue -------------------------------------------------------------

    def poll(self) -> None:
        """Handle the network's events, then look again in POLL_MS."""
        try:
            for _ in range(EVENTS_PER_POLL):
                source, event = self.events.get_nowait()
                if source is self.connection:
                    self.handle(event)
        except queue.Empty:
            pass
        finally:
            self._poll_id = self.root.after(POLL_MS, self.poll)
        self.sharing.poll()
        self._read_if_seen()
        self._show_found()

    def _show_found(self) -> None:
        """Show the servers found on the LAN since the last poll, if the list changed."""
        changed = False
        try:
            while True:
                changed = self.found.apply(self.lan_events.get_nowait()) or changed
        except queue.Empty:
            pass
        if changed:
            self.connect_view.show_found(self.found.servers(), self.found.failure)

    def handle(self, event: object) -> None:
        """Show one event from the current connection."""
        handler = self._handlers.get(type(event))
        if handler is None:
            log.warning("no handler for %s", type(event).__name__)
            return
        handler(event)

    # ---- connect screen ------------------------------------------------------

    def _remembered_session(self) -> RememberedSession | None:
        remembered = prefs_module.load_session(self.session_file)
        prefs = self.prefs
        if remembered is not None and not remembered.is_for(prefs.host, prefs.port, prefs.nickname):
            remembered = None
        self.connect_view.show_remembered(remembered.nickname if remembered else None)
        return remembered

    def connect(self) -> None:
        """Connect with what the connect screen holds (if it is valid)."""
        if self.connection is not None:
            return
        login = self.connect_view.entry_ok()
        if login is None:
            return
        remembered = self.remembered
        if remembered is not None and remembered.is_for(login.host, login.port, login.nickname) \
                and not login.password:
            login = LoginDetails(login.host, login.port, login.nickname, login.color, tls=login.tls,
                                 ca_file=login.ca_file, token=remembered.token, remember=True)
        self._remember(login)
        self.connect_view.show_progress(f"Connecting to {login.address}...")
        self.connect_view.set_busy(True)
        self.nickname, self.color, self.login = login.nickname, login.color, login
        self.connection = self.connection_factory(self.events, login)
        self.connection.start()

    def _remember(self, login: LoginDetails) -> None:
        prefs = self.prefs
        prefs.host, prefs.port, prefs.tls, prefs.ca_file = login.host, login.port, login.tls, login.ca_file
        prefs.nickname, prefs.color, prefs.remember = login.nickname, login.color, login.remember
        if not login.remember:
            self._forget_session()
        self._save_prefs()

    def _save_prefs(self) -> None:
        try:
            self.save_preferences(self.prefs)
        except OSError as error:
            log.warning("cannot save preferences: %s", error)

    def _forget_session(self) -> None:
        if self.remembered is not None or self.session_file.exists():
            prefs_module.forget_session(self.session_file)
        self.remembered = None
        self.connect_view.show_remembered(None)

    def _on_session(self, event: SessionIssued) -> None:
        login = self.login
        if login is None or not login.remember or event.expires == 0:
            return  # a token for the grace period only: the connection keeps it in memory
        self.remembered = RememberedSession(login.host, login.port, self.nickname, event.token, event.expires)
        try:
            prefs_module.save_session(self.remembered, self.session_file)
        except OSError as error:
            log.warning("cannot keep the session: %s", error)

    def _on_connect_failed(self, event: ConnectFailed) -> None:
        self.connection = None
        if event.text == SESSION_ENDED:
            self._forget_session()
        self.connect_view.set_busy(False)
        self.connect_view.show_error(event.text)
        self.show(self.connect_view)
        self.connect_view.focus_first()

    def _on_closed(self, event: Closed) -> None:
        self.connection = None
        self.online = False
        self.connect_view.set_busy(False)
        self.connect_view.show_error("" if event.by_user else event.text)
        self.users = ()
        self.set_unread(0)
        self.root.title("Parley")
        self.show(self.connect_view)
        self.connect_view.focus_first()

    # ---- chat screen: the connection -------------------------------------------------

    def _on_status(self, event: Status) -> None:
        self.online = event.state == "online"
        if not self.online:
            self._loading.clear()  # no answer comes on a lost connection
        self.chat_view.set_status(event.text, event.state)
        if self.current is self.connect_view and event.state == "connecting":
            self.connect_view.show_progress(event.text)

    def _on_logged_in(self, event: LoggedIn) -> None:
        self.nickname, self.role = event.nickname, event.role
        self.sharing.base = event.files
        if event.reconnected:
            self.chat_log.add_notice("Reconnected.")
            self._load_history(self.open_rec, newest=True)
        else:
            self.conversations = Conversations(event.nickname)
            self.drafts.clear()
            self.chat_log.me = event.nickname
            self.rooms_server = False
            self.open_rec = LOBBY
            self.chat_view.warn("")
            self.connect_view.set_busy(False)
            self.connect_view.show_error("")
            self.show(self.chat_view)
            self.open_conversation(LOBBY)
            self.chat_view.entry.focus_set()
        self.chat_view.set_identity(event.nickname, self.color)
        self.chat_view.show_kick_bar(event.role in ("admin", None))
        self._update_title()

    def _on_error(self, event: ServerError) -> None:
        if self.current is not self.connect_view:
            self.chat_view.warn(f"ERR: {event.text}")
        else:
            self.connect_view.show_error(event.text)

    def _on_warning(self, event: ServerWarning) -> None:
        self.chat_view.warn(f"WARN: {event.text}")
        self.chat_log.add_notice(localize_until(event.text))

    def _on_unknown(self, event: UnknownFrame) -> None:
        self.chat_view.warn(f"Unknown message from the server: {event.frame.reason}")

    # ---- messages ----------------------------------------------------------------

    def _on_chat(self, message: ChatMessage) -> None:
        if message.found:  # a SEARCH result, not a message of the conversation
            self.moderation.on_search_hit(message)
            return
        if message.old:
            self.conversations.receive(message, old=True)  # drawn when the HISTORY answer ends
            return
        conversation, index = self.conversations.receive(message)
        if index is None:
            return  # already shown (a REF replay after a reconnect)
        if conversation.rec == self.open_rec or self.conversations.get(self.open_rec) is conversation:
            if index == len(conversation.messages) - 1:
                self.chat_log.append(message)
            else:
                self._redraw_soon()
        self._show_counts()

    def _on_history(self, event: HistoryLoaded) -> None:
        conversation = self.conversations.get(event.rec)
        if conversation is None:
            return
        if event.after:  # a search result's page after it: "more" says newer ones exist
            if conversation is self._open():
                self.moderation.jumped(conversation.rec)
            return
        self._loading.discard(conversation_key(conversation.rec))
        conversation.more_before = event.more
        if conversation is self._open():
            keep = self._keep_id
            self.chat_log.render(conversation, keep=keep)
            self.chat_view.show_older(event.more)
            self._keep_id = None

    _keep_id: int | None = None

    def _on_info(self, event: InfoMessage) -> None:
        if event.sender and same_nickname(event.sender, self.nickname) and event.text.endswith("has joined the chat!"):
            return  # our own join: never a line above the history that follows
        # A room's event may come before the room's CONV (a join): it still goes to the room.
        conversation = self.conversations.ensure(event.rec if is_room(event.rec) else LOBBY)
        note = conversation.note("info", localize_until(event.text, event.until), clock(event.ts, event.time))
        if event.topic is not None and conversation.kind == "room":
            conversation.topic = event.topic
        if conversation is self._open():
            self.chat_log.append_note(note)
            self.chat_view.show_open(conversation)

    def _redraw_soon(self) -> None:
        if self._redraw_id is None:
            self._redraw_id = self.root.after(POLL_MS, self._redraw)

    def redraw_keeping_place(self) -> None:
        """Draw the open conversation again, keeping the lines in view (or the newest, at the bottom)."""
        self._redraw()

    def _redraw(self) -> None:
        self._redraw_id = None
        at_bottom = self.chat_log.at_bottom()
        first = self.chat_log.text.index("@0,0")
        self.chat_log.render(self._open())
        if not at_bottom:
            self.chat_log.text.yview(first)

    # ---- conversations ----------------------------------------------------------------

    def _open(self) -> Conversation:
        return self.conversations.get(self.open_rec) or self.conversations.ensure(LOBBY)

    def opened(self) -> Conversation:
        """Return the open conversation."""
        return self._open()

    def open_conversation(self, rec: str) -> None:
        """Show conversation ``rec`` (adding a private one that is new)."""
        conversation = self.conversations.ensure(rec)
        changed = conversation.rec != self.open_rec
        view = self.chat_view
        if changed:  # each conversation keeps its own draft: a draft never goes where it was not written
            self.drafts[conversation_key(self.open_rec)] = view.text()
            view.set_text(self.drafts.pop(conversation_key(conversation.rec), ""))
        if changed:
            self.moderation.cancel_edit()
        self.open_rec = conversation.rec
        view.show_open(conversation)
        self.moderation.show_mute()
        view.show_bans_button(bool(self.moderation.scopes()))
        if changed or not self.chat_log.content():
            self.chat_log.render(conversation, divider_after=conversation.read if conversation.unread else None)
        self._show_people()
        self._show_counts()
        if conversation.kind == "room" and conversation.members is None and self.rooms_server:
            self._request("MEMBERS", [("room", conversation.rec)])
        if conversation.more_before is None:
            self._load_history(conversation.rec, newest=True)

    def step_conversation(self, step: int) -> None:
        """Open the next (1) or previous (-1) conversation in the list."""
        listed = [c.rec for c in self.conversations.ordered()]
        at = listed.index(self.open_rec) if self.open_rec in listed else 0
        self.open_conversation(listed[(at + step) % len(listed)])

    def load_older(self) -> None:
        """Ask for the page of messages before the oldest one shown (HISTORY)."""
        conversation = self._open()
        if not self.rooms_server:
            self.chat_view.warn("This server keeps no history beyond what Refresh shows.")
            return
        self._keep_id = conversation.oldest_id
        self._load_history(conversation.rec, newest=False)

    def _load_history(self, rec: str, newest: bool) -> None:
        if self.connection is None or not self.online or not self.rooms_server:
            return
        conversation = self.conversations.ensure(rec)
        if newest:
            # Once: opening a conversation from code selects it in the list, which opens it again.
            if conversation_key(rec) in self._loading:
                return
            self._loading.add(conversation_key(rec))
        before = None if newest else conversation.oldest_id
        self.connection.history(conversation.rec, before, HISTORY_PAGE)

    def _on_conv(self, event: ConvChanged) -> None:
        first = not self.rooms_server
        self.rooms_server = True
        conversation = self.conversations.apply_conv(event.conversation, guest=self.role == "guest")
        if conversation is None and self.conversations.get(self.open_rec) is None:
            self.open_conversation(LOBBY)
        elif conversation is not None and self._open_when_listed and conversation.rec.casefold() == \
                self._open_when_listed.casefold():
            self._open_when_listed = None
            self.open_conversation(conversation.rec)
        elif conversation is self._open():
            self.chat_view.show_open(conversation)
            self.chat_view.show_bans_button(bool(self.moderation.scopes()))
        if first and self.open_rec == LOBBY:
            self._load_history(LOBBY, newest=True)  # the login's open conversation, now that HISTORY works
        self._show_counts()

    def _on_members(self, event: MembersListed) -> None:
        conversation = self.conversations.get(event.members.room)
        if conversation is not None:
            conversation.members = list(event.members.members)
            if conversation is self._open():
                self._show_people()

    def _on_users(self, event: UsersChanged) -> None:
        self.users = event.users
        self._show_people()
        self.chat_view.set_kick_choices([u for u in event.users if not same_nickname(u, self.nickname)])

    def _show_people(self) -> None:
        conversation = self._open()
        online = {name.casefold() for name in self.users}
        if conversation.kind == "room" and conversation.members is not None:
            people = [(name, ("@" if op else "") + ("" if name.casefold() in online else "offline"))
                      for name, op in conversation.members]
            self.chat_view.show_people(f"Members ({len(people)})", people)
        else:
            self.chat_view.show_people(f"Online ({len(self.users)})", [(name, "") for name in self.users])

    def _show_counts(self) -> None:
        self.chat_view.show_conversations(self.conversations.ordered(), self.open_rec)
        unread = sum(c.unread if c.kind == "private" else c.mentions for c in self.conversations.ordered())
        if unread != self.unread:
            self.set_unread(unread)

    def _read_if_seen(self) -> None:
        """The open conversation is read when the window has the focus and its newest line shows."""
        if self.current is not self.chat_view or not self.focused() or not self.chat_log.at_bottom():
            return
        conversation = self._open()
        if not conversation.unread and not conversation.mentions and conversation.last <= conversation.read:
            return
        read = self.conversations.mark_read(conversation)
        if read is not None and self.rooms_server and self.connection is not None and self.online:
            self.connection.room_request("READ", [("rec", conversation.rec), ("id", str(read))])
        self._show_counts()

    # ---- rooms ----------------------------------------------------------------------

    def request(self, reason: str, params: list[tuple[str, str]], content: str = "") -> bool:
        """Send a moderation request (BAN, MUTE, DELETE, ...); False when it cannot be sent."""
        if self.connection is None or not self.online:
            self.chat_view.warn("Not connected.")
            return False
        if not self.rooms_server:
            self.chat_view.warn("This server has no moderation beyond kicking.")
            return False
        self.connection.request(reason, params, content)
        return True

    def _request(self, reason: str, params: list[tuple[str, str]], content: str = "") -> bool:
        if self.connection is None or not self.online:
            self.chat_view.warn("Not connected.")
            return False
        if not self.rooms_server:
            if reason != "READ":
                self.chat_view.warn("This server has no rooms.")
            return False
        self.connection.room_request(reason, params, content)
        return True

    def ask_create_room(self) -> None:
        """Ask for a new room's name (and whether it is private), then CREATE it."""
        self.chat_view.prompt.ask("New room name:", self.create_room, "#", flag="private (invited only)")

    def create_room(self, name: str, private: bool = False, topic: str = "") -> None:
        """Send ``CREATE,room=#NAME[;private=1],TOPIC``; the room opens when the server lists it."""
        room = _room(name)
        problem = room_name_error(room[1:])
        if problem:
            self.chat_view.warn(problem)  # the server's own rule and words
            return
        params = [("room", room)] + ([("private", "1")] if private else [])
        if self._request("CREATE", params, topic):
            self._open_when_listed = room

    def ask_join_room(self) -> None:
        """Ask the server for its public rooms (ROOMS) and which to join."""
        self.chat_view.prompt.ask("Join room:", lambda text, _flag: self.join_room(text.split()[0]), "#")
        self._request("ROOMS", [])

    def join_room(self, name: str) -> None:
        """Send ``JOIN,room=#NAME,`` (or open it, when we are in it already)."""
        room = _room(name)
        if self.conversations.get(room) is not None:
            self.open_conversation(room)
        elif self._request("JOIN", [("room", room)]):
            self._open_when_listed = room

    def _on_rooms(self, event: RoomsListed) -> None:
        choices = [f"{r.name}  \u2014 {r.members} member{'s' if r.members != 1 else ''}"
                   + (f": {r.topic}" if r.topic else "") for r in event.rooms]
        self.chat_view.prompt.set_choices(choices)

    def leave_room(self) -> None:
        """Leave the open room (PART)."""
        if is_room(self.open_rec):
            self._request("PART", [("room", self.open_rec)])

    def ask_topic(self) -> None:
        """Ask for the open room's new topic."""
        conversation = self._open()
        self.chat_view.prompt.ask(f"Topic of {conversation.rec}:",
                                  lambda text, _f: self.set_topic(conversation.rec, text),
                                  conversation.topic)

    def set_topic(self, room: str, topic: str) -> None:
        """Set a room's topic (TOPIC; operators)."""
        self._request("TOPIC", [("room", room)], topic)

    def ask_invite(self) -> None:
        """Ask whom to add to the open room."""
        conversation = self._open()
        members = {n.casefold() for n, _ in conversation.members or []}
        choices = [u for u in self.users if u.casefold() not in members]
        self.chat_view.prompt.ask(f"Add to {conversation.rec}:", lambda text, _f: self.invite(text), "", choices)

    def invite(self, nickname: str) -> None:
        """Make ``nickname`` a member of the open room (INVITE)."""
        self._request("INVITE", [("room", self.open_rec), ("user", nickname)])

    def person_menu(self, nickname: str) -> list[tuple[str, Callable[[], None]]]:
        """Return what can be done to ``nickname`` from the people list."""
        items: list[tuple[str, Callable[[], None]]] = []
        if same_nickname(nickname, self.nickname):
            return items
        items.append((f"Message {nickname}", lambda: self.open_conversation(nickname)))
        conversation = self._open()
        if conversation.kind == "room" and conversation.op:
            room = conversation.rec
            is_op = any(op for n, op in conversation.members or [] if same_nickname(n, nickname))
            items.append((f"Remove as operator of {room}" if is_op else f"Make operator of {room}",
                          lambda: self.room_action("OP", nickname, "0" if is_op else "1")))
            items.append((f"Remove from {room}", lambda: self.room_action("REMOVE", nickname)))
        if self.role == "admin" and nickname in self.users:
            items.append(("Kick from the chat...", lambda: self._choose_kick(nickname)))
        return items + self.moderation.person_items(nickname)

    # ---- a message's menu, editing and search (desktop.moderation) ------------------------------

    def message_menu(self, message_id: int) -> list[tuple[str, Callable[[], None]]]:
        """Return what can be done to a message of the log."""
        return self.moderation.message_menu(message_id)

    def choose_message(self, step: int) -> int | None:
        """Choose the message ``step`` below (above, when negative) the chosen one; return it."""
        return self.chat_log.step_choice(step)

    def chosen_message(self) -> int | None:
        """Return the message the keyboard chose, or None."""
        return self.chat_log.chosen

    def cancel_edit(self) -> bool:
        """Stop editing (Escape in the composer)."""
        return self.moderation.cancel_edit()

    def edit_last(self) -> bool:
        """Edit our newest message of the open conversation."""
        return self.moderation.edit_last()

    def open_search(self) -> None:
        """Show the search window."""
        self.moderation.open_search()

    def open_bans(self) -> None:
        """Show the bans list."""
        self.moderation.open_bans()

    def room_action(self, reason: str, nickname: str, op: str = "") -> None:
        """Send OP (``op`` 1 or 0) or REMOVE for ``nickname`` in the open room."""
        params = [("room", self.open_rec), ("user", nickname)] + ([("op", op)] if op else [])
        self._request(reason, params)

    def _choose_kick(self, nickname: str) -> None:
        self.chat_view.kick_user.set(nickname)
        self.chat_view.kick_reason.focus_set()

    def _on_room_answer(self, event: RoomAnswer) -> None:
        if event.reason not in ROOM_REASONS and event.reason != "HISTORY":
            self.moderation.on_answer(event)
            return
        if event.reason == "HISTORY":
            self._loading.discard(conversation_key(event.target or LOBBY))
        if event.ok:
            self.chat_view.warn("")
            return
        if self._open_when_listed and event.reason in ("CREATE", "JOIN"):
            self._open_when_listed = None
        self.chat_view.warn(event.text)

    # ---- sending ----------------------------------------------------------------------

    def send(self) -> None:
        """Send the composer's text to the open conversation."""
        view = self.chat_view
        text = view.text()
        problem = check_message(text)
        if problem is None and (self.connection is None or not self.online):
            problem = "Not connected: the message was not sent."
        if problem:
            view.warn(problem)
            return
        assert self.connection is not None
        if self.moderation.send_edit(text):
            return
        self.connection.send_chat(self._open().rec, text)
        view.set_text("")
        view.warn("")
        self.chat_log.bottom()

    def attach(self) -> None:
        """Pick a file and send it to the open conversation (Attach..., Ctrl+O)."""
        self.sharing.attach()

    def refresh(self) -> None:
        """Empty the log and ask the server to replay the history (REF, and HISTORY of the open one)."""
        if self.connection is None or not self.online:
            self.chat_view.warn("Not connected.")
            return
        conversation = self._open()
        conversation.forget()
        self.chat_log.clear()
        self.connection.refresh()
        self._load_history(conversation.rec, newest=True)

    def disconnect(self) -> None:
        """Leave the chat (DISCON, which also ends a remembered session); back to the connect screen."""
        if self.connection is not None:
            self._forget_session()
            self.chat_view.set_status("Disconnecting...", "offline")
            self.connection.disconnect()

    def kick(self) -> None:
        """Kick the user chosen in the kick bar, with the reason typed."""
        view = self.chat_view
        user, reason = view.kick_user.get(), view.kick_reason.get()
        if not user:
            view.warn("Choose whom to kick.")
            return
        if self.connection is None or not self.online:
            view.warn("Not connected.")
            return
        self.connection.kick(user, reason)
        view.kick_reason.delete(0, "end")
        view.warn("")

    # ---- customize screen -----------------------------------------------------

    def open_customize(self) -> None:
        """Show the customize screen."""
        self.customize_view.show_answer("", True)
        self.show(self.customize_view)
        self.customize_view.nick_entry.focus_set()

    def close_customize(self) -> None:
        """Back to the chat."""
        self.customize_view.clear()
        self.show(self.chat_view)
        self.chat_view.entry.focus_set()

    def save_customize(self) -> None:
        """Send an UPDATE of the fields filled in; the answer shows when it comes."""
        view = self.customize_view
        nickname, color, password = view.values()
        problem = check_update(nickname, color, password)
        if problem is None and (self.connection is None or not self.online):
            problem = "Not connected."
        if problem:
            view.show_answer(problem, ok=False)
            return
        assert self.connection is not None
        self.connection.update(nickname, color, password)
        view.password.set("")
        view.show_answer("Sent; waiting for the server's answer...", ok=True)

    def _on_update_answer(self, event: UpdateAnswer) -> None:
        self.customize_view.show_answer(f"Server: {event.text}", event.ok)
        if not event.ok:
            return
        self.customize_view.clear()
        self.nickname, self.color = event.nickname, event.color
        self.conversations.me = self.chat_log.me = event.nickname
        self.prefs.nickname, self.prefs.color = event.nickname, event.color
        self._save_prefs()
        self.chat_view.set_identity(event.nickname, event.color)
        self._update_title()

    # ---- focus and the unread marker ----------------------------------------

    def focused(self) -> bool:
        """Return True when one of this window's widgets has the keyboard focus.

        Asked of Tk each time rather than tracked from FocusIn/FocusOut
        events, which Tk does not always deliver when another application
        takes the focus (no window manager, for one).
        """
        try:
            return self.root.focus_get() is not None
        except KeyError:  # the focus is in a widget Tk made itself (a combobox's list)
            return True

    def set_unread(self, count: int) -> None:
        """Show ``count`` unread private messages and mentions in the header and the title."""
        self.unread = count
        self.chat_view.set_unread(count)
        self._update_title()

    def _update_title(self) -> None:
        title = f"Parley \u2014 {self.nickname}" if self.connection is not None else "Parley"
        self.root.title(f"({self.unread}) {title}" if self.unread else title)

    # ---- errors and closing ----------------------------------------------------

    def _report_error(self, kind: type[BaseException], error: BaseException,
                      trace: TracebackType | None) -> None:
        """A bug in a callback: log it, show one line in the window, carry on."""
        log.error("error in the user interface", exc_info=(kind, error, trace))
        text = f"Something went wrong: {error}"
        if self.current is not self.connect_view:
            self.chat_view.warn(text)
        else:
            self.connect_view.show_error(text)

    @property
    def closed(self) -> bool:
        """True once the window has been closed."""
        return self._poll_id is None

    def close(self) -> None:
        """Stop the network thread and destroy the window.

        Says DISCON first, unless a remembered session should outlive the
        window (DISCON would end it: "Leave forgets it").
        """
        if self.closed:
            return
        if self._poll_id is not None:
            self.root.after_cancel(self._poll_id)
            self._poll_id = None
        if self._redraw_id is not None:
            self.root.after_cancel(self._redraw_id)
            self._redraw_id = None
        self.moderation.close()
        self.sharing.close()
        if self.discovery is not None:
            self.discovery.stop()
        if self.connection is not None:
            self.connection.close(say_discon=self.remembered is None)
            self.connection = None
        self.root.destroy()


def _room(name: str) -> str:
    """Return a room's address as typed, with its ``#``."""
    name = name.strip()
    return name if name.startswith("#") else f"#{name}"


def _ignore(_event: object) -> None:
    pass
