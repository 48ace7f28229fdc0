"""Rooms, conversations and sessions over real sockets: framed clients that know rooms, beside a client of
the original program that must notice nothing new; offline messages across a server restart; a dropped
connection resumed with its token while the others see nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from conftest import add_account
from parley.protocol import Frame, texts
from serverproc import ServerProcess
from test_nicknames import LegacyClient, legacy
from wire import Client

# What a client of the original program knows how to read.
ORIGINAL_REASONS = {"CONVER", "CHATR", "CONFIRM", "INFO", "ERR", "WARN", "USER"}


async def rooms_login(port: int, nickname: str, password: str = "", extra: str = "") -> tuple[Client, list[Frame]]:
    client = await Client.connect(port)
    await client.send(f"CON,nickname={nickname};password={password};color=#336699;rooms=1;lists=changes{extra},")
    conver = await client.expect("CONVER")
    assert conver.content == "OK", conver
    return client, [conver, *await client.drain(0.3)]


def legacy_frames(old: LegacyClient, quiet: float = 0.5) -> list[Frame]:
    """Every frame the original client reads until nothing comes for ``quiet`` seconds (one per recv)."""
    old.sock.settimeout(quiet)
    got = []
    try:
        while True:
            got.append(old.recv())
    except TimeoutError:
        return got


async def test_an_original_client_in_the_lobby_notices_nothing_of_rooms_and_conversations(make_server) -> None:
    server = await make_server(user_list_delay=0.01)
    old = await legacy(server.port)
    ann = bob = None
    try:
        old.send("CON,nickname=oldie;password=;color=#00FF00,")
        first = await asyncio.to_thread(legacy_frames, old)
        assert [f.reason for f in first] == ["CONVER", "INFO", "USER"]

        # Read as the original client does: all the time, one frame per recv().
        reading = asyncio.ensure_future(asyncio.to_thread(legacy_frames, old, 1.5))
        ann, _ = await rooms_login(server.port, "ann")
        bob, _ = await rooms_login(server.port, "bob")
        await ann.send("CREATE,room=#general,Everything")
        await ann.send("CREATE,room=#hidden;private=1,")
        await ann.send("INVITE,room=#hidden;user=bob,")
        await bob.send("JOIN,room=#general,")
        await ann.send("CHAT,rec=#general,in the room")
        await ann.send("CHAT,rec=#hidden,in the hidden room")
        await ann.send("CHAT,rec=bob;lines=3,two lines")  # private, multi-line
        await ann.send("TOPIC,room=#general,New topic")
        await ann.send("CHAT,rec=-ALL,hello lobby")
        await bob.send("HISTORY,rec=#general,")
        await bob.send("READ,rec=#general;id=1,")
        await bob.send("PART,room=#general,")
        got = await bob.drain(0.5)
        assert "in the room" in [f.content for f in got if f.reason == "CHATR"]

        seen = await reading
        assert {f.reason for f in seen} <= ORIGINAL_REASONS, seen
        assert all("rec" not in f.params for f in seen if f.reason == "INFO"), seen  # no room's INFO
        chats = [(f.get("rec"), f.content) for f in seen if f.reason == "CHATR"]
        assert chats == [("-ALL", "hello lobby")]
        # The original client still works as ever: it chats and is heard.
        reading = asyncio.ensure_future(asyncio.to_thread(legacy_frames, old, 1.0))
        old.send("CHAT,rec=-ALL,from the old client")
        echo = await reading
        assert [f.content for f in echo if f.reason == "CHATR"] == ["from the old client"]
        assert "from the old client" in [f.content for f in await ann.drain(0.3) if f.reason == "CHATR"]
    finally:
        old.close()
        for client in (ann, bob):
            if client is not None:
                await client.close()


async def test_a_private_message_to_an_offline_account_is_delivered_after_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_account(data, "bob", "bob-secret")
    server = ServerProcess(data)
    server.start()
    try:
        ann, _ = await rooms_login(server.port, "ann")
        await ann.send("CHAT,rec=bob,see this when you are back")
        echo = await ann.next("CHATR")
        assert (echo.get("rec"), echo.content) == ("bob", "see this when you are back")
        await ann.close()
    finally:
        server.stop()
    server = ServerProcess(data)
    server.start()
    try:
        bob, frames = await rooms_login(server.port, "bob", "bob-secret")
        conver = frames[0]
        assert conver.get("away") == "1"
        assert texts.AWAY_ONE in [f.content for f in frames if f.reason == "INFO"]
        (conv,) = [f for f in frames if f.reason == "CONV" and f.get("rec") == "ann"]
        assert conv.get("unread") == "1" and conv.get("last") == echo.get("id")
        await bob.send("HISTORY,rec=ann,")
        (old,) = [f for f in await bob.drain(0.3) if f.reason == "CHATR"]
        assert (old.content, old.get("old")) == ("see this when you are back", "1")
        # A second login finds nothing new: the count was taken.
        await bob.send("DISCON,,")
        await bob.close()
        bob, frames = await rooms_login(server.port, "bob", "bob-secret")
        assert frames[0].get("away") is None
        await bob.close()
    finally:
        server.stop()


async def test_a_dropped_connection_resumes_with_its_token_and_nobody_sees_it(make_server) -> None:
    server = await make_server(user_list_delay=0.01, resume_grace=1.0)
    ann, _ = await rooms_login(server.port, "ann")
    gus, frames = await rooms_login(server.port, "gus", extra=";session=1")
    (session,) = [f for f in frames if f.reason == "SESSION"]
    token = session.get("token")
    await ann.drain(0.3)
    gus.writer.transport.abort()  # a reload: the connection just drops
    await asyncio.sleep(0.5)
    back = await Client.connect(server.port)
    await back.send(f"CON,nickname=gus;password=;color=#336699;rooms=1;lists=changes;token={token},")
    assert (await back.expect("CONVER")).content == "OK"
    await ann.send("CHAT,rec=gus,still there?")
    assert (await back.next("CHATR")).content == "still there?"
    seen = await ann.drain(0.5)
    assert [f.content for f in seen if f.reason == "INFO"] == []  # no leave, no join
    assert [f for f in seen if f.reason in ("USER", "USERCHANGES")] == []
    # Dropped again, and not back within the grace: then it leaves.
    back.writer.transport.abort()
    leave = await ann.next("INFO")
    assert leave.content == "gus has disconnected"
    await ann.close()


async def test_an_invite_sent_right_after_the_create_finds_the_new_room(make_server) -> None:
    """The room's creator is in it as soon as CREATE is answered: the next frame, read in the same
    step, used to find the hub not yet told and answer 'No room'."""
    server = await make_server()
    ann, _ = await rooms_login(server.port, "ann")
    bob, _ = await rooms_login(server.port, "bob")
    try:
        await ann.send("CREATE,room=#hidden;private=1,\nINVITE,room=#hidden;user=bob,\nPART,room=#hidden,")
        answers = [f for f in await ann.drain(0.5) if f.reason == "CONFIRM"]
        assert [(f.params["reason"], f.content) for f in answers] == [("CREATE", "OK"), ("INVITE", "OK"),
                                                                      ("PART", "OK")]
        assert any(f.reason == "CONV" and f.get("rec") == "#hidden" for f in await bob.drain(0.3))
    finally:
        await ann.close()
        await bob.close()
