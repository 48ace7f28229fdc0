"""The desktop client without a window: session logic in memory (with the shared
vectors), preferences, the command line, and the network thread against a
scripted server on a loopback socket."""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from wire import TIMEOUT

from desktop import prefs as prefs_module
from desktop.cli import apply_arguments, build_parser, main
from desktop.client import (
    EVERYONE,
    MAX_MESSAGE,
    ChatMessage,
    DisconnectConfirmed,
    History,
    InfoMessage,
    LoggedIn,
    LoginDetails,
    LoginRefused,
    Placement,
    Pong,
    RefreshStarted,
    ServerError,
    ServerWarning,
    Session,
    State,
    UnknownFrame,
    UpdateAnswer,
    UsersChanged,
    chat_heading,
    check_message,
    check_update,
    parse_address,
)
from desktop.connection import Backoff, Closed, ConnectFailed, Connection, Status
from parley.protocol import LocalProtocolError, format_frame, parse_frame
from parley.protocol.framing import FrameDecoder, FrameReceived

VECTORS = json.loads((Path(__file__).parent / "vectors" / "frames.json").read_text("utf-8"))
T = "time=2026-11-24 10:00:00"


def login(nickname: str = "ann", password: str = "", color: str = "#FF8800") -> LoginDetails:
    return LoginDetails(host="127.0.0.1", port=6666, nickname=nickname, color=color, password=password)


def feed(session: Session, *texts: str) -> list[Any]:
    events: list[Any] = []
    for text in texts:
        events += session.receive(parse_frame(text))
    return events


def logged_in(nickname: str = "ann", role: str = "guest", password: str = "") -> Session:
    session = Session(login(nickname, password))
    session.connection_made()
    feed(session, f"CONVER,{T};role={role},OK")
    return session


def vector(name: str) -> dict[str, Any]:
    return next(v for v in VECTORS["frames"] if v["name"] == name)


# ---- frames we send, checked against the shared vectors ----------------------


def test_con_is_the_seed_example_asking_for_list_changes() -> None:
    session = Session(login("my nick", "my pass", "#FFFFFF"))
    seed = vector("seed CON example")["text"]
    assert seed.endswith(",")
    assert format_frame(session.connection_made()) == seed[:-1] + ";lists=changes;rooms=1;session=1,"


def test_con_escapes_a_comma_in_the_nickname() -> None:
    session = Session(login("foo,bar", "", "#FFF"))
    assert format_frame(session.connection_made()) == vector("escaped comma in a value")["text"][:-1] + ";lists=changes;rooms=1;session=1,"


@pytest.mark.parametrize("name", ["public chat", "content full of commas is raw",
                                  "content full of slashes is raw", "empty content after two commas",
                                  "spaces are ordinary"])
def test_chat_content_is_sent_raw(name: str) -> None:
    expected = vector(name)
    frame = logged_in().chat(EVERYONE, expected["content"])
    assert format_frame(frame) == expected["text"]


def test_kick_carries_the_reason_as_content() -> None:
    frame = logged_in(role="admin").kick("foo", "You have been kicked for spamming")
    assert format_frame(frame) == vector("kick with reason content")["text"]


def test_ref_and_discon_have_empty_parameter_sections() -> None:
    session = logged_in()
    assert format_frame(session.refresh()) == vector("empty parameter section REF")["text"]
    assert format_frame(session.disconnect()) == vector("empty parameter section DISCON")["text"]


def test_update_sends_only_the_fields_given() -> None:
    frame = logged_in().update(nickname="a;b", color="", password="pw/1")
    assert format_frame(frame) == "UPDATE,nickname=a/;b;password=pw//1,"


def test_nothing_but_con_can_be_sent_before_login() -> None:
    session = Session(login())
    for build in (lambda: session.chat(EVERYONE, "hi"), session.refresh,
                  lambda: session.kick("x", ""), lambda: session.update(nickname="b")):
        with pytest.raises(LocalProtocolError):
            build()


# ---- frames we receive ------------------------------------------------------------


@pytest.mark.parametrize("case", VECTORS["frames"], ids=lambda case: case["name"])
def test_every_vector_frame_gives_events_and_never_raises(case: dict[str, Any]) -> None:
    for session in (Session(login()), logged_in()):
        frame = parse_frame(case["text"])
        events = session.receive(frame)
        # A change to a room's member list we never asked for (MEMBERS) is nothing to show.
        assert events or frame.reason == "MEMBER"
        # The desktop's own events, or the values the shared readers make (ChatMessage, LoginRefused).
        assert all(type(e).__module__ in ("desktop.client", "parley.protocol.reading") for e in events)


def test_user_list_vector_gives_users_and_admins() -> None:
    session = logged_in()
    (event,) = feed(session, vector("USER list with 0-based keys")["text"])
    assert event == UsersChanged(("ann", "bob"), ("ann",))
    assert session.users == ("ann", "bob")


def test_user_list_with_missing_keys_or_a_bad_count_is_tolerated() -> None:
    (event,) = feed(logged_in(), f"USER,{T};num=3;admin=x;0=ann;2=cy,")
    assert event == UsersChanged(("ann", "cy"), ())


def test_non_ascii_chatr_vector() -> None:
    (event,) = feed(logged_in(), vector("non-ASCII everywhere")["text"])
    assert isinstance(event, ChatMessage)
    assert (event.sender, event.rec, event.color, event.text) == ("Zoë", EVERYONE, "#ABC", "héllo, 世界 👋")
    assert not event.private and not event.mine and event.id is None


def test_update_error_keeps_the_servers_text_exactly() -> None:
    session = logged_in()
    session.update(color="red")
    (event,) = feed(session, vector("content with a trailing space")["text"])
    assert event == UpdateAnswer(False, "Error: Color not recgnized as Hex color. ", "ann", "#FF8800")


def test_chatr_flags_private_messages_to_and_from_us() -> None:
    session = logged_in("Ann")
    to_me, from_me, public = feed(
        session,
        f"CHATR,{T};sender=bob;rec=ann;color=#00F;id=7;ts=1,psst",
        f"CHATR,{T};sender=ANN;rec=bob;color=#F80;id=8;ts=2,hi bob",
        f"CHATR,{T};sender=bob;rec=-ALL;color=#00F;id=9;ts=3,hi all",
    )
    assert (to_me.private, to_me.to_me, to_me.mine, to_me.id) == (True, True, False, 7)
    assert (from_me.private, from_me.to_me, from_me.mine) == (True, False, True)
    assert (public.private, public.to_me) == (False, False)
    assert chat_heading(to_me) == " 2026-11-24 10:00:00 (To ann)."
    assert chat_heading(public) == " 2026-11-24 10:00:00 (To everyone)."


def test_each_server_reason_has_its_event() -> None:
    session = logged_in()
    events = feed(session, f"INFO,{T};sender=bob;ts=1,bob has joined the chat!",
                  f"CONFIRM,{T};reason=REF,Resending messages...",
                  f"CONFIRM,{T};reason=DISCON,Disconnected Successfully.",
                  f"ERR,{T},Error: bob Unrecognized recipient.", f"PONG,{T},x", "HELLO,,x",
                  f"CONVER,{T},OK")
    assert [type(e) for e in events] == [InfoMessage, RefreshStarted, DisconnectConfirmed, ServerError,
                                          Pong, UnknownFrame, ServerError]


# ---- logging in, reconnecting, updates ------------------------------------------


def test_login_ok_gives_role_and_a_refusal_its_text() -> None:
    session = Session(login())
    session.connection_made()
    assert feed(session, f"CONVER,{T},Error: Username must start with a letter") == [
        LoginRefused("Error: Username must start with a letter", retry=False)]
    assert session.state is State.LOGGING_IN and not session.may_reconnect
    assert feed(session, f"CONVER,{T};role=admin,OK") == [LoggedIn("ann", "admin", reconnected=False)]
    assert session.state is State.CHATTING and session.may_reconnect


def test_already_logged_in_is_retried_only_on_a_reconnect() -> None:
    session = logged_in()
    session.connection_lost()
    session.connection_made()
    (refusal,) = feed(session, f"CONVER,{T},Error: User is already logged in")
    assert refusal.retry
    (ok,) = feed(session, f"CONVER,{T};role=guest,OK")
    assert ok == LoggedIn("ann", "guest", reconnected=True)


def test_registered_nickname_takes_the_accounts_spelling_from_the_join() -> None:
    session = logged_in("ann", role="member")
    feed(session, f"INFO,{T};sender=bob;ts=1,bob has joined the chat!",
         f"INFO,{T};sender=Ann;ts=1,Ann has joined the chat!")
    assert session.nickname == "Ann"


def test_updates_are_answered_in_order_and_applied_only_when_ok() -> None:
    session = logged_in()
    session.update(nickname="bob")
    session.update(nickname="anna", color="#123", password="secret")
    first, second = feed(session, f"CONFIRM,{T};reason=UPDATE,Error: User is already logged in. ",
                         f"CONFIRM,{T};reason=UPDATE,OK")
    assert (first.ok, first.nickname) == (False, "ann")
    assert (second.ok, second.nickname, second.color) == (True, "anna", "#123")
    session.connection_lost()
    con = session.connection_made()  # a reconnect logs in as who we are now
    assert dict(con.params) == {"nickname": "anna", "password": "secret", "color": "#123", "lists": "changes",
                                "rooms": "1", "session": "1"}


@pytest.mark.parametrize("text, comes_back", [
    ("You have been kicked for reason: spam", False),
    ("You have been disconnected for flooding the chat.", False),
    ("Server [shutting down] unexpectedly. Please close down the chat and try again later.", True),
])
def test_only_a_shutdown_warning_allows_reconnecting(text: str, comes_back: bool) -> None:
    session = logged_in()
    (event,) = feed(session, f"WARN,{T},{text}")
    assert event == ServerWarning(text, final=not comes_back)
    assert session.may_reconnect is comes_back


def test_own_discon_ends_reconnecting() -> None:
    session = logged_in()
    session.disconnect()
    assert not session.may_reconnect


def test_a_stream_fed_byte_by_byte_gives_the_same_events_as_whole() -> None:
    transcript = (f"CONVER,{T};role=guest,OK\nINFO,{T};sender=ann;ts=1,ann has joined the chat!\r\n"
                  f"USER,{T};num=1;admin=0;0=ann,\n\nCHATR,{T};sender=ann;rec=-ALL;color=#F80;id=1;ts=1,"
                  "a,b/c\n").encode()

    def run(chunks: Iterator[bytes]) -> list[Any]:
        session, decoder, events = Session(login()), FrameDecoder(detect_legacy=False), []
        session.connection_made()
        for chunk in chunks:
            for event in decoder.receive_data(chunk):
                assert isinstance(event, FrameReceived)
                events += session.receive(event.frame)
        return events

    whole = run(iter([transcript]))
    assert run(transcript[i:i + 1] for i in range(len(transcript))) == whole
    assert [type(e) for e in whole] == [LoggedIn, InfoMessage, UsersChanged, ChatMessage]


# ---- helpers the window uses ----------------------------------------------------


def test_history_drops_duplicates_and_places_late_messages_by_id() -> None:
    history = History()
    assert history.place(5) == Placement(None)
    assert history.place(9) == Placement(None)
    assert history.place(5) is None
    assert history.place(7) == Placement(9)  # a replayed message goes before a later one
    assert history.place(1) == Placement(5)
    assert history.place(None) == Placement(None)  # no id: always shown, at the end
    assert len(history) == 4
    history.clear()
    assert history.place(5) == Placement(None)


def test_message_limit_is_300_characters_as_the_original() -> None:
    assert check_message("x" * MAX_MESSAGE) is None
    assert "301" in (check_message("x" * (MAX_MESSAGE + 1)) or "")
    assert check_message("   ") is not None


def test_customize_needs_a_change_and_a_hex_color() -> None:
    assert check_update("", "", "") == "You must change at least one thing."
    assert check_update("", "orange", "") is not None
    assert check_update("", "#ABC", "") is None
    # The server's nickname rules and texts: , ; = / are allowed, escaped on the wire.
    assert check_update("a,b", "", "") is None
    assert check_update("a", "", "") == "Error: Username must be between lengths 2 and 16"
    assert check_update("ab\u200b", "", "") == "Error: Username contains a character that is not allowed"


# ---- preferences ------------------------------------------------------------------


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PARLEY_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


def test_preferences_live_in_parley_config_dir(config_dir: Path) -> None:
    assert prefs_module.default_path() == config_dir / "preferences.json"
    prefs = prefs_module.load()
    assert prefs.theme == {} and prefs.theme_name == "system" and prefs.port == 6666
    assert prefs.color == prefs_module.THEME_DEFAULTS["message-color"]


def test_preferences_round_trip_without_the_password(config_dir: Path) -> None:
    prefs = prefs_module.Preferences(host="192.168.1.5", port=7000, tls=True, ca_file="/c.pem",
                                     nickname="ann", extra={"password": "secret", "mine": 1})
    prefs.color = "#123456"
    prefs_module.save(prefs)
    text = (config_dir / "preferences.json").read_text()
    assert "secret" not in text and "password" not in text
    again = prefs_module.load()
    assert (again.host, again.port, again.tls, again.ca_file, again.nickname, again.color) == (
        "192.168.1.5", 7000, True, "/c.pem", "ann", "#123456")
    assert again.extra == {"mine": 1}


def test_an_original_preferences_file_is_read_key_for_key(config_dir: Path) -> None:
    config_dir.mkdir()
    (config_dir / "preferences.json").write_text(json.dumps(
        {"text-font": "Arial 11", "bg-color": "#000000", "message-box": 5, "server-port": "x"}))
    prefs = prefs_module.load()
    assert prefs.theme["text-font"] == "Arial 11" and prefs.theme["bg-color"] == "#000000"
    assert "message-box" not in prefs.theme  # not a string: the look's own color stays
    assert prefs.port == 6666


def test_broken_preferences_give_the_defaults(config_dir: Path) -> None:
    config_dir.mkdir()
    (config_dir / "preferences.json").write_text("{not json")
    assert prefs_module.load() == prefs_module.Preferences()


# ---- the command line ----------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("chat.lan", ("chat.lan", None)), ("10.0.0.2:7000", ("10.0.0.2", 7000)),
    ("[::1]:6667", ("::1", 6667)), ("[fe80::1]", ("fe80::1", None)), ("::1", ("::1", None)),
])
def test_parse_address(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_address(text) == expected


def test_command_line_fills_the_connect_screen() -> None:
    args = build_parser().parse_args(["10.0.0.2:7000", "--ca-file", "c.pem", "--nickname", "ann",
                                      "--color", "#ABCDEF"])
    prefs = apply_arguments(prefs_module.Preferences(), args)
    assert (prefs.host, prefs.port, prefs.tls, prefs.ca_file, prefs.nickname, prefs.color) == (
        "10.0.0.2", 7000, True, "c.pem", "ann", "#ABCDEF")


@pytest.mark.parametrize("argv", [["host:99999"], ["--color", "red"], ["--port", "0"]])
def test_command_line_refuses_bad_values(argv: list[str]) -> None:
    with pytest.raises(ValueError):
        apply_arguments(prefs_module.Preferences(), build_parser().parse_args(argv))


def test_without_a_display_the_command_says_so(config_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    assert main(["127.0.0.1:7000"]) == 1
    assert "needs a graphical display" in capsys.readouterr().err


# ---- the network thread against a scripted server ------------------------------------


class ScriptedServer:
    """A listening loopback socket the test drives by hand, one connection at a time."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.conn: socket.socket | None = None
        self.buffer = b""

    def accept(self) -> None:
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(TIMEOUT)
        self.buffer = b""

    def read_line(self) -> str:
        assert self.conn is not None
        while b"\n" not in self.buffer:
            data = self.conn.recv(4096)
            if not data:
                raise EOFError(self.buffer)
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()

    def send(self, *texts: str) -> None:
        assert self.conn is not None
        self.conn.sendall("".join(t + "\n" for t in texts).encode())

    def login(self) -> str:
        """Accept, answer the CON, and return it."""
        self.accept()
        con = self.read_line()
        self.send(f"CONVER,{T};role=guest,OK", f"INFO,{T};sender=ann;ts=1,ann has joined the chat!",
                  f"USER,{T};num=1;admin=0;0=ann,")
        assert self.read_line() == "REF,,"
        return con

    def drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def close(self) -> None:
        self.drop()
        self.listener.close()


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.close()


class Events:
    def __init__(self, connection_queue: "queue.Queue[tuple[Connection, object]]") -> None:
        self.queue = connection_queue
        self.seen: list[object] = []

    def wait_for(self, kind: type, timeout: float = TIMEOUT) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                _, event = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {kind.__name__}; saw {self.seen}") from None
            self.seen.append(event)
            if isinstance(event, kind):
                return event


def start(port: int, **kwargs: Any) -> tuple[Connection, Events]:
    events: queue.Queue[tuple[Connection, object]] = queue.Queue()
    details = LoginDetails(host="127.0.0.1", port=port, nickname="ann", color="#F80", password="pw")
    kwargs.setdefault("discon_grace", 0.3)
    connection = Connection(events, details, Backoff(base=0.05, cap=0.2), **kwargs)
    connection.start()
    return connection, Events(events)


def test_frames_split_across_reads_are_reassembled(scripted: ScriptedServer) -> None:
    connection, events = start(scripted.port)
    try:
        scripted.accept()
        assert scripted.read_line() == "CON,nickname=ann;password=pw;color=#F80;lists=changes;rooms=1;session=1,"
        for byte in f"CONVER,{T};role=guest,OK\nCHATR,{T};sender=bob;rec=-ALL;color=#00F;id=3;ts=1,a,b\n".encode():
            scripted.conn.sendall(bytes([byte]))  # type: ignore[union-attr]
        assert events.wait_for(LoggedIn).role == "guest"
        assert events.wait_for(ChatMessage).text == "a,b"
        assert scripted.read_line() == "REF,,"
    finally:
        connection.close()


def test_closing_says_discon_and_waits_for_the_server(scripted: ScriptedServer) -> None:
    connection, events = start(scripted.port, discon_grace=5.0)
    scripted.login()
    events.wait_for(UsersChanged)
    started = time.monotonic()
    closing = threading.Thread(target=connection.close)  # what closing the window does
    closing.start()
    assert scripted.read_line() == "DISCON,,"
    scripted.send(f"CONFIRM,{T};reason=DISCON,Disconnected Successfully.")
    scripted.drop()
    closing.join(TIMEOUT)
    assert not connection.alive and events.wait_for(Closed).by_user
    assert time.monotonic() - started < 2.5  # it ended when the server closed, not at the grace's end


def test_a_lost_connection_comes_back_with_con_and_ref(scripted: ScriptedServer) -> None:
    connection, events = start(scripted.port)
    try:
        scripted.login()
        events.wait_for(LoggedIn)
        scripted.drop()
        status = events.wait_for(Status)
        while status.state != "reconnecting":
            status = events.wait_for(Status)
        assert "Reconnecting in" in status.text
        assert scripted.login() == "CON,nickname=ann;password=pw;color=#F80;lists=changes;rooms=1;session=1,"  # REF checked in login()
        assert events.wait_for(LoggedIn).reconnected
    finally:
        connection.close()


def test_a_kicked_session_does_not_come_back(scripted: ScriptedServer) -> None:
    connection, events = start(scripted.port)
    try:
        scripted.login()
        scripted.send(f"WARN,{T},You have been kicked for reason: spam")
        scripted.drop()
        closed = events.wait_for(Closed)
        assert closed == Closed("You have been kicked for reason: spam", by_user=False)
        scripted.listener.settimeout(0.5)
        with pytest.raises(socket.timeout):
            scripted.accept()
    finally:
        connection.close()


def test_a_refused_first_login_stays_on_the_connect_screen(scripted: ScriptedServer) -> None:
    connection, events = start(scripted.port)
    try:
        scripted.accept()
        scripted.read_line()
        scripted.send(f"CONVER,{T},Error: User is a registered user")
        assert events.wait_for(ConnectFailed).text == "Error: User is a registered user"
    finally:
        connection.close()


def test_nothing_listening_is_said_plainly() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    connection, events = start(port)
    try:
        assert "Is the server running?" in events.wait_for(ConnectFailed).text
    finally:
        connection.close()


def test_parley_desktop_is_the_installed_commands_way_in() -> None:
    import subprocess

    from serverproc import PARLEY

    shown = subprocess.run([PARLEY, "desktop", "--help"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("usage: parley desktop")
    assert "--ca-file" in shown.stdout
