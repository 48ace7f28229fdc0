"""The moderation and search windows: ban or mute someone, the bans list, search.

Widgets only, as desktop.views: each dialog shows values and calls back into
the controller (desktop.app). None of them grabs the pointer: the chat goes
on behind them, and Escape closes each.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk
from typing import Callable

from parley.protocol.reading import BanEntry, highlight, search_words

from .client import ChatMessage
from .text import clock, day_of, local_time

# "duration choice 10 min / 1 h / 1 day / 1 week / for good" (seconds; 0: for good, no duration=)
DURATIONS = (("10 minutes", 600), ("1 hour", 3600), ("1 day", 86400), ("1 week", 604800), ("For good", 0))
KINDS = {"user": "Banned", "address": "Address", "room": "Room ban", "mute": "Muted"}


class Dialog(tk.Toplevel):
    """A window of the main one; Escape closes it (hidden, to be shown again)."""

    def __init__(self, master: tk.Misc, title: str) -> None:
        super().__init__(master)
        self.title(title)
        self.transient(master.winfo_toplevel())
        self.protocol("WM_DELETE_WINDOW", self.hide)
        self.bind("<Escape>", lambda _e: self.hide())
        self.body = ttk.Frame(self, padding=10)
        self.body.pack(fill="both", expand=True)

    def show(self) -> None:
        """Show the window in front, over the main one's top left corner."""
        if not self.winfo_ismapped():
            main = self.master.winfo_toplevel()
            self.geometry(f"+{main.winfo_rootx() + 40}+{main.winfo_rooty() + 40}")
        self.deiconify()
        self.lift()

    def hide(self) -> None:
        """Hide the window."""
        self.withdraw()


class ModerationDialog(Dialog):
    """Ban, kick and ban, ban from a room, or mute: a duration, a reason, and "also their address"."""

    def __init__(self, master: tk.Misc) -> None:
        super().__init__(master, "Moderation")
        self.question = ttk.Label(self.body, text="", font="TkHeadingFont")
        self.question.grid(row=0, column=0, columnspan=2, sticky="w", pady=(0, 8))
        ttk.Label(self.body, text="For:").grid(row=1, column=0, sticky="e", padx=4, pady=3)
        self.duration = ttk.Combobox(self.body, state="readonly", values=[label for label, _ in DURATIONS], width=14)
        self.duration.grid(row=1, column=1, sticky="w", pady=3)
        ttk.Label(self.body, text="Reason:").grid(row=2, column=0, sticky="e", padx=4, pady=3)
        self.reason = ttk.Entry(self.body, width=40)
        self.reason.grid(row=2, column=1, sticky="ew", pady=3)
        self.addresses = tk.BooleanVar(self)
        self.addresses_check = ttk.Checkbutton(self.body, text="Also their address", variable=self.addresses)
        self.addresses_check.grid(row=3, column=1, sticky="w", pady=3)
        buttons = ttk.Frame(self.body)
        buttons.grid(row=4, column=0, columnspan=2, sticky="e", pady=(8, 0))
        self.ok_button = ttk.Button(buttons, text="OK", command=self._answer, style="Danger.TButton")
        self.ok_button.pack(side="right", padx=2)
        ttk.Button(buttons, text="Cancel", command=self.hide).pack(side="right", padx=2)
        for widget in (self.reason, self.duration, self.addresses_check):
            widget.bind("<Return>", lambda _e: self._answer())
        self._callback: Callable[[int, str, bool], None] | None = None
        self.withdraw()

    def ask(self, question: str, callback: Callable[[int, str, bool], None], addresses: bool = False,
            duration: str = "1 hour") -> None:
        """Ask for a duration and a reason (and "also their address" when ``addresses``)."""
        self.title(question)
        self.question.configure(text=question)
        self.duration.set(duration)
        self.reason.delete(0, "end")
        self.addresses.set(False)
        if addresses:
            self.addresses_check.grid()
        else:
            self.addresses_check.grid_remove()
        self._callback = callback
        self.show()
        self.reason.focus_set()

    def seconds(self) -> int:
        """Return the duration chosen, in seconds (0: for good)."""
        return dict(DURATIONS).get(self.duration.get(), 0)

    def _answer(self) -> None:
        callback = self._callback
        self._callback = None
        self.hide()
        if callback is not None:
            callback(self.seconds(), self.reason.get().strip(), self.addresses.get())


class BansDialog(Dialog):
    """The active bans and mutes of the server or of a room (BANS), and Lift (UNBAN)."""

    def __init__(self, master: tk.Misc, on_scope: Callable[[str], None], on_lift: Callable[[int], None]) -> None:
        super().__init__(master, "Bans")
        self.on_scope, self.on_lift = on_scope, on_lift
        top = ttk.Frame(self.body)
        top.pack(side="top", fill="x")
        ttk.Label(top, text="Bans of:").pack(side="left")
        self.scope = ttk.Combobox(top, state="readonly", width=24)
        self.scope.pack(side="left", padx=4)
        self.scope.bind("<<ComboboxSelected>>", lambda _e: self.on_scope(self.scope.get()))
        self.refresh_button = ttk.Button(top, text="Refresh", command=lambda: self.on_scope(self.scope.get()))
        self.refresh_button.pack(side="left")
        columns = ("kind", "target", "until", "by", "reason")
        self.table = ttk.Treeview(self.body, columns=columns, show="headings", height=12, selectmode="browse")
        for column, title, width in zip(columns, ("What", "Who", "Until", "By", "Reason"), (80, 130, 140, 90, 220)):
            self.table.heading(column, text=title)
            self.table.column(column, width=width, stretch=column == "reason")
        self.table.pack(side="top", fill="both", expand=True, pady=6)
        bottom = ttk.Frame(self.body)
        bottom.pack(side="top", fill="x")
        self.status = ttk.Label(bottom, text="")
        self.status.pack(side="left")
        ttk.Button(bottom, text="Close", command=self.hide).pack(side="right", padx=2)
        self.lift_button = ttk.Button(bottom, text="Lift", command=self._lift)
        self.lift_button.pack(side="right", padx=2)
        self.table.bind("<Delete>", lambda _e: self._lift())
        self.withdraw()

    def open(self, scopes: list[str], scope: str) -> None:
        """Show the window for ``scope`` (one of ``scopes``) and ask for its list."""
        self.scope.configure(values=scopes)
        self.scope.set(scope)
        self.show()
        self.table.focus_set()
        self.on_scope(scope)

    def fill(self, bans: tuple[BanEntry, ...]) -> None:
        """Show the list the server sent, newest first."""
        self.table.delete(*self.table.get_children())
        for ban in bans:
            until = local_time(ban.until_ms) if ban.until_ms else "for good"
            self.table.insert("", "end", iid=str(ban.id),
                              values=(KINDS.get(ban.kind, ban.kind), ban.target, until, ban.by, ban.reason))
        self.status.configure(text=f"{len(bans)} active" if bans else "Nobody is banned or muted.")
        children = self.table.get_children()
        if children:
            self.table.selection_set(children[0])
            self.table.focus(children[0])

    def rows(self) -> list[tuple[str, ...]]:
        """Return the rows shown (their values)."""
        return [tuple(str(v) for v in self.table.item(i, "values")) for i in self.table.get_children()]

    def _lift(self) -> None:
        chosen = self.table.selection()
        if chosen:
            self.on_lift(int(chosen[0]))


class SearchDialog(Dialog):
    """A query, where to look, and the results: Enter or a double click jumps to one."""

    def __init__(self, master: tk.Misc, theme: dict[str, str], on_search: Callable[[str, int], None],
                 on_more: Callable[[], None], on_jump: Callable[[ChatMessage], None]) -> None:
        super().__init__(master, "Search")
        self.geometry("620x480")
        self.on_search, self.on_more, self.on_jump = on_search, on_more, on_jump
        top = ttk.Frame(self.body)
        top.pack(side="top", fill="x")
        self.query = ttk.Entry(top)
        self.query.pack(side="left", fill="x", expand=True)
        self.scope = ttk.Combobox(top, state="readonly", width=26)
        self.scope.pack(side="left", padx=4)
        self.search_button = ttk.Button(top, text="Search", command=self._search)
        self.search_button.pack(side="left")
        self.query.bind("<Return>", lambda _e: self._search())
        self.query.bind("<Down>", lambda _e: self._step(1))
        self.results = tk.Text(self.body, wrap="word", state="disabled", height=16, relief="flat", border=6,
                               font=theme["text-font"], spacing1=1,
                               bg=theme["text-background"], fg=theme["default-text-color"], cursor="arrow",
                               takefocus=True, highlightthickness=1, highlightbackground=theme["bg-color"])
        self.results.pack(side="top", fill="both", expand=True, pady=6)
        self.results.tag_configure("where", foreground=theme["muted"], font="TkSmallCaptionFont")
        self.results.tag_configure("hit", lmargin1=12, lmargin2=12, spacing3=6,
                                   lmargincolor=theme["text-background"])  # a match at the start: not in the margin
        self.results.tag_configure("match", background=theme["mention-bg"], underline=True)
        self.results.tag_configure("chosen", background=theme["select-bg"], foreground=theme["select-fg"])
        self.results.tag_raise("match")  # still marked in the chosen result
        self.results.bind("<Up>", lambda _e: self._step(-1))
        self.results.bind("<Down>", lambda _e: self._step(1))
        for key in ("<Return>", "<KP_Enter>"):
            self.results.bind(key, lambda _e: self._jump())
        self.results.bind("<Double-Button-1>", self._on_double_click)
        bottom = ttk.Frame(self.body)
        bottom.pack(side="top", fill="x")
        self.status = ttk.Label(bottom, text="")
        self.status.pack(side="left")
        self.more_button = ttk.Button(bottom, text="More results", command=self.on_more)
        self.hits: list[ChatMessage] = []
        self.chosen: int | None = None
        self._words: list[str] = []
        self.withdraw()

    def open(self, scopes: list[str], scope: int) -> None:
        """Show the window; ``scopes``: where to look (the first is everywhere); the query selected."""
        self.scope.configure(values=scopes)
        self.scope.current(scope)
        self.show()
        self.query.focus_set()
        self.query.select_range(0, "end")

    def _search(self) -> None:
        query = self.query.get().strip()
        if not query:
            self.status.configure(text="Type what to look for.")
            return
        self.on_search(query, self.scope.current())

    def start(self, query: str) -> None:
        """A new search was sent: empty the results."""
        self._words = search_words(query)
        self.hits.clear()
        self.chosen = None
        self.results.configure(state="normal")
        self.results.delete("1.0", "end")
        self.results.configure(state="disabled")
        self.more_button.pack_forget()
        self.status.configure(text="Searching...")

    def add(self, message: ChatMessage, title: str) -> None:
        """Show one result: where and who, when, then the words with the matching ones marked."""
        at = len(self.hits)
        self.hits.append(message)
        tag = f"r-{at}"
        day = day_of(message.ts)
        when = f"{day.isoformat()} {clock(message.ts, message.time)}" if day else message.time
        chunks: list[str | tuple[str, ...]] = [f"{title} \u00b7 {message.sender} \u00b7 {when}\n", ("where", tag)]
        last = 0
        for start, end in highlight(message.text, self._words):  # "matched words highlighted"
            chunks += [message.text[last:start], ("hit", tag), message.text[start:end], ("hit", tag, "match")]
            last = end
        chunks += [message.text[last:] + "\n", ("hit", tag)]
        self.results.configure(state="normal")
        self.results.insert("end", *chunks)  # type: ignore[arg-type]  # (chars, tags) pairs: Tk's own form
        self.results.configure(state="disabled")

    def done(self, ok: bool, text: str, more: bool) -> None:
        """The search's answer ended: say how many, offer more when there are."""
        if not ok:
            self.status.configure(text=text)
            return
        count = len(self.hits)
        self.status.configure(text=f"{count} result{'s' if count != 1 else ''}" if count else "Nothing found.")
        if more:
            self.more_button.pack(side="right")
        else:
            self.more_button.pack_forget()
        if count and self.chosen is None:
            self.choose(0)

    def choose(self, at: int) -> None:
        """Mark result ``at`` as chosen and bring it into view."""
        if not self.hits:
            return
        at = max(0, min(len(self.hits) - 1, at))
        self.results.tag_remove("chosen", "1.0", "end")
        first, last = self.results.tag_ranges(f"r-{at}")[0], self.results.tag_ranges(f"r-{at}")[-1]
        self.results.tag_add("chosen", first, last)
        self.results.see(last)
        self.results.see(first)
        self.chosen = at

    def _step(self, step: int) -> str:
        self.results.focus_set()
        self.choose((self.chosen if self.chosen is not None else -step) + step)
        return "break"

    def _on_double_click(self, event: "tk.Event[tk.Misc]") -> str:
        for tag in self.results.tag_names(f"@{event.x},{event.y}"):
            if tag.startswith("r-"):
                self.choose(int(tag[2:]))
                self._jump()
        return "break"

    def _jump(self) -> str:
        if self.chosen is not None:
            self.on_jump(self.hits[self.chosen])
        return "break"
