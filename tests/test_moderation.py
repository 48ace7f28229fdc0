"""Moderation, editing, reports, the audit log and search over real sockets and a real SQLite file,
with a client of the original program in the lobby while it happens."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time

from conftest import add_account
from serverproc import REPO
from test_nicknames import legacy
from test_rooms import ORIGINAL_REASONS, legacy_frames, rooms_login
from wire import Client, eventually

from parley.net.proxy import parse_networks
from parley.protocol import Frame
from server.store import database_path

PASSWORD = "password1"


async def admin(port: int, name: str = "boss", extra: str = "") -> tuple[Client, list[Frame]]:
    return await rooms_login(port, name, PASSWORD, extra)


async def answer(client: Client, reason: str) -> Frame:
    """The next CONFIRM for ``reason`` (other frames before it are skipped)."""
    while True:
        frame = await client.next("CONFIRM")
        if frame.get("reason") == reason:
            return frame


async def proxied(port: int, address: str) -> Client:
    """A connection the server believes comes from ``address`` (a trusted proxy's PROXY line)."""
    client = await Client.connect(port)
    await client.send_raw(f"PROXY TCP4 {address} 127.0.0.1 40000 {port}\r\n".encode())
    return client


async def proxied_login(port: int, address: str, nickname: str) -> tuple[Client, Frame]:
    client = await proxied(port, address)
    await client.send(f"CON,nickname={nickname};password=;color=#336699;rooms=1,")
    return client, await client.next("CONVER")


async def test_a_ban_disconnects_refuses_the_login_until_lifted_and_survives_a_restart(make_server, data_dir) -> None:
    add_account(data_dir, "boss", PASSWORD, "admin")
    server = await make_server(user_list_delay=0.01)
    old = await legacy(server.port)
    boss = spammer = None
    try:
        old.send("CON,nickname=oldie;password=;color=#00FF00,")
        await asyncio.to_thread(legacy_frames, old)
        boss, _ = await admin(server.port)
        spammer, _ = await rooms_login(server.port, "spammer")
        reading = asyncio.ensure_future(asyncio.to_thread(legacy_frames, old, 1.0))
        await boss.send("BAN,user=spammer;duration=3600,buying followers")
        done = await answer(boss, "BAN")
        assert done.content == "OK" and done.get("ban", "").isdigit(), done
        warn = await spammer.next("WARN")
        assert warn.content.startswith("You have been banned until ") and warn.content.endswith(
            " UTC: buying followers"), warn
        until = int(warn.get("until", "0"))
        assert 3599_000 <= until - time.time() * 1000 <= 3601_000
        assert await spammer.closed_by_server()
        seen = await reading
        assert {f.reason for f in seen} <= ORIGINAL_REASONS
        infos = [f.content for f in seen if f.reason == "INFO"]
        assert any("spammer has been banned by boss until " in t and t.endswith(": buying followers")
                   for t in infos), infos

        again = await Client.connect(server.port)
        await again.send("CON,nickname=Spammer;password=;color=#336699,")
        refused = await again.next("CONVER")
        assert refused.content.startswith("Error: You are banned until ") and refused.get("until") == str(until)
        await again.close()
    finally:
        old.close()
        for client in (boss, spammer):
            if client is not None:
                await client.close()
    await server.close()

    server = await make_server()  # the same data folder
    again = await Client.connect(server.port)
    await again.send("CON,nickname=spammer;password=;color=#336699,")
    assert (await again.next("CONVER")).content.startswith("Error: You are banned until ")
    boss, _ = await admin(server.port)
    await boss.send("BANS,,")
    listing = await boss.next("BANS")
    assert listing.get("num") == "1" and listing.get("target0") == "spammer" and listing.get("kind0") == "user"
    await boss.send(f"UNBAN,ban={listing.get('id0')},")
    assert (await answer(boss, "UNBAN")).content == "OK"
    await again.send("CON,nickname=spammer;password=;color=#336699,")
    assert (await again.next("CONVER")).content == "OK"
    await boss.send("AUDIT,,")
    audit = await boss.next("AUDIT")
    actions = [audit.get(f"action{i}") for i in range(int(audit.get("num", "0")))]
    assert actions == ["unban", "ban"], audit
    assert audit.get("actor1") == "boss" and audit.get("reason1") == "buying followers"
    for client in (again, boss):
        await client.close()


async def test_bad_bans_are_refused_and_change_nothing(make_server, data_dir) -> None:
    add_account(data_dir, "boss", PASSWORD, "admin")
    add_account(data_dir, "chief", PASSWORD, "admin")
    server = await make_server()
    boss, _ = await admin(server.port)
    member, _ = await rooms_login(server.port, "member")
    cases = [
        (member, "BAN,user=boss,", "Error: Must be an admin to preform that action."),
        (boss, "BAN,,", "Error: user or address parameter required."),
        (boss, "BAN,user=nobody,", "Error: No user nobody."),
        (boss, "BAN,user=chief,", "Error: chief is an admin and cannot be banned."),
        (boss, "BAN,address=not-an-ip,", "Error: Bad address not-an-ip."),
        (boss, "BAN,address=10.0.0.0//7,", "Error: That range is too wide."),  # / is escaped as //
        (boss, "BAN,address=127.0.0.1,", "Error: That ban would cover your own address."),
        (boss, "BAN,address=127.0.0.0//8,", "Error: That ban would cover your own address."),
        (boss, "BAN,user=member;addresses=1,", "Error: That ban would cover your own address."),
        (boss, "BAN,user=member;duration=-5,", "Error: Bad duration."),
        (boss, "BAN,user=member;duration=soon,", "Error: Bad duration."),
        (boss, "BAN,user=member,{}".format("x" * 301), "Error: A reason is at most 300 characters."),
    ]
    for client, frame, text in cases:
        await client.send(frame)
        assert (await answer(client, "BAN")).content == text, frame
    await boss.send("BANS,,")
    assert (await boss.next("BANS")).get("num") == "0"
    await member.send("PING,,still here")
    assert (await member.next("PONG")).content == "still here"
    await boss.close()
    await member.close()


async def test_an_address_ban_covers_a_range_and_is_decided_on_the_clients_address(make_server, data_dir) -> None:
    add_account(data_dir, "boss", PASSWORD, "admin")
    server = await make_server(trusted_proxies=parse_networks(["127.0.0.1"]))
    boss = await proxied(server.port, "192.0.2.1")
    await boss.send(f"CON,nickname=boss;password={PASSWORD};color=#336699;rooms=1,")
    assert (await boss.next("CONVER")).content == "OK"
    troll, conver = await proxied_login(server.port, "203.0.113.9", "troll")
    assert conver.content == "OK"
    bystander, conver = await proxied_login(server.port, "198.51.100.4", "bystander")
    assert conver.content == "OK"
    await boss.send("BAN,address=203.0.113.0//24,flood")
    assert (await answer(boss, "BAN")).content == "OK"
    assert (await troll.next("WARN")).content == "You have been banned for good: flood"
    assert await troll.closed_by_server()
    other, conver = await proxied_login(server.port, "203.0.113.77", "newname")
    assert conver.content == "Error: You are banned for good: flood" and conver.get("until") == "0"
    await bystander.send("PING,,ok")
    assert (await bystander.next("PONG")).content == "ok"
    for client in (boss, troll, other, bystander):
        await client.close()


async def test_kick_says_its_reason_to_everyone_and_can_ban_in_the_same_step(make_server, data_dir) -> None:
    add_account(data_dir, "boss", PASSWORD, "admin")
    server = await make_server(user_list_delay=0.01)
    old = await legacy(server.port)
    try:
        old.send("CON,nickname=oldie;password=;color=#00FF00,")
        await asyncio.to_thread(legacy_frames, old)
        boss, _ = await admin(server.port)
        pest, _ = await rooms_login(server.port, "pest")
        reading = asyncio.ensure_future(asyncio.to_thread(legacy_frames, old, 1.0))
        await boss.send("KICK,user=pest,calm down")
        assert (await pest.next("WARN")).content == "You have been kicked for reason: calm down"
        infos = [f.content for f in await reading if f.reason == "INFO"]
        assert any(t.endswith("pest has been kicked by boss: calm down") for t in infos), infos

        await pest.close()
        pest, _ = await rooms_login(server.port, "pest")  # a kick alone lets it back in
        reading = asyncio.ensure_future(asyncio.to_thread(legacy_frames, old, 1.0))
        await boss.send("KICK,user=pest;ban=1;duration=600,still spamming")
        assert (await pest.next("WARN")).content == "You have been kicked for reason: still spamming"  # the seed's
        assert await pest.closed_by_server()
        infos = [f.content for f in await reading if f.reason == "INFO"]
        assert any("pest has been banned by boss until " in t and t.endswith(": still spamming")
                   for t in infos), infos
        back = await Client.connect(server.port)
        await back.send("CON,nickname=pest;password=;color=#336699,")
        assert (await back.next("CONVER")).content.startswith("Error: You are banned until ")
        for client in (back, pest, boss):
            await client.close()
    finally:
        old.close()


async def test_room_operators_ban_and_mute_in_their_room_only(make_server, data_dir) -> None:
    add_account(data_dir, "boss", PASSWORD, "admin")
    server = await make_server()
    ann, _ = await rooms_login(server.port, "ann")
    bob, _ = await rooms_login(server.port, "bob")
    cat, _ = await rooms_login(server.port, "cat")
    boss, _ = await admin(server.port)
    await ann.send("CREATE,room=#annroom,")
    await cat.send("CREATE,room=#catroom,")
    for client, room in ((bob, "#annroom"), (bob, "#catroom"), (cat, "#annroom"), (boss, "#annroom"),
                         (ann, "#catroom")):
        await client.send(f"JOIN,room={room},")
        assert (await answer(client, "JOIN")).content == "OK"
    await asyncio.sleep(0.2)
    for client in (ann, bob, cat, boss):
        await client.drain(0.2)

    checks = [
        (bob, "MUTE,room=#annroom;user=cat,", "MUTE", "Error: Only an operator of #annroom can do that."),
        (bob, "MUTE,room=#annroom;user=boss,", "MUTE", "Error: Only an operator of #annroom can do that."),
        (ann, "MUTE,room=#annroom;user=boss,", "MUTE", "Error: boss is an admin and cannot be muted."),
        (ann, "MUTE,room=#catroom;user=bob,", "MUTE", "Error: Only an operator of #catroom can do that."),
        (ann, "BAN,room=#catroom;user=bob,", "BAN", "Error: Only an operator of #catroom can do that."),
        (ann, "MUTE,room=-ALL;user=bob,", "MUTE", "Error: Must be an admin to preform that action."),
        (ann, "MUTE,room=#annroom;user=bob;duration=x,", "MUTE", "Error: Bad duration."),
    ]
    for client, frame, reason, text in checks:
        await client.send(frame)
        assert (await answer(client, reason)).content == text, frame

    await ann.send("MUTE,room=#annroom;user=bob;duration=600,too loud")
    assert (await answer(ann, "MUTE")).content == "OK"
    told = await bob.next("INFO")
    assert told.get("rec") == "#annroom" and told.content.startswith("bob was muted in #annroom by ann until ")
    await bob.send("CHAT,rec=#annroom,can I speak")
    refused = await bob.next("ERR")
    assert refused.content.startswith("Error: You are muted in #annroom until ") and refused.content.endswith(
        ": too loud") and refused.get("until", "0") != "0"
    await bob.send("CHAT,rec=#catroom,elsewhere I can")
    assert (await bob.next("CHATR")).content == "elsewhere I can"
    await ann.send("UNMUTE,room=#annroom;user=bob,")
    assert (await answer(ann, "UNMUTE")).content == "OK"
    await bob.send("CHAT,rec=#annroom,thanks")
    assert (await bob.next("CHATR")).content == "thanks"

    await ann.send("BAN,room=#annroom;user=cat;duration=60,rude")
    assert (await answer(ann, "BAN")).content == "OK"
    gone = await cat.next("CONV")
    assert gone.get("rec") == "#annroom" and gone.get("gone") == "1"
    await cat.send("JOIN,room=#annroom,")
    refused = await answer(cat, "JOIN")
    assert refused.content.startswith("Error: You are banned from #annroom until ") and refused.content.endswith(
        ": rude"), refused
    await ann.send("INVITE,room=#annroom;user=cat,")
    assert (await answer(ann, "INVITE")).content == "Error: cat is banned from #annroom."
    await ann.send("BANS,room=#annroom,")
    listing = await ann.next("BANS")
    assert listing.get("num") == "1" and listing.get("kind0") == "room" and listing.get("room") == "#annroom"
    for client in (ann, bob, cat, boss):
        await client.close()


async def test_a_lobby_mute_reaches_an_original_client_which_still_reads(make_server, data_dir) -> None:
    add_account(data_dir, "boss", PASSWORD, "admin")
    server = await make_server()
    old = await legacy(server.port)
    try:
        old.send("CON,nickname=oldie;password=;color=#00FF00,")
        await asyncio.to_thread(legacy_frames, old)
        boss, _ = await admin(server.port)
        reading = asyncio.ensure_future(asyncio.to_thread(legacy_frames, old, 0.8))
        await boss.send("MUTE,room=-ALL;user=oldie;duration=300,cool off")
        assert (await answer(boss, "MUTE")).content == "OK"
        seen = await reading
        assert any(f.reason == "INFO" and f.content.startswith("oldie was muted by boss until ") for f in seen), seen
        reading = asyncio.ensure_future(asyncio.to_thread(legacy_frames, old, 0.8))
        old.send("CHAT,rec=-ALL,hello?")
        seen = await reading
        assert [f.reason for f in seen] == ["ERR"] and seen[0].content.startswith("Error: You are muted until ")
        reading = asyncio.ensure_future(asyncio.to_thread(legacy_frames, old, 0.8))
        await boss.send("CHAT,rec=-ALL,everyone else still talks")
        assert "everyone else still talks" in [f.content for f in await reading if f.reason == "CHATR"]
        await boss.close()
    finally:
        old.close()


async def test_edits_and_deletes_reach_every_reader_and_the_history(make_server, data_dir) -> None:
    add_account(data_dir, "boss", PASSWORD, "admin")
    server = await make_server()
    old = await legacy(server.port)
    try:
        old.send("CON,nickname=oldie;password=;color=#00FF00,")
        await asyncio.to_thread(legacy_frames, old)
        ann, _ = await rooms_login(server.port, "ann")
        bob, _ = await rooms_login(server.port, "bob")
        boss, _ = await admin(server.port)
        await ann.send("CHAT,rec=-ALL,helo world")
        first = await ann.next("CHATR")
        await ann.send("CHAT,rec=-ALL,second one")
        second = await ann.next("CHATR")
        await bob.send("CHAT,rec=-ALL,from bob")
        while (bobs := await bob.next("CHATR")).get("sender") != "bob":
            pass
        await asyncio.to_thread(legacy_frames, old, 0.4)
        for client in (ann, bob, boss):
            await client.drain(0.2)

        reading = asyncio.ensure_future(asyncio.to_thread(legacy_frames, old, 0.8))
        await ann.send(f"EDIT,id={first.get('id')};lines=5,hello world")
        assert (await answer(ann, "EDIT")).content == "OK"
        edited = await bob.next("EDITED")
        assert (edited.get("id"), edited.content, edited.get("lines")) == (first.get("id"), "hello world", "5")
        assert edited.get("sender") == "ann" and edited.get("edited", "").isdigit()
        assert [f for f in await reading if f.reason not in ("USER",)] == []  # the original keeps what it showed

        refusals = [
            (bob, f"EDIT,id={first.get('id')},mine now", "EDIT", "Error: You can only edit your own messages."),
            (bob, f"DELETE,id={first.get('id')},", "DELETE", "Error: You may not delete that message."),
            (ann, "EDIT,id=99999,x", "EDIT", "Error: No message 99999."),
            (ann, "EDIT,,x", "EDIT", "Error: id parameter required."),
            (ann, f"EDIT,id={second.get('id')}, ", "EDIT", "Error: An edited message cannot be empty."),
            (ann, f"EDIT,id={second.get('id')};lines=99,x", "EDIT", "Error: Bad lines parameter."),
        ]
        for client, frame, reason, text in refusals:
            await client.send(frame)
            assert (await answer(client, reason)).content == text, frame

        await ann.send(f"DELETE,id={second.get('id')},")  # its author
        assert (await answer(ann, "DELETE")).content == "OK"
        gone = await bob.next("DELETED")
        assert gone.get("id") == second.get("id")
        await boss.send(f"DELETE,id={bobs.get('id')},")  # an admin
        assert (await answer(boss, "DELETE")).content == "OK"
        await ann.send(f"DELETE,id={second.get('id')},")
        assert (await answer(ann, "DELETE")).content == f"Error: No message {second.get('id')}."

        await bob.send("HISTORY,rec=-ALL,")
        history = [f for f in await bob.drain(0.5) if f.reason == "CHATR"]
        assert [(f.content, f.get("lines")) for f in history] == [("hello world", "5")]
        assert history[0].get("edited") == edited.get("edited")
        reading = asyncio.ensure_future(asyncio.to_thread(legacy_frames, old, 0.8))
        old.send("REF,,")
        replayed = [f.content for f in await reading if f.reason == "CHATR"]
        assert replayed == ["hello world"]  # the current text; the deleted ones are gone

        await boss.send("AUDIT,,")
        audit = await boss.next("AUDIT")
        assert audit.get("action0") == "delete" and audit.get("target0") == "bob"
        assert "from bob" in audit.get("detail0", "")
        for client in (ann, bob, boss):
            await client.close()
    finally:
        old.close()


async def test_edits_end_with_the_edit_window(make_server) -> None:
    server = await make_server(edit_window=0.0)
    ann, _ = await rooms_login(server.port, "ann")
    await ann.send("CHAT,rec=-ALL,too late")
    sent = await ann.next("CHATR")
    await asyncio.sleep(0.05)
    await ann.send(f"EDIT,id={sent.get('id')},fixed")
    assert (await answer(ann, "EDIT")).content == "Error: Messages can be edited for 0 minutes only."
    await ann.close()


async def test_reports_reach_the_admins_and_are_resolved_in_the_audit_log(make_server, data_dir) -> None:
    add_account(data_dir, "boss", PASSWORD, "admin")
    server = await make_server()
    ann, _ = await rooms_login(server.port, "ann")
    bob, _ = await rooms_login(server.port, "bob")
    boss, _ = await admin(server.port)
    await bob.send("CHAT,rec=-ALL,buy cheap watches")
    spam = await ann.next("CHATR")
    await bob.send("CHAT,rec=ann,a private one")
    private = await ann.next("CHATR")
    await boss.drain(0.3)
    await ann.send(f"REPORT,id={spam.get('id')},spam")
    assert (await answer(ann, "REPORT")).content == "OK"
    live = await boss.next("REPORTS")
    assert live.get("new") == "1" and live.get("num") == "1"
    assert (live.get("sender0"), live.get("text0"), live.get("reason0"), live.get("by0")) == (
        "bob", "buy cheap watches", "spam", "ann")
    await ann.send(f"REPORT,id={spam.get('id')},again")
    assert (await answer(ann, "REPORT")).content == "Error: You have already reported that message."
    await boss.send(f"REPORT,id={private.get('id')},peek")  # an admin cannot report what it may not read
    assert (await answer(boss, "REPORT")).content == f"Error: No message {private.get('id')}."
    await ann.send("REPORTS,,")
    assert (await answer(ann, "REPORTS")).content == "Error: Must be an admin to preform that action."
    await boss.send("REPORTS,,")
    listing = await boss.next("REPORTS")
    assert listing.get("num") == "1"
    await boss.send(f"RESOLVE,report={listing.get('id0')},")
    assert (await answer(boss, "RESOLVE")).content == "OK"
    await boss.send("REPORTS,,")
    assert (await boss.next("REPORTS")).get("num") == "0"
    await boss.send("ACCOUNTS,,")
    accounts = await boss.next("ACCOUNTS")
    assert (accounts.get("0"), accounts.get("role0")) == ("boss", "admin")
    for client in (ann, bob, boss):
        await client.close()


async def test_search_finds_only_what_the_user_may_read(make_server) -> None:
    server = await make_server()
    ann, _ = await rooms_login(server.port, "ann")
    bob, _ = await rooms_login(server.port, "bob")
    cat, _ = await rooms_login(server.port, "cat")
    await bob.send("CREATE,room=#secret;private=1,")
    await answer(bob, "CREATE")
    await bob.send("CHAT,rec=#secret,the zebra password is hidden")
    await bob.send("CHAT,rec=cat,zebra between bob and cat")
    await ann.send("CHAT,rec=-ALL,a zebra crossing in the lobby")
    await ann.send("CHAT,rec=-ALL,Élan vital and zebras")
    await ann.send("CHAT,rec=bob,zebra for bob")
    await asyncio.sleep(0.3)
    for client in (ann, bob, cat):
        await client.drain(0.2)

    await ann.send("SEARCH,,zebr")
    found = [f for f in await ann.drain(0.4) if f.reason == "CHATR"]
    assert [f.content for f in found] == ["zebra for bob", "Élan vital and zebras", "a zebra crossing in the lobby"]
    assert all(f.get("found") == "1" for f in found)
    await cat.send("SEARCH,,zebra")
    cats = [f.content for f in await cat.drain(0.4) if f.reason == "CHATR"]
    assert sorted(cats) == sorted(["zebra between bob and cat", "a zebra crossing in the lobby",
                                   "Élan vital and zebras"])  # not bob's room, not ann and bob's conversation
    await bob.send("SEARCH,rec=#secret,ZEBRA")
    got = await bob.drain(0.4)
    assert [f.content for f in got if f.reason == "CHATR"] == ["the zebra password is hidden"]
    done = [f for f in got if f.reason == "CONFIRM"][-1]
    assert (done.get("count"), done.get("more"), done.get("rec")) == ("1", "0", "#secret")
    await ann.send("SEARCH,,elan")  # accents do not matter
    assert [f.content for f in await ann.drain(0.4) if f.reason == "CHATR"] == ["Élan vital and zebras"]

    for query in ['"', "*", "NEAR", "zebra OR", "NEAR(zebra crossing)", '"zebra', "zebra*", "-zebra", "^zebra",
                  "zebra AND NOT", "col:zebra"]:
        await ann.send(Frame("SEARCH", {}, query))
        got = await ann.drain(0.3)
        confirm = [f for f in got if f.reason == "CONFIRM"][-1]
        assert confirm.content in ("OK", "Error: Nothing to search for."), (query, confirm)
    await ann.send(Frame("SEARCH", {}, "zebra " * 40))
    assert (await answer(ann, "SEARCH")).content == "Error: A search is at most 200 characters."
    await ann.send("SEARCH,rec=#secret,zebra")
    assert (await answer(ann, "SEARCH")).content == "Error: You are not in #secret."
    await ann.send("PING,,alive")
    assert (await ann.next("PONG")).content == "alive"
    for client in (ann, bob, cat):
        await client.close()


async def test_a_search_result_is_found_in_context_with_history_after(make_server) -> None:
    server = await make_server()
    ann, _ = await rooms_login(server.port, "ann")
    for n in range(30):
        await ann.send(f"CHAT,rec=-ALL,line {n}{' needle' if n == 10 else ''}")
    await asyncio.sleep(0.5)
    await ann.drain(0.2)
    await ann.send("SEARCH,,needle")
    hit = await ann.next("CHATR")
    target = int(hit.get("id", "0"))
    await ann.drain(0.2)
    await ann.send(f"HISTORY,rec=-ALL;after={target};limit=5,")
    got = await ann.drain(0.4)
    assert [f.content for f in got if f.reason == "CHATR"] == [f"line {n}" for n in range(11, 16)]
    assert [f for f in got if f.reason == "CONFIRM"][-1].get("more") == "1"
    await ann.close()


async def test_reserved_nicknames_and_short_passwords_are_refused(make_server, data_dir) -> None:
    add_account(data_dir, "admin", PASSWORD, "admin")  # the host's own account of that name still logs in
    server = await make_server()
    for nickname in ("Root", "MODERATOR", "m0derator", "ADMlN"):
        client = await Client.connect(server.port)
        await client.send(f"CON,nickname={nickname};password=;color=#336699,")
        text = (await client.next("CONVER")).content
        assert text in ("Error: That nickname is reserved", "Error: Username looks like another user's name"), (
            nickname, text)
        await client.close()
    owner, _ = await rooms_login(server.port, "admin", PASSWORD)
    guest, _ = await rooms_login(server.port, "guest")
    await guest.send("UPDATE,nickname=support,")
    assert (await answer(guest, "UPDATE")).content == "Error: That nickname is reserved. "
    await guest.send("UPDATE,password=seven77,")
    assert (await answer(guest, "UPDATE")).content == "Error: Password must be at least 8 characters. "
    await guest.send("UPDATE,password=eight888,")
    assert (await answer(guest, "UPDATE")).content == "OK"
    await owner.close()
    await guest.close()


async def test_a_ban_from_the_command_line_reaches_the_running_server(make_server, data_dir) -> None:
    server = await make_server(restrictions_refresh=0.2)
    victim, _ = await rooms_login(server.port, "victim")
    result = await asyncio.to_thread(subprocess.run, [
        sys.executable, "-m", "parley", "ban", "add", "--user", "victim", "--for", "1h", "--reason", "cli",
        "--data-dir", str(data_dir)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    warn = await victim.next("WARN")
    assert warn.content.startswith("You have been banned until ") and warn.content.endswith(": cli")
    assert await victim.closed_by_server()
    await victim.close()


async def test_a_user_held_in_its_grace_leaves_when_it_ends_though_others_joined_meanwhile(make_server) -> None:
    """Setting the user-list timer used to cancel the grace timer: a dropped user then stayed online for ever."""
    server = await make_server(resume_grace=0.5, user_list_delay=0.01)
    watcher, _ = await rooms_login(server.port, "watcher")
    leaver, _ = await rooms_login(server.port, "leaver", extra=";session=1")
    await leaver.close()  # dropped, with a token: held for its grace
    await asyncio.sleep(0.1)
    joiner, _ = await rooms_login(server.port, "joiner")  # a user-list change during the grace
    got = await watcher.drain(1.5)
    assert "leaver has disconnected" in [f.content for f in got if f.reason == "INFO"], got
    await watcher.close()
    await joiner.close()



async def test_the_server_indexes_stored_messages_when_no_message_waits(make_server, data_dir) -> None:
    server = await make_server()
    ann, _ = await rooms_login(server.port, "ann")
    for n in range(20):
        await ann.send(f"CHAT,rec=-ALL,message {n}")
    for _ in range(20):
        await ann.next("CHATR")

    def indexed() -> int:
        db = sqlite3.connect(database_path(data_dir))
        try:
            return int(db.execute("SELECT indexed_up_to FROM search_state").fetchone()[0])
        finally:
            db.close()

    await eventually(lambda: indexed() >= 20)  # nobody searched: the database thread did it when idle
    await ann.close()


async def test_an_admin_deletes_a_reported_message_of_a_room_it_is_not_in(make_server, data_dir) -> None:
    """Admins delete any message (the issue), reported ones first: membership of its room is not needed."""
    add_account(data_dir, "boss", PASSWORD, "admin")
    server = await make_server()
    ann, _ = await rooms_login(server.port, "ann")
    bob, _ = await rooms_login(server.port, "bob")
    boss, _ = await admin(server.port)
    await ann.send("CREATE,room=#corner,")
    await answer(ann, "CREATE")
    await bob.send("JOIN,room=#corner,")
    await answer(bob, "JOIN")
    await bob.send("CHAT,rec=#corner,buy pills")
    spam = await ann.next("CHATR")
    await ann.send(f"REPORT,id={spam.get('id')},spam")
    assert (await answer(ann, "REPORT")).content == "OK"
    await boss.send(f"DELETE,id={spam.get('id')},")
    assert (await answer(boss, "DELETE")).content == "OK"
    assert (await ann.next("DELETED")).get("id") == spam.get("id")
    for client in (ann, bob, boss):
        await client.close()
