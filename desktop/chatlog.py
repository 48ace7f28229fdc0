"""The chat log: a read-only Text widget showing the open conversation.

Each message is its sender's name (in their color, made readable on the
background) and time, then the text on the lines below; consecutive
messages of one sender within five minutes share one heading. ``/me``
actions read ``* alice waves``. http/https links are clickable. A date
separator starts each day, and a "new messages" divider sits above the
first unread message when a conversation is opened. Events (INFO lines)
and our own notices sit where they happened, after the message that was
newest then.

A shared file is its name, size and type with Open and Save as... buttons;
an image shows its thumbnail above them, fetched off the Tk thread (the
``files`` actions) and put in place when it comes. The legacy line
(``[file] NAME (SIZE) LINK``) is what a client without file support shows.

The view follows new messages only when it is at the bottom; a
conversation opens at its newest message.
"""

from __future__ import annotations

import datetime
import functools
import tkinter as tk
import webbrowser
from tkinter import ttk
from typing import Callable, Protocol

from parley.protocol.names import same_nickname
from parley.protocol.reading import FileInfo
from parley.protocol.sizes import human_size

from .client import ChatMessage, FileMessage
from .conversations import Conversation, Note
from .text import (
    action_text,
    clock,
    day_label,
    day_of,
    is_action,
    link_segments,
    mentions,
    readable_color,
)

_MARK = "msg-{}"
GROUP_MS = 5 * 60 * 1000
THUMB_BOX = 320  # the server's thumbnails fit in 320x320; a larger picture is shown halved until it fits
KEPT_THUMBNAILS = 200  # thumbnails kept for redraws; the oldest go when the log is redrawn
LOADING = "(loading the picture\u2026)"
NO_PREVIEW = "(no preview)"
Chunks = list[tuple[str, tuple[str, ...]]]


class FileActions(Protocol):
    """What the log asks of the controller for a shared file (desktop.sharing)."""

    def thumbnail(self, file: FileInfo) -> None: ...  # fetch it; ChatLog.show_thumbnail follows
    def open_file(self, file: FileInfo) -> None: ...
    def save_file(self, file: FileInfo) -> None: ...


class ChatLog:
    """Writes a conversation into ``text``; the only code that changes the log."""

    def __init__(self, text: tk.Text, theme: dict[str, str],
                 open_link: Callable[[str], object] = webbrowser.open) -> None:
        self.text = text
        self.theme = theme
        self.background = theme["text-background"]
        self.default_color = theme["default-text-color"]
        self.open_link = open_link
        self.me = ""
        self._colors: set[str] = set()
        self._links: dict[str, str] = {}
        self._last: tuple[str, int | None, datetime.date | None] | None = None  # sender, ts, day of the last drawn
        self._last_day: datetime.date | None = None
        self._drawn: dict[int, ChatMessage] = {}  # the messages shown, by id
        self._order: list[int] = []  # their ids, top to bottom
        self._headed: set[int] = set()  # those drawn under a heading of their own
        self.chosen: int | None = None  # the message the keyboard chose (Up/Down in the log)
        self.files: FileActions | None = None
        self._thumbs: dict[str, tk.PhotoImage | None] = {}  # by flink; None: it could not be shown
        self._waiting: dict[str, set[int]] = {}  # flink -> ids of the messages drawn waiting for it
        self._buttons: dict[int, list[tk.Widget]] = {}  # a file message's Open and Save buttons, by id
        body_font = theme["text-font"]
        text.tag_configure("name", font=_bold(body_font))
        text.tag_configure("stamp", font="TkSmallCaptionFont", foreground=theme["muted"])
        text.tag_configure("body", lmargin1=14, lmargin2=14)
        text.tag_configure("action", font=_italic(body_font), lmargin1=14, lmargin2=14)
        text.tag_configure("mention", background=theme["mention-bg"])
        text.tag_configure("info", foreground=theme["muted"], lmargin1=4)
        text.tag_configure("notice", foreground=theme["notice"], lmargin1=4)
        text.tag_configure("error", foreground=theme["error"], lmargin1=4)
        text.tag_configure("file-name", font=_bold(body_font))
        text.tag_configure("file-meta", foreground=theme["muted"])
        text.tag_configure("day", foreground=theme["muted"], justify="center", spacing1=8, spacing3=4,
                           font="TkSmallCaptionFont")
        text.tag_configure("divider", foreground=theme["divider"], justify="center", font="TkSmallCaptionFont")
        text.tag_configure("edited", foreground=theme["muted"], font="TkSmallCaptionFont")
        text.tag_configure("chosen", background=theme["select-bg"], foreground=theme["select-fg"])
        text.tag_configure("found", background=theme["mention-bg"])
        text.tag_configure("link", foreground=theme["link"], underline=True)
        text.tag_bind("link", "<Enter>", lambda _e: text.configure(cursor="hand2"))
        text.tag_bind("link", "<Leave>", lambda _e: text.configure(cursor=""))
        text.tag_bind("link", "<Button-1>", self._click_link)

    # ---- whole conversations -----------------------------------------------------------

    def render(self, conversation: Conversation, divider_after: int | None = None,
               keep: int | None = None) -> None:
        """Draw ``conversation`` whole.

        ``divider_after``: the read marker; a "new messages" divider goes
        above the first later message not ours. ``keep``: the id of a
        message to keep at the top of the view (older ones were loaded
        above it); else the view goes to the newest message.
        """
        self.clear()
        notes = list(conversation.notes)
        divided = divider_after is None
        self.text.configure(state="normal")
        for message in conversation.messages:
            while notes and message.id is not None and notes[0].after < message.id:
                self._draw_note(notes.pop(0))
            if not divided and message.id is not None and message.id > (divider_after or 0) and not message.mine:
                self._write("end-1c", [("\u2500\u2500 new messages \u2500\u2500\n", ("divider",))])
                self._last, divided = None, True
            self._draw_message(message)
        for note in notes:
            self._draw_note(note)
        self.text.configure(state="disabled")
        if keep is not None and _MARK.format(keep) in self.text.mark_names():
            self.text.yview(_MARK.format(keep))
        else:
            self.bottom()

    def append(self, message: ChatMessage) -> None:
        """Write a message at the end; the view follows when it was at the bottom."""
        follow = self.at_bottom()
        self.text.configure(state="normal")
        self._draw_message(message)
        self.text.configure(state="disabled")
        if follow:
            self.bottom()

    def append_note(self, note: Note) -> None:
        """Write an event or notice at the end."""
        follow = self.at_bottom()
        self.text.configure(state="normal")
        self._draw_note(note)
        self.text.configure(state="disabled")
        if follow:
            self.bottom()

    def add_notice(self, text: str) -> None:
        """Write a line of our own (a warning, a reconnect) at the end, not kept with the conversation."""
        self.append_note(Note(0, "notice", text))

    def clear(self) -> None:
        """Empty the log."""
        self.text.configure(state="normal")
        self.text.delete("1.0", "end")
        for mark in self.text.mark_names():
            if mark.startswith("msg-"):
                self.text.mark_unset(mark)
        for tag in self._links:
            self.text.tag_delete(tag)
        self._links.clear()
        for buttons in self._buttons.values():
            for button in buttons:
                button.destroy()
        self._buttons.clear()
        self._waiting.clear()
        for link in list(self._thumbs)[:-KEPT_THUMBNAILS]:  # none is shown now: safe to let go
            del self._thumbs[link]
        self.text.configure(state="disabled")
        self._last = None
        self._last_day = None
        self._drawn.clear()
        self._order.clear()
        self._headed.clear()
        self.chosen = None

    def content(self) -> str:
        """Return the log's text."""
        return self.text.get("1.0", "end-1c")

    def top(self) -> None:
        """Scroll to the first line."""
        self.text.yview_moveto(0.0)

    def bottom(self) -> None:
        """Scroll to the last line."""
        self.text.see("end")
        self.text.yview_moveto(1.0)

    def at_bottom(self) -> bool:
        """Return True when the last line is in view."""
        return self.text.yview()[1] >= 0.999

    # ---- drawing -------------------------------------------------------------------------

    def _draw_note(self, note: Note) -> None:
        tag = note.kind if note.kind in ("notice", "error") else "info"
        line = f"{note.time} {note.text}" if note.time else note.text
        self._write("end-1c", [(line + "\n", (tag,))])
        self._last = None

    def _draw_message(self, message: ChatMessage) -> None:
        day = day_of(message.ts)
        if day is not None and day != self._last_day:
            self._write("end-1c", [(f"\u2500\u2500 {day_label(day, datetime.date.today())} \u2500\u2500\n", ("day",))])
            self._last_day, self._last = day, None
        start = self.text.index("end-1c")
        own = (f"m-{message.id}",) if message.id is not None else ()  # the message's whole range, by id
        if is_action(message.text):
            chunks = self._body(message) + [(f"  {clock(message.ts, message.time)}\n", ("stamp", *own))]
            self._last = None
        elif isinstance(message, FileMessage) and message.file is not None and message.id is not None:
            self._write("end-1c", self._heading(message) if not self._continues(message) else [])
            self._draw_file(message.id, message.file)
            self._last, chunks = (message.sender, message.ts, day), []
        else:
            chunks = self._heading(message) if not self._continues(message) else []
            chunks += self._body(message) + [("\n", ("body", *own))]
            self._last = (message.sender, message.ts, day)
        self._write("end-1c", chunks)
        if message.id is not None:
            self._drawn[message.id] = message
            self._order.append(message.id)
            self.text.mark_set(_MARK.format(message.id), start)
            self.text.mark_gravity(_MARK.format(message.id), "left")

    def _heading(self, message: ChatMessage) -> Chunks:
        """The sender's name in their color, and the time (its own line)."""
        own = (f"m-{message.id}",) if message.id is not None else ()
        if message.id is not None:
            self._headed.add(message.id)
        color = self._color_tag(message.color or self.default_color)
        return [(message.sender, ("name", color, *own)),
                (f"  {clock(message.ts, message.time)}\n", ("stamp", *own))]

    def _body(self, message: ChatMessage) -> Chunks:
        """The words (links split out), then "(edited)" when edited; tagged ``b-ID`` to be replaced."""
        own = (f"m-{message.id}", f"b-{message.id}") if message.id is not None else ()
        extra = ("mention",) if not message.mine and self.me and mentions(message.text, self.me) else ()
        if is_action(message.text):
            color = self._color_tag(message.color or self.default_color)
            base: tuple[str, ...] = ("action", color)
            chunks = [(action_text(message.sender, message.text), (*base, *extra, *own))]
        else:
            base = ("body",)
            chunks = [(message.text, (*base, *extra, *own))]
        if message.edited_ms:
            chunks.append((" (edited)", (*base, "edited", *own)))
        return self._linked(chunks)

    # ---- shared files ----------------------------------------------------------------------

    def _draw_file(self, message_id: int, file: FileInfo) -> None:
        """The thumbnail (images), then ``NAME  SIZE, TYPE  [Open] [Save as...]``."""
        own = ("body", f"m-{message_id}", f"b-{message_id}")
        if file.is_image:
            if file.link in self._thumbs:
                self._put_thumbnail("end-1c", message_id, self._thumbs[file.link])
            else:
                self._write("end-1c", [(LOADING + "\n", (*own, "file-meta", f"tp-{message_id}"))])
                first = file.link not in self._waiting
                self._waiting.setdefault(file.link, set()).add(message_id)
                if first and self.files is not None:
                    self.files.thumbnail(file)
        self._write("end-1c", [(file.name, (*own, "file-name")),
                               (f"  {human_size(file.size)}, {file.type}  ", (*own, "file-meta"))])
        buttons = self._buttons.setdefault(message_id, [])
        for label, action in (("Open", self._open_file), ("Save as\u2026", self._save_file)):
            button = ttk.Button(self.text, text=label, command=functools.partial(action, file))
            self.text.window_create("end-1c", window=button, padx=2, pady=2)
            self._tag_at("end-2c", own)
            buttons.append(button)
        self._write("end-1c", [("\n", own)])

    def _open_file(self, file: FileInfo) -> None:
        if self.files is not None:
            self.files.open_file(file)

    def _save_file(self, file: FileInfo) -> None:
        if self.files is not None:
            self.files.save_file(file)

    def file_buttons(self, message_id: int) -> list[tk.Widget]:
        """Return a shown file message's buttons (Open, Save as...)."""
        return list(self._buttons.get(message_id, []))

    def _put_thumbnail(self, at: str, message_id: int, image: tk.PhotoImage | None) -> None:
        own = ("body", f"m-{message_id}", f"b-{message_id}")
        if image is None:
            self._write(at, [(NO_PREVIEW + "\n", (*own, "file-meta"))])
            return
        where = self.text.index(at)
        self.text.image_create(where, image=image, padx=14, pady=4)
        self._tag_at(where, own)
        self._write(f"{where} +1c", [("\n", own)])

    def _tag_at(self, index: str, tags: tuple[str, ...]) -> None:
        where = self.text.index(index)
        for tag in tags:
            self.text.tag_add(tag, where)

    def show_thumbnail(self, link: str, data: bytes | None) -> None:
        """A thumbnail came (``data``: PNG bytes, None when it could not be fetched): put it in place."""
        image: tk.PhotoImage | None = None
        if data:
            try:
                image = tk.PhotoImage(master=self.text, data=data)
            except tk.TclError:
                image = None
        while image is not None and max(image.width(), image.height()) > THUMB_BOX:
            image = image.subsample(2)  # never a picture larger than the server promises
        room = self.text.winfo_width() - 48  # the log's width, less the indent and the scroll bar's margin
        if image is not None and room >= 64 and image.width() > room:
            image = image.subsample(-(-image.width() // room))  # whole, in a narrow window
        self._thumbs[link] = image
        follow, state = self.at_bottom(), str(self.text.cget("state"))  # it may come while a render draws
        self.text.configure(state="normal")
        for message_id in sorted(self._waiting.pop(link, set())):
            ranges = self.text.tag_ranges(f"tp-{message_id}")
            if ranges:
                start = str(ranges[0])
                self.text.delete(start, ranges[-1])
                self._put_thumbnail(start, message_id, image)
        self.text.configure(state="disabled" if state == "disabled" else "normal")
        if follow:
            self.bottom()

    def thumbnails(self) -> list[str]:
        """Return the names of the pictures shown in the log (Tk's image names)."""
        return [str(name) for name in self.text.image_names()]

    # ---- one message, by id -------------------------------------------------------------

    def replace(self, message: ChatMessage) -> bool:
        """Redraw an edited message's words in place; False when it is not shown this way (redraw all)."""
        assert message.id is not None
        drawn = self._drawn.get(message.id)
        ranges = self.text.tag_ranges(f"b-{message.id}")
        if drawn is None or not ranges or is_action(drawn.text) != is_action(message.text) \
                or isinstance(drawn, FileMessage):  # a file is drawn whole, with its picture and buttons
            return False
        start = str(ranges[0])
        self.text.configure(state="normal")
        self.text.delete(start, ranges[-1])
        self._write(start, self._body(message))
        self.text.configure(state="disabled")
        self._drawn[message.id] = message
        return True

    def remove(self, message_id: int) -> bool:
        """Take a deleted message out of the log; False when it is not shown."""
        ranges = self.text.tag_ranges(f"m-{message_id}")
        if not ranges:
            return False
        start, end = str(ranges[0]), str(ranges[-1])
        after = self.message_at(end)
        self.text.configure(state="normal")
        self.text.delete(start, end)
        for button in self._buttons.pop(message_id, []):
            button.destroy()
        if message_id in self._headed and after is not None and after not in self._headed:
            self._write(start, self._heading(self._drawn[after]))  # the next one kept our heading
        self.text.configure(state="disabled")
        if self.text.compare(start, ">=", "end-1c"):
            self._last = None  # the newest is gone: the next message starts its own heading
        self._drawn.pop(message_id, None)
        self._order.remove(message_id)
        self._headed.discard(message_id)
        if self.chosen == message_id:
            self.chosen = None
        self.text.mark_unset(_MARK.format(message_id))
        return True

    def message_at(self, index: str) -> int | None:
        """Return the id of the message drawn at ``index`` (``@x,y`` for a click), or None."""
        for tag in self.text.tag_names(index):
            if tag.startswith("m-"):
                return int(tag[2:])
        return None

    def shown_message(self, message_id: int) -> ChatMessage | None:
        """Return message ``message_id`` as drawn, or None."""
        return self._drawn.get(message_id)

    def choose(self, message_id: int | None) -> None:
        """Mark one message as the chosen one (the keyboard's), and bring it into view."""
        self.text.tag_remove("chosen", "1.0", "end")
        self.chosen = message_id if message_id in self._drawn else None
        if self.chosen is not None:
            ranges = self.text.tag_ranges(f"m-{self.chosen}")
            self.text.tag_add("chosen", ranges[0], ranges[-1])
            self.text.see(ranges[0])
            self.text.see(ranges[-1])

    def step_choice(self, step: int) -> int | None:
        """Choose the message ``step`` after (or before) the chosen one; the newest first. Return it."""
        if not self._order:
            return None
        at = self._order.index(self.chosen) + step if self.chosen in self._order else len(self._order) - 1
        self.choose(self._order[max(0, min(len(self._order) - 1, at))])
        return self.chosen

    def point_out(self, message_id: int) -> bool:
        """Scroll to message ``message_id`` and highlight it (a search result); False when not shown."""
        ranges = self.text.tag_ranges(f"m-{message_id}")
        self.text.tag_remove("found", "1.0", "end")
        if not ranges:
            return False
        self.text.tag_add("found", ranges[0], ranges[-1])
        self.text.yview(ranges[0])
        self.text.yview_scroll(-3, "units")  # a little of what came before, for context
        self.chosen = message_id  # the message menu's key acts on it
        return True

    def _continues(self, message: ChatMessage) -> bool:
        """True when the message is grouped under the previous one's heading."""
        if self._last is None:
            return False
        sender, ts, _day = self._last
        if not same_nickname(sender, message.sender):
            return False
        return ts is not None and message.ts is not None and 0 <= message.ts - ts < GROUP_MS

    def _linked(self, chunks: Chunks) -> Chunks:
        """Split body chunks at links; each link gets a tag naming its address."""
        out: Chunks = []
        for chars, tags in chunks:
            if "body" not in tags and "action" not in tags:
                out.append((chars, tags))
                continue
            for segment in link_segments(chars):
                if segment.href is None:
                    out.append((segment.text, tags))
                else:
                    tag = f"href-{len(self._links)}"
                    self._links[tag] = segment.href
                    out.append((segment.text, (*tags, "link", tag)))
        return out

    def _write(self, at: str, chunks: Chunks) -> None:
        args: list[str | tuple[str, ...]] = []
        for chars, tags in chunks:
            if chars:
                args += [chars, tags]
        if args:
            self.text.insert(at, *args)  # type: ignore[arg-type]  # (chars, tags) pairs: Tk's own form

    def _click_link(self, _event: "tk.Event[tk.Misc]") -> str:
        for tag in self.text.tag_names("current"):
            href = self._links.get(tag)
            if href is not None:
                self.open_link(href)
                break
        return "break"

    def _color_tag(self, color: str) -> str:
        tag = f"color:{color}"
        if tag not in self._colors:
            self.text.tag_configure(tag, foreground=readable_color(color, self.background))
            self.text.tag_raise("chosen")  # the chosen message reads in the selection's colors
            self._colors.add(tag)
        return tag


def _bold(font: str) -> str:
    """Return ``font`` in bold, when it is a simple ``Family size`` spec."""
    return _styled(font, "bold")


def _italic(font: str) -> str:
    """Return ``font`` in italics, when it is a simple ``Family size`` spec."""
    return _styled(font, "italic")


def _styled(font: str, style: str) -> str:
    parts = font.rsplit(" ", 1)
    if len(parts) == 2 and parts[1].lstrip("-").isdigit() and "{" not in font:
        return f"{{{parts[0]}}} {parts[1]} {style}"
    return font
