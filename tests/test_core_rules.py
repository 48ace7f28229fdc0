"""The chat rules in memory: events in, actions out, no event loop and no socket.

The first tests call ``ChatCore.handle`` and look at the raw actions; the
rest use ``ChatWorld`` (tests/chatworld.py), which performs the actions as
the adapter would, on a real SQLite file, with a clock the test moves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, TypeVar

import pytest

from chatworld import ChatWorld
from parley.protocol import texts
from server.config import ServerConfig
from server.core.presence import Claimed
from server.core import ChatCore, Directory, Now, OnlineUser
from server.core import actions as a
from server.core import events as e
from server.core.chat import MAX_UNSENT
from server.core.connection import Connection, Phase
from server.passwords import hash_password
from server.records import Account

NOW = Now(500.0, 1_700_000_000.0)
T = TypeVar("T")


def later(seconds: float) -> Now:
    return Now(NOW.monotonic + seconds, NOW.wall + seconds)


def bare_core(**settings: object) -> ChatCore:
    config = ServerConfig(host="127.0.0.1", port=0)
    for name, value in settings.items():
        setattr(config, name, value)
    return ChatCore(config, Directory())


def of(actions: list[a.Action], kind: type[T]) -> list[T]:
    return [action for action in actions if isinstance(action, kind)]


def sent(actions: list[a.Action]) -> list[tuple[int, str, str]]:
    """(connection, reason, content) of every Send, in order."""
    return [(s.conn, s.frame.reason, s.frame.content) for s in of(actions, a.Send)]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ChatWorld]:
    chat = ChatWorld(tmp_path)
    yield chat
    chat.close()


# Raw actions ---------------------------------------------------------------------


def test_a_connection_starts_with_a_timer_for_its_login_deadline() -> None:
    core = bare_core(login_timeout=30)
    assert core.handle(e.Connected(1, "10.0.0.7", 5000), NOW) == [a.SetTimer(1, NOW.monotonic + 30)]
    assert core.connections[1].phase is Phase.AWAITING_LOGIN


def test_con_asks_for_the_account_then_claims_the_nickname_then_answers_ok() -> None:
    core = bare_core()
    core.handle(e.Connected(1, "10.0.0.7", 5000), NOW)
    actions = core.handle(e.DataReceived(1, b"CON,nickname=ann;password=;color=#abc,\n"), NOW)
    assert actions == [a.Request(1, a.LoadAccount("ann"))]
    actions = core.handle(e.Completed(1, None), NOW)
    assert actions == [a.Request(1, a.FindLookalike("ann"))]  # no registered name it imitates
    actions = core.handle(e.Completed(1, None), NOW)
    assert actions == [a.Request(1, a.Claim(OnlineUser("ann", core.connections[1].guest_ident, False)))]
    actions = core.handle(e.Completed(1, Claimed.NEW), NOW)
    assert sent(actions) == [(1, "CONVER", "OK")]
    assert of(actions, a.Broadcast)[0].frame.content == "ann has joined the chat!"
    assert a.SetTimer(1, None) in actions  # no login deadline any more
    assert of(actions, a.SetUserListTimer)
    assert core.connections[1].phase is Phase.CHATTING


def test_a_claim_refused_by_the_hub_is_already_logged_in() -> None:
    """A distributed hub may refuse a nickname the local presence does not show yet."""
    core = bare_core()
    core.handle(e.Connected(1, "10.0.0.7", 5000), NOW)
    core.handle(e.DataReceived(1, b"CON,nickname=ann;password=;color=#abc,\n"), NOW)
    core.handle(e.Completed(1, None), NOW)
    core.handle(e.Completed(1, None), NOW)
    actions = core.handle(e.Completed(1, Claimed.TAKEN), NOW)
    assert sent(actions) == [(1, "CONVER", texts.ALREADY_LOGGED_IN)]
    assert core.connections[1].phase is Phase.AWAITING_LOGIN


def test_a_member_login_asks_the_database_before_it_claims_so_nothing_comes_before_conver() -> None:
    """Once claimed the session is in the hub and receives broadcasts (a user list due, a chat): the
    last database call of a login must come before the claim, or those reach the client before CONVER."""
    core = bare_core()
    core.handle(e.Connected(1, "10.0.0.7", 5000), NOW)
    core.handle(e.DataReceived(1, b"CON,nickname=ann;password=pw;color=#abc,\n"), NOW)
    account = Account(7, "ann", "member", "hash")
    answers: dict[type, object] = {a.LoadAccount: account, a.CheckPassword: (True, None), a.StoreCall: 2}
    asked: list[str] = []
    actions = core.handle(e.Completed(1, account), NOW)
    while not (claims := [r for r in of(actions, a.Request) if isinstance(r.what, a.Claim)]):
        (request,) = of(actions, a.Request)
        asked.append(getattr(request.what, "method", type(request.what).__name__))
        actions = core.handle(e.Completed(1, answers[type(request.what)]), NOW)
    assert asked == ["CheckPassword", "take_offline_count"]
    actions = core.handle(e.Completed(1, Claimed.NEW), NOW)
    assert sent(actions)[0][1:] == ("CONVER", "OK")
    assert of(actions, a.Send)[0].frame.get("away") == "2"


def test_frames_behind_a_login_wait_for_it_and_keep_their_order() -> None:
    core = bare_core()
    core.handle(e.Connected(1, "10.0.0.7", 5000), NOW)
    actions = core.handle(e.DataReceived(1, b"CON,nickname=ann;password=;color=#abc,\nPING,,after\n"), NOW)
    assert actions == [a.Request(1, a.LoadAccount("ann"))]  # the PING waits
    core.handle(e.Completed(1, None), NOW)
    core.handle(e.Completed(1, None), NOW)
    actions = core.handle(e.Completed(1, Claimed.NEW), NOW)
    assert [s[1:] for s in sent(actions)] == [("CONVER", "OK"), ("PONG", "after")]


def test_a_chat_goes_to_nobody_before_its_commit() -> None:
    core = ChatCore(ServerConfig(), directory := Directory[object]())
    core.handle(e.Connected(1, "10.0.0.7", 5000), NOW)
    core.handle(e.DataReceived(1, b"CON,nickname=ann;password=;color=#abc,\n"), NOW)
    core.handle(e.Completed(1, None), NOW)
    core.handle(e.Completed(1, None), NOW)
    directory.claim(OnlineUser("ann", "g:x", False), object())
    core.handle(e.Completed(1, Claimed.NEW), NOW)
    actions = core.handle(e.DataReceived(1, b"CHAT,rec=-ALL,hello\nPING,,p\n"), NOW)
    (store,) = of(actions, a.StoreMessage)
    assert actions == [store] and store.chat.record.content == "hello"
    actions = core.handle(e.MessageStored(store.chat, 41, seq=41), NOW)
    broadcast = actions[0]
    assert isinstance(broadcast, a.DeliverMessage) and (broadcast.conv, broadcast.seq, broadcast.room) == ("lobby", 41, None)
    assert (broadcast.frame.reason, broadcast.frame.get("id"), broadcast.frame.content) == ("CHATR", "41", "hello")
    assert sent(actions) == [(1, "PONG", "p")]  # answered only after the message went out


def test_a_failed_commit_tells_the_sender_and_nobody_else() -> None:
    core = bare_core()
    conn = _chatting(core, 1, "ann")
    (store,) = core.handle(e.DataReceived(1, b"CHAT,rec=-ALL,hello\n"), NOW)
    assert isinstance(store, a.StoreMessage)
    actions = core.handle(e.MessageStored(store.chat, None, OSError("disk full")), NOW)
    assert sent(actions) == [(1, "ERR", texts.NOT_STORED)]
    assert not of(actions, a.Broadcast) and not of(actions, a.DeliverMessage)
    assert conn.phase is Phase.CHATTING


def test_reading_pauses_while_too_many_messages_wait_for_their_commit() -> None:
    core = bare_core(chat_rate=0)
    _chatting(core, 1, "ann")
    burst = b"".join(b"CHAT,rec=-ALL,%d\n" % i for i in range(MAX_UNSENT))
    actions = core.handle(e.DataReceived(1, burst), NOW)
    assert actions[-1] == a.SetReading(1, False)
    stores = of(actions, a.StoreMessage)
    assert len(stores) == MAX_UNSENT
    resumed = core.handle(e.MessageStored(stores[0].chat, 1), NOW)
    assert a.SetReading(1, True) in resumed


def test_a_timer_that_fires_after_the_login_ends_nothing() -> None:
    core = bare_core(login_timeout=5)
    _chatting(core, 1, "ann")
    assert core.handle(e.TimerFired(1), later(10)) == []
    assert core.connections[1].phase is Phase.CHATTING


def test_an_answer_for_a_connection_that_ended_is_ignored() -> None:
    core = bare_core()
    core.handle(e.Connected(1, "10.0.0.7", 5000), NOW)
    core.handle(e.DataReceived(1, b"CON,nickname=ann;password=;color=#abc,\n"), NOW)
    actions = core.handle(e.ConnectionLost(1, "ConnectionResetError"), NOW)
    assert actions == []  # the loss waits behind the login's request
    core.handle(e.Completed(1, None), NOW)
    actions = core.handle(e.Completed(1, None), NOW)
    assert of(actions, a.Request)  # the login goes on to its claim...
    actions = core.handle(e.Completed(1, Claimed.NEW), NOW)
    assert a.Release(1) in actions and a.Close(1) in actions  # ...then the lost connection leaves
    assert 1 not in core.connections
    assert core.handle(e.Completed(1, Claimed.NEW), NOW) == []


def test_an_unexpected_error_in_a_handler_ends_only_its_connection(caplog: pytest.LogCaptureFixture) -> None:
    core = bare_core()
    core.handle(e.Connected(1, "10.0.0.7", 5000), NOW)
    core.handle(e.Connected(2, "10.0.0.8", 5000), NOW)
    core.handle(e.DataReceived(1, b"CON,nickname=ann;password=;color=#abc,\n"), NOW)
    actions = core.handle(e.Completed(1, None, RuntimeError("the database went away")), NOW)
    assert a.Close(1) in actions
    assert "unexpected error" in caplog.text
    assert sent(core.handle(e.DataReceived(2, b"PING,,ok\n"), NOW)) == [(2, "PONG", "ok")]


def test_a_proxy_header_from_a_trusted_peer_names_the_client_for_the_per_address_limit() -> None:
    core = bare_core(max_connections_per_address=1)
    for conn in (1, 2):
        core.handle(e.Connected(conn, "127.0.0.1", 5000 + conn, proxied=True), NOW)
    core.handle(e.DataReceived(1, b"PROXY TCP4 203.0.113.7 127.0.0.1 51234 6666\r\n"), NOW)
    assert core.connections[1].host == "203.0.113.7"
    actions = core.handle(e.DataReceived(2, b"PROXY TCP4 203.0.113.7 127.0.0.1 51235 6666\r\nPING,,x\n"), NOW)
    assert sent(actions) == [(2, "CONVER", texts.TOO_MANY_CONNECTIONS)]
    assert a.Close(2) in actions


def test_a_header_split_across_reads_is_put_together() -> None:
    core = bare_core()
    core.handle(e.Connected(1, "127.0.0.1", 5000, proxied=True), NOW)
    assert core.handle(e.DataReceived(1, b"PROX"), NOW) == []
    assert core.handle(e.DataReceived(1, b"Y TCP6 2001:db8::1 ::1 4000 6666\r"), NOW) == []
    actions = core.handle(e.DataReceived(1, b"\nPING,,x\n"), NOW)
    assert sent(actions) == [(1, "PONG", "x")]
    assert core.connections[1].host == "2001:db8::1"


def test_a_malformed_header_from_a_trusted_proxy_closes_without_an_answer() -> None:
    core = bare_core()
    core.handle(e.Connected(1, "127.0.0.1", 5000, proxied=True), NOW)
    actions = core.handle(e.DataReceived(1, b"PROXY TCP4 nonsense\r\n"), NOW)
    assert actions == [a.SetTimer(1, None), a.Close(1)]


def test_an_unterminated_first_con_waits_for_the_grace_then_is_a_legacy_client() -> None:
    core = bare_core(legacy_grace=0.15)
    core.handle(e.Connected(1, "10.0.0.7", 5000), NOW)
    actions = core.handle(e.DataReceived(1, b"CON,nickname=old;password=;color=#fff,"), NOW)
    assert actions == [a.SetTimer(1, NOW.monotonic + 0.15)]  # the grace comes before the login deadline
    actions = core.handle(e.TimerFired(1), later(0.15))
    assert actions == [a.UseLegacyFraming(1), a.Request(1, a.LoadAccount("old"))]


def test_a_framed_first_line_pays_no_grace() -> None:
    core = bare_core(login_timeout=30)
    core.handle(e.Connected(1, "10.0.0.7", 5000), NOW)
    actions = core.handle(e.DataReceived(1, b"CON,nickname=new;password=;color=#fff,\n"), NOW)
    assert actions == [a.Request(1, a.LoadAccount("new"))]


# In a world --------------------------------------------------------------------


def test_public_and_private_messages_reach_whom_they_should(world: ChatWorld) -> None:
    ann, bob, cat = world.login("ann"), world.login("bob"), world.login("cat")
    for peer in (ann, bob, cat):
        peer.take()
    world.send(ann, "CHAT,rec=-ALL,hello all", "CHAT,rec=BOB,psst")
    assert bob.contents("CHATR") == ["hello all", "psst"]
    assert ann.contents("CHATR") == ["hello all", "psst"]
    assert cat.contents("CHATR") == ["hello all"]


def test_joins_close_together_share_one_user_list(world: ChatWorld) -> None:
    ann = world.login("ann")
    world.login("bob")
    assert ann.take("USER") == []
    world.advance(world.config.user_list_delay)
    (users,) = ann.take("USER")
    assert (users.get("num"), users.get("0"), users.get("1")) == ("2", "ann", "bob")


def test_a_registered_nickname_needs_its_password_and_guessing_locks_it(tmp_path: Path) -> None:
    world = ChatWorld(tmp_path, login_failures_per_nickname=2)
    world.store.add_account("Ann", "member", hash_password("right one"))
    guesser = world.connect("198.51.100.1")
    for _ in range(2):
        world.send(guesser, "CON,nickname=ann;password=wrong;color=#fff,")
        assert guesser.contents("CONVER") == [texts.REGISTERED_USER]
    world.send(guesser, "CON,nickname=ann;password=right one;color=#fff,")
    assert guesser.contents("CONVER") == [texts.LOCKED_OUT.format(seconds=60)]
    world.advance(61)
    assert guesser.closed  # by the login deadline meanwhile
    owner = world.connect("198.51.100.1")
    world.send(owner, "CON,nickname=ann;password=right one;color=#fff,")
    assert owner.contents("CONVER") == ["OK"]
    assert world.directory.online() == ["Ann"]  # the account's own spelling
    world.close()


def test_kick_warns_closes_and_announces_once(world: ChatWorld) -> None:
    world.store.add_account("boss", "admin", hash_password("secret pw"))
    world.core.admins = world.store.admin_names()
    boss = world.login("boss", "secret pw")
    troll, bob = world.login("troll"), world.login("bob")
    for peer in (boss, troll, bob):
        peer.take()
    world.send(boss, "KICK,user=TROLL,spam")
    assert troll.contents() == [texts.KICKED.format(reason="spam")]
    assert troll.closed
    assert bob.contents("INFO") == ["troll has been kicked by boss: spam"]  # no "has disconnected" as well
    world.advance(1)
    assert bob.take("USER")[0].get("num") == "2"


def test_a_flooder_gets_errors_then_is_cut_off_and_others_see_it_leave(world: ChatWorld) -> None:
    world.config.chat_rate, world.config.chat_burst, world.config.flood_strikes = 1.0, 2, 2
    flood, bob = world.login("flood"), world.login("bob")
    flood.take(), bob.take()
    world.send(flood, *["CHAT,rec=-ALL,x"] * 5)
    answers = [(f.reason, f.content) for f in flood.take() if f.reason != "CHATR"]
    assert answers == [("ERR", texts.FLOODING), ("ERR", texts.FLOODING), ("WARN", texts.FLOOD_DISCONNECT)]
    assert flood.closed
    assert [(f.reason, f.content) for f in bob.take()] == [
        ("CHATR", "x"), ("CHATR", "x"), ("INFO", "flood has disconnected")]


def test_a_refused_chat_is_answered_after_the_messages_before_it(world: ChatWorld) -> None:
    ann = world.login("ann")
    ann.take()
    world.commit_at_once = False
    world.send(ann, "CHAT,rec=-ALL,first", "CHAT,rec=nobody,second", "CHAT,,third")
    assert ann.take() == []
    world.commit()
    assert [(f.reason, f.content) for f in ann.take()] == [
        ("CHATR", "first"),
        ("ERR", texts.UNRECOGNIZED_RECIPIENT.format(rec="nobody")),
        ("ERR", texts.REC_REQUIRED),
    ]


def test_a_peer_that_leaves_while_its_messages_are_stored_still_gets_them_delivered(world: ChatWorld) -> None:
    ann, bob = world.login("ann"), world.login("bob")
    ann.take(), bob.take()
    world.commit_at_once = False
    world.send(ann, "CHAT,rec=-ALL,last words")
    world.run(e.InputEnded(ann.id))
    assert not ann.closed  # still delivering
    world.commit()
    assert bob.contents() == ["last words", "ann has disconnected"]
    assert ann.closed


def test_a_login_that_never_comes_is_cut_with_a_warning(world: ChatWorld) -> None:
    world.config.login_timeout = 5
    lurker = world.connect()
    world.send(lurker, "PING,,x")
    world.advance(4.9)
    assert not lurker.closed
    world.advance(0.2)
    assert lurker.contents() == ["x", texts.LOGIN_TIMEOUT.format(seconds=5)]
    assert lurker.closed


def test_a_frame_dribbled_for_too_long_is_cut(world: ChatWorld) -> None:
    world.config.frame_timeout = 10
    ann = world.login("ann")
    ann.take()
    world.run(e.DataReceived(ann.id, b"CHAT,rec=-ALL,sl"))
    world.advance(5)
    world.run(e.DataReceived(ann.id, b"ow"))
    world.advance(5.1)
    assert ann.contents("WARN") == [texts.FRAME_TIMEOUT.format(seconds=10)]
    assert ann.closed


def test_a_guest_registers_and_keeps_its_private_messages(world: ChatWorld) -> None:
    ann, bob = world.login("ann"), world.login("bob")
    world.send(ann, "CHAT,rec=bob,before registering")
    world.send(ann, "UPDATE,password=longenough,")
    assert ann.take("CONFIRM")[-1].content == "OK"
    account = world.store.get_account("ann")
    assert isinstance(account, Account) and account.role == "member"
    history = world.store.recent_messages([account.ident], 10)
    assert [m.content for m in history] == ["before registering"]
    assert world.directory.lookup("ann") == OnlineUser("ann", account.ident, False)
    assert bob.closed is False


def test_a_rename_to_someone_elses_account_changes_nothing(world: ChatWorld) -> None:
    world.store.add_account("Taken", "member", hash_password("whatever1"))
    ann = world.login("ann")
    ann.take()
    world.send(ann, "UPDATE,nickname=taken;color=#000,")
    assert ann.contents("CONFIRM") == [texts.UPDATE_NAME_ERROR.format(error=texts.REGISTERED_USER)]
    assert world.directory.online() == ["ann"]
    world.send(ann, "UPDATE,nickname=anna,")
    assert ann.contents("INFO") == ["ann's name changed to anna "]


def test_ref_replays_what_the_asker_may_see(world: ChatWorld) -> None:
    ann, bob, cat = world.login("ann"), world.login("bob"), world.login("cat")
    world.send(ann, "CHAT,rec=-ALL,public", "CHAT,rec=bob,for bob")
    cat.take()
    world.send(cat, "REF,,")
    assert cat.contents() == [texts.REF_RESENDING, "public"]
    bob.take()
    world.send(bob, "REF,,")
    assert bob.contents() == [texts.REF_RESENDING, "public", "for bob"]


def test_shutdown_warns_everyone_and_announces_no_leave(world: ChatWorld) -> None:
    ann, bob = world.login("ann"), world.login("bob")
    ann.take(), bob.take()
    world.run(e.ShutdownStarted())
    assert ann.contents() == [texts.SHUTTING_DOWN] and bob.contents() == [texts.SHUTTING_DOWN]
    assert ann.closed and bob.closed
    assert world.core.connections == {}


def test_an_overflowed_reader_leaves_and_the_others_are_told(world: ChatWorld) -> None:
    ann, bob = world.login("ann"), world.login("bob")
    bob.take()
    world.run(e.OutputOverflowed(ann.id))
    assert ann.closed
    assert bob.contents("INFO") == ["ann has disconnected"]


def test_a_connection_moves_only_as_the_table_allows() -> None:
    conn = Connection(1, "h", 1, max_frame=100, login_deadline=0, chat_bucket=None,  # type: ignore[arg-type]
                      strikes=None, budget=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="awaiting login cannot become closed"):
        conn.move_to(Phase.CLOSED)
    conn.move_to(Phase.CHATTING)
    with pytest.raises(ValueError):
        conn.move_to(Phase.AWAITING_LOGIN)


def _chatting(core: ChatCore, conn: int, nickname: str) -> Connection:
    """Log ``conn`` in, answering its requests by hand."""
    core.handle(e.Connected(conn, "10.0.0.7", 5000 + conn), NOW)
    core.handle(e.DataReceived(conn, f"CON,nickname={nickname};password=;color=#abc,\n".encode()), NOW)
    core.handle(e.Completed(conn, None), NOW)  # no account
    core.handle(e.Completed(conn, None), NOW)  # no look-alike
    core.handle(e.Completed(conn, Claimed.NEW), NOW)
    state = core.connections[conn]
    assert state.phase is Phase.CHATTING
    return state
