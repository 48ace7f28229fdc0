"""The desktop client's real widgets on a real X display (Xvfb), against a real
`parley server` child process, beside a raw TCP client.

Every wait is bounded by wire.TIMEOUT. The Tk windows are driven as a user
would: text typed into entries, buttons invoked, Return pressed; the network
threads run for real and the Tk side is pumped with update().
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import tkinter as tk
from pathlib import Path
from tkinter import ttk
from typing import Callable, Iterator

import pytest
from certs import self_signed
from conftest import add_account
from serverproc import ParleyProcess, ServerProcess
from wire import TIMEOUT
from xdisplay import Xvfb, screenshot

from desktop import prefs as prefs_module
from desktop import themes
from desktop.app import ParleyApp
from desktop.chatlog import ChatLog
from desktop.client import ChatMessage, LoginDetails
from desktop.connection import Backoff, Connection
from desktop.conversations import Conversation
from parley.protocol import Frame, format_frame, make_frame
from parley.protocol.framing import FrameDecoder, FrameReceived

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"


_SHARED_DISPLAY: list[Xvfb] = []


def shared_display() -> Xvfb:
    """Return the one Xvfb of every desktop test module.

    Tk keeps its connection to a display for the life of the process, so a
    display stopped between modules would end the process at the next Tk call.
    """
    if not _SHARED_DISPLAY:
        _SHARED_DISPLAY.append(Xvfb().start())
        atexit.register(_SHARED_DISPLAY[0].stop)
    return _SHARED_DISPLAY[0]


@pytest.fixture(scope="session")
def display() -> Xvfb:
    return shared_display()


def running_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """This tree's server (rooms and sessions), with the admin account boss."""
    data = tmp_path_factory.mktemp("desktop") / "data"
    add_account(data, "boss", "bosspass", role="admin")
    server = ServerProcess(data, "--chat-rate", "0", source=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from running_server(tmp_path_factory)


# ---- a raw TCP client, polled alongside the windows ----------------------------


class Raw:
    """A framed TCP client on a plain socket, read without blocking."""

    def __init__(self, port: int, nickname: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock.setblocking(False)
        self.decoder = FrameDecoder(max_frame=1 << 20, detect_legacy=False)
        self.frames: list[Frame] = []
        self.closed = False
        self.send(make_frame("CON", [("nickname", nickname), ("password", ""), ("color", "#00AAFF")]))

    def send(self, frame: Frame) -> None:
        self.sock.setblocking(True)
        self.sock.sendall(format_frame(frame).encode() + b"\n")
        self.sock.setblocking(False)

    def chat(self, rec: str, text: str) -> None:
        self.send(make_frame("CHAT", [("rec", rec)], text))

    def poll(self) -> None:
        while not self.closed:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return
            except ConnectionError:
                data = b""
            self.closed = not data
            for event in self.decoder.receive_data(data):
                if isinstance(event, FrameReceived):
                    self.frames.append(event.frame)

    def contents(self, reason: str) -> list[str]:
        return [f.content for f in self.frames if f.reason == reason]

    def close(self) -> None:
        self.sock.close()


# ---- windows ----------------------------------------------------------------------------


class Desktops:
    """Opens desktop windows (one Tk interpreter each) and pumps them all."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.apps: list[ParleyApp] = []
        self.raws: list[Raw] = []

    def open(self, name: str, geometry: str = "") -> ParleyApp:
        path = self.config / f"{name}.json"

        def connection(events, login: LoginDetails) -> Connection:  # type: ignore[no-untyped-def]
            return Connection(events, login, Backoff(base=0.2, cap=1.0), discon_grace=1.0)

        root = tk.Tk(className="Parley")
        app = ParleyApp(root, prefs_module.load(path), lambda p: prefs_module.save(p, path), connection,
                        session_file=self.config / f"{name}-session.json")
        root.geometry(geometry or f"640x700+{len(self.apps) % 2 * 640}+0")
        self.apps.append(app)
        self.pump_for(0.05)
        return app

    def raw(self, port: int, nickname: str) -> Raw:
        raw = Raw(port, nickname)
        self.raws.append(raw)
        self.until(lambda: "USER" in [f.reason for f in raw.frames], f"{nickname} logged in")
        return raw

    def _tick(self) -> None:
        for app in self.apps:
            if not app.closed:
                app.root.update()
        for raw in self.raws:
            raw.poll()
        time.sleep(0.01)

    def until(self, condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                logs = "\n---\n".join(a.chat_log.content()[-600:] for a in self.apps if not a.closed)
                frames = [[format_frame(f) for f in raw.frames[-5:]] for raw in self.raws]
                raise AssertionError(f"timed out waiting for: {what}\n{logs}\nraw clients: {frames}")
            self._tick()

    def pump_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._tick()

    def close(self) -> None:
        for app in self.apps:
            if not app.closed:
                app.close()
        for raw in self.raws:
            raw.close()


def open_desktops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  caplog: pytest.LogCaptureFixture) -> Iterator[Desktops]:
    """Desktops with their preferences under ``tmp_path``; closed at the end, with no error logged."""
    shared_display()
    monkeypatch.setenv("PARLEY_CONFIG_DIR", str(tmp_path / "config"))
    opened = Desktops(tmp_path / "config")
    try:
        yield opened
    finally:
        opened.close()
    errors = [r for r in caplog.records if r.name == "parley.desktop" and r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


@pytest.fixture
def desktops(display: Xvfb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             caplog: pytest.LogCaptureFixture) -> Iterator[Desktops]:
    yield from open_desktops(tmp_path, monkeypatch, caplog)


def fill(entry: tk.Misc, text: str) -> None:
    if isinstance(entry, tk.Text):  # the composer
        entry.delete("1.0", "end")
        entry.insert("1.0", text)
        return
    entry.delete(0, "end")  # type: ignore[attr-defined]
    entry.insert(0, text)  # type: ignore[attr-defined]


def connect(desktops: Desktops, app: ParleyApp, port: int, nickname: str, password: str = "",
            color: str = "#FF8800") -> None:
    view = app.connect_view
    fill(view.host_entry, "127.0.0.1")
    fill(view.port_entry, str(port))
    fill(view.nick_entry, nickname)
    fill(view.password_entry, password)
    fill(view.color_entry, color)
    view.connect_button.invoke()
    desktops.until(lambda: app.chat_view.winfo_ismapped() and app.online, f"{nickname} in the chat")


def press_return(desktops: Desktops, widget: tk.Widget) -> None:
    widget.focus_force()
    desktops.pump_for(0.05)
    widget.event_generate("<Return>")


def say(desktops: Desktops, app: ParleyApp, text: str) -> None:
    fill(app.chat_view.entry, text)
    press_return(desktops, app.chat_view.entry)


def shown(app: ParleyApp, text: str) -> Callable[[], bool]:
    return lambda: text in app.chat_log.content()


# ---- the tests -------------------------------------------------------------------------


def test_connect_screen_shows_refusals_and_remembers_the_address(desktops: Desktops,
                                                                 chat_server: ServerProcess) -> None:
    app = desktops.open("dora")
    view = app.connect_view
    assert (view.host.get(), view.port.get()) == ("localhost", "6666")  # nothing remembered yet
    fill(view.port_entry, "70000")
    view.connect_button.invoke()
    assert "port" in view.error_label.cget("text") and app.connection is None

    with socket.create_server(("127.0.0.1", 0)) as probe:
        nothing_listens = probe.getsockname()[1]
    fill(view.host_entry, "127.0.0.1")
    fill(view.port_entry, str(nothing_listens))
    fill(view.nick_entry, "dora")
    press_return(desktops, view.nick_entry)  # Enter in a field connects
    desktops.until(lambda: "Is the server running?" in view.error_label.cget("text"), "refused")

    fill(view.port_entry, str(chat_server.port))
    fill(view.nick_entry, "1dora")
    view.connect_button.invoke()
    desktops.until(lambda: "must start with a letter" in view.error_label.cget("text"), "CONVER error")
    assert view.winfo_ismapped() and not app.chat_view.winfo_ismapped()

    # The color picker: the Tk color dialog, answered as a user would.
    def answer_dialog() -> None:
        app.root.tk.call("set", "::tk::dialog::color::__tk__color(selection)", "#12ab34")
        app.root.tk.call("tk::dialog::color::HandleSelEntry", ".__tk__color")
        app.root.tk.call(".__tk__color.bot.ok", "invoke")
    app.root.after(300, answer_dialog)
    view.color_button.invoke()
    assert view.color.get() == "#12AB34"

    connect(desktops, app, chat_server.port, "dora", password="not-stored", color=view.color.get())
    saved = json.loads((desktops.config / "dora.json").read_text())
    assert (saved["server-address"], saved["server-port"], saved["nickname"], saved["message-color"]) == (
        "127.0.0.1", chat_server.port, "dora", "#12AB34")
    assert "not-stored" not in json.dumps(saved) and "password" not in saved
    assert saved["theme"] == "system" and "send-button-bg" not in saved  # only the keys a user set
    app.close()

    again = desktops.open("dora")
    assert (again.connect_view.host.get(), again.connect_view.port.get(), again.connect_view.nickname.get(),
            again.connect_view.password.get()) == ("127.0.0.1", str(chat_server.port), "dora", "")


def test_public_and_private_messages_between_desktops_and_a_raw_client(
        desktops: Desktops, chat_server: ServerProcess) -> None:
    ann, boss = desktops.open("ann"), desktops.open("boss")
    connect(desktops, ann, chat_server.port, "ann", color="#FF8800")
    connect(desktops, boss, chat_server.port, "boss", password="bosspass", color="#3366FF")
    carl = desktops.raw(chat_server.port, "carl")
    desktops.until(lambda: ann.chat_view.people_names() == ["ann", "boss", "carl"], "ann's online list")
    assert boss.chat_view.kick_bar.winfo_ismapped() and not ann.chat_view.kick_bar.winfo_ismapped()
    assert ann.chat_view.to_label.cget("text") == "To everyone:"

    say(desktops, ann, "hello, everyone/all")
    desktops.until(lambda: "hello, everyone/all\n" in ann.chat_log.content()
                   and "hello, everyone/all\n" in boss.chat_log.content()
                   and "hello, everyone/all" in carl.contents("CHATR"), "the public message everywhere")
    log = ann.chat_view.log
    start, end = log.tag_ranges("color:#FF8800")[:2]
    assert log.get(start, end) == "ann"
    assert ann.chat_view.text() == ""

    # A private message is a conversation of its own, listed with its unread count.
    carl.chat("ann", "psst, ann")
    desktops.until(lambda: "carl  (1, @1)" in ann.chat_view.conversation_labels(), "carl's conversation listed")
    assert "psst" not in ann.chat_log.content()  # the lobby stays open
    ann.chat_view.conversations.selection_set("carl")
    desktops.until(shown(ann, "psst, ann\n"), "carl's conversation opened")
    desktops.until(lambda: "carl" in ann.chat_view.conversation_labels(), "read: no count left")
    assert ann.chat_view.to_label.cget("text") == "To carl:"

    # From the online list: a conversation with boss; the composer writes to it.
    ann.chat_view.lift()
    dict(ann.person_menu("boss"))["Message boss"]()
    say(desktops, ann, "for boss only")
    desktops.until(lambda: "ann  (1, @1)" in boss.chat_view.conversation_labels(), "boss sees ann's conversation (it names him)")
    carl.chat("-ALL", "carl again")
    desktops.until(shown(boss, "carl again"), "a later public message")
    assert "for boss only" not in boss.chat_log.content() and "psst" not in boss.chat_log.content()
    assert "for boss only" not in carl.contents("CHATR")
    assert ann.chat_log.content().endswith("for boss only\n")

    # An unread marker while the window is not focused, cleared when it is.
    ann.open_conversation("carl")
    boss.chat_view.entry.focus_force()
    desktops.until(lambda: not ann.focused(), "ann's window loses the focus")
    carl.chat("ann", "are you there?")
    desktops.until(lambda: ann.root.title().startswith("(1) "), "unread marker in the title")
    assert "1 unread" in ann.chat_view.unread_label.cget("text")
    screenshot(ARTIFACTS / "desktop-chat.png")
    ann.chat_view.entry.focus_force()
    desktops.until(lambda: ann.unread == 0 and not ann.root.title().startswith("("), "marker cleared")

    # Top and bottom buttons scroll the log.
    ann.open_conversation("-ALL")
    for n in range(30):
        carl.chat("-ALL", f"filler {n}")
    desktops.until(shown(ann, "filler 29"), "fillers")
    ann.chat_view.top_button.invoke()
    assert ann.chat_view.log.yview()[0] == 0.0
    ann.chat_view.bottom_button.invoke()
    assert ann.chat_view.log.yview()[1] == 1.0


def test_length_limit_and_customize_screen(desktops: Desktops, chat_server: ServerProcess) -> None:
    eve, fay = desktops.open("eve"), desktops.open("fay")
    connect(desktops, eve, chat_server.port, "eve")
    connect(desktops, fay, chat_server.port, "fay")
    view = eve.chat_view

    say(desktops, eve, "x" * 301)
    assert "301 characters, the limit is 300" in view.warning_label.cget("text")
    assert view.counter_label.cget("text") == "301/300" and len(view.text()) == 301
    fill(view.entry, "y" * 300)
    view.send_button.invoke()
    desktops.until(shown(fay, "y" * 300), "a 300-character message")
    assert "x" * 301 not in fay.chat_log.content()

    view.customize_button.invoke()
    custom = eve.customize_view
    desktops.until(custom.winfo_ismapped, "the customize screen")
    custom.save_button.invoke()
    assert custom.answer_label.cget("text") == "You must change at least one thing."
    fill(custom.nick_entry, "fay")
    press_return(desktops, custom.nick_entry)
    desktops.until(lambda: custom.answer_label.cget("text") == "Server: Error: User is already logged in. ",
                   "the server's UPDATE error")
    fill(custom.nick_entry, "evelyn")
    fill(custom.color_entry, "#00AA00")
    custom.save_button.invoke()
    desktops.until(lambda: custom.answer_label.cget("text") == "Server: OK", "the server's UPDATE OK")
    assert view.name_label.cget("text") == "evelyn" and eve.root.title() == "Parley \u2014 evelyn"
    desktops.until(lambda: "evelyn" in fay.chat_view.people_names(), "fay's online list renamed")
    assert "eve" not in fay.chat_view.people_names()
    desktops.until(shown(fay, "eve's name changed to evelyn color changed to #00AA00"), "rename INFO")
    saved = json.loads((desktops.config / "eve.json").read_text())
    assert (saved["nickname"], saved["message-color"]) == ("evelyn", "#00AA00")

    custom.back_button.invoke()
    say(desktops, eve, "green now")
    desktops.until(shown(fay, "green now"), "message under the new name")
    log = fay.chat_view.log
    start, end = log.tag_ranges("color:#00AA00")[:2]
    assert log.get(start, end) == "evelyn"


def test_admin_kicks_a_raw_client_and_a_desktop_that_stays_out(desktops: Desktops,
                                                              chat_server: ServerProcess) -> None:
    boss, gus = desktops.open("boss"), desktops.open("gus")
    connect(desktops, boss, chat_server.port, "boss", password="bosspass")
    connect(desktops, gus, chat_server.port, "gus")
    hal = desktops.raw(chat_server.port, "hal")
    desktops.until(lambda: set(boss.chat_view.kick_user.cget("values")) == {"gus", "hal"}, "kick choices")

    boss.chat_view.kick_user.set("hal")
    fill(boss.chat_view.kick_reason, "spamming")
    boss.chat_view.kick_button.invoke()
    desktops.until(lambda: hal.closed, "hal is disconnected")
    assert "You have been kicked for reason: spamming" in hal.contents("WARN")
    desktops.until(shown(gus, "hal has been kicked by boss: spamming"), "the kick INFO")
    desktops.until(lambda: "hal" not in gus.chat_view.people_names(), "hal leaves the online list")

    boss.chat_view.kick_user.set("gus")
    fill(boss.chat_view.kick_reason, "bye")
    press_return(desktops, boss.chat_view.kick_reason)
    desktops.until(lambda: gus.connect_view.winfo_ismapped(), "gus back on the connect screen")
    assert gus.connect_view.error_label.cget("text") == "You have been kicked for reason: bye"
    desktops.pump_for(1.5)  # longer than the test backoff's longest delay: no reconnect
    assert gus.connection is None and "gus" not in boss.chat_view.people_names()


def test_refresh_replays_history_and_disconnect_leaves(desktops: Desktops,
                                                       chat_server: ServerProcess) -> None:
    ivy = desktops.open("ivy")
    connect(desktops, ivy, chat_server.port, "ivy")
    jon = desktops.raw(chat_server.port, "jon")
    say(desktops, ivy, "remember me")
    desktops.until(shown(ivy, "remember me"), "ivy's message")
    ivy.chat_view.refresh_button.invoke()
    assert ivy.chat_log.content() == ""
    desktops.until(shown(ivy, "remember me"), "the replayed history")
    desktops.pump_for(0.3)
    assert ivy.chat_log.content().count("remember me\n") == 1
    assert "has joined the chat!" not in ivy.chat_log.content()  # INFO is not history

    ivy.chat_view.disconnect_button.invoke()
    desktops.until(lambda: ivy.connect_view.winfo_ismapped(), "ivy back on the connect screen")
    desktops.until(lambda: "ivy has disconnected" in jon.contents("INFO"), "jon sees ivy leave")
    assert ivy.connect_view.error_label.cget("text") == ""
    connect(desktops, ivy, chat_server.port, "ivy")  # and in again, with the history shown
    desktops.until(shown(ivy, "remember me"), "history after logging in again")
    jon.frames.clear()
    ivy.root.tk.call(ivy.root.protocol("WM_DELETE_WINDOW"))  # what the window manager's close does
    assert ivy.closed
    desktops.until(lambda: "ivy has disconnected" in jon.contents("INFO"), "jon sees ivy leave again")


def test_server_restart_reconnects_and_history_is_not_duplicated(desktops: Desktops,
                                                                  tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "restart-data", source=True).start()
    try:
        kim = desktops.open("kim")
        connect(desktops, kim, server.port, "kim")
        kim.chat_view.customize_button.invoke()
        fill(kim.customize_view.password_entry, "kims-secret")  # kim registers: a reconnect needs it
        kim.customize_view.save_button.invoke()
        desktops.until(lambda: kim.customize_view.answer_label.cget("text") == "Server: OK", "registered")
        assert kim.customize_view.password.get() == ""
        kim.customize_view.back_button.invoke()
        lou = desktops.raw(server.port, "lou")
        lou.chat("-ALL", "before the restart")
        desktops.until(shown(kim, "before the restart"), "a message before the restart")

        server.stop(signal.SIGTERM)
        desktops.until(lambda: "Server [shutting down]" in kim.chat_view.warning_label.cget("text"),
                       "the shutdown warning")
        desktops.until(lambda: "Reconnecting" in kim.chat_view.status_label.cget("text"),
                       "a visible reconnecting status")
        assert kim.chat_view.winfo_ismapped() and not kim.online
        fill(kim.chat_view.entry, "while away")
        kim.chat_view.send_button.invoke()
        assert "Not connected" in kim.chat_view.warning_label.cget("text")

        server = ServerProcess(tmp_path / "restart-data", port=server.port, source=True).start()
        desktops.until(lambda: kim.online, "kim reconnects", timeout=2 * TIMEOUT)
        desktops.until(shown(kim, "Reconnected."), "the reconnect noted in the log")
        desktops.pump_for(0.3)  # the REF replay
        assert kim.chat_log.content().count("before the restart\n") == 1
        mia = desktops.raw(server.port, "mia")
        mia.chat("-ALL", "after the restart")
        desktops.until(shown(kim, "after the restart"), "a message after the reconnect")
        say(desktops, kim, "still here")
        desktops.until(lambda: "still here" in mia.contents("CHATR"), "kim can send again")
    finally:
        server.stop()


def test_connects_to_the_lan_address_parley_serve_prints(desktops: Desktops, tmp_path: Path) -> None:
    serve = ParleyProcess(tmp_path, "serve", "--host", "0.0.0.0", "--port", "0", "--http-host", "127.0.0.1",
                          "--http-port", "0", "--data-dir", str(tmp_path / "serve-data"), source=True)
    serve.start()
    try:
        printed = re.findall(rf"^\s+(\S+):{serve.port}$", "".join(serve.output), re.M)
        # The machine's LAN address when it has one (a machine with none prints loopback only).
        address = next((a for a in printed if a != "127.0.0.1"), printed[0])
        pat = desktops.open("pat")
        fill(pat.connect_view.host_entry, f"{address}:{serve.port}")  # pasted as printed, port and all
        fill(pat.connect_view.nick_entry, "pat")
        pat.connect_view.connect_button.invoke()
        desktops.until(lambda: pat.online, f"pat logged in at {address}")
        assert pat.connect_view.port.get() == str(serve.port)
        quin = desktops.raw(serve.port, "quin")
        say(desktops, pat, "hello over the LAN")
        desktops.until(lambda: "hello over the LAN" in quin.contents("CHATR"), "the message arrives")
    finally:
        serve.stop()


def test_tls_needs_the_ca_file_of_a_self_signed_server(desktops: Desktops, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server = ServerProcess(tmp_path / "tls-data", "--tls-cert", str(cert), "--tls-key", str(key), source=True).start()
    try:
        nia = desktops.open("nia")
        view = nia.connect_view
        fill(view.host_entry, "127.0.0.1")
        fill(view.port_entry, str(server.port))
        fill(view.nick_entry, "nia")
        view.tls_check.invoke()
        view.connect_button.invoke()
        desktops.until(lambda: "not trusted" in view.error_label.cget("text"), "an untrusted certificate")
        assert view.winfo_ismapped() and nia.connection is None

        fill(view.ca_entry, str(cert))
        view.connect_button.invoke()
        desktops.until(lambda: nia.online, "logged in over TLS")
        assert "(TLS)" in nia.chat_view.status_label.cget("text")
        say(desktops, nia, "over tls")
        desktops.until(shown(nia, "over tls\n"), "a message over TLS")
        saved = json.loads((desktops.config / "nia.json").read_text())
        assert (saved["tls"], saved["ca-file"]) == (True, str(cert))
    finally:
        server.stop()


def test_a_late_message_is_placed_by_id(display: Xvfb) -> None:
    root = tk.Tk()
    try:
        text = tk.Text(root)
        log = ChatLog(text, themes.palette("light", {}))
        conversation = Conversation("-ALL")

        def message(n: int) -> ChatMessage:
            return ChatMessage("ann" if n % 2 else "bob", "-ALL", "#F80", f"m{n}", "t", n, mine=False, to_me=False)

        for n in (5, 9):
            conversation.add(message(n))
        conversation.note("info", "someone joined")
        for n in (7, 1, 9):
            conversation.add(message(n))
        log.render(conversation)
        bodies = [line for line in log.content().splitlines() if line.startswith("m")]
        assert bodies == ["m1", "m5", "m7", "m9"]
        assert log.content().endswith("m9\nsomeone joined\n")
    finally:
        root.destroy()


def test_keyboard_alone_connects_chats_and_customizes(desktops: Desktops, chat_server: ServerProcess) -> None:
    app = desktops.open("olga")
    view = app.connect_view
    fill(view.host_entry, "127.0.0.1")
    fill(view.port_entry, str(chat_server.port))
    fill(view.nick_entry, "olga")
    view.nick_entry.focus_force()
    desktops.pump_for(0.05)
    view.nick_entry.event_generate("<Tab>")
    desktops.until(lambda: app.root.focus_get() is view.password_entry, "Tab to the password")
    view.password_entry.event_generate("<Return>")
    desktops.until(lambda: app.online and app.root.focus_get() is app.chat_view.entry,
                   "in the chat, typing into the message entry")

    chat = app.chat_view
    chat.entry.insert("1.0", "by keyboard")
    chat.entry.event_generate("<Tab>")
    desktops.until(lambda: app.root.focus_get() is chat.send_button, "Tab to the Send button")
    chat.send_button.event_generate("<Return>")
    desktops.until(shown(app, "by keyboard\n"), "sent with Return on the button")

    chat.send_button.event_generate("<Alt-u>")
    desktops.until(lambda: app.current is app.customize_view, "Alt+U opens customize")
    desktops.until(lambda: app.root.focus_get() is app.customize_view.nick_entry, "focus in customize")
    app.customize_view.nick_entry.event_generate("<Escape>")
    desktops.until(lambda: app.current is chat and app.root.focus_get() is chat.entry, "Escape goes back")


def xdotool(*args: str) -> str:
    done = subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=2 * TIMEOUT)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_python_m_desktop_connects_with_real_keystrokes_and_closes_with_discon(
        desktops: Desktops, chat_server: ServerProcess, tmp_path: Path) -> None:
    env = dict(os.environ, PARLEY_CONFIG_DIR=str(tmp_path / "cli-config"))
    child = subprocess.Popen(
        [sys.executable, "-m", "desktop", f"127.0.0.1:{chat_server.port}", "--nickname", "zed",
         "--color", "#AA00AA"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        window = xdotool("search", "--sync", "--onlyvisible", "--name", "^Parley$").split()[0]
        yul = desktops.raw(chat_server.port, "yul")

        def press_return_to_connect() -> bool:
            # The focus starts in the empty password field: Enter connects. A
            # loaded machine may map the window before Tk takes the key: retry.
            xdotool("windowfocus", "--sync", window)
            xdotool("key", "Return")
            desktops.pump_for(1.0)
            return "zed has joined the chat!" in yul.contents("INFO")

        desktops.until(press_return_to_connect, "zed logs in")
        desktops.until(lambda: "zed" in xdotool("getwindowname", window), "the title names zed")
        xdotool("type", "--delay", "5", "typed, for real")
        xdotool("key", "Return")
        desktops.until(lambda: "typed, for real" in yul.contents("CHATR"), "zed's message")
        child.send_signal(signal.SIGTERM)  # closes as the window's close button does
        _, stderr = child.communicate(timeout=TIMEOUT)
        assert child.returncode == 0 and "Traceback" not in stderr, stderr
        desktops.until(lambda: "zed has disconnected" in yul.contents("INFO"), "zed leaves")
        saved = json.loads((tmp_path / "cli-config" / "preferences.json").read_text())
        assert (saved["nickname"], saved["message-color"]) == ("zed", "#AA00AA")
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()


def test_theme_comes_from_the_preferences_file(desktops: Desktops) -> None:
    desktops.config.mkdir(parents=True, exist_ok=True)
    (desktops.config / "rae.json").write_text(json.dumps({
        "text-background": "#102030", "send-button-bg": "#ABCDEF", "bg-color": "not a color",
        "text-font": "Courier 11", "server-address": "chat.example", "server-port": 7000}))
    rae = desktops.open("rae")
    assert rae.chat_view.log.cget("bg") == "#102030" and rae.chat_view.log.cget("font") == "Courier 11"
    style = ttk.Style(rae.root)
    assert style.lookup("Send.TButton", "background") == "#ABCDEF"
    assert style.lookup(".", "background") == themes.LIGHT["bg-color"]  # unusable: the look's own
    assert (rae.connect_view.host.get(), rae.connect_view.port.get()) == ("chat.example", "7000")


def test_a_failing_callback_is_one_line_in_the_window_not_a_traceback(
        desktops: Desktops, caplog: pytest.LogCaptureFixture) -> None:
    sam = desktops.open("sam")
    sam.root.after(0, lambda: 1 / 0)
    desktops.until(lambda: "Something went wrong: division by zero" in sam.connect_view.error_label.cget("text"),
                   "the error shown")
    assert any(r.exc_info for r in caplog.records if r.name == "parley.desktop")  # the trace is logged
    caplog.clear()
    assert not sam.closed  # and the window carries on


def test_at_the_smallest_window_size_every_button_stays_in_view(desktops: Desktops,
                                                                chat_server: ServerProcess) -> None:
    """A narrow window cuts the status text, never a button or the unread marker."""
    ann = desktops.open("narrow")
    connect(desktops, ann, chat_server.port, "Annabelle")
    ann.root.geometry("640x480")
    ann.chat_view.set_unread(12)
    ann.chat_view.status_label.configure(text="Connected to a-very-long-host-name.example.org:6666 as Annabelle.")
    desktops.pump_for(0.2)
    view = ann.chat_view
    right_edge = view.winfo_rootx() + view.winfo_width()
    for widget in (view.refresh_button, view.customize_button, view.disconnect_button, view.send_button,
                   view.unread_label):
        assert widget.winfo_ismapped(), widget
        assert widget.winfo_rootx() + widget.winfo_width() <= right_edge, widget
        assert widget.winfo_width() >= widget.winfo_reqwidth(), f"{widget} is squeezed"


# ---- user lists from changes (issue 12, item 6) ----------------------------------------


@pytest.fixture(scope="module")
def source_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """This tree's server (the installed one may be older)."""
    server = ServerProcess(tmp_path_factory.mktemp("lists") / "data", source=True)
    server.start()
    yield server
    server.stop()


def whole_list(raw: Raw) -> list[str]:
    """The last whole list ``raw`` (a client that did not ask for changes) got."""
    last = [f for f in raw.frames if f.reason == "USER"][-1]
    return [last.params[str(i)] for i in range(int(last.params["num"]))]


def test_the_desktop_follows_joins_renames_and_leaves_from_changes(desktops: Desktops,
                                                                    source_server: ServerProcess) -> None:
    """Issue 12, item 6: the window (it sends lists=changes) keeps its user list from USERCHANGES through
    joins, renames and leaves; a raw client that did not ask for changes reads the server's whole list."""
    chat_server = source_server
    ivy = desktops.open("ivy")
    connect(desktops, ivy, chat_server.port, "ivy")
    assert ivy.connection is not None
    session = ivy.connection.session
    desktops.until(lambda: session.user_list.serial is not None, "ivy's numbered list")
    first_serial = session.user_list.serial
    watcher = desktops.raw(chat_server.port, "watcher")
    crowd = [desktops.raw(chat_server.port, f"guy{i}") for i in range(4)]

    def follows(want: list[str]) -> None:
        desktops.until(lambda: whole_list(watcher) == want, f"the server's list is {want}")
        desktops.until(lambda: list(ivy.users) == want, f"ivy's list is {want}")
        assert ivy.chat_view.people_names() == want

    follows(["ivy", "watcher", "guy0", "guy1", "guy2", "guy3"])
    crowd[0].send(make_frame("UPDATE", [("nickname", "Guido")]))
    crowd[1].send(make_frame("DISCON"))
    crowd[2].close()  # vanishes without DISCON
    desktops.raws.remove(crowd[2])
    follows(["ivy", "watcher", "Guido", "guy3"])
    crowd[3].send(make_frame("UPDATE", [("nickname", "GUY3")]))  # spelling only
    follows(["ivy", "watcher", "Guido", "GUY3"])
    assert session.user_list.serial is not None and first_serial is not None
    assert session.user_list.serial >= first_serial + 8  # 5 joins, 2 leaves, 2 renames, some as changes
    assert not session.user_list.resync
