"""The desktop client at the page's level, on a real X display (Xvfb) against this
tree's `parley server`: where the view opens, links, the looks, the status line,
rooms and conversations, unread counts, scrollback and "remember me".

Real input (xdotool) where it matters: clicks on links and people, typing
with Shift+Enter.
"""

from __future__ import annotations

import json
from pathlib import Path
from tkinter import ttk

import pytest

from desktop import themes
from desktop.app import ParleyApp
from desktop.prefs import THEME_DEFAULTS
from desktop.text import contrast
from parley.protocol import make_frame
from serverproc import ServerProcess
from test_desktop_gui import (ARTIFACTS, Desktops, chat_server, connect, desktops, display, shown,  # noqa: F401
                              xdotool)
from xdisplay import screenshot


def last_line_in_view(app: ParleyApp) -> bool:
    log = app.chat_view.log
    return app.chat_log.at_bottom() and log.bbox("end-2c") is not None


def test_a_fresh_start_opens_at_the_newest_message_and_follows_new_ones(
        desktops: Desktops, chat_server: ServerProcess) -> None:
    """It used to open at the oldest message, and new ones arrived out of sight."""
    poster = desktops.raw(chat_server.port, "poster")
    for n in range(120):
        poster.chat("-ALL", f"backlog {n}")
    pia = desktops.open("pia")
    connect(desktops, pia, chat_server.port, "pia")
    desktops.until(shown(pia, "backlog 119\n"), "the history replayed")
    desktops.pump_for(0.3)
    assert last_line_in_view(pia) and pia.chat_view.log.yview()[0] > 0.5

    poster.chat("-ALL", "a new one")
    desktops.until(shown(pia, "a new one\n"), "a live message")
    desktops.pump_for(0.1)
    assert last_line_in_view(pia)

    pia.chat_view.top_button.invoke()  # reading the backlog: a new message leaves the view alone
    poster.chat("-ALL", "another")
    desktops.until(shown(pia, "another\n"), "another live message")
    assert pia.chat_view.log.yview()[0] == 0.0


def test_a_link_opens_in_the_browser_with_a_click(desktops: Desktops, chat_server: ServerProcess) -> None:
    lou = desktops.open("lou", geometry="900x700+0+0")
    connect(desktops, lou, chat_server.port, "lou")
    opened: list[str] = []
    lou.chat_log.open_link = opened.append
    poster = desktops.raw(chat_server.port, "linker")
    poster.chat("-ALL", "read https://example.org/a_(b). javascript:alert(1) ftp://x.example")
    desktops.until(shown(lou, "ftp://x.example\n"), "the message with a link")
    log = lou.chat_view.log
    ranges = log.tag_ranges("link")
    assert len(ranges) == 2 and log.get(ranges[0], ranges[1]) == "https://example.org/a_(b)"
    x, y, width, height = log.bbox(ranges[0])  # type: ignore[misc]
    xdotool("mousemove", "--sync", str(log.winfo_rootx() + x + width + 20), str(log.winfo_rooty() + y + height // 2))
    desktops.pump_for(0.1)
    xdotool("click", "1")
    desktops.until(lambda: opened == ["https://example.org/a_(b)"], "the link opened")


@pytest.mark.parametrize("look", ["light", "dark", "classic"])
def test_each_look_from_the_preferences_is_readable(desktops: Desktops, chat_server: ServerProcess,
                                                    look: str) -> None:
    desktops.config.mkdir(parents=True, exist_ok=True)
    (desktops.config / f"{look}.json").write_text(json.dumps({"theme": look}))
    app = desktops.open(look, geometry="900x700+0+0")
    expected = themes.palette(look, {})
    style = ttk.Style(app.root)
    assert style.lookup("Login.TFrame", "background").lower() == expected["login-page-bg"].lower()
    if look == "classic":  # the original's navy and neon, key for key
        assert style.lookup("Login.TLabel", "foreground") == THEME_DEFAULTS["login-page-text"]
        assert style.lookup("Send.TButton", "background") == THEME_DEFAULTS["send-button-bg"]
    connect(desktops, app, chat_server.port, look.capitalize())
    yellow = desktops.raw(chat_server.port, f"yellow{look}")
    yellow.send(make_frame("UPDATE", [("color", "#FFFF00")]))
    yellow.chat("-ALL", f"yellow on {look}, then white")
    desktops.until(shown(app, f"yellow on {look}, then white\n"), "a yellow user's message")
    background = app.chat_view.log.cget("bg")
    assert background == expected["text-background"]
    for tag in ("color:#FFFF00", "stamp", "link", "info"):
        foreground = app.chat_view.log.tag_cget(tag, "foreground")
        assert contrast(foreground, background) >= 4.5, (tag, foreground, background)
    desktops.pump_for(0.2)
    screenshot(ARTIFACTS / f"desktop-{look}.png")


def test_the_status_line_is_never_under_the_buttons_at_the_default_size(
        desktops: Desktops, chat_server: ServerProcess) -> None:
    ann = desktops.open("status", geometry="900x700+0+0")
    connect(desktops, ann, chat_server.port, "Annabelle")
    view = ann.chat_view
    view.set_status(f"Connected to a-very-long-host-name.example.org:{chat_server.port} as Annabelle (TLS).",
                    "online")
    ann.chat_view.set_unread(12)
    desktops.pump_for(0.2)
    status = view.status_label
    assert status.winfo_ismapped() and status.winfo_width() >= status.winfo_reqwidth()

    def box(widget: object) -> tuple[int, int, int, int]:
        w = widget  # type: ignore[assignment]
        return (w.winfo_rootx(), w.winfo_rooty(), w.winfo_rootx() + w.winfo_width(),  # type: ignore[attr-defined]
                w.winfo_rooty() + w.winfo_height())  # type: ignore[attr-defined]

    s = box(status)
    for button in (view.refresh_button, view.customize_button, view.disconnect_button, view.send_button,
                   view.new_room_button, view.join_room_button, view.older_button):
        b = box(button)
        assert button.winfo_ismapped()
        assert s[2] <= b[0] or b[2] <= s[0] or s[3] <= b[1] or b[3] <= s[1], f"{button} covers the status"
    assert s[3] <= ann.root.winfo_rooty() + ann.root.winfo_height()
