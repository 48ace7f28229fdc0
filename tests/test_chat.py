"""Every client reason against a real server, with two or more clients."""

from __future__ import annotations

import re

from conftest import add_account
from parley.protocol import Frame
from wire import Client, admins, users

TIME_RE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\Z")


async def test_con_answers_ok_and_everyone_sees_the_join_and_the_list(connect) -> None:
    ann, bob = await connect(), await connect()
    conver = await ann.login("ann")
    assert TIME_RE.match(conver.params["time"]) and conver.params["role"] == "guest"
    assert list(conver.params)[0] == "time"
    await bob.send("CON,nickname=Bob;password=;color=#00FF00,")
    assert (await bob.expect("CONVER")).content == "OK"
    for client in (ann, bob):
        info = await client.expect("INFO")
        assert (info.params["sender"], info.content) == ("Bob", "Bob has joined the chat!")
        listing = await client.expect("USER")
        assert users(listing) == ["ann", "Bob"]
        assert listing.content == ""


async def test_public_chat_reaches_everyone_sender_included(connect) -> None:
    ann, bob, cat = await connect(), await connect(), await connect()
    await ann.login("ann", color="#FF0000")
    await bob.login("bob")
    await cat.login("cat")
    await ann.drain(), await bob.drain()
    await ann.send("CHAT,rec=-ALL,hello, world; a/b = c")
    for client in (ann, bob, cat):
        chatr = await client.expect("CHATR")
        assert chatr.content == "hello, world; a/b = c"
        assert [chatr.params[k] for k in ("sender", "rec", "color")] == ["ann", "-ALL", "#FF0000"]
        assert list(chatr.params)[:4] == ["time", "sender", "rec", "color"]
        assert int(chatr.params["id"]) > 0 and int(chatr.params["ts"]) > 0


async def test_private_chat_reaches_only_recipient_then_sender(connect) -> None:
    ann, bob, cat = await connect(), await connect(), await connect()
    for client, name in ((ann, "ann"), (bob, "bob"), (cat, "cat")):
        await client.login(name)
    for client in (ann, bob):
        await client.drain()
    await ann.send("CHAT,rec=BOB,just you")  # recipients match case-insensitively
    got_bob, got_ann = await bob.expect("CHATR"), await ann.expect("CHATR")
    assert got_bob == got_ann
    assert (got_bob.params["sender"], got_bob.params["rec"], got_bob.content) == ("ann", "bob", "just you")
    assert await cat.drain() == []


async def test_private_chat_to_oneself_arrives_once(connect) -> None:
    ann = await connect()
    await ann.login("ann")
    await ann.send("CHAT,rec=ann,note to self")
    assert [f.content for f in await ann.drain()] == ["note to self"]


async def test_chat_to_unknown_recipient_or_without_rec_is_an_error(connect) -> None:
    ann = await connect()
    await ann.login("ann")
    await ann.send("CHAT,rec=ghost,boo")
    assert (await ann.expect("ERR")).content == "Error: ghost Unrecognized recipient."
    await ann.send("CHAT,,no rec")
    assert (await ann.expect("ERR")).content == "Error: rec parameter required."


async def test_empty_chat_content_is_relayed_as_is(connect) -> None:
    ann = await connect()
    await ann.login("ann")
    await ann.send("CHAT,rec=-ALL,")
    assert (await ann.expect("CHATR")).content == ""


async def test_user_lists_online_users_and_admin_accounts(make_server, data_dir) -> None:
    add_account(data_dir, "Boss", "secret1", "admin")
    add_account(data_dir, "Chief", "secret2", "admin")
    add_account(data_dir, "Mem", "secret3", "member")
    server = await make_server()
    ann, boss = await Client.connect(server.port), await Client.connect(server.port)
    try:
        await ann.login("ann")
        conver = await boss.login("boss", password="secret1")  # registered spelling wins
        assert conver.params["role"] == "admin"
        await ann.drain()
        await ann.send("USER,,")
        listing = await ann.expect("USER")
        assert listing.params["num"] == "2" and users(listing) == ["ann", "Boss"]
        assert admins(listing) == ["Boss", "Chief"]  # online or not, as the original
    finally:
        await ann.close(), await boss.close()


async def test_update_nickname_and_color_is_confirmed_and_announced(connect) -> None:
    ann, bob = await connect(), await connect()
    await ann.login("ann")
    await bob.login("bob")
    await ann.drain()
    await ann.send("UPDATE,nickname=Annie;color=#ABCDEF,")
    confirm = await ann.expect("CONFIRM")
    assert (confirm.params["reason"], confirm.content) == ("UPDATE", "OK")
    for client in (ann, bob):
        info = await client.expect("INFO")
        assert info.params["sender"] == "Annie"
        assert info.content == "ann's name changed to Annie color changed to #ABCDEF "
        assert users(await client.expect("USER")) == ["Annie", "bob"]  # join order kept
    await bob.send("CHAT,rec=annie,hi")
    assert (await ann.expect("CHATR")).params["rec"] == "Annie"
    assert (await bob.expect("CHATR")).params["rec"] == "Annie"
    await ann.send("CHAT,rec=-ALL,new colors")
    assert (await bob.expect("CHATR")).params["color"] == "#ABCDEF"


async def test_update_errors_change_nothing(connect, data_dir) -> None:
    add_account(data_dir, "Owner", "secret1")
    ann, bob = await connect(), await connect()
    await ann.login("ann")
    await bob.login("bob")
    await ann.drain()
    cases = {
        "UPDATE,nickname=BOB,": "Error: User is already logged in. ",
        "UPDATE,nickname=owner,": "Error: User is a registered user. ",
        "UPDATE,nickname=9lives,": "Error: Username must start with a letter. ",
        "UPDATE,nickname=a,": "Error: Username must be between lengths 2 and 16. ",
        "UPDATE,nickname=abcdefghijklmnopq,": "Error: Username must be between lengths 2 and 16. ",
        "UPDATE,color=red,": "Error: Color not recgnized as Hex color. ",
        "UPDATE,nickname=Zed;color=#12,": "Error: Color not recgnized as Hex color. ",
        "UPDATE,password=abcdefg,": "Error: Password must be at least 8 characters. ",
    }
    for text, error in cases.items():
        await ann.send(text)
        confirm = await ann.expect("CONFIRM")
        assert (confirm.params["reason"], confirm.content) == ("UPDATE", error), text
    assert await bob.drain() == []
    await ann.send("USER,,")
    assert users(await ann.expect("USER")) == ["ann", "bob"]


async def test_update_with_nothing_to_change_is_ok_and_silent(connect) -> None:
    ann, bob = await connect(), await connect()
    await ann.login("ann")
    await bob.login("bob")
    await ann.drain()
    await ann.send("UPDATE,,")
    assert (await ann.expect("CONFIRM")).content == "OK"
    await ann.send("UPDATE,nickname=;color=;password=,")  # empty means unchanged
    assert (await ann.expect("CONFIRM")).content == "OK"
    await bob.drain()
    assert [f for f in await bob.drain() if f.reason == "INFO"] == []


async def test_guest_registers_with_update_password_then_needs_it(server, connect) -> None:
    ann = await connect()
    await ann.login("ann")
    await ann.send("UPDATE,password=sesame12,")
    assert (await ann.expect("CONFIRM")).content == "OK"
    await ann.send("DISCON,,")
    await ann.expect("CONFIRM")
    thief, owner = await connect(), await connect()
    await thief.send("CON,nickname=ANN;password=wrong;color=#FFF,")
    assert (await thief.expect("CONVER")).content == "Error: User is a registered user"
    conver = await owner.login("Ann", password="sesame12")
    assert conver.params["role"] == "member"
    await thief.send("CON,nickname=thief;password=;color=#FFF,")
    assert (await thief.expect("CONVER")).content == "OK"
    await thief.drain()
    await thief.send("UPDATE,nickname=aNN,")
    assert (await thief.expect("CONFIRM")).content == "Error: User is already logged in. "


async def test_registered_user_changes_password(connect) -> None:
    ann = await connect()
    await ann.login("ann")
    await ann.send("UPDATE,password=first123,")
    assert (await ann.expect("CONFIRM")).content == "OK"
    await ann.send("UPDATE,password=second22,")
    assert (await ann.expect("CONFIRM")).content == "OK"
    await ann.send("DISCON,,")
    await ann.expect("CONFIRM")
    again = await connect()
    await again.send("CON,nickname=ann;password=first123;color=#FFF,")
    assert (await again.expect("CONVER")).content == "Error: User is a registered user"
    await again.login("ann", password="second22")


async def test_registration_closed_refuses_guest_password(make_server) -> None:
    server = await make_server(registration="closed")
    ann = await Client.connect(server.port)
    try:
        await ann.login("ann")
        await ann.send("UPDATE,password=sesame12,")
        assert (await ann.expect("CONFIRM")).content == "Error: Registration is closed. "
    finally:
        await ann.close()


async def chats_until(client: Client, last: str) -> list[str]:
    """The CHATR contents a client receives up to and including ``last``."""
    contents: list[str] = []
    while not contents or contents[-1] != last:
        frame = await client.recv()
        if frame.reason == "CHATR":
            contents.append(frame.content)
    return contents


async def test_ref_replays_history_visible_to_the_asker(connect) -> None:
    ann, bob, cat = await connect(), await connect(), await connect()
    for client, name in ((ann, "ann"), (bob, "bob"), (cat, "cat")):
        await client.login(name)
    await ann.send("CHAT,rec=-ALL,public one")
    await ann.send("CHAT,rec=bob,private to bob")
    assert await chats_until(bob, "private to bob") == ["public one", "private to bob"]
    await cat.send("CHAT,rec=-ALL,public two")
    for client in (ann, bob, cat):
        # Wait for the message itself: on a loaded machine "quiet for 0.2 s" can come first.
        await chats_until(client, "public two")
    expected = {
        bob: ["public one", "private to bob", "public two"],
        cat: ["public one", "public two"],
    }
    for client, contents in expected.items():
        await client.send("REF,,")
        confirm = await client.expect("CONFIRM")
        assert (confirm.params["reason"], confirm.content) == ("REF", "Resending messages...")
        replay = await client.drain()
        assert [f.content for f in replay] == contents
        assert all(f.reason == "CHATR" for f in replay)
        ids = [int(f.params["id"]) for f in replay]
        assert ids == sorted(ids)


async def test_ref_replays_at_most_history_messages(make_server) -> None:
    server = await make_server(history=3)
    ann = await Client.connect(server.port)
    try:
        await ann.login("ann")
        for i in range(6):
            await ann.send(f"CHAT,rec=-ALL,m{i}")
            await ann.expect("CHATR")
        await ann.send("REF,,")
        await ann.expect("CONFIRM")
        assert [f.content for f in await ann.drain()] == ["m3", "m4", "m5"]
    finally:
        await ann.close()


async def test_discon_confirms_closes_and_tells_the_others(connect) -> None:
    ann, bob = await connect(), await connect()
    await ann.login("ann")
    await bob.login("bob")
    await ann.drain()
    await bob.send("DISCON,,")
    confirm = await bob.expect("CONFIRM")
    assert (confirm.params["reason"], confirm.content) == ("DISCON", "Disconnected Successfully.")
    assert await bob.closed_by_server()
    info = await ann.expect("INFO")
    assert (info.params["sender"], info.content) == ("bob", "bob has disconnected")
    assert users(await ann.expect("USER")) == ["ann"]


async def test_peer_vanishing_without_discon_is_removed(connect) -> None:
    ann, bob = await connect(), await connect()
    await ann.login("ann")
    await bob.login("bob")
    await ann.drain()
    bob.writer.transport.abort()
    assert (await ann.expect("INFO")).content == "bob has disconnected"
    assert users(await ann.expect("USER")) == ["ann"]
    again = await connect()
    await again.login("bob")  # the nickname is free again


async def test_kick_by_admin_warns_disconnects_and_announces(make_server, data_dir) -> None:
    add_account(data_dir, "Boss", "secret1", "admin")
    server = await make_server()
    boss, bob, cat = [await Client.connect(server.port) for _ in range(3)]
    try:
        await boss.login("Boss", password="secret1")
        await bob.login("bob")
        await cat.login("cat")
        await boss.drain(), await bob.drain()
        await boss.send("KICK,user=BOB,spamming, again")
        warn = await bob.expect("WARN")
        assert warn.content == "You have been kicked for reason: spamming, again"
        assert await bob.closed_by_server()
        for client in (boss, cat):
            info = await client.expect("INFO")
            assert info.content == "bob has been kicked by Boss: spamming, again"
            assert users(await client.expect("USER")) == ["Boss", "cat"]
        assert [f for f in await cat.drain() if f.reason == "INFO"] == []  # no "has disconnected"
    finally:
        for client in (boss, bob, cat):
            await client.close()


async def test_kick_rules(make_server, data_dir) -> None:
    add_account(data_dir, "Boss", "secret1", "admin")
    add_account(data_dir, "Chief", "secret2", "admin")
    server = await make_server()
    boss, chief, bob = [await Client.connect(server.port) for _ in range(3)]
    try:
        await boss.login("Boss", password="secret1")
        await chief.login("Chief", password="secret2")
        await bob.login("bob")
        await boss.drain()
        await bob.send("KICK,user=Boss,bye")
        assert (await bob.expect("ERR")).content == "Error: Must be an admin to preform that action."
        await boss.send("KICK,user=Chief,bye")
        assert (await boss.expect("ERR")).content == "Error: Chief is an admin and cannot be kicked."
        await boss.send("KICK,user=ghost,bye")
        assert (await boss.expect("ERR")).content == "Error: ghost is not online."
        await boss.send("KICK,,bye")
        assert (await boss.expect("ERR")).content == "Error: user parameter required."
        await boss.send("USER,,")
        assert users(await boss.expect("USER")) == ["Boss", "Chief", "bob"]
    finally:
        for client in (boss, chief, bob):
            await client.close()


async def test_ping_gets_pong_with_the_same_content(connect) -> None:
    ann = await connect()
    await ann.send("PING,,before login")
    assert (await ann.expect("PONG")).content == "before login"
    await ann.login("ann")
    await ann.send("PING,,42")
    assert (await ann.expect("PONG")).content == "42"


async def test_nicknames_are_unique_case_insensitively_after_nfkc(connect) -> None:
    ann, other = await connect(), await connect()
    await ann.login("Bob")
    for variant in ("bob", "BOB", "ｂｏｂ"):
        await other.send(Frame("CON", {"nickname": variant, "password": "", "color": "#FFF"}))
        assert (await other.expect("CONVER")).content == "Error: User is already logged in"


async def test_login_rules_in_the_original_order(connect) -> None:
    client = await connect()
    cases = {
        "CON,nickname=1abc;password=;color=#FFF,": "Error: Username must start with a letter",
        "CON,nickname=a;password=;color=#FFF,": "Error: Username must be between lengths 2 and 16",
        "CON,nickname=abcdefghijklmnopq;password=;color=#FFF,": "Error: Username must be between lengths 2 and 16",
        "CON,nickname=;password=;color=#FFF,": "Error: Username must start with a letter",
        "CON,nickname=ab\u200bc;password=;color=#FFF,": "Error: Username contains a character that is not allowed",
        "CON,nickname=ab\tc;password=;color=#FFF,": "Error: Username contains a character that is not allowed",
        "CON,nickname=ab ;password=;color=#FFF,": "Error: Username contains a character that is not allowed",
        "CON,nickname=ann;color=#FFF,": "Error: Incorrect paramters. nickname, password, and color are required",
    }
    for text, error in cases.items():
        await client.send(text)
        assert (await client.expect("CONVER")).content == error, text
    await client.login("Zoë Ünal")  # non-ASCII letters and an inner space are fine


async def test_bad_color_at_login_becomes_white(connect) -> None:
    ann = await connect()
    await ann.login("ann", color="purple")
    await ann.send("CHAT,rec=-ALL,x")
    assert (await ann.expect("CHATR")).params["color"] == "#FFFFFF"


async def test_joins_close_together_share_one_user_list(connect) -> None:
    watcher = await connect()
    await watcher.login("watcher")
    joiners = [await connect() for _ in range(5)]
    for i, joiner in enumerate(joiners):
        await joiner.send(f"CON,nickname=joiner{i};password=;color=#FFF,")
    frames = await watcher.drain()
    assert [f.content for f in frames if f.reason == "INFO"] == [
        f"joiner{i} has joined the chat!" for i in range(5)
    ]
    lists = [f for f in frames if f.reason == "USER"]
    assert 1 <= len(lists) < 5
    assert users(lists[-1]) == ["watcher"] + [f"joiner{i}" for i in range(5)]


async def test_shutdown_warns_every_client_and_closes(make_server) -> None:
    server = await make_server()
    ann, bob = await Client.connect(server.port), await Client.connect(server.port)
    try:
        await ann.login("ann")
        await bob.login("bob")
        await ann.drain()
        await server.close()
        for client in (ann, bob):
            warn = await client.expect("WARN")
            assert warn.content == (
                "Server [shutting down] unexpectedly. Please close down the chat and try again later."
            )
            assert await client.closed_by_server()
    finally:
        await ann.close(), await bob.close()


async def test_a_burst_in_one_write_is_answered_in_order(connect) -> None:
    ann, bob = await connect(), await connect()
    await ann.login("ann")
    await bob.login("bob")
    await ann.drain()
    await ann.send_raw(
        b"CHAT,rec=-ALL,a\nCHAT,rec=bob,b\nCHAT,rec=nobody,c\nPING,,p\nCHAT,rec=-ALL,d\nCHAT,,e\nCHAT,rec=-ALL,f\n"
    )
    got = [(f.reason, f.content) for f in [await ann.recv() for _ in range(7)]]
    assert got == [
        ("CHATR", "a"), ("CHATR", "b"), ("ERR", "Error: nobody Unrecognized recipient."), ("PONG", "p"),
        ("CHATR", "d"), ("ERR", "Error: rec parameter required."), ("CHATR", "f"),
    ]
    assert await chats_until(bob, "f") == ["a", "b", "d", "f"]
    await bob.send("REF,,")
    await bob.expect("CONFIRM")
    ids = [int(f.params["id"]) for f in await bob.drain() if f.reason == "CHATR"]
    assert ids == sorted(ids) and len(ids) == 4
