"""The desktop client's controller: views on the Tk thread, a Connection off it.

The network thread never touches a widget; it puts ``(connection, event)``
on a queue that `ParleyApp.poll` drains every 50 ms with ``after()`` (the id
kept and cancelled on close, as IDLE's pyshell does). Events from a
connection that is no longer the current one are dropped.
"""

from __future__ import annotations

import logging
import queue
import tkinter as tk
from tkinter import ttk
from types import TracebackType
from typing import Any, Callable, cast

from parley.protocol.names import same_nickname

from . import prefs as prefs_module
from .chatlog import ChatLog
from .client import (
    ChatMessage,
    DisconnectConfirmed,
    History,
    InfoMessage,
    LoggedIn,
    LoginDetails,
    Pong,
    RefreshStarted,
    ServerError,
    ServerWarning,
    UnknownFrame,
    UpdateAnswer,
    UsersChanged,
    check_message,
    check_update,
    recipient_choices,
)
from .connection import Backoff, Closed, ConnectFailed, Connection, Status
from .prefs import THEME_DEFAULTS, Preferences
from .views import ChatView, ConnectView, CustomizeView

log = logging.getLogger("parley.desktop")

POLL_MS = 50
EVENTS_PER_POLL = 200  # a burst (a long REF) is spread over several polls; the UI stays live

ConnectionFactory = Callable[["queue.Queue[tuple[Connection, object]]", LoginDetails], Connection]


def sanitize_theme(root: tk.Misc, theme: dict[str, str]) -> dict[str, str]:
    """Return ``theme`` with every value Tk cannot use replaced by the default."""
    clean = dict(THEME_DEFAULTS)
    for key, value in theme.items():
        try:
            if key == "text-font":
                root.tk.call("font", "actual", value)
            else:
                root.winfo_rgb(value)
        except tk.TclError:
            log.warning("preference %s=%r is not usable; using %r", key, value, THEME_DEFAULTS.get(key))
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
                 connection_factory: ConnectionFactory = default_connection) -> None:
        self.root = root
        self.prefs = preferences
        self.save_preferences = save_preferences
        self.connection_factory = connection_factory
        self.theme = sanitize_theme(root, preferences.theme)
        self.events: queue.Queue[tuple[Connection, object]] = queue.Queue()
        self.connection: Connection | None = None
        self.history = History()
        self.nickname = ""
        self.color = preferences.color
        self.users: tuple[str, ...] = ()
        self.online = False
        self.unread = 0
        self._setup_root()
        self.connect_view = ConnectView(root, self.theme, self.connect)
        self.chat_view = ChatView(root, self.theme, self)
        self.customize_view = CustomizeView(root, self.theme, self)
        self.current: tk.Frame = self.connect_view
        self.chat_log = ChatLog(self.chat_view.log, self.theme)
        self.connect_view.fill(preferences)
        self._bind_keys()
        self.show(self.connect_view)
        self.connect_view.focus_first()
        self._handlers = self._event_handlers()
        self._poll_id: str | None = root.after(POLL_MS, self.poll)

    # ---- setup ---------------------------------------------------------------

    def _setup_root(self) -> None:
        root = self.root
        root.title("Parley")
        root.geometry("850x700")
        root.minsize(640, 480)
        root.configure(bg=self.theme["bg-color"])
        root.protocol("WM_DELETE_WINDOW", self.close)
        root.report_callback_exception = self._report_error
        style = ttk.Style(root)
        style.configure("Parley.TCombobox", fieldbackground=self.theme["dropdown-bg"],
                        foreground=self.theme["dropdown-fg"], background=self.theme["active-dropdown-bg"])
        style.map("Parley.TCombobox", fieldbackground=[("readonly", self.theme["dropdown-bg"])],
                  foreground=[("readonly", self.theme["dropdown-fg"])])

    def _bind_keys(self) -> None:
        root, view = self.root, self.chat_view
        # Keyboard users: Return presses the focused button (Space already does).
        for key in ("<Return>", "<KP_Enter>"):
            root.bind_class("Button", key, lambda e: cast(tk.Button, e.widget).invoke())
        root.bind("<Control-Home>", lambda _e: self._if_chatting(self.chat_log.top))
        root.bind("<Control-End>", lambda _e: self._if_chatting(self.chat_log.bottom))
        root.bind("<F5>", lambda _e: self._if_chatting(self.refresh))
        root.bind("<Escape>", lambda _e: self._if_shown(self.customize_view, self.close_customize))
        root.bind("<Alt-c>", lambda _e: self._if_shown(self.connect_view, self.connect))
        root.bind("<Alt-d>", lambda _e: self._if_chatting(self.disconnect))
        root.bind("<Alt-u>", lambda _e: self._if_chatting(self.open_customize))
        root.bind("<Alt-r>", lambda _e: self._if_chatting(self.refresh))
        root.bind("<Alt-t>", lambda _e: self._if_chatting(view.recipient.focus_set))
        root.bind("<Alt-m>", lambda _e: self._if_chatting(view.entry.focus_set))
        root.bind("<Alt-s>", lambda _e: self._if_shown(self.customize_view, self.save_customize))
        root.bind("<Alt-g>", lambda _e: self._if_shown(self.customize_view, self.close_customize))

    def _if_shown(self, view: tk.Frame, action: Callable[[], Any]) -> None:
        if self.current is view:
            action()

    def _if_chatting(self, action: Callable[[], Any]) -> None:
        self._if_shown(self.chat_view, action)

    def _event_handlers(self) -> dict[type, Callable[[Any], None]]:
        return {
            Status: self._on_status, ConnectFailed: self._on_connect_failed, Closed: self._on_closed,
            LoggedIn: self._on_logged_in, ChatMessage: self._on_chat, InfoMessage: self._on_info,
            UsersChanged: self._on_users, UpdateAnswer: self._on_update_answer,
            ServerError: self._on_error, ServerWarning: self._on_warning,
            UnknownFrame: self._on_unknown, RefreshStarted: _ignore, DisconnectConfirmed: _ignore,
            Pong: _ignore,
        }

    def show(self, view: tk.Frame) -> None:
        """Show one screen, hiding the others."""
        for other in (self.connect_view, self.chat_view, self.customize_view):
            if other is not view:
                other.pack_forget()
        view.pack(fill="both", expand=True)
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
        if self.unread and self.focused():
            self.set_unread(0)

    def handle(self, event: object) -> None:
        """Show one event from the current connection."""
        handler = self._handlers.get(type(event))
        if handler is None:
            log.warning("no handler for %s", type(event).__name__)
            return
        handler(event)

    # ---- connect screen ------------------------------------------------------

    def connect(self) -> None:
        """Connect with what the connect screen holds (if it is valid)."""
        if self.connection is not None:
            return
        login = self.connect_view.entry_ok()
        if login is None:
            return
        self._remember(login)
        self.connect_view.show_progress(f"Connecting to {login.address}...")
        self.connect_view.set_busy(True)
        self.nickname, self.color = login.nickname, login.color
        self.connection = self.connection_factory(self.events, login)
        self.connection.start()

    def _remember(self, login: LoginDetails) -> None:
        prefs = self.prefs
        prefs.host, prefs.port, prefs.tls, prefs.ca_file = login.host, login.port, login.tls, login.ca_file
        prefs.nickname, prefs.color = login.nickname, login.color
        self._save_prefs()

    def _save_prefs(self) -> None:
        try:
            self.save_preferences(self.prefs)
        except OSError as error:
            log.warning("cannot save preferences: %s", error)

    def _on_connect_failed(self, event: ConnectFailed) -> None:
        self.connection = None
        self.connect_view.set_busy(False)
        self.connect_view.show_error(event.text)
        self.show(self.connect_view)
        self.connect_view.focus_first()

    def _on_closed(self, event: Closed) -> None:
        self.connection = None
        self.online = False
        self.connect_view.set_busy(False)
        self.connect_view.show_error("" if event.by_user else event.text)
        self.set_unread(0)
        self.root.title("Parley")
        self.show(self.connect_view)
        self.connect_view.focus_first()

    # ---- chat screen -------------------------------------------------------------

    def _on_status(self, event: Status) -> None:
        self.online = event.state == "online"
        self.chat_view.set_status(event.text, event.state)
        if self.current is self.connect_view and event.state == "connecting":
            self.connect_view.show_progress(event.text)

    def _on_logged_in(self, event: LoggedIn) -> None:
        self.nickname = event.nickname
        if event.reconnected:
            self.chat_log.add_notice("Reconnected.")
        else:
            self.chat_log.clear()
            self.history.clear()
            self.chat_view.warn("")
            self.connect_view.set_busy(False)
            self.connect_view.show_error("")
            self.show(self.chat_view)
            self.chat_view.entry.focus_set()
        self.chat_view.set_identity(event.nickname, self.color)
        self.chat_view.show_kick_bar(event.role in ("admin", None))
        self._update_title()

    def _on_chat(self, message: ChatMessage) -> None:
        placement = self.history.place(message.id)
        if placement is None:
            return  # already shown (a REF replay after a reconnect)
        self.chat_log.add_chat(message, placement.before)
        if message.to_me and not message.mine and placement.before is None and not self.focused():
            self.set_unread(self.unread + 1)

    def _on_info(self, event: InfoMessage) -> None:
        self.chat_log.add_info(event.time, event.text)

    def _on_users(self, event: UsersChanged) -> None:
        self.users = event.users
        gone = self.chat_view.set_recipients(recipient_choices(event.users, self.nickname))
        if gone:
            self.chat_view.warn(f"{gone} is no longer online: messages now go to everyone.")
        self.chat_view.set_kick_choices([u for u in event.users if not same_nickname(u, self.nickname)])

    def _on_error(self, event: ServerError) -> None:
        if self.current is not self.connect_view:
            self.chat_view.warn(f"ERR: {event.text}")
        else:
            self.connect_view.show_error(event.text)

    def _on_warning(self, event: ServerWarning) -> None:
        self.chat_view.warn(f"WARN: {event.text}")
        self.chat_log.add_notice(event.text)

    def _on_unknown(self, event: UnknownFrame) -> None:
        self.chat_view.warn(f"Unknown message from the server: {event.frame.reason}")

    def send(self) -> None:
        """Send the message entry's text to the chosen recipient."""
        view = self.chat_view
        text = view.message.get()
        problem = check_message(text)
        if problem is None and (self.connection is None or not self.online):
            problem = "Not connected: the message was not sent."
        if problem:
            view.warn(problem)
            return
        assert self.connection is not None
        self.connection.send_chat(view.recipient_value(), text)
        view.message.set("")
        view.warn("")
        self.chat_log.bottom()

    def refresh(self) -> None:
        """Empty the log and ask the server to replay the history (REF)."""
        if self.connection is None or not self.online:
            self.chat_view.warn("Not connected.")
            return
        self.chat_log.clear()
        self.history.clear()
        self.connection.refresh()

    def disconnect(self) -> None:
        """Leave the chat (DISCON); back to the connect screen."""
        if self.connection is not None:
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
        """Show ``count`` unread private messages in the chat header and the title."""
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
        """Say DISCON if connected, stop the network thread and destroy the window."""
        if self.closed:
            return
        if self._poll_id is not None:
            self.root.after_cancel(self._poll_id)
            self._poll_id = None
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        self.root.destroy()


def _ignore(_event: object) -> None:
    pass
