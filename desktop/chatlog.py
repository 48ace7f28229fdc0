"""The chat log: a read-only Text widget that messages are written into.

As the original client: ``SENDER TIME (To everyone).`` with the sender's
name in their color, then ``- text`` on the next line; INFO lines as
``TIME text``. A message with an id gets a mark at its start, so a late one
(history replayed after a reconnect) is inserted where its id belongs.
"""

from __future__ import annotations

import tkinter as tk

from .client import ChatMessage, chat_heading

_MARK = "msg-{}"


class ChatLog:
    """Writes messages into ``text``; the only code that changes the log."""

    def __init__(self, text: tk.Text, theme: dict[str, str]) -> None:
        self.text = text
        self.default_color = theme["default-text-color"]
        self._colors: set[str] = set()
        text.tag_configure("name", font=_bold(theme["text-font"]))
        text.tag_configure("stamp", font="TkSmallCaptionFont")
        text.tag_configure("private", background=theme["message-box"])
        text.tag_configure("info", foreground="#a8a8a8")
        text.tag_configure("notice", foreground="#ff6b6b")

    def add_chat(self, message: ChatMessage, before: int | None = None) -> None:
        """Write a chat message at the end, or before message ``before``."""
        extra = ("private",) if message.private else ()
        at = self._index_before(before)
        start = self.text.index(at)
        self._insert(at, [
            (message.sender, ("name", self._color_tag(message.color or self.default_color), *extra)),
            (chat_heading(message), ("stamp", *extra)),
            (f"\n - {message.text}\n", ("body", *extra)),
        ], follow=before is None)
        if message.id is not None:
            self.text.mark_set(_MARK.format(message.id), start)

    def add_info(self, time: str, text: str) -> None:
        """Write an INFO line: ``TIME text``."""
        self._insert("end", [(f"{time} {text}\n", ("info",))])

    def add_notice(self, text: str) -> None:
        """Write a line of our own (a warning, a reconnect) in the log."""
        self._insert("end", [(f"{text}\n", ("notice",))])

    def clear(self) -> None:
        """Empty the log."""
        self.text.configure(state="normal")
        self.text.delete("1.0", "end")
        for mark in self.text.mark_names():
            if mark.startswith("msg-"):
                self.text.mark_unset(mark)
        self.text.configure(state="disabled")

    def content(self) -> str:
        """Return the log's text."""
        return self.text.get("1.0", "end-1c")

    def top(self) -> None:
        """Scroll to the first line."""
        self.text.yview_moveto(0.0)

    def bottom(self) -> None:
        """Scroll to the last line."""
        self.text.yview_moveto(1.0)

    def _index_before(self, before: int | None) -> str:
        if before is not None and _MARK.format(before) in self.text.mark_names():
            return _MARK.format(before)
        return "end-1c"

    def _insert(self, at: str, chunks: list[tuple[str, tuple[str, ...]]], follow: bool = True) -> None:
        """Insert (text, tags) chunks at ``at`` in one call; keep the view at the bottom."""
        at_bottom = self.text.yview()[1] >= 0.999
        (first, first_tags), rest = chunks[0], chunks[1:]
        args: list[str | tuple[str, ...]] = [first_tags]
        for chars, tags in rest:
            args += [chars, tags]
        self.text.configure(state="normal")
        self.text.insert(at, first, *args)
        self.text.configure(state="disabled")
        if follow and at_bottom:
            self.text.see("end")

    def _color_tag(self, color: str) -> str:
        tag = f"color:{color}"
        if tag not in self._colors:
            try:
                self.text.tag_configure(tag, foreground=color)
            except tk.TclError:  # not a color Tk knows: use the default one
                self.text.tag_configure(tag, foreground=self.default_color)
            self._colors.add(tag)
        return tag


def _bold(font: str) -> str:
    """Return ``font`` in bold, when it is a simple ``Family size`` spec."""
    parts = font.rsplit(" ", 1)
    if len(parts) == 2 and parts[1].lstrip("-").isdigit() and "{" not in font:
        return f"{{{parts[0]}}} {parts[1]} bold"
    return font
