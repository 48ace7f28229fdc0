"""The screens: connect, chat (conversations, log, people, composer), customize.

Widgets only: each view reads and shows values, and calls back into the
controller (desktop.app) for anything that happens. Validation returns a
value or None and puts the reason in the view's label (as IDLE's query.py).
Every widget is ttk (styled by desktop.themes) but the log, the people
list and the composer, which ttk has no kind of; those take the theme's
colors directly.
"""

from __future__ import annotations

import os
import tkinter as tk
from tkinter import colorchooser, filedialog, ttk
from typing import Callable, Protocol

from parley.net.dnssd import FoundServer

from .client import MAX_MESSAGE, LoginDetails, is_color, parse_address
from .conversations import Conversation
from .prefs import Preferences
from .text import encode_lines, localize_until, readable_color


class ChatActions(Protocol):
    def send(self) -> None: ...
    def attach(self) -> None: ...
    def refresh(self) -> None: ...
    def disconnect(self) -> None: ...
    def kick(self) -> None: ...
    def open_customize(self) -> None: ...
    def open_conversation(self, rec: str) -> None: ...
    def load_older(self) -> None: ...
    def ask_create_room(self) -> None: ...
    def ask_join_room(self) -> None: ...
    def ask_topic(self) -> None: ...
    def ask_invite(self) -> None: ...
    def leave_room(self) -> None: ...
    def person_menu(self, nickname: str) -> list[tuple[str, Callable[[], None]]]: ...
    def message_menu(self, message_id: int) -> list[tuple[str, Callable[[], None]]]: ...
    def choose_message(self, step: int) -> int | None: ...
    def chosen_message(self) -> int | None: ...
    def cancel_edit(self) -> bool: ...
    def edit_last(self) -> bool: ...
    def open_search(self) -> None: ...
    def open_bans(self) -> None: ...


class CustomizeActions(Protocol):
    def save_customize(self) -> None: ...
    def close_customize(self) -> None: ...


def pick_color(parent: tk.Misc, variable: tk.StringVar) -> None:
    """Ask for a color with the system chooser; put ``#rrggbb`` in ``variable``."""
    current = variable.get() if is_color(variable.get()) else "#ffffff"
    _, chosen = colorchooser.askcolor(color=current, parent=parent, title="Choose your color")
    if chosen:
        variable.set(str(chosen).upper())


LOOKING = "Looking for Parley servers on this network..."
CHOOSE = "Choose one to fill in its address; double-click to connect."


class ConnectView(ttk.Frame):
    """The servers found on the LAN (when looking), server address, port, TLS and CA file, nickname,
    password, color, remember me."""

    def __init__(self, master: tk.Misc, theme: dict[str, str], on_connect: Callable[[], None],
                 discovering: bool = False) -> None:
        super().__init__(master, style="Login.TFrame")
        self.theme = theme
        self.on_connect = on_connect
        self.host = tk.StringVar(self)
        self.port = tk.StringVar(self)
        self.tls = tk.BooleanVar(self)
        self.ca_file = tk.StringVar(self)
        self.nickname = tk.StringVar(self)
        self.password = tk.StringVar(self)
        self.color = tk.StringVar(self)
        self.remember = tk.BooleanVar(self)
        # With the LAN's servers listed the title is smaller, so that Connect fits the smallest window (640x480).
        ttk.Label(self, text="Welcome to the chat!", style="Login.TLabel",
                  font="TkHeadingFont 18" if discovering else "TkHeadingFont 24").grid(
            row=0, column=0, columnspan=3, pady=(14, 8) if discovering else (40, 20))
        self.found: list[FoundServer] = []
        self.lan_box = ttk.Frame(self, style="Login.TFrame")
        if discovering:
            self.lan_box.grid(row=1, column=0, columnspan=3, pady=(0, 10))
        ttk.Label(self.lan_box, text="Parley servers on this network:", style="Login.TLabel").grid(
            row=0, column=0, sticky="w")
        self.lan_list = tk.Listbox(self.lan_box, height=3, width=52, activestyle="dotbox", exportselection=False,
                                   relief="flat", bg=theme["text-background"], fg=theme["default-text-color"],
                                   selectbackground=theme["select-bg"], selectforeground=theme["select-fg"],
                                   highlightthickness=1, highlightbackground=theme["bg-color"])
        self.lan_list.grid(row=1, column=0, sticky="ew")
        self.lan_status = ttk.Label(self.lan_box, text=LOOKING, style="Login.TLabel")
        self.lan_status.grid(row=2, column=0, sticky="w")
        self.lan_list.bind("<<ListboxSelect>>", lambda _event: self.choose_found())
        self.lan_list.bind("<Double-Button-1>", lambda _event: self._choose_and_connect())
        self.lan_list.bind("<Return>", lambda _event: self._choose_and_connect())
        form = ttk.Frame(self, style="Login.TFrame")
        form.grid(row=2, column=0, columnspan=3)
        self.host_entry = self._field(form, 0, "Server address", self.host)
        self.port_entry = self._field(form, 1, "Port", self.port, width=8)
        self.tls_check = ttk.Checkbutton(form, text="Use TLS", variable=self.tls, style="Login.TCheckbutton")
        self.tls_check.grid(row=2, column=1, sticky="w", pady=2)
        self.ca_entry = self._field(form, 3, "CA file (self-signed)", self.ca_file)
        self.ca_button = ttk.Button(form, text="Browse...", command=self.browse_ca)
        self.ca_button.grid(row=3, column=2, sticky="w", padx=4)
        self.nick_entry = self._field(form, 4, "Nickname", self.nickname)
        self.password_entry = self._field(form, 5, "Password", self.password, show="\u2022")
        ttk.Label(form, text="Color:", style="Login.TLabel").grid(row=6, column=0, sticky="e", padx=6, pady=3)
        color_box = ttk.Frame(form, style="Login.TFrame")
        color_box.grid(row=6, column=1, sticky="w", pady=3)
        self.color_entry = ttk.Entry(color_box, textvariable=self.color, width=10)
        self.color_entry.pack(side="left")
        self.color_entry.bind("<Return>", lambda _event: self.on_connect())
        self.swatch = tk.Label(color_box, text="  ", width=2, relief="groove")
        self.swatch.pack(side="left", padx=6)
        self.color_button = ttk.Button(form, text="Pick...", command=lambda: pick_color(self, self.color))
        self.color_button.grid(row=6, column=2, sticky="w", padx=4)
        self.color.trace_add("write", lambda *_: self._show_swatch())
        self.remember_check = ttk.Checkbutton(form, text="Remember me on this computer", variable=self.remember,
                                              style="Login.TCheckbutton")
        self.remember_check.grid(row=7, column=1, sticky="w", pady=2)
        self.remembered_label = ttk.Label(self, text="", style="Login.TLabel")
        self.remembered_label.grid(row=3, column=0, columnspan=3, pady=(8, 0))
        ttk.Label(self, text="*Passwords are only required for registered users", style="Login.TLabel").grid(
            row=4, column=0, columnspan=3, pady=(6, 0))
        self.connect_button = ttk.Button(self, text="Connect", command=self.on_connect, underline=0,
                                         style="Send.TButton")
        self.connect_button.grid(row=5, column=0, columnspan=3, pady=12)
        self.error_label = ttk.Label(self, text="", style="Login.TLabel", wraplength=640, justify="left")
        self.error_label.grid(row=6, column=0, columnspan=3, padx=20)
        self.columnconfigure(0, weight=1)

    def show_found(self, servers: list[FoundServer], failure: str = "") -> None:
        """Show the servers found on the LAN (keeping the one chosen, if still there), or why none can be."""
        chosen: tuple[int, ...] = self.lan_list.curselection()  # type: ignore[no-untyped-call]
        kept = self.found[chosen[0]] if chosen and chosen[0] < len(self.found) else None
        self.found = list(servers)
        self.lan_list.delete(0, "end")
        for server in self.found:
            self.lan_list.insert("end", server.label)
        if kept in self.found:
            self.lan_list.selection_set(self.found.index(kept))
        if failure:
            text = f"Cannot look for servers on this network: {failure}"
        else:
            text = CHOOSE if self.found else LOOKING
        self.lan_status.configure(text=text)

    def choose_found(self) -> FoundServer | None:
        """Fill the address, port and TLS setting from the server chosen in the list."""
        chosen: tuple[int, ...] = self.lan_list.curselection()  # type: ignore[no-untyped-call]
        if not chosen or chosen[0] >= len(self.found):
            return None
        server = self.found[chosen[0]]
        self.host.set(server.host)
        self.port.set(str(server.port))
        self.tls.set(server.tls)
        if not server.tls:
            self.ca_file.set("")  # a CA file is another server's: it would turn TLS back on
        self.show_progress(f"{server.name}: {server.host} port {server.port}{' with TLS' if server.tls else ''}.")
        return server

    def _choose_and_connect(self) -> None:
        if self.choose_found() is not None:
            self.on_connect()

    def _field(self, form: ttk.Frame, row: int, label: str, variable: tk.StringVar,
               width: int = 28, show: str = "") -> ttk.Entry:
        ttk.Label(form, text=label + ":", style="Login.TLabel").grid(row=row, column=0, sticky="e", padx=6, pady=3)
        entry = ttk.Entry(form, textvariable=variable, width=width, show=show)
        entry.grid(row=row, column=1, sticky="w", pady=3)
        entry.bind("<Return>", lambda _event: self.on_connect())
        return entry

    def _show_swatch(self) -> None:
        color = self.color.get()
        if is_color(color):
            self.swatch.configure(bg=color)

    def fill(self, prefs: Preferences) -> None:
        """Show the remembered address, port, TLS, CA file, nickname, color and remember-me."""
        self.host.set(prefs.host)
        self.port.set(str(prefs.port))
        self.tls.set(prefs.tls)
        self.ca_file.set(prefs.ca_file)
        self.nickname.set(prefs.nickname)
        self.color.set(prefs.color)
        self.remember.set(prefs.remember)

    def show_remembered(self, nickname: str | None) -> None:
        """Say that a remembered session logs ``nickname`` in without the password (None: none)."""
        if nickname:
            self.remembered_label.configure(text=f"Remembered: {nickname} logs in without a password.")
            self.remembered_label.grid()
        else:
            self.remembered_label.grid_remove()  # no empty line's height

    def browse_ca(self) -> None:
        """Pick the certificate file to trust (a self-signed server's own certificate)."""
        chosen = filedialog.askopenfilename(parent=self, title="Certificate to trust",
                                            filetypes=[("Certificates", "*.pem *.crt"), ("All", "*")])
        if chosen:
            self.ca_file.set(chosen)
            self.tls.set(True)

    def entry_ok(self) -> LoginDetails | None:
        """Return the login the fields describe, or None with the reason shown."""
        try:  # "host:port" typed in the address field wins over the port field
            host, typed_port = parse_address(self.host.get())
        except ValueError:
            self.show_error("The port after the address must be a number from 1 to 65535.")
            return None
        if typed_port:
            self.host.set(host)
            self.port.set(str(typed_port))
        port, color, ca_file = self.port.get().strip(), self.color.get().strip(), self.ca_file.get().strip()
        problem = _login_problem(host, port, self.nickname.get(), color, ca_file)
        if problem:
            self.show_error(problem)
            return None
        return LoginDetails(host=host, port=int(port), nickname=self.nickname.get(), color=color,
                            password=self.password.get(), tls=self.tls.get() or bool(ca_file),
                            ca_file=ca_file, remember=self.remember.get())

    def show_error(self, text: str) -> None:
        """Show why connecting failed (or nothing, with an empty text); a ban's end in local time."""
        self.error_label.configure(text=localize_until(text), foreground=self.theme["error"])

    def show_progress(self, text: str) -> None:
        """Show what the connection is doing."""
        self.error_label.configure(text=text, foreground=self.theme["login-page-text"])

    def set_busy(self, busy: bool) -> None:
        """Disable the Connect button while a connection is being made."""
        self.connect_button.configure(state="disabled" if busy else "normal",
                                      text="Connecting..." if busy else "Connect")

    def focus_first(self) -> None:
        """Focus the first empty field (the password, when the rest is remembered)."""
        for entry, variable in ((self.host_entry, self.host), (self.nick_entry, self.nickname),
                                (self.password_entry, self.password)):
            if not variable.get():
                entry.focus_set()
                return
        self.connect_button.focus_set()


def wrap_to_width(label: ttk.Label) -> None:
    """Wrap ``label``'s text at the width it is given, as the window is resized.

    A fixed wraplength wider than the window cut a long line (a refusal
    quoting a long file name) at the window's edge: the end of the reason
    was hidden.
    """
    def follow(event: tk.Event[tk.Misc]) -> None:
        wrap = event.width - 4  # the label's own border and padding besides the text
        if wrap > 0 and str(label.cget("wraplength")) != str(wrap):
            label.configure(wraplength=wrap)

    label.bind("<Configure>", follow, add="+")


def _login_problem(host: str, port: str, nickname: str, color: str, ca_file: str) -> str | None:
    """Return what is wrong with the connect screen's fields, or None."""
    if not host:
        return "Enter the server's address."
    if not port.isdigit() or not 0 < int(port) < 65536:
        return "The port must be a number from 1 to 65535."
    if not nickname.strip():
        return "Enter a nickname."
    if not is_color(color):
        return "The color must look like #RRGGBB (or use Pick...)."
    if ca_file and not os.path.isfile(ca_file):
        return f"There is no CA file at {ca_file}."
    return None


class Prompt(ttk.Frame):
    """A one-line question above the composer (a room's name, a topic, whom to invite).

    ``ask`` shows it; Return or OK calls back with the text (and the
    checkbox's value when one is offered); Escape or Cancel hides it.
    """

    def __init__(self, master: tk.Misc) -> None:
        super().__init__(master)
        self.label = ttk.Label(self, text="")
        self.label.pack(side="left", padx=(0, 4))
        self.cancel_button = ttk.Button(self, text="Cancel", command=self.hide)
        self.cancel_button.pack(side="right", padx=2)
        self.ok_button = ttk.Button(self, text="OK", command=self._answer)
        self.ok_button.pack(side="right", padx=2)
        self.flag = tk.BooleanVar(self)
        self.check = ttk.Checkbutton(self, text="", variable=self.flag)
        self.value = tk.StringVar(self)
        self.entry = ttk.Combobox(self, textvariable=self.value)
        self.entry.pack(side="left", fill="x", expand=True, padx=4)
        for widget in (self.entry, self.check):
            widget.bind("<Return>", lambda _e: self._answer())
            widget.bind("<KP_Enter>", lambda _e: self._answer())
            widget.bind("<Escape>", lambda _e: self.hide())
        self._callback: Callable[[str, bool], None] | None = None
        self.shown = False

    def ask(self, question: str, callback: Callable[[str, bool], None], value: str = "",
            choices: list[str] | None = None, flag: str = "") -> None:
        """Show ``question``; ``choices`` fill the dropdown; ``flag`` labels a checkbox."""
        self.label.configure(text=question)
        self.entry.pack(side="left", fill="x", expand=True, padx=4, after=self.label)
        self.value.set(value)
        self.entry.configure(values=choices or [])
        self.flag.set(False)
        if flag:
            self.check.configure(text=flag)
            self.check.pack(side="left", padx=4, before=self.ok_button)
        else:
            self.check.pack_forget()
        self._callback = callback
        self.shown = True
        self.grid()
        self.entry.focus_set()
        self.entry.icursor("end")

    def confirm(self, question: str, callback: Callable[[], None]) -> None:
        """Ask a yes-or-no question (OK or Return: yes; Cancel or Escape: no)."""
        self.ask(question, lambda _text, _flag: callback(), "yes")
        self.entry.pack_forget()
        self.ok_button.focus_set()
        self.ok_button.bind("<Escape>", lambda _e: self.hide())

    def set_choices(self, choices: list[str]) -> None:
        """Replace the dropdown's entries (the ROOMS answer came)."""
        self.entry.configure(values=choices)

    def _answer(self) -> None:
        callback, text, flag = self._callback, self.value.get().strip(), self.flag.get()
        self.hide()
        if callback is not None and text:
            callback(text, flag)

    def hide(self) -> None:
        """Hide the question (nothing is sent)."""
        self._callback = None
        self.shown = False
        self.grid_remove()


class ChatView(ttk.Frame):
    """The chat: conversations, the open one's log, people, composer, kick bar, status line."""

    def __init__(self, master: tk.Misc, theme: dict[str, str], actions: ChatActions) -> None:
        super().__init__(master)
        self.theme = theme
        self.actions = actions
        self._build_header()
        self._build_sidebar(theme)
        self._build_log(theme)
        self._build_people(theme)
        self.warning_label = ttk.Label(self, text="", style="Error.TLabel", anchor="w", justify="left",
                                       wraplength=760)
        self.warning_label.grid(row=2, column=0, columnspan=3, sticky="ew", padx=8)
        wrap_to_width(self.warning_label)
        # "You are muted until ...: reason", above the composer while it holds.
        self.muted_label = ttk.Label(self, text="", style="Error.TLabel", anchor="w", justify="left",
                                     wraplength=760)
        self.muted_label.grid(row=3, column=0, columnspan=3, sticky="ew", padx=8)
        wrap_to_width(self.muted_label)
        self.muted_label.grid_remove()
        self.prompt = Prompt(self)
        self.prompt.grid(row=4, column=0, columnspan=3, sticky="ew", padx=8, pady=(2, 0))
        self.prompt.hide()
        self._build_input(theme)
        self._build_kick_bar()
        status_row = ttk.Frame(self)
        status_row.grid(row=7, column=0, columnspan=3, sticky="ew")  # a row of its own, never covered
        # A file's upload or download: "Sending photo.png: 45% (4.5 MB of 10 MB)", beside the connection's state.
        self.transfer_label = ttk.Label(status_row, text="", style="Status.TLabel", anchor="e")
        self.transfer_label.pack(side="right")
        self.status_label = ttk.Label(status_row, text="", style="Status.TLabel", anchor="w")
        self.status_label.pack(side="left", fill="x", expand=True)
        self.rowconfigure(1, weight=1)
        self.columnconfigure(1, weight=1)
        self._conversation_ids: list[str] = []

    # ---- building ------------------------------------------------------------------

    def _build_header(self) -> None:
        bar = ttk.Frame(self)
        bar.grid(row=0, column=0, columnspan=3, sticky="ew", padx=8, pady=6)
        # The buttons are packed first: in a narrow window the labels are cut, never the buttons.
        self.disconnect_button = ttk.Button(bar, text="Leave", command=self.actions.disconnect, underline=0)
        self.disconnect_button.pack(side="right", padx=2)
        self.customize_button = ttk.Button(bar, text="Customize", command=self.actions.open_customize,
                                           underline=1)
        self.customize_button.pack(side="right", padx=2)
        self.refresh_button = ttk.Button(bar, text="\u27f3 Refresh", command=self.actions.refresh, underline=2)
        self.refresh_button.pack(side="right", padx=2)

        self.name_label = tk.Label(bar, text="", bg=self.theme["bg-color"], font="TkHeadingFont 12", padx=6)
        self.name_label.pack(side="left")
        self.unread_label = ttk.Label(bar, text="", style="Unread.TLabel")
        self.unread_label.pack(side="left")

    def _build_sidebar(self, theme: dict[str, str]) -> None:
        side = ttk.Frame(self)
        side.grid(row=1, column=0, sticky="ns", padx=(8, 4))
        ttk.Label(side, text="Conversations", style="Heading.TLabel").pack(side="top", anchor="w")
        buttons = ttk.Frame(side)
        buttons.pack(side="bottom", fill="x", pady=(4, 0))
        self.new_room_button = ttk.Button(buttons, text="New room", command=self.actions.ask_create_room)
        self.new_room_button.pack(side="left", fill="x", expand=True)
        self.join_room_button = ttk.Button(buttons, text="Join room", command=self.actions.ask_join_room)
        self.join_room_button.pack(side="left", fill="x", expand=True)
        # Search and the bans list sit under the conversations: the header and room bar are full.
        tools = ttk.Frame(side)
        tools.pack(side="bottom", fill="x", pady=(4, 0))
        self.search_button = ttk.Button(tools, text="Search...", command=self.actions.open_search)
        self.search_button.pack(side="left", fill="x", expand=True)
        self.bans_button = ttk.Button(tools, text="Bans...", command=self.actions.open_bans)  # moderators
        self.conversations = ttk.Treeview(side, show="tree", selectmode="browse", height=12)
        self.conversations.column("#0", width=180, stretch=True)
        self.conversations.pack(side="top", fill="both", expand=True)
        self.conversations.tag_configure("unread", font="TkDefaultFont 10 bold")
        self.conversations.tag_configure("mention", font="TkDefaultFont 10 bold", foreground=theme["link"])
        self.conversations.bind("<<TreeviewSelect>>", lambda _e: self._on_pick())

    def _build_log(self, theme: dict[str, str]) -> None:
        box = ttk.Frame(self)
        box.grid(row=1, column=1, sticky="nsew")
        room_bar = ttk.Frame(box)
        room_bar.pack(side="top", fill="x")
        self.leave_room_button = ttk.Button(room_bar, text="Leave room", command=self.actions.leave_room)
        self.invite_button = ttk.Button(room_bar, text="Invite...", command=self.actions.ask_invite)
        self.topic_button = ttk.Button(room_bar, text="Topic...", command=self.actions.ask_topic)
        self._room_buttons = (self.leave_room_button, self.invite_button, self.topic_button)
        self.title_label = ttk.Label(room_bar, text="", style="Heading.TLabel")
        self.title_label.pack(side="left")
        self.topic_label = ttk.Label(room_bar, text="", style="Topic.TLabel", anchor="w")
        self.topic_label.pack(side="left", fill="x", expand=True, padx=8)
        self.older_button = ttk.Button(box, text="Load older messages", command=self.actions.load_older)
        self.older_button.pack(side="top", fill="x", pady=(2, 2))
        side = ttk.Frame(box)
        side.pack(side="right", fill="y", padx=(4, 0))  # packed first: never squeezed out
        self.log = tk.Text(box, bg=theme["text-background"], fg=theme["default-text-color"],
                           font=theme["text-font"], wrap="word", relief="flat", border=6,
                           state="disabled", takefocus=True, spacing1=1, spacing3=2,
                           highlightthickness=1, highlightbackground=theme["bg-color"],
                           selectbackground=theme["select-bg"], selectforeground=theme["select-fg"],
                           insertbackground=theme["default-text-color"])
        self.scrollbar = ttk.Scrollbar(box, command=self.log.yview)
        self.log.configure(yscrollcommand=self.scrollbar.set, width=40, height=10)
        self.scrollbar.pack(side="right", fill="y")
        self.log.pack(side="left", fill="both", expand=True)
        # A message's menu: a right click on it, or Up/Down to choose one and the menu key (Shift+F10).
        self.message_menu = tk.Menu(self.log, tearoff=False)
        self.log.bind("<Button-3>", self._on_message_click)
        for key in ("<Menu>", "<Shift-F10>"):
            self.log.bind(key, lambda _e: self._on_message_key())
        self.log.bind("<Up>", lambda _e: self._step_message(-1))
        self.log.bind("<Down>", lambda _e: self._step_message(1))
        self.top_button = ttk.Button(side, text="\u25b2", width=3, command=lambda: self.log.yview_moveto(0.0))
        self.top_button.pack(side="top")
        self.bottom_button = ttk.Button(side, text="\u25bc", width=3, command=lambda: self.log.yview_moveto(1.0))
        self.bottom_button.pack(side="bottom")

    def _build_people(self, theme: dict[str, str]) -> None:
        box = ttk.Frame(self)
        box.grid(row=1, column=2, sticky="ns", padx=(4, 8))
        self.people_title = ttk.Label(box, text="Online", style="Heading.TLabel")
        self.people_title.pack(side="top", anchor="w")
        self.people = tk.Listbox(box, width=18, activestyle="none", exportselection=False, relief="flat",
                                 bg=theme["text-background"], fg=theme["default-text-color"],
                                 selectbackground=theme["select-bg"], selectforeground=theme["select-fg"],
                                 highlightthickness=1, highlightbackground=theme["bg-color"])
        self.people.pack(side="top", fill="y", expand=True)
        self.people_menu = tk.Menu(self.people, tearoff=False)
        for event in ("<Button-3>", "<Shift-F10>", "<Menu>", "<Double-Button-1>"):
            self.people.bind(event, self._on_people_menu)
        self._people_names: list[str] = []

    def _build_input(self, theme: dict[str, str]) -> None:
        row = ttk.Frame(self)
        row.grid(row=5, column=0, columnspan=3, sticky="ew", padx=8, pady=4)
        self.to_label = ttk.Label(row, text="", style="Muted.TLabel", width=14, anchor="e")
        self.to_label.pack(side="left")
        self.send_button = ttk.Button(row, text="Send", command=self.actions.send, style="Send.TButton")
        self.send_button.pack(side="right", padx=4)
        self.attach_button = ttk.Button(row, text="Attach\u2026", command=self.actions.attach)  # and Ctrl+O
        self.attach_button.pack(side="right", padx=(0, 4))
        self.counter_label = ttk.Label(row, text=f"0/{MAX_MESSAGE}", width=8)
        self.counter_label.pack(side="right")
        self.entry = tk.Text(row, height=2, wrap="word", font="TkTextFont 12", undo=True,
                             bg=theme["text-entry-bg"], fg=theme["text-entry-fg"],
                             insertbackground=theme["text-entry-fg"], relief="flat", border=4,
                             highlightthickness=1, highlightbackground=theme["other-button-bg"],
                             highlightcolor=theme["send-button-bg"])
        self.entry.pack(side="left", fill="x", expand=True, padx=4)
        self.entry.bind("<Return>", self._on_return)
        self.entry.bind("<KP_Enter>", self._on_return)
        self.entry.bind("<Shift-Return>", lambda _e: self._newline())
        self.entry.bind("<Shift-KP_Enter>", lambda _e: self._newline())
        self.entry.bind("<Tab>", lambda _e: _focus(self.send_button))
        self.entry.bind("<Shift-Tab>", lambda e: _focus_previous(e.widget))
        self.entry.bind("<Prior>", lambda _event: self.log.yview_scroll(-1, "pages"))
        self.entry.bind("<Next>", lambda _event: self.log.yview_scroll(1, "pages"))
        self.entry.bind("<<Modified>>", lambda _e: self._count())
        self.entry.bind("<Escape>", lambda _e: self.actions.cancel_edit())
        self.entry.bind("<Up>", self._on_up)

    def _build_kick_bar(self) -> None:
        self.kick_bar = ttk.Frame(self)
        self.kick_button = ttk.Button(self.kick_bar, text="Kick", style="Danger.TButton", command=self.actions.kick)
        self.kick_button.pack(side="right", padx=4)  # first, so a narrow window never hides it
        ttk.Label(self.kick_bar, text="Admin: kick").pack(side="left")
        self.kick_user = ttk.Combobox(self.kick_bar, state="readonly", width=16, values=[])
        self.kick_user.pack(side="left", padx=4)
        ttk.Label(self.kick_bar, text="reason:").pack(side="left")
        self.kick_reason = ttk.Entry(self.kick_bar, width=30)
        self.kick_reason.pack(side="left", fill="x", expand=True, padx=4)
        self.kick_reason.bind("<Return>", lambda _event: self.actions.kick())

    # ---- the composer --------------------------------------------------------------

    def _on_up(self, _event: "tk.Event[tk.Misc]") -> str | None:
        """Up in an empty composer edits our last message (as in other chats)."""
        if self.text() or not self.actions.edit_last():
            return None
        return "break"

    def _on_return(self, event: "tk.Event[tk.Misc]") -> str:
        if int(event.state) & 0x1:  # Shift held: a line break
            return self._newline()
        self.actions.send()
        return "break"

    def _newline(self) -> str:
        self.entry.insert("insert", "\n")
        self._count()
        return "break"

    def text(self) -> str:
        """Return the message typed (line breaks included)."""
        return self.entry.get("1.0", "end-1c")

    def set_text(self, text: str) -> None:
        """Replace the message typed."""
        self.entry.delete("1.0", "end")
        self.entry.insert("1.0", text)
        self._count()

    def _count(self) -> None:
        self.entry.edit_modified(False)
        count = len(encode_lines(self.text())[0])
        over = count > MAX_MESSAGE
        self.counter_label.configure(text=f"{count}/{MAX_MESSAGE}", style="Error.TLabel" if over else "TLabel")

    # ---- conversations ---------------------------------------------------------------

    def show_conversations(self, conversations: list[Conversation], open_rec: str) -> None:
        """Redraw the conversation list with its counts; select the open one."""
        tree = self.conversations
        ids = [c.rec for c in conversations]
        if ids != self._conversation_ids:
            tree.delete(*tree.get_children())
            for conversation in conversations:
                tree.insert("", "end", iid=conversation.rec)
            self._conversation_ids = ids
        for conversation in conversations:
            tags = ("mention",) if conversation.mentions else ("unread",) if conversation.unread else ()
            tree.item(conversation.rec, text=conversation.label(), tags=tags)
        if open_rec in ids and tree.selection() != (open_rec,):
            tree.selection_set(open_rec)
            tree.see(open_rec)

    def conversation_labels(self) -> list[str]:
        """Return the conversation list's entries as shown."""
        return [str(self.conversations.item(i, "text")) for i in self.conversations.get_children()]

    def _on_pick(self) -> None:
        chosen = self.conversations.selection()
        if chosen:
            self.actions.open_conversation(str(chosen[0]))

    def show_open(self, conversation: Conversation) -> None:
        """Show the open conversation's name, topic and room buttons."""
        self.title_label.configure(text=conversation.title)
        self.topic_label.configure(text=conversation.topic)
        for button in self._room_buttons:
            button.pack_forget()
        if conversation.kind == "room":
            self.leave_room_button.pack(side="right", padx=2)
            if conversation.op:
                self.invite_button.pack(side="right", padx=2)
                self.topic_button.pack(side="right", padx=2)
        where = {"lobby": "To everyone:", "room": f"To {conversation.rec}:"}.get(
            conversation.kind, f"To {conversation.rec}:")
        self.to_label.configure(text=where)
        self.show_older(conversation.more_before is not False)

    def show_older(self, shown: bool) -> None:
        """Offer "Load older messages" (or say there are none)."""
        self.older_button.configure(state="normal" if shown else "disabled",
                                    text="Load older messages" if shown else "The beginning of this conversation")

    # ---- a message's menu -----------------------------------------------------------

    def _on_message_click(self, event: "tk.Event[tk.Misc]") -> str:
        self.log.focus_set()
        message_id = None
        for tag in self.log.tag_names(f"@{event.x},{event.y}"):
            if tag.startswith("m-"):
                message_id = int(tag[2:])
        if message_id is not None:
            self.open_message_menu(message_id, event.x_root, event.y_root)
        return "break"

    def _on_message_key(self) -> str:
        message_id = self.actions.chosen_message()
        if message_id is None:
            message_id = self.actions.choose_message(0)
        if message_id is not None:
            box = self.log.bbox(f"msg-{message_id}") or (0, 0, 0, 0)
            self.open_message_menu(message_id, self.log.winfo_rootx() + box[0] + 20,
                                   self.log.winfo_rooty() + box[1] + box[3])
        return "break"

    def _step_message(self, step: int) -> str:
        self.actions.choose_message(step)
        return "break"

    def open_message_menu(self, message_id: int, x: int, y: int) -> None:
        """Pop up what can be done to message ``message_id`` at (x, y) on the screen."""
        menu = self.message_menu
        menu.delete(0, "end")
        for label, command in self.actions.message_menu(message_id):
            menu.add_command(label=label, command=command)
        if menu.index("end") is None:
            return
        try:
            menu.tk_popup(x, y)
        finally:
            menu.grab_release()

    def show_muted(self, text: str) -> None:
        """Say above the composer that we may not write here, and why (empty: we may)."""
        self.muted_label.configure(text=text)
        if text:
            self.muted_label.grid()
        else:
            self.muted_label.grid_remove()

    def show_bans_button(self, shown: bool) -> None:
        """Offer the bans list (admins, and operators of the open room)."""
        if shown:
            self.bans_button.pack(side="left", fill="x", expand=True)
        else:
            self.bans_button.pack_forget()

    # ---- people ----------------------------------------------------------------------

    def show_people(self, title: str, people: list[tuple[str, str]]) -> None:
        """Fill the people list: (nickname, mark) pairs; mark ``@`` an operator, ``offline`` greyed."""
        self.people_title.configure(text=title)
        self.people.delete(0, "end")
        self._people_names = [name for name, _ in people]
        for at, (name, mark) in enumerate(people):
            self.people.insert("end", ("@" if "@" in mark else "") + name)
            if "offline" in mark:
                self.people.itemconfigure(at, foreground=self.theme["muted"])
        if not people:
            self.people.insert("end", "")

    def people_names(self) -> list[str]:
        """Return the nicknames listed, without marks."""
        return list(self._people_names)

    def _on_people_menu(self, event: "tk.Event[tk.Misc]") -> str:
        if not self._people_names:
            return "break"
        chosen: tuple[int, ...] = self.people.curselection()  # type: ignore[no-untyped-call]
        at: int = self.people.nearest(event.y) if event.y else (chosen or (0,))[0]  # type: ignore[no-untyped-call]
        if at < 0 or at >= len(self._people_names):
            return "break"
        self.people.selection_clear(0, "end")
        self.people.selection_set(at)
        self.open_people_menu(self._people_names[at], event.x_root, event.y_root)
        return "break"

    def open_people_menu(self, nickname: str, x: int, y: int) -> None:
        """Pop up what can be done to ``nickname`` at (x, y) on the screen."""
        menu = self.people_menu
        menu.delete(0, "end")
        for label, command in self.actions.person_menu(nickname):
            menu.add_command(label=label, command=command)
        try:
            menu.tk_popup(x, y)
        finally:
            menu.grab_release()

    # ---- status -------------------------------------------------------------------

    def show_kick_bar(self, shown: bool) -> None:
        """Show the kick controls (admins only)."""
        if shown:
            self.kick_bar.grid(row=6, column=0, columnspan=3, sticky="ew", padx=8, pady=(0, 4))
        else:
            self.kick_bar.grid_remove()

    def set_kick_choices(self, users: list[str]) -> None:
        """Fill the kick dropdown with the other online users."""
        chosen = self.kick_user.get()
        self.kick_user.configure(values=users)
        self.kick_user.set(chosen if chosen in users else "")

    def warn(self, text: str) -> None:
        """Show a warning under the log (ERR and WARN texts, refusals; times in local time); empty clears it."""
        self.warning_label.configure(text=localize_until(text))

    def set_status(self, text: str, state: str) -> None:
        """Show the connection state in the status line: green online, amber otherwise."""
        colors = {"online": self.theme["online"], "offline": self.theme["error"]}
        self.status_label.configure(text=text, foreground=colors.get(state, self.theme["warning"]))

    def show_transfers(self, text: str) -> None:
        """Show the files moving (empty: none)."""
        self.transfer_label.configure(text=text)

    def set_identity(self, nickname: str, color: str) -> None:
        """Show our nickname in our color (made readable on the background)."""
        self.name_label.configure(text=nickname, fg=readable_color(color, self.theme["bg-color"]))

    def set_unread(self, count: int) -> None:
        """Show the unread marker (private messages and mentions; nothing for zero)."""
        self.unread_label.configure(text=f"\u25cf {count} unread" if count else "")


def _focus(widget: tk.Misc) -> str:
    widget.focus_set()
    return "break"


def _focus_previous(widget: tk.Misc) -> str:
    previous = widget.tk_focusPrev()
    if previous is not None:
        previous.focus_set()
    return "break"


class CustomizeView(ttk.Frame):
    """Change nickname, color or password; shows the server's answer."""

    def __init__(self, master: tk.Misc, theme: dict[str, str], actions: CustomizeActions) -> None:
        super().__init__(master, style="Custom.TFrame")
        self.theme = theme
        self.actions = actions
        self.nickname = tk.StringVar(self)
        self.color = tk.StringVar(self)
        self.password = tk.StringVar(self)
        self.back_button = ttk.Button(self, text="Go back", command=actions.close_customize, underline=0)
        self.back_button.grid(row=0, column=0, sticky="w", padx=20, pady=20)
        ttk.Label(self, text="Leave a field empty to keep it.", style="Custom.TLabel").grid(
            row=1, column=0, columnspan=3, sticky="w", padx=20)
        self.nick_entry = self._field(2, "Change nickname", self.nickname)
        self.color_entry = self._field(3, "Change color", self.color)
        self.color_button = ttk.Button(self, text="Pick...", command=lambda: pick_color(self, self.color))
        self.color_button.grid(row=3, column=2, sticky="w", padx=4)
        self.password_entry = self._field(4, "Change password", self.password, show="\u2022")
        self.save_button = ttk.Button(self, text="Submit", command=actions.save_customize, underline=0,
                                      style="Send.TButton")
        self.save_button.grid(row=5, column=1, sticky="w", pady=12)
        self.answer_label = ttk.Label(self, text="", style="Custom.TLabel", wraplength=600, justify="left")
        self.answer_label.grid(row=6, column=0, columnspan=3, sticky="w", padx=20)

    def _field(self, row: int, label: str, variable: tk.StringVar, show: str = "") -> ttk.Entry:
        ttk.Label(self, text=label + ":", style="Custom.TLabel").grid(row=row, column=0, sticky="e",
                                                                      padx=(20, 6), pady=6)
        entry = ttk.Entry(self, textvariable=variable, show=show, width=28)
        entry.grid(row=row, column=1, sticky="w", pady=6)
        entry.bind("<Return>", lambda _event: self.actions.save_customize())
        return entry

    def values(self) -> tuple[str, str, str]:
        """Return the (nickname, color, password) typed; empty means no change."""
        return self.nickname.get().strip(), self.color.get().strip(), self.password.get()

    def clear(self) -> None:
        """Empty the fields (the password is never kept in a widget longer than needed)."""
        for variable in (self.nickname, self.color, self.password):
            variable.set("")

    def show_answer(self, text: str, ok: bool) -> None:
        """Show the server's answer to the UPDATE (or why it was not sent)."""
        self.answer_label.configure(text=text, foreground=self.theme["custom-label-fg"] if ok else self.theme["error"])
