"""The desktop client at the page's level, on a real X display (Xvfb) against this
tree's `parley server`: where the view opens, links, the looks, the status line,
rooms and conversations, unread counts, scrollback and "remember me".

Real input (xdotool) where it matters: clicks on links and people, typing
with Shift+Enter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from tkinter import ttk

import pytest
from conftest import add_account
from serverproc import ServerProcess
from test_desktop_gui import (
    ARTIFACTS,
    Desktops,
    connect,
    open_desktops,
    running_server,
    say,
    shown,
    xdotool,
)
from xdisplay import screenshot

from desktop import themes
from desktop.app import ParleyApp
from desktop.prefs import THEME_DEFAULTS
from desktop.text import contrast
from parley.protocol import make_frame


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from running_server(tmp_path_factory)


@pytest.fixture
def desktops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             caplog: pytest.LogCaptureFixture) -> Iterator[Desktops]:
    yield from open_desktops(tmp_path, monkeypatch, caplog)


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
    lou.root.lift()
    desktops.pump_for(0.1)
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


# ---- against the server's rooms, conversations and sessions -------------------------------


def type_keys(desktops: Desktops, app: ParleyApp, widget: object, *steps: str) -> None:
    """Type into ``widget`` with real key presses: text, or ``key:NAME`` (``key:shift+Return``)."""
    app.root.lift()  # windows overlap: keys and clicks go to the one on top
    app.root.focus_force()
    widget.focus_force()  # type: ignore[attr-defined]
    desktops.pump_for(0.1)
    for step in steps:
        if step.startswith("key:"):
            xdotool("key", step[4:])
        else:
            xdotool("type", "--delay", "5", step)
        desktops.pump_for(0.05)


def conversation(app: ParleyApp, rec: str) -> str:
    """The conversation list's entry for ``rec`` ('' when not listed)."""
    return next((label for label in app.chat_view.conversation_labels() if label.split()[0] == rec), "")


def test_rooms_and_a_private_conversation_with_unread_counts(desktops: Desktops, chat_server: ServerProcess) -> None:
    ann = desktops.open("ann", geometry="900x700+0+0")
    connect(desktops, ann, chat_server.port, "ann")
    bob = desktops.open("bob", geometry="900x700+0+0")
    connect(desktops, bob, chat_server.port, "bob")
    legacy = desktops.raw(chat_server.port, "leg")  # an original client: the lobby only

    # ann creates #tea by typing its name, and sets its topic.
    ann.chat_view.new_room_button.invoke()
    type_keys(desktops, ann, ann.chat_view.prompt.entry, "tea", "key:Return")
    desktops.until(lambda: ann.open_rec == "#tea", "ann's new room is open")
    desktops.until(lambda: ann.chat_view.people_names() == ["ann"], "the room's members")
    assert ann.chat_view.people.get(0) == "@ann" and ann.chat_view.topic_button.winfo_ismapped()
    ann.chat_view.topic_button.invoke()
    type_keys(desktops, ann, ann.chat_view.prompt.entry, "Tea and biscuits", "key:Return")
    desktops.until(lambda: ann.chat_view.topic_label.cget("text") == "Tea and biscuits", "the topic shown")

    # bob joins it from the list of public rooms.
    bob.chat_view.join_room_button.invoke()
    desktops.until(lambda: any(c.startswith("#tea") for c in bob.chat_view.prompt.entry.cget("values")),
                   "ROOMS lists #tea")
    bob.chat_view.prompt.entry.current(0)
    bob.chat_view.prompt.ok_button.invoke()
    desktops.until(lambda: bob.open_rec == "#tea", "bob in #tea")
    desktops.until(shown(ann, "bob joined #tea"), "ann sees bob join")
    desktops.until(lambda: ann.chat_view.people_names() == ["ann", "bob"], "ann's member list")

    say(desktops, ann, "hello tea room")
    desktops.until(shown(bob, "hello tea room\n"), "a room message")
    bob.open_conversation("-ALL")
    say(desktops, ann, "bob, have a biscuit")
    # Unread: what came while bob's window was not focused, one of them naming him.
    desktops.until(lambda: re.fullmatch(r"#tea  \([12], @1\)", conversation(bob, "#tea")) is not None,
                   "bob's unread count and mention")
    legacy.chat("-ALL", "lobby only")
    desktops.until(shown(bob, "lobby only\n"), "the lobby")
    assert not [c for c in legacy.contents("CHATR") if "tea" in c or "biscuit" in c]
    assert not [f for f in legacy.frames if f.reason in ("CONV", "MEMBERS", "MEMBER")]

    # A private conversation from the member list's menu (a real right click).
    ann.open_conversation("#tea")
    desktops.until(lambda: ann.chat_view.people_names() == ["ann", "bob"], "the members again")
    ann.root.lift()
    desktops.pump_for(0.1)
    people = ann.chat_view.people
    x, y, _w, h = people.bbox(1)  # type: ignore[misc]
    xdotool("mousemove", "--sync", str(people.winfo_rootx() + x + 10), str(people.winfo_rooty() + y + h // 2))
    xdotool("click", "3")
    desktops.until(lambda: ann.chat_view.people_menu.winfo_ismapped(), "the menu")
    labels = [ann.chat_view.people_menu.entrycget(i, "label") for i in range(ann.chat_view.people_menu.index("end") + 1)]
    assert labels == ["Message bob", "Make operator of #tea", "Remove from #tea",
                      "Ban from #tea...", "Mute in #tea...", "Unmute in #tea"]  # an operator moderates (issue 14)
    ann.chat_view.people_menu.invoke(1)  # make bob an operator
    ann.chat_view.people_menu.unpost()
    desktops.until(lambda: bob.conversations.get("#tea") is not None and bob.conversations.get("#tea").op,  # type: ignore[union-attr]
                   "bob is an operator")
    # That CONV carries no read marker for a guest: bob's own counts stay.
    assert re.fullmatch(r"#tea  \([12], @1\)", conversation(bob, "#tea")), conversation(bob, "#tea")
    ann.person_menu("bob")[0][1]()
    assert ann.open_rec == "bob" and ann.chat_view.to_label.cget("text") == "To bob:"
    say(desktops, ann, "just between us")
    desktops.until(lambda: conversation(bob, "ann") == "ann  (1)", "bob's private conversation with ann")
    bob.chat_view.conversations.selection_set("ann")
    desktops.until(shown(bob, "just between us\n"), "opened")
    assert conversation(bob, "ann") == "ann  (1)"  # not read while bob's window is not focused
    bob.root.lift()
    bob.chat_view.entry.focus_force()
    desktops.until(lambda: conversation(bob, "ann") == "ann", "read once bob's window has the focus")
    screenshot(ARTIFACTS / "desktop-rooms.png")

    # A private room: ann invites bob; then bob leaves #tea.
    ann.chat_view.new_room_button.invoke()
    ann.chat_view.prompt.value.set("#back-office")
    ann.chat_view.prompt.check.invoke()
    ann.chat_view.prompt.ok_button.invoke()
    desktops.until(lambda: ann.open_rec == "#back-office", "the private room")
    ann.chat_view.invite_button.invoke()
    type_keys(desktops, ann, ann.chat_view.prompt.entry, "bob", "key:Return")
    desktops.until(lambda: conversation(bob, "#back-office").startswith("#back-office \U0001f512"),
                   "bob invited to the private room")
    bob.open_conversation("#tea")
    bob.chat_view.leave_room_button.invoke()
    desktops.until(lambda: not conversation(bob, "#tea") and bob.open_rec == "-ALL", "bob left #tea")
    ann.open_conversation("#tea")
    desktops.until(shown(ann, "bob left #tea"), "ann sees bob leave")


def test_load_older_pages_back_to_the_first_message_with_date_separators(
        desktops: Desktops, tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "older-data", "--chat-rate", "0", source=True).start()
    try:
        poster = desktops.raw(server.port, "poster")
        for n in range(230):
            poster.chat("-ALL", f"backlog {n}")
        desktops.until(lambda: "backlog 229" in poster.contents("CHATR"), "the backlog stored")
        ida = desktops.open("ida", geometry="900x700+0+0")
        connect(desktops, ida, server.port, "ida")
        desktops.until(shown(ida, "backlog 229\n"), "the newest messages")
        assert "backlog 0\n" not in ida.chat_log.content() and ida.chat_view.older_button.instate(["!disabled"])
        assert last_line_in_view(ida)
        pages = 0
        while ida.chat_view.older_button.instate(["!disabled"]) and pages < 10:
            before = int(ida.chat_log.content().split("backlog ", 2)[1].split("\n")[0]) - 1
            ida.chat_view.older_button.invoke()
            pages += 1
            desktops.until(lambda b=before: f"backlog {b}\n" in ida.chat_log.content()  # type: ignore[misc]
                           or ida.chat_view.older_button.instate(["disabled"]), f"page {pages}")
            assert ida.chat_view.log.yview()[0] > 0.0  # the view stays where the reader was
        assert "backlog 0\n" in ida.chat_log.content() and pages <= 5
        assert ida.chat_view.older_button.cget("text") == "The beginning of this conversation"
        content = ida.chat_log.content()
        assert content.count("\u2500\u2500 Today \u2500\u2500") == 1
        assert [int(line.split()[1]) for line in content.splitlines() if line.startswith("backlog ")] == list(range(230))
    finally:
        server.stop()


def test_shift_enter_writes_a_multi_line_message_and_me_an_action(desktops: Desktops,
                                                                  chat_server: ServerProcess) -> None:
    kai = desktops.open("kai", geometry="900x700+0+0")
    connect(desktops, kai, chat_server.port, "kai")
    lee = desktops.open("lee", geometry="900x700+0+0")
    connect(desktops, lee, chat_server.port, "lee")
    old = desktops.raw(chat_server.port, "old")
    type_keys(desktops, kai, kai.chat_view.entry, "first line", "key:shift+Return", "second line")
    assert kai.chat_view.text() == "first line\nsecond line"
    type_keys(desktops, kai, kai.chat_view.entry, "key:Return")
    desktops.until(shown(lee, "first line\nsecond line\n"), "two lines")
    desktops.until(lambda: "first line second line" in old.contents("CHATR"), "one readable line for the original")
    type_keys(desktops, kai, kai.chat_view.entry, "/me waves", "key:Return")
    desktops.until(shown(lee, "* kai waves"), "an action")
    assert "kai: /me waves" not in lee.chat_log.content()
    assert "/me waves" in old.contents("CHATR")  # the wire keeps the text as typed


def test_remember_me_logs_in_again_after_a_restart_of_the_client(desktops: Desktops, tmp_path: Path) -> None:
    data = tmp_path / "remember-data"
    add_account(data, "rem", "rempass")
    server = ServerProcess(data, "--chat-rate", "0", source=True).start()
    try:
        watcher = desktops.raw(server.port, "watcher")
        rem = desktops.open("rem")
        rem.connect_view.remember_check.invoke()
        connect(desktops, rem, server.port, "rem", password="rempass")
        token_file = desktops.config / "rem-session.json"
        desktops.until(token_file.exists, "the token kept")
        assert oct(token_file.stat().st_mode & 0o777) == "0o600"
        assert "rempass" not in token_file.read_text() and "rempass" not in (desktops.config / "rem.json").read_text()
        say(desktops, rem, "before the restart")
        desktops.until(lambda: "before the restart" in watcher.contents("CHATR"), "a message")
        rem.close()  # the window closes: no DISCON, the token stays good
        assert token_file.exists()

        again = desktops.open("rem")  # a new start of the client: logs in with the token, no password
        assert again.connect_view.password.get() == ""
        desktops.until(lambda: again.online and again.chat_view.winfo_ismapped(), "logged in by token")
        desktops.until(shown(again, "before the restart\n"), "the history in place")
        desktops.pump_for(0.5)
        assert not [t for t in watcher.contents("INFO") if t.startswith("rem has")][1:]  # joined once, never left

        again.chat_view.disconnect_button.invoke()  # Leave forgets it
        desktops.until(lambda: again.connect_view.winfo_ismapped(), "left")
        assert not token_file.exists()
        desktops.until(lambda: "rem has disconnected" in watcher.contents("INFO"), "watcher sees rem leave")
        third = desktops.open("rem")
        desktops.pump_for(0.5)
        assert third.connection is None and third.connect_view.remembered_label.cget("text") == ""
    finally:
        server.stop()


def test_a_private_draft_stays_with_its_conversation_and_never_posts_publicly(
        desktops: Desktops, chat_server: ServerProcess) -> None:
    """With the recipient dropdown, a private draft fell back to everyone when the recipient left."""
    dee = desktops.open("dee", geometry="900x700+0+0")
    connect(desktops, dee, chat_server.port, "dee")
    carl = desktops.raw(chat_server.port, "carl2")
    carl.chat("dee", "psst")
    desktops.until(lambda: conversation(dee, "carl2") == "carl2  (1)", "carl2's conversation")
    dee.chat_view.conversations.selection_set("carl2")
    desktops.until(lambda: dee.open_rec == "carl2", "opened")
    type_keys(desktops, dee, dee.chat_view.entry, "for carl2 only")
    carl.send(make_frame("DISCON"))
    desktops.until(lambda: "carl2" not in dee.chat_view.people_names(), "carl2 left")
    assert dee.open_rec == "carl2" and dee.chat_view.to_label.cget("text") == "To carl2:"
    dee.chat_view.conversations.selection_set("-ALL")
    desktops.until(lambda: dee.open_rec == "-ALL", "the lobby opened")
    assert dee.chat_view.text() == ""
    type_keys(desktops, dee, dee.chat_view.entry, "key:Return")
    assert "Type a message first." in dee.chat_view.warning_label.cget("text")
    dee.chat_view.conversations.selection_set("carl2")
    desktops.until(lambda: dee.chat_view.text() == "for carl2 only", "the draft back in its conversation")
    watcher = desktops.raw(chat_server.port, "watch2")
    type_keys(desktops, dee, dee.chat_view.entry, "key:Return")
    desktops.until(lambda: "ERR: " in dee.chat_view.warning_label.cget("text"), "the server's error: carl2 is offline")
    desktops.pump_for(0.3)
    assert "for carl2 only" not in watcher.contents("CHATR")


def test_a_dropped_connection_comes_back_within_the_grace_unseen(desktops: Desktops,
                                                                 chat_server: ServerProcess) -> None:
    """Without a resume token a drop showed everyone "X has disconnected" and "X has joined"."""
    gia = desktops.open("gia")
    connect(desktops, gia, chat_server.port, "gia")
    watcher = desktops.raw(chat_server.port, "watch3")
    connection = gia.connection
    assert connection is not None
    desktops.until(lambda: bool(connection.session.login.token), "a resume token for the grace")

    def drop() -> None:  # a reset, as a lost network gives: no DISCON
        assert connection._writer is not None
        connection._writer.transport.abort()

    connection._loop.call_soon_threadsafe(drop)
    desktops.until(lambda: "Reconnected." in gia.chat_log.content() and gia.online, "back by itself")
    say(desktops, gia, "still here")
    desktops.until(lambda: "still here" in watcher.contents("CHATR"), "gia talks again")
    assert not [t for t in watcher.contents("INFO") if t.startswith("gia has")]
    assert "gia" in [f for f in watcher.frames if f.reason == "USER"][-1].params.values()
