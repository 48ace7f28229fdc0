"""Rooms, conversations and sessions in the chat core: events in, frames out, no loop or socket.

The world (chatworld.py) runs the real core on a real SQLite store; the
clock moves only when a test moves it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from chatworld import ChatWorld, Peer
from parley.protocol import Frame, texts
from server.core.events import ConnectionLost
from server.passwords import hash_password


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ChatWorld]:
    w = ChatWorld(tmp_path, user_list_delay=0.01)
    yield w
    w.close()


def join(world: ChatWorld, nickname: str, password: str = "", extra: str = "rooms=1;lists=changes") -> Peer:
    peer = world.connect()
    world.send(peer, f"CON,nickname={nickname};password={password};color=#123456;{extra},")
    conver = [f for f in peer.frames if f.reason == "CONVER"]
    assert conver and conver[0].content == "OK", peer.frames
    return peer


def account(world: ChatWorld, name: str, password: str = "secret1") -> None:
    world.store.add_account(name, "member", hash_password(password))


def frames(peer: Peer, reason: str) -> list[Frame]:
    return [f for f in peer.take() if f.reason == reason]


def confirm(peer: Peer, reason: str) -> str:
    found = [f.content for f in peer.take("CONFIRM") if f.get("reason") == reason]
    assert found, reason
    return found[-1]


def test_a_room_is_created_joined_and_its_messages_reach_only_its_members(world: ChatWorld) -> None:
    ann, bob, cat = join(world, "ann"), join(world, "bob"), join(world, "cat")
    legacy = world.login("old")  # a client that did not send rooms=1
    for peer in (ann, bob, cat, legacy):
        peer.take()
    world.send(ann, "CREATE,room=#general,All things")
    created = ann.take()
    assert [(f.reason, f.content) for f in created if f.reason == "CONFIRM"] == [("CONFIRM", "OK")]
    conv = next(f for f in created if f.reason == "CONV")
    assert (conv.get("rec"), conv.get("op"), conv.get("members"), conv.content) == ("#general", "1", "1", "All things")
    members = next(f for f in created if f.reason == "MEMBERS")
    assert (members.get("num"), members.get("0"), members.get("op0")) == ("1", "ann", "1")

    world.send(bob, "JOIN,room=#GENERAL,")  # names compare as nicknames do
    assert confirm(bob, "JOIN") == "OK"
    info = [f for f in ann.take() if f.reason == "INFO"]
    assert [(f.get("rec"), f.content) for f in info] == [("#general", "bob joined #general")]

    world.send(ann, "CHAT,rec=#general,hello room")
    assert [f.content for f in ann.take("CHATR")] == ["hello room"]
    (chatr,) = bob.take("CHATR")
    assert (chatr.get("rec"), chatr.get("sender"), chatr.content) == ("#general", "ann", "hello room")
    assert cat.take("CHATR") == [] and legacy.take() == []  # not members; the legacy client sees nothing

    world.send(cat, "CHAT,rec=#general,let me in")
    assert cat.contents("ERR") == [texts.NOT_IN_ROOM.format(room="#general")]
    world.send(legacy, "JOIN,room=#general,")
    assert legacy.contents("ERR") == [texts.UNKNOWN_REASON.format(reason="JOIN")]

    world.send(bob, "PART,room=#general,")
    assert confirm(bob, "PART") == "OK"
    world.send(ann, "CHAT,rec=#general,still here?")
    assert bob.take("CHATR") == []
    stored = world.store.room_history(world.store.get_room("general").id, None, 10)[0]  # type: ignore[union-attr]
    assert [m.content for m in stored] == ["hello room", "still here?"]


def test_a_private_room_is_hidden_and_joined_by_invitation(world: ChatWorld) -> None:
    ann, bob = join(world, "ann"), join(world, "bob")
    world.send(ann, "CREATE,room=#secret;private=1,")
    ann.take()
    world.send(bob, "ROOMS,,")
    (rooms,) = bob.take("ROOMS")
    assert rooms.get("num") == "0"
    world.send(bob, "JOIN,room=#secret,")
    assert confirm(bob, "JOIN") == texts.NO_ROOM.format(room="#secret")
    world.send(bob, "INVITE,room=#secret;user=ann,")
    assert confirm(bob, "INVITE") == texts.NO_ROOM.format(room="#secret")  # not revealed to outsiders

    world.send(ann, "INVITE,room=#secret;user=bob,")
    assert confirm(ann, "INVITE") == "OK"
    got = bob.take()
    assert [f.get("rec") for f in got if f.reason == "CONV"] == ["#secret"]
    assert any(f.reason == "MEMBERS" and f.get("num") == "2" for f in got)
    world.send(bob, "TOPIC,room=#secret,new topic")
    assert confirm(bob, "TOPIC") == texts.NOT_OPERATOR.format(room="#secret")
    world.send(ann, "OP,room=#secret;user=bob;op=1,")
    assert confirm(ann, "OP") == "OK"
    bob.take()
    world.send(bob, "TOPIC,room=#secret,new topic")
    assert confirm(bob, "TOPIC") == "OK"
    (info,) = ann.take("INFO")
    assert (info.get("topic"), info.content) == ("new topic", "bob set the topic of #secret: new topic")
    world.send(bob, "REMOVE,room=#secret;user=ann,bye")
    assert confirm(bob, "REMOVE") == texts.USER_IS_OPERATOR.format(user="ann", room="#secret")
    world.send(ann, "REMOVE,room=#secret;user=bob,enough")
    assert confirm(ann, "REMOVE") == texts.USER_IS_OPERATOR.format(user="bob", room="#secret")
    world.send(ann, "OP,room=#secret;user=bob;op=0,")
    world.send(ann, "REMOVE,room=#secret;user=bob,enough")
    got = bob.take()
    assert any(f.reason == "INFO" and f.content == "bob was removed from #secret by ann: enough" for f in got)
    assert any(f.reason == "CONV" and f.get("gone") == "1" for f in got)
    world.send(ann, "CHAT,rec=#secret,alone")
    assert bob.take("CHATR") == []


def test_bad_room_requests_get_clear_answers(world: ChatWorld) -> None:
    ann = join(world, "ann")
    ann.take()
    world.send(ann, "CREATE,room=#a b,")
    assert confirm(ann, "CREATE") == texts.ROOM_NAME_ERROR
    world.send(ann, "CREATE,room=general,")
    assert confirm(ann, "CREATE") == texts.NO_ROOM.format(room="general")
    world.send(ann, "CREATE,room=#lobby,")
    assert confirm(ann, "CREATE") == texts.ROOM_NAME_ERROR
    world.send(ann, "CREATE,room=#x," + "t" * 301)
    assert confirm(ann, "CREATE") == texts.TOPIC_TOO_LONG.format(limit=300)
    world.send(ann, "CREATE,room=#x,")
    world.send(ann, "CREATE,room=#X,")
    assert confirm(ann, "CREATE") == texts.ROOM_EXISTS.format(room="#X")
    world.send(ann, "PART,room=-ALL,")
    assert confirm(ann, "PART") == texts.STAY_IN_LOBBY
    world.send(ann, "JOIN,room=#nowhere,")
    assert confirm(ann, "JOIN") == texts.NO_ROOM.format(room="#nowhere")
    world.send(ann, "JOIN,room=#x,")
    assert confirm(ann, "JOIN") == texts.ALREADY_IN_ROOM.format(room="#x")
    world.send(ann, "INVITE,room=#x;user=nobody,")
    assert confirm(ann, "INVITE") == texts.NO_USER.format(user="nobody")
    world.send(ann, "HISTORY,rec=#nowhere,")
    assert confirm(ann, "HISTORY") == texts.NOT_IN_ROOM.format(room="#nowhere")
    world.send(ann, "PING,,still fine")
    assert ann.contents("PONG") == ["still fine"]


def test_rooms_per_address_are_limited(tmp_path: Path) -> None:
    world = ChatWorld(tmp_path, rooms_per_address=2)
    try:
        ann = join(world, "ann")
        ann.take()
        for name in ("a1", "a2", "a3"):
            world.send(ann, f"CREATE,room=#{name},")
        answers = [f.content for f in ann.take("CONFIRM")]
        assert answers == ["OK", "OK", texts.TOO_MANY_ROOMS.format(minutes=60)]
    finally:
        world.close()


def test_history_pages_back_through_a_room_to_its_first_message(world: ChatWorld) -> None:
    ann = join(world, "ann")
    world.send(ann, "CREATE,room=#big,")
    for i in range(120):
        world.send(ann, f"CHAT,rec=#big,message {i}")
        world.advance(0.3)  # under the flood limit
    ann.take()
    seen: list[str] = []
    before = ""
    while True:
        world.send(ann, f"HISTORY,rec=#big;limit=50{before},")
        got = ann.take()
        page = [f for f in got if f.reason == "CHATR"]
        assert all(f.get("old") == "1" for f in page)
        seen[:0] = [f.content for f in page]
        (done,) = [f for f in got if f.reason == "CONFIRM"]
        assert done.get("count") == str(len(page))
        if done.get("more") == "0":
            break
        before = f";before={page[0].get('id')}"
    assert seen == [f"message {i}" for i in range(120)]


def test_multi_line_messages_keep_one_line_on_the_wire(world: ChatWorld) -> None:
    ann = join(world, "ann")
    legacy = world.login("old")
    ann.take()
    legacy.take()
    world.send(ann, "CHAT,rec=-ALL;lines=5,hello world")
    (chatr,) = legacy.take("CHATR")
    assert (chatr.content, chatr.get("lines")) == ("hello world", "5")  # a legacy client reads one line
    assert [m.content for m in world.store.recent_messages(["x"], 5)] == ["hello\nworld"]
    world.send(ann, "REF,,")
    replayed = ann.take("CHATR")
    assert (replayed[-1].content, replayed[-1].get("lines")) == ("hello world", "5")
    world.send(ann, "CHAT,rec=-ALL;lines=2,hello")
    assert ann.contents("ERR") == [texts.BAD_LINES]


def test_a_private_message_to_an_offline_account_waits_for_it(world: ChatWorld) -> None:
    account(world, "bob")
    ann = join(world, "ann")
    ann.take()
    world.send(ann, "CHAT,rec=bob,are you there?")
    (echo,) = ann.take("CHATR")
    assert (echo.get("rec"), echo.content) == ("bob", "are you there?")
    world.send(ann, "CHAT,rec=nobody,hello?")
    assert ann.contents("ERR") == [texts.UNRECOGNIZED_RECIPIENT.format(rec="nobody")]

    bob = join(world, "bob", "secret1")
    got = bob.frames
    conver = next(f for f in got if f.reason == "CONVER")
    assert conver.get("away") == "1"
    assert texts.AWAY_ONE in [f.content for f in got if f.reason == "INFO"]
    conv = next(f for f in got if f.reason == "CONV" and f.get("rec") == "ann")
    assert (conv.get("unread"), conv.get("last")) == ("1", echo.get("id"))
    bob.take()
    world.send(bob, "HISTORY,rec=ann,")
    assert [f.content for f in bob.take("CHATR")] == ["are you there?"]
    # Read on the server: the next login agrees.
    world.send(bob, f"READ,rec=ann;id={echo.get('id')},")
    (conv,) = bob.take("CONV")
    assert (conv.get("read"), conv.get("unread")) == (echo.get("id"), "0")


def test_a_second_session_of_an_account_is_silent_and_shares_everything(world: ChatWorld) -> None:
    account(world, "bob")
    ann = join(world, "ann")
    tab1 = join(world, "bob", "secret1")
    world.advance(0.1)
    ann.take()
    tab1.take()
    tab2 = join(world, "bob", "secret1")
    joined = [f.content for f in tab2.take("INFO")]
    assert joined == ["bob has joined the chat!"]
    world.advance(0.1)
    assert ann.take() == [] and tab1.take() == []  # nobody saw a join
    world.send(ann, "CHAT,rec=bob,to both tabs")
    assert [f.content for f in ann.take("CHATR")] == ["to both tabs"]
    assert [f.content for f in tab1.take("CHATR")] == ["to both tabs"]
    (chatr,) = tab2.take("CHATR")
    world.send(tab2, f"READ,rec=ann;id={chatr.get('id')},")
    for tab in (tab1, tab2):
        (conv,) = tab.take("CONV")
        assert (conv.get("rec"), conv.get("unread")) == ("ann", "0")
    world.send(tab1, "DISCON,,")
    world.advance(0.1)
    assert ann.take() == []  # the other tab is still there
    world.send(tab2, "DISCON,,")
    world.advance(0.1)
    assert "bob has disconnected" in ann.contents("INFO")
    # Someone else cannot take a name online even with a wrong password.
    tab3 = join(world, "bob", "secret1", extra="")
    imposter = world.connect()
    world.send(imposter, "CON,nickname=bob;password=wrong;color=#123456,")
    assert imposter.contents("CONVER") == [texts.ALREADY_LOGGED_IN]
    assert not tab3.closed


def test_a_dropped_session_is_held_for_its_grace_and_resumed_with_its_token(world: ChatWorld) -> None:
    ann = join(world, "ann")
    guest = join(world, "gus", extra="rooms=1;lists=changes;session=1")
    (session,) = [f for f in guest.frames if f.reason == "SESSION"]
    token = session.get("token") or ""
    assert len(token) >= 40 and session.get("expires") == "0"
    world.send(ann, "CREATE,room=#r,")
    world.send(ann, "INVITE,room=#r;user=gus,")
    world.advance(0.1)
    ann.take()
    guest.take()
    world.run(ConnectionLost(guest.id, "Reset"))
    world.advance(5)
    assert ann.take() == []  # no "has disconnected", no list change
    other = world.connect()
    world.send(other, "CON,nickname=gus;password=;color=#123456,")
    assert other.contents("CONVER") == [texts.ALREADY_LOGGED_IN]  # the name is held

    back = world.connect()
    world.send(back, f"CON,nickname=GUS;password=;color=#123456;rooms=1;token={token},")
    got = back.take()
    assert [f.content for f in got if f.reason == "CONVER"] == ["OK"]
    assert any(f.reason == "CONV" and f.get("rec") == "#r" for f in got)  # its rooms came back with it
    world.advance(60)
    assert ann.take() == []  # nobody saw it leave or join
    world.send(ann, "CHAT,rec=#r,welcome back")
    assert [f.content for f in back.take("CHATR")] == ["welcome back"]

    world.send(back, "DISCON,,")  # Leave: at once, and the token is dead
    world.advance(0.1)
    assert "gus has disconnected" in ann.contents("INFO")
    again = world.connect()
    world.send(again, f"CON,nickname=gus;password=;color=#123456;rooms=1;token={token},")
    assert again.contents("CONVER") == [texts.SESSION_ENDED]


def test_a_grace_that_runs_out_announces_the_leave(world: ChatWorld) -> None:
    ann = join(world, "ann")
    guest = join(world, "gus", extra="rooms=1;session=1")
    ann.take()
    world.run(ConnectionLost(guest.id, "Reset"))
    world.advance(29)
    assert "gus has disconnected" not in ann.contents("INFO")
    world.advance(2)
    assert ann.contents("INFO") == ["gus has disconnected"]
    world.send(ann, "CHAT,rec=gus,gone?")
    assert ann.contents("ERR") == [texts.UNRECOGNIZED_RECIPIENT.format(rec="gus")]


def test_a_remembered_token_survives_a_restart_and_a_password_change_revokes_it(tmp_path: Path) -> None:
    world = ChatWorld(tmp_path)
    account(world, "bob")
    bob = join(world, "bob", "secret1", extra="rooms=1;session=1;remember=1")
    (session,) = [f for f in bob.frames if f.reason == "SESSION"]
    token = session.get("token") or ""
    assert int(session.get("expires") or 0) > 0
    world.close()

    world = ChatWorld(tmp_path)  # the server restarted
    try:
        back = world.connect()
        world.send(back, f"CON,nickname=bob;password=;color=#123456;rooms=1;token={token},")
        assert back.contents("CONVER") == ["OK"]
        world.send(back, "UPDATE,password=newsecret,")
        other = world.connect()
        world.send(other, f"CON,nickname=bob;password=;color=#123456;rooms=1;token={token},")
        assert other.contents("CONVER") == ["OK"]  # the changing session keeps its own token
        third = join(world, "bob", "newsecret", extra="rooms=1;session=1;remember=1")
        (session,) = [f for f in third.frames if f.reason == "SESSION"]
        world.send(third, "UPDATE,password=third-one,")
        late = world.connect()
        world.send(late, f"CON,nickname=bob;password=;color=#123456;rooms=1;token={token},")
        assert late.contents("CONVER") == [texts.SESSION_ENDED]  # revoked by the other's change
    finally:
        world.close()


def test_a_guest_that_leaves_for_good_leaves_its_rooms(world: ChatWorld) -> None:
    ann = join(world, "ann")
    gus = join(world, "gus")
    world.send(ann, "CREATE,room=#r,")
    world.send(gus, "JOIN,room=#r,")
    ann.take()
    world.send(gus, "DISCON,,")
    world.advance(0.1)
    members = [f for f in ann.take() if f.reason == "MEMBER"]
    assert [(f.get("user"), f.get("change")) for f in members] == [("gus", "leave")]
    room = world.store.get_room("r")
    assert room is not None and [m.name for m in world.store.room_members(room.id)] == ["ann"]


def test_an_admin_is_an_operator_of_every_room(world: ChatWorld) -> None:
    world.store.add_account("boss", "admin", hash_password("boss-secret"))
    ann = join(world, "ann")
    world.send(ann, "CREATE,room=#annsroom,")
    boss = join(world, "boss", "boss-secret")
    world.send(boss, "JOIN,room=#annsroom,")
    (conv,) = [f for f in boss.take() if f.reason == "CONV" and f.get("rec") == "#annsroom"]
    assert conv.get("op") == "1"
    world.send(boss, "TOPIC,room=#annsroom,set by an admin")
    assert confirm(boss, "TOPIC") == "OK"
    world.send(boss, "REMOVE,room=#annsroom;user=ann,")  # even an operator
    assert confirm(boss, "REMOVE") == "OK"


def test_a_flooder_is_cut_off_at_once_with_no_grace(tmp_path: Path) -> None:
    world = ChatWorld(tmp_path, user_list_delay=0.01, chat_burst=2, flood_strikes=2)
    try:
        ann = join(world, "ann")
        spammer = join(world, "spam", extra="rooms=1;session=1")
        (session,) = [f for f in spammer.frames if f.reason == "SESSION"]
        world.advance(0.1)
        ann.take()
        world.send(spammer, *["CHAT,rec=-ALL,spam"] * 10)
        assert spammer.closed
        world.advance(0.1)
        assert "spam has disconnected" in ann.contents("INFO")  # at once, not after the grace
        back = world.connect()
        world.send(back, f"CON,nickname=spam;password=;color=#123456;rooms=1;token={session.get('token')},")
        assert back.contents("CONVER") == [texts.SESSION_ENDED]
    finally:
        world.close()
