"""The three screens of the original client: connect, chat, customize.

Widgets only: each view reads and shows values, and calls back into the
controller (desktop.app) for anything that happens. Validation returns a
value or None and puts the reason in the view's label (as IDLE's query.py).
"""

from __future__ import annotations

import os
import tkinter as tk
from tkinter import colorchooser, filedialog, ttk
from typing import Callable, Protocol

from .client import EVERYONE, MAX_MESSAGE, LoginDetails, is_color, parse_address
from .prefs import Preferences

EVERYONE_LABEL = "(everyone)"  # no nickname starts with "("
ERROR_FG = "#ff5555"


class ChatActions(Protocol):
    def send(self) -> None: ...
    def refresh(self) -> None: ...
    def disconnect(self) -> None: ...
    def kick(self) -> None: ...
    def open_customize(self) -> None: ...


class CustomizeActions(Protocol):
    def save_customize(self) -> None: ...
    def close_customize(self) -> None: ...


def _entry(master: tk.Misc, theme: dict[str, str], **options: object) -> tk.Entry:
    return tk.Entry(master, bg=theme["text-entry-bg"], fg=theme["text-entry-fg"],
                    insertbackground=theme["text-entry-fg"], relief="sunken", **options)  # type: ignore[arg-type]


def _button(master: tk.Misc, theme: dict[str, str], text: str, command: Callable[[], None],
            **options: object) -> tk.Button:
    return tk.Button(master, text=text, command=command, bg=theme["other-button-bg"],
                     fg=theme["other-button-fg"], **options)  # type: ignore[arg-type]


def pick_color(parent: tk.Misc, variable: tk.StringVar) -> None:
    """Ask for a color with the system chooser; put ``#rrggbb`` in ``variable``."""
    current = variable.get() if is_color(variable.get()) else "#ffffff"
    _, chosen = colorchooser.askcolor(color=current, parent=parent, title="Choose your color")
    if chosen:
        variable.set(str(chosen).upper())


class ConnectView(tk.Frame):
    """Server address, port, TLS and CA file, nickname, password and color."""

    def __init__(self, master: tk.Misc, theme: dict[str, str], on_connect: Callable[[], None]) -> None:
        bg, fg = theme["login-page-bg"], theme["login-page-text"]
        super().__init__(master, bg=bg)
        self.theme = theme
        self.on_connect = on_connect
        self.host = tk.StringVar(self)
        self.port = tk.StringVar(self)
        self.tls = tk.BooleanVar(self)
        self.ca_file = tk.StringVar(self)
        self.nickname = tk.StringVar(self)
        self.password = tk.StringVar(self)
        self.color = tk.StringVar(self)
        tk.Label(self, text="Welcome to the chat!", bg=bg, fg=fg, font="TkHeadingFont 24").grid(
            row=0, column=0, columnspan=3, pady=(40, 20))
        form = tk.Frame(self, bg=bg)
        form.grid(row=1, column=0, columnspan=3)
        self.host_entry = self._field(form, 0, "Server address", self.host)
        self.port_entry = self._field(form, 1, "Port", self.port, width=8)
        self.tls_check = tk.Checkbutton(form, text="Use TLS", variable=self.tls, bg=bg, fg=fg,
                                        selectcolor=theme["text-entry-bg"], activebackground=bg,
                                        highlightthickness=1, highlightbackground=bg)
        self.tls_check.grid(row=2, column=1, sticky="w", pady=2)
        self.ca_entry = self._field(form, 3, "CA file (self-signed)", self.ca_file)
        self.ca_button = _button(form, theme, "Browse...", self.browse_ca)
        self.ca_button.grid(row=3, column=2, sticky="w", padx=4)
        self.nick_entry = self._field(form, 4, "Nickname", self.nickname)
        self.password_entry = self._field(form, 5, "Password", self.password, show="\u2022")
        self.color_entry = self._field(form, 6, "Color", self.color, width=10)
        self.color_button = _button(form, theme, "Pick...", lambda: pick_color(self, self.color))
        self.color_button.grid(row=6, column=2, sticky="w", padx=4)
        self.color.trace_add("write", lambda *_: self._show_swatch())
        tk.Label(self, text="*Passwords are only required for registered users", bg=bg, fg=fg).grid(
            row=2, column=0, columnspan=3, pady=(12, 0))
        self.connect_button = tk.Button(self, text="Connect", command=self.on_connect, underline=0,
                                        bg=theme["send-button-bg"], fg=theme["send-button-fg"])
        self.connect_button.grid(row=3, column=0, columnspan=3, pady=12)
        self.error_label = tk.Label(self, text="", bg=bg, fg=ERROR_FG, wraplength=640, justify="left")
        self.error_label.grid(row=4, column=0, columnspan=3, padx=20)
        self.columnconfigure(0, weight=1)

    def _field(self, form: tk.Frame, row: int, label: str, variable: tk.StringVar,
               width: int = 28, show: str = "") -> tk.Entry:
        bg, fg = self.theme["login-page-bg"], self.theme["login-page-text"]
        tk.Label(form, text=label + ":", bg=bg, fg=fg).grid(row=row, column=0, sticky="e", padx=6, pady=3)
        entry = _entry(form, self.theme, textvariable=variable, width=width, show=show)
        entry.grid(row=row, column=1, sticky="w", pady=3)
        entry.bind("<Return>", lambda _event: self.on_connect())
        return entry

    def _show_swatch(self) -> None:
        color = self.color.get()
        if is_color(color):
            self.color_button.configure(bg=color, activebackground=color)

    def fill(self, prefs: Preferences) -> None:
        """Show the remembered address, port, TLS, CA file, nickname and color."""
        self.host.set(prefs.host)
        self.port.set(str(prefs.port))
        self.tls.set(prefs.tls)
        self.ca_file.set(prefs.ca_file)
        self.nickname.set(prefs.nickname)
        self.color.set(prefs.color)

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
                            ca_file=ca_file)

    def show_error(self, text: str) -> None:
        """Show why connecting failed (or nothing, with an empty text)."""
        self.error_label.configure(text=text, fg=ERROR_FG)

    def show_progress(self, text: str) -> None:
        """Show what the connection is doing."""
        self.error_label.configure(text=text, fg=self.theme["login-page-text"])

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


class ChatView(tk.Frame):
    """The chat: log, recipient dropdown, message entry, kick bar, status."""

    def __init__(self, master: tk.Misc, theme: dict[str, str], actions: ChatActions) -> None:
        bg = theme["bg-color"]
        super().__init__(master, bg=bg)
        self.theme = theme
        self.actions = actions
        self._build_header(theme)
        self._build_log(theme)
        self.warning_label = tk.Label(self, text="", bg=bg, fg=ERROR_FG, anchor="w", justify="left",
                                      wraplength=760)
        self.warning_label.grid(row=2, column=0, columnspan=2, sticky="ew", padx=8)
        self._build_input(theme)
        self._build_kick_bar(theme)
        self.rowconfigure(1, weight=1)
        self.columnconfigure(0, weight=1)
        self._recipients: list[str] = [EVERYONE]

    def _build_header(self, theme: dict[str, str]) -> None:
        bg = theme["bg-color"]
        bar = tk.Frame(self, bg=bg)
        bar.grid(row=0, column=0, columnspan=2, sticky="ew", padx=8, pady=6)
        # The buttons are packed first: in a narrow window the labels are cut, never the buttons.
        self.disconnect_button = _button(bar, theme, "Disconnect", self.actions.disconnect, underline=0)
        self.disconnect_button.pack(side="right", padx=2)
        self.customize_button = _button(bar, theme, "Customize", self.actions.open_customize, underline=1)
        self.customize_button.pack(side="right", padx=2)
        self.refresh_button = _button(bar, theme, "\u27f3 Refresh", self.actions.refresh, underline=2)
        self.refresh_button.pack(side="right", padx=2)
        self.name_label = tk.Label(bar, text="", bg=theme["message-label-bg"],
                                   fg=theme["message-color"], font="TkHeadingFont 12", padx=6)
        self.name_label.pack(side="left")
        self.unread_label = tk.Label(bar, text="", bg=bg, fg="#ffd24d")
        self.unread_label.pack(side="left")
        # Last, so it is what a narrow window cuts, at its end.
        self.status_label = tk.Label(bar, text="", bg=bg, fg="#9fe39f", padx=8, anchor="w")
        self.status_label.pack(side="left", fill="x", expand=True)

    def _build_log(self, theme: dict[str, str]) -> None:
        box = tk.Frame(self, bg=theme["bg-color"])
        box.grid(row=1, column=0, columnspan=2, sticky="nsew", padx=8)
        self.log = tk.Text(box, bg=theme["text-background"], fg=theme["default-text-color"],
                           font=theme["text-font"], wrap="word", relief="ridge", border=4,
                           state="disabled", takefocus=True, spacing1=2, spacing3=4)
        self.scrollbar = tk.Scrollbar(box, command=self.log.yview)
        self.log.configure(yscrollcommand=self.scrollbar.set, width=40, height=10)
        side = tk.Frame(box, bg=theme["bg-color"])
        side.pack(side="right", fill="y", padx=(4, 0))  # packed first: never squeezed out
        self.scrollbar.pack(side="right", fill="y")
        self.log.pack(side="left", fill="both", expand=True)
        self.top_button = _button(side, theme, "\u25b2", lambda: self.log.yview_moveto(0.0))
        self.top_button.pack(side="top")
        self.bottom_button = _button(side, theme, "\u25bc", lambda: self.log.yview_moveto(1.0))
        self.bottom_button.pack(side="bottom")

    def _build_input(self, theme: dict[str, str]) -> None:
        bg = theme["bg-color"]
        row = tk.Frame(self, bg=bg)
        row.grid(row=3, column=0, columnspan=2, sticky="ew", padx=8, pady=4)
        tk.Label(row, text="To:", bg=bg, fg=theme["default-text-color"]).pack(side="left")
        self.recipient = ttk.Combobox(row, state="readonly", width=16, values=[EVERYONE_LABEL],
                                      style="Parley.TCombobox")
        self.recipient.set(EVERYONE_LABEL)
        self.recipient.pack(side="left", padx=4)
        self.message = tk.StringVar(self)
        self.entry = _entry(row, theme, textvariable=self.message, font="TkTextFont 12")
        self.entry.pack(side="left", fill="x", expand=True, padx=4, ipady=4)
        self.entry.bind("<Return>", lambda _event: self.actions.send())
        self.entry.bind("<KP_Enter>", lambda _event: self.actions.send())
        self.entry.bind("<Prior>", lambda _event: self.log.yview_scroll(-1, "pages"))
        self.entry.bind("<Next>", lambda _event: self.log.yview_scroll(1, "pages"))
        self.counter_label = tk.Label(row, text=f"0/{MAX_MESSAGE}", bg=bg,
                                      fg=theme["default-text-color"], width=8)
        self.counter_label.pack(side="left")
        self.message.trace_add("write", lambda *_: self._count())
        self.send_button = tk.Button(row, text="Send!", command=self.actions.send,
                                     bg=theme["send-button-bg"], fg=theme["send-button-fg"])
        self.send_button.pack(side="left", padx=4)

    def _build_kick_bar(self, theme: dict[str, str]) -> None:
        bg = theme["bg-color"]
        self.kick_bar = tk.Frame(self, bg=bg)
        self.kick_button = tk.Button(self.kick_bar, text="Kick", bg="#d9534f", fg="#000000",
                                     command=self.actions.kick)
        self.kick_button.pack(side="right", padx=4)  # first, so a narrow window never hides it
        tk.Label(self.kick_bar, text="Admin: kick", bg=bg, fg=theme["default-text-color"]).pack(side="left")
        self.kick_user = ttk.Combobox(self.kick_bar, state="readonly", width=16, values=[],
                                      style="Parley.TCombobox")
        self.kick_user.pack(side="left", padx=4)
        tk.Label(self.kick_bar, text="reason:", bg=bg, fg=theme["default-text-color"]).pack(side="left")
        self.kick_reason = _entry(self.kick_bar, theme, width=30)
        self.kick_reason.pack(side="left", fill="x", expand=True, padx=4)
        self.kick_reason.bind("<Return>", lambda _event: self.actions.kick())

    def _count(self) -> None:
        count = len(self.message.get())
        over = count > MAX_MESSAGE
        self.counter_label.configure(text=f"{count}/{MAX_MESSAGE}",
                                     fg=ERROR_FG if over else self.theme["default-text-color"])

    def show_kick_bar(self, shown: bool) -> None:
        """Show the kick controls (admins only)."""
        if shown:
            self.kick_bar.grid(row=4, column=0, columnspan=2, sticky="ew", padx=8, pady=(0, 6))
        else:
            self.kick_bar.grid_remove()

    def set_recipients(self, choices: list[str]) -> str | None:
        """Fill the dropdown (``-ALL`` shown as "(everyone)"); keep the choice if still online.

        Returns the nickname that was chosen and is gone (the dropdown is then
        back on everyone), else None.
        """
        chosen = self.recipient_value()
        self._recipients = choices
        self.recipient.configure(values=[self._label(c) for c in choices])
        if chosen in choices:
            self.recipient.set(self._label(chosen))
            return None
        self.recipient.set(EVERYONE_LABEL)
        return chosen

    def set_kick_choices(self, users: list[str]) -> None:
        """Fill the kick dropdown with the other online users."""
        chosen = self.kick_user.get()
        self.kick_user.configure(values=users)
        self.kick_user.set(chosen if chosen in users else "")

    @staticmethod
    def _label(choice: str) -> str:
        return EVERYONE_LABEL if choice == EVERYONE else choice

    def recipient_value(self) -> str:
        """Return the wire value of the chosen recipient: ``-ALL`` or a nickname."""
        label = self.recipient.get()
        return EVERYONE if label in ("", EVERYONE_LABEL) else label

    def recipient_labels(self) -> list[str]:
        """Return the dropdown's entries as shown."""
        return [str(v) for v in self.recipient.cget("values")]

    def warn(self, text: str) -> None:
        """Show a warning under the log (ERR and WARN texts, refusals); empty clears it."""
        self.warning_label.configure(text=text)

    def set_status(self, text: str, state: str) -> None:
        """Show the connection state: green online, amber otherwise."""
        colors = {"online": "#9fe39f", "offline": ERROR_FG}
        self.status_label.configure(text=text, fg=colors.get(state, "#ffb347"))

    def set_identity(self, nickname: str, color: str) -> None:
        """Show our nickname in our color."""
        try:
            self.name_label.configure(text=nickname, fg=color)
        except tk.TclError:
            self.name_label.configure(text=nickname)

    def set_unread(self, count: int) -> None:
        """Show the unread private messages marker (nothing for zero); short, to fit a narrow window."""
        self.unread_label.configure(text=f"\u25cf {count} unread private" if count else "")


class CustomizeView(tk.Frame):
    """Change nickname, color or password; shows the server's answer."""

    def __init__(self, master: tk.Misc, theme: dict[str, str], actions: CustomizeActions) -> None:
        bg, fg = theme["custom-bg"], theme["custom-label-fg"]
        super().__init__(master, bg=bg)
        self.theme = theme
        self.actions = actions
        self.nickname = tk.StringVar(self)
        self.color = tk.StringVar(self)
        self.password = tk.StringVar(self)
        self.back_button = _button(self, theme, "Go back", actions.close_customize, underline=0)
        self.back_button.grid(row=0, column=0, sticky="w", padx=20, pady=20)
        tk.Label(self, text="Leave a field empty to keep it.", bg=bg, fg=fg).grid(
            row=1, column=0, columnspan=3, sticky="w", padx=20)
        self.nick_entry = self._field(2, "Change nickname", self.nickname)
        self.color_entry = self._field(3, "Change color", self.color)
        self.color_button = _button(self, theme, "Pick...", lambda: pick_color(self, self.color))
        self.color_button.grid(row=3, column=2, sticky="w", padx=4)
        self.password_entry = self._field(4, "Change password", self.password, show="\u2022")
        self.save_button = tk.Button(self, text="Submit", command=actions.save_customize, underline=0,
                                     bg=theme["send-button-bg"], fg=theme["send-button-fg"])
        self.save_button.grid(row=5, column=1, sticky="w", pady=12)
        self.answer_label = tk.Label(self, text="", bg=bg, fg=fg, wraplength=600, justify="left")
        self.answer_label.grid(row=6, column=0, columnspan=3, sticky="w", padx=20)

    def _field(self, row: int, label: str, variable: tk.StringVar, show: str = "") -> tk.Entry:
        bg, fg = self.theme["custom-label-bg"], self.theme["custom-label-fg"]
        tk.Label(self, text=label + ":", bg=bg, fg=fg).grid(row=row, column=0, sticky="e", padx=(20, 6), pady=6)
        entry = tk.Entry(self, textvariable=variable, bg=self.theme["custom-entry"], show=show, width=28)
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
        self.answer_label.configure(text=text, fg=self.theme["custom-label-fg"] if ok else ERROR_FG)
