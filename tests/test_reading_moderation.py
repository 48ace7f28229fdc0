"""The shared readers (parley/protocol/reading.py) on the frames a real server sends for issue 14.

The vectors (tests/vectors/client.json) hold both clients to the same
conclusions; these tests hold the vectors' frames to the server's: a ban, a
mute, an edit, a deletion, the admin lists and a search, over real sockets
and a real SQLite file, read by the readers the desktop client uses.
"""

from __future__ import annotations

import time

import pytest
from conftest import add_account
from parley.protocol import Frame, format_frame
from parley.protocol.reading import (WarnKind, edit_frame, highlight, read_accounts, read_answer, read_audit,
                                     read_bans, read_chat, read_deleted, read_edited, read_login, read_muted,
                                     read_reports, read_warn, search_frame, search_words)
from test_moderation import PASSWORD, admin
from test_rooms import rooms_login
from wire import Client


async def answer(client: Client, reason: str) -> Frame:
    """The next CONFIRM for ``reason``, any other frame before it skipped."""
    while (frame := await client.next("CONFIRM")).get("reason") != reason:
        pass
    return frame


async def test_a_ban_reads_as_final_and_its_login_refusal_as_never_retried(make_server, data_dir) -> None:
    add_account(data_dir, "boss", PASSWORD, "admin")
    server = await make_server()
    boss, _ = await admin(server.port)
    spammer, _ = await rooms_login(server.port, "spammer")
    await boss.send("BAN,user=spammer;duration=3600,buying: followers")
    made = read_answer(await answer(boss, "BAN"))
    assert made.ok and made.ban

    warn = read_warn(await spammer.next("WARN"))
    assert (warn.kind, warn.may_reconnect, warn.reason) == (WarnKind.BANNED, False, "buying: followers")
    assert 3599_000 <= warn.until_ms - time.time() * 1000 <= 3601_000
    again = await Client.connect(server.port)
    await again.send("CON,nickname=spammer;password=;color=#336699;rooms=1,")
    login = read_login(await again.next("CONVER"), reconnecting=True)
    assert (login.banned, login.retry, login.until_ms, login.reason) == (True, False, warn.until_ms, "buying: followers")

    await boss.send("BANS,,")
    (entry,) = read_bans(await boss.next("BANS")).entries
    assert (entry.id, entry.kind, entry.target, entry.until_ms, entry.by) == (made.ban, "user", "spammer",
                                                                               warn.until_ms, "boss")
    await boss.send("AUDIT,,")
    audit = read_audit(await boss.next("AUDIT"))
    assert [(row.actor, row.action, row.target) for row in audit.entries] == [("boss", "ban", "spammer")]
    assert not audit.more
    await boss.send("ACCOUNTS,,")
    assert [(a.name, a.role) for a in read_accounts(await boss.next("ACCOUNTS"))] == [("boss", "admin")]
    for client in (boss, spammer, again):
        await client.close()


async def test_a_mute_an_edit_a_report_and_a_search_read_as_the_clients_show_them(make_server, data_dir) -> None:
    add_account(data_dir, "boss", PASSWORD, "admin")
    server = await make_server()
    boss, _ = await admin(server.port)
    ann, _ = await rooms_login(server.port, "ann")
    bob, _ = await rooms_login(server.port, "bob")
    await ann.send("CHAT,rec=-ALL,Straße café")
    sent = read_chat(await ann.next("CHATR"), "ann")
    assert sent.id and not sent.edited_ms

    await bob.send(f"REPORT,id={sent.id},rude")
    assert read_answer(await answer(bob, "REPORT")).id == sent.id
    reports = read_reports(await boss.next("REPORTS"))
    assert reports.new and [(r.by, r.msg, r.sender, r.text) for r in reports.entries] == [
        ("bob", sent.id, "ann", "Straße café")]
    await ann.send(format_frame(edit_frame(sent.id, "Strasse\ncafé au lait")))
    assert read_answer(await answer(ann, "EDIT")).id == sent.id
    edit = read_edited(await bob.next("EDITED"))
    assert (edit.id, edit.rec, edit.sender, edit.text) == (sent.id, "-ALL", "ann", "Strasse\ncafé au lait")

    await bob.send(format_frame(search_frame('"CAFE" strass*')))
    found = read_chat(await bob.next("CHATR"), "bob")
    assert (found.id, found.found, found.edited_ms, found.text) == (sent.id, True, edit.edited_ms, edit.text)
    done = read_answer(await answer(bob, "SEARCH"))
    assert (done.ok, done.count, done.more) == (True, 1, False)
    assert highlight(found.text, search_words('"CAFE" strass*')) == [(0, 6), (8, 12)]  # Strass, café

    await boss.send("MUTE,room=-ALL;user=ann;duration=600,shouting")
    assert read_answer(await answer(boss, "MUTE")).ban
    await ann.send("CHAT,rec=-ALL,still here")
    mute = read_muted(await ann.next("ERR"))
    assert mute is not None and (mute.room, mute.reason) == ("-ALL", "shouting")
    assert 599_000 <= mute.until_ms - time.time() * 1000 <= 601_000
    await ann.send(format_frame(edit_frame(sent.id, "sorry")))
    assert read_muted(await answer(ann, "EDIT")) == mute

    await ann.send(f"DELETE,id={sent.id},")
    assert read_answer(await answer(ann, "DELETE")).id == sent.id
    gone = read_deleted(await bob.next("DELETED"))
    assert (gone.id, gone.rec) == (sent.id, "-ALL")
    for client in (boss, ann, bob):
        await client.close()


async def test_a_report_of_a_message_of_several_lines_reaches_the_admins(make_server, data_dir) -> None:
    add_account(data_dir, "boss", PASSWORD, "admin")
    server = await make_server()
    boss, _ = await admin(server.port)
    ann, _ = await rooms_login(server.port, "ann")
    bob, _ = await rooms_login(server.port, "bob")
    await ann.send("CHAT,rec=-ALL;lines=3,buy cheap watches")
    sent = read_chat(await bob.next("CHATR"), "bob")
    assert sent.text == "buy\ncheap watches"
    await bob.send(f"REPORT,id={sent.id},spam")
    assert read_answer(await answer(bob, "REPORT")).ok
    reports = read_reports(await boss.next("REPORTS"))
    assert [(r.msg, r.text) for r in reports.entries] == [(sent.id, "buy cheap watches")]
    await bob.send("CHAT,rec=-ALL,still here")
    assert read_chat(await boss.next("CHATR"), "boss").text == "still here"
    for client in (boss, ann, bob):
        await client.close()
