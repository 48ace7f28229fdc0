"""Nicknames with , ; = / for every kind of TCP client: the original's (unframed), framed, the desktop's.

The seed document's own examples are the nicknames ``foo,bar`` (sent as
``nickname=foo/,bar``) and ``foo/bar`` (``nickname=foo//bar``). They are
escaped wherever they sit in parameters (USER lists included) and raw in
content; invisible characters stay refused.
"""

from __future__ import annotations

import asyncio
import io
import queue
import socket
import time
import unicodedata
from typing import Any, Callable

from conftest import add_account
from desktop.client import ChatMessage, LoggedIn, LoginDetails, ServerWarning, UsersChanged
from desktop.connection import Backoff, Closed, Connection
from parley import cli
from parley.protocol import Frame, format_frame, parse_frame, texts
from server.core.presence import Claimed, Directory, OnlineUser
from server.store import LOOKALIKE_QUERY, Store, database_path
from parley.protocol.reading import read_users
from wire import TIMEOUT, Client, users

T_CON = "CON,nickname={};password={};color=#00FF00,"


class LegacyClient:
    """A client of the original program: no terminator, one send per frame, one recv(2048) per frame."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)

    def send(self, text: str) -> None:
        self.sock.send(text.encode("utf-8"))

    def recv(self) -> Frame:
        """One recv(2048), which must hold exactly one whole frame, as the original client needs."""
        text = self.sock.recv(2048).decode("utf-8")
        assert text and "\n" not in text, repr(text)
        return parse_frame(text)

    def recv_raw(self) -> str:
        return self.sock.recv(2048).decode("utf-8")

    def close(self) -> None:
        self.sock.close()


async def legacy(port: int) -> LegacyClient:
    return await asyncio.to_thread(LegacyClient, port)


async def recv(client: LegacyClient, count: int = 1) -> list[Frame]:
    return [await asyncio.to_thread(client.recv) for _ in range(count)]


async def test_the_seed_documents_nicknames_chat_with_the_original_client_and_a_framed_one(make_server, data_dir) -> None:
    add_account(data_dir, "boss", "boss-secret", "admin")
    server = await make_server()
    boss = await Client.connect(server.port)
    await boss.login("boss", password="boss-secret")
    old = await legacy(server.port)
    framed = await Client.connect(server.port)
    try:
        old.send(T_CON.format("foo/,bar", ""))  # the seed's foo,bar
        conver, join, user_list = await recv(old, 3)
        assert conver.content == "OK"
        assert (join.params["sender"], join.content) == ("foo,bar", "foo,bar has joined the chat!")
        assert users(user_list) == ["boss", "foo,bar"]

        await framed.send(T_CON.format("foo//bar", ""))  # the seed's foo/bar
        assert (await framed.expect("CONVER")).content == "OK"
        join, user_list = await recv(old, 2)
        assert join.content == "foo/bar has joined the chat!"
        # The original client's parser reads /-escapes: the list holds every name whole.
        raw = format_frame(user_list)
        assert ";1=foo/,bar;2=foo//bar" in raw, raw
        assert read_users(user_list).online == ("boss", "foo,bar", "foo/bar")
        await framed.drain()

        # Private messages both ways; the recipient is matched without regard to case.
        await framed.send("CHAT,rec=FOO/,BAR,hello, foo,bar/")
        (chatr,) = await recv(old)
        assert chatr.params["sender"] == "foo/bar" and chatr.params["rec"] == "foo,bar"
        assert chatr.content == "hello, foo,bar/"
        assert (await framed.expect("CHATR")).content == "hello, foo,bar/"
        old.send("CHAT,rec=foo//bar,hi; foo/bar")
        (mine,) = await recv(old)
        got = await framed.expect("CHATR")
        assert (got.params["sender"], got.params["rec"], got.content) == ("foo,bar", "foo/bar", "hi; foo/bar")
        assert mine == got

        # A rename to another name of specials, announced with its content raw.
        old.send("UPDATE,nickname=a/;b/=c,")
        confirm, info, user_list = await recv(old, 3)
        assert confirm.content == "OK"
        assert (info.params["sender"], info.content) == ("a;b=c", "foo,bar's name changed to a;b=c ")
        assert users(user_list) == ["boss", "a;b=c", "foo/bar"]

        await boss.drain()
        await boss.send("KICK,user=A/;B/=C,bye, now")
        (warn,) = await recv(old)
        assert warn.content == "You have been kicked for reason: bye, now"
        assert await asyncio.to_thread(old.recv_raw) == ""  # and closed
        info = await boss.next("INFO")
        assert info.content == "a;b=c has been kicked by boss: bye, now"
        assert users(await boss.next("USER")) == ["boss", "foo/bar"]
    finally:
        old.close()
        await framed.close()
        await boss.close()


async def test_a_nickname_of_specials_registers_and_logs_in_under_its_own_spelling(connect) -> None:
    guest = await connect()
    await guest.login("x=y/z;1")
    await guest.send("UPDATE,password=secret12,")
    assert (await guest.next("CONFIRM")).content == "OK"
    await guest.send("DISCON,,")
    assert await guest.closed_by_server()
    again = await connect()
    await again.send(T_CON.format("X/=Y//Z/;1", "wrong"))
    assert (await again.expect("CONVER")).content == "Error: User is a registered user"
    await again.send(T_CON.format("X/=Y//Z/;1", "secret12"))
    conver = await again.expect("CONVER")
    assert (conver.content, conver.params["role"]) == ("OK", "member")
    info = await again.expect("INFO")
    assert (info.params["sender"], info.content) == ("x=y/z;1", "x=y/z;1 has joined the chat!")


async def test_invisible_and_unassigned_characters_are_still_refused(connect) -> None:
    client = await connect()
    for nickname in ("ab\u200bc", "ab\u202ec", "ab\u00a0c", "ab\ue000c", "ab\u0378c", "ab\u2028c", "ab,;=/ "):
        await client.send(Frame("CON", {"nickname": nickname, "password": "", "color": "#FFF"}))
        assert (await client.expect("CONVER")).content == "Error: Username contains a character that is not allowed"
    await client.login("ab,;=/ c")


# ---- the desktop client's network thread and session against the real server ---------------


class DesktopEvents:
    """The queue a desktop Connection fills, read off the event loop."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[Connection, object]] = queue.Queue()
        self.seen: list[object] = []

    def _wait(self, wanted: Callable[[object], bool]) -> Any:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                _, event = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"not seen; saw {self.seen}") from None
            self.seen.append(event)
            if wanted(event):
                return event

    async def wait_for(self, wanted: Callable[[object], bool]) -> Any:
        return await asyncio.to_thread(self._wait, wanted)


def desktop(port: int, nickname: str) -> tuple[Connection, DesktopEvents]:
    events = DesktopEvents()
    details = LoginDetails(host="127.0.0.1", port=port, nickname=nickname, color="#3366CC")
    connection = Connection(events.queue, details, Backoff(base=0.05, cap=0.1), discon_grace=0.3)
    connection.start()
    return connection, events


async def test_the_desktop_client_chats_privately_as_foo_semicolon_bar_and_stays_out_when_kicked(
        make_server, data_dir) -> None:
    add_account(data_dir, "boss", "boss-secret", "admin")
    server = await make_server()
    boss = await Client.connect(server.port)
    await boss.login("boss", password="boss-secret")
    connection, events = desktop(server.port, "foo;bar")
    try:
        assert (await events.wait_for(lambda e: isinstance(e, LoggedIn))).nickname == "foo;bar"
        listed = await events.wait_for(lambda e: isinstance(e, UsersChanged))
        assert listed.users == ("boss", "foo;bar")
        await boss.drain()
        await boss.send("CHAT,rec=FOO/;BAR,for you, foo;bar")
        message = await events.wait_for(lambda e: isinstance(e, ChatMessage))
        assert (message.sender, message.rec, message.text) == ("boss", "foo;bar", "for you, foo;bar")
        assert message.private and message.to_me and not message.mine
        assert (await boss.next("CHATR")).content == "for you, foo;bar"  # the sender's own copy
        connection.send_chat("boss", "back to you; boss=/")
        got = await boss.next("CHATR")
        assert (got.params["sender"], got.params["rec"], got.content) == ("foo;bar", "boss", "back to you; boss=/")
        mine = await events.wait_for(lambda e: isinstance(e, ChatMessage))
        assert mine.mine and not mine.to_me

        await boss.send("KICK,user=foo/;bar,enough")
        warning = await events.wait_for(lambda e: isinstance(e, ServerWarning))
        assert warning == ServerWarning("You have been kicked for reason: enough", final=True)
        closed = await events.wait_for(lambda e: isinstance(e, Closed))
        assert closed == Closed("You have been kicked for reason: enough", by_user=False)
        await asyncio.sleep(0.5)  # many backoff delays: a kicked desktop must not come back
        await boss.send("USER,,")
        assert users(await boss.next("USER")) == ["boss"]
        assert not connection.alive
    finally:
        connection.close()
        await boss.close()


async def test_the_desktop_client_stays_out_after_a_flood_disconnect(make_server) -> None:
    server = await make_server(chat_rate=1.0, chat_burst=2, flood_strikes=2)
    watcher = await Client.connect(server.port)
    await watcher.login("watcher")
    connection, events = desktop(server.port, "a=b")
    try:
        await events.wait_for(lambda e: isinstance(e, LoggedIn))
        for n in range(8):
            connection.send_chat("-ALL", f"spam {n}")
        warning = await events.wait_for(lambda e: isinstance(e, ServerWarning))
        assert warning == ServerWarning("You have been disconnected for flooding the chat.", final=True)
        closed = await events.wait_for(lambda e: isinstance(e, Closed))
        assert closed.text == "You have been disconnected for flooding the chat." and not closed.by_user
        await asyncio.sleep(0.5)  # many backoff delays: the flooder must not come back
        await watcher.send("USER,,")
        assert users(await watcher.next("USER")) == ["watcher"]
        joins = [f for f in await watcher.drain() if f.reason == "INFO" and "joined" in f.content]
        assert joins == []
    finally:
        connection.close()
        await watcher.close()


# ---- every rule on the NFKC form, and no imitation (UTS #39) ---------------------------------

FDFA = "\ufdfa"  # ARABIC LIGATURE SALLALLAHOU ALAYHE WASALLAM: one letter, 18 after NFKC


async def con_error(client: Client, nickname: str) -> str:
    """CON as ``nickname`` and return the CONVER text (which must be a refusal)."""
    await client.send(Frame("CON", {"nickname": nickname, "password": "", "color": "#FFF"}))
    text = (await client.next("CONVER")).content
    assert text != "OK", nickname
    return text


async def rename(client: Client, nickname: str) -> str:
    """UPDATE the nickname and return the CONFIRM text."""
    await client.send(Frame("UPDATE", {"nickname": nickname}))
    return (await client.next("CONFIRM")).content


async def test_a_name_that_expands_past_16_characters_under_nfkc_is_refused_at_con_and_rename(connect) -> None:
    """16 x U+FDFA logged in, then renamed to its 288-character NFKC form ("same name")."""
    client = await connect()
    assert await con_error(client, FDFA * 16) == texts.BAD_LENGTH
    assert await con_error(client, "a" + FDFA) == texts.BAD_LENGTH
    await client.login("ab")
    expanded = unicodedata.normalize("NFKC", FDFA * 16)
    for nickname in (FDFA * 16, expanded):
        assert await rename(client, nickname) == texts.UPDATE_NAME_ERROR.format(error=texts.BAD_LENGTH)
    await client.send("USER,,")
    assert users(await client.expect("USER")) == ["ab"]


async def test_a_leading_space_ideographic_space_or_nbsp_cannot_come_in_by_a_same_key_rename(connect) -> None:
    """A rename whose folded form equals the current name used to skip every rule."""
    client = await connect()
    # U+FE70 is a letter whose NFKC form starts with a space: " " + U+064B.
    assert await con_error(client, "\ufe70ab") == texts.MUST_START_WITH_LETTER
    await client.login("a b")
    for nickname in ("a\u3000b", "a\u00a0b", "a\u2002b"):
        assert await rename(client, nickname) == texts.UPDATE_NAME_ERROR.format(error=texts.BAD_CHARACTER)
    assert await rename(client, "A B") == "OK"  # another case is still the same name, and fine
    await client.send("USER,,")
    assert users(await client.next("USER")) == ["A B"]


async def test_invisible_fillers_and_every_default_ignorable_are_refused(connect) -> None:
    client = await connect()
    # Hangul fillers are letters (Lo) yet show nothing; U+034F and U+FE0F are marks that show nothing.
    for nickname in ("\u3164\u3164", "ab\u3164", "\u3164ab", "a\uffa0b", "\u115fab", "ab\u034fc", "ab\ufe0f"):
        assert await con_error(client, nickname) == texts.BAD_CHARACTER, ascii(nickname)
    await client.login("ab")
    assert await rename(client, "ab\u3164") == texts.UPDATE_NAME_ERROR.format(error=texts.BAD_CHARACTER)


async def test_a_name_of_combining_marks_alone_is_refused(connect) -> None:
    """U+FF9E is a letter (Lm) whose NFKC form is the combining mark U+3099."""
    client = await connect()
    for nickname in ("\uff9e\uff9e", "\uff9f\uff9e\uff9f", "\u0301\u0301"):
        assert await con_error(client, nickname) == texts.MUST_START_WITH_LETTER, ascii(nickname)


async def test_look_alikes_of_a_registered_name_are_refused_by_script_and_skeleton(make_server, data_dir) -> None:
    add_account(data_dir, "Admin", "admin-secret", "admin")
    add_account(data_dir, "Coco", "coco-secret")
    add_account(data_dir, "Alice", "alice-secret")
    server = await make_server(reserved_nicknames=[])  # "admin" is reserved by default: here it is a name
    client = await Client.connect(server.port)
    try:
        assert await con_error(client, "\u0410dmin") == texts.MIXED_SCRIPTS  # Cyrillic А, Latin dmin
        # All-Cyrillic Сосо; capital I for l; r n for m, in any case and width; l for I in capitals.
        for nickname in ("\u0421\u043e\u0441\u043e", "AIice", "Adrnin", "ADRNIN", "ａｄｒｎｉｎ", "ADMlN"):
            assert await con_error(client, nickname) == texts.LOOKS_LIKE, nickname
        await client.login("Bob")
        assert await rename(client, "Adrnin") == texts.UPDATE_NAME_ERROR.format(error=texts.LOOKS_LIKE)
        # The owner takes its own name in another look, and another user may not.
        owner = await Client.connect(server.port)
        await owner.login("Coco", password="coco-secret")
        assert await rename(owner, "\u0421\u043e\u0441\u043e") == "OK"  # its own account's look-alike
        await owner.close()
    finally:
        await client.close()


async def test_look_alikes_of_an_online_guest_are_refused_but_its_own_name_is_not(make_server) -> None:
    server = await make_server(reserved_nicknames=[])  # "admin" is reserved by default: here it is a name
    admin = await Client.connect(server.port)
    await admin.login("Admin")
    other = await Client.connect(server.port)
    assert await con_error(other, "\u0410dmin") == texts.MIXED_SCRIPTS
    assert await con_error(other, "Adrnin") == texts.LOOKS_LIKE
    await other.login("Bob")
    assert await rename(other, "ADRNIN") == texts.UPDATE_NAME_ERROR.format(error=texts.LOOKS_LIKE)
    assert await rename(admin, "ADMIN") == "OK"  # its own name
    assert await rename(admin, "Adrnin") == "OK"  # imitating only itself
    for client in (admin, other):
        await client.close()


async def test_a_guest_cannot_register_a_name_that_imitates_an_account_made_since(make_server, data_dir) -> None:
    server = await make_server()
    guest = await Client.connect(server.port)
    try:
        await guest.login("\u0421\u043e\u0441\u043e")  # Cyrillic Сосо: nobody had "Coco" yet
        add_account(data_dir, "Coco", "coco-secret")  # `parley user add` while the server runs
        await guest.send("UPDATE,password=secret12,")
        assert (await guest.expect("CONFIRM")).content == texts.UPDATE_NAME_ERROR.format(error=texts.LOOKS_LIKE)
    finally:
        await guest.close()


async def test_names_in_one_script_or_japanese_mixed_with_latin_are_still_accepted(connect) -> None:
    names = ["Дмитрий", "山田太郎", "やまだ", "ヤマダ", "田中Taro", "Ωmega", "김민준", "Zoë", "foo,bar"]
    names[5] = "Ωμέγα"  # Greek alone (Ω with Latin "mega" mixes scripts)
    for nickname in names:
        client = await connect()
        await client.login(nickname)
    await client.send("UPDATE,password=secret12,")
    assert (await client.expect("CONFIRM")).content == "OK"


async def test_an_account_whose_name_breaks_a_newer_rule_still_logs_in(make_server, data_dir) -> None:
    """Never lock an owner out: the old name is kept, only not newly taken or renamed to."""
    old_name = FDFA * 2
    add_account(data_dir, old_name, "old-secret")  # written straight to the database, as before the rule
    server = await make_server()
    owner = await Client.connect(server.port)
    try:
        await owner.login(old_name, password="old-secret")
        await owner.send(Frame("UPDATE", {"nickname": old_name, "color": "#123456"}))
        assert (await owner.next("CONFIRM")).content == "OK"
        assert await rename(owner, "Keeper") == "OK"
        assert await rename(owner, old_name) == texts.UPDATE_NAME_ERROR.format(error=texts.BAD_LENGTH)
    finally:
        await owner.close()


def test_parley_user_add_applies_the_same_rules(data_dir, monkeypatch, capsys) -> None:
    add_account(data_dir, "Admin", "admin-secret", "admin")
    for name, status, why in [(FDFA * 16, 2, "between lengths 2 and 16"), ("\u0410dmin", 2, "mixes letters"),
                              ("Adrnin", 1, "looks like the account Admin"), ("Ann", 0, "")]:
        monkeypatch.setattr("sys.stdin", io.StringIO("long-enough-password\n"))
        assert cli.main(["user", "add", "--data-dir", str(data_dir), name]) == status, name
        assert why in capsys.readouterr().err


def test_a_version_1_database_gets_look_alike_keys_and_finds_them_by_index(data_dir) -> None:
    from test_upgrade import old_database

    old_database(data_dir, 1)  # accounts Zoë and bob, written before look-alike keys
    store = Store(database_path(data_dir))
    try:
        assert store.find_lookalike("b\u043eb") == "bob"  # Cyrillic о
        assert store.find_lookalike("\u0412ob") == "bob"  # Cyrillic В: bob shown as Bob
        assert store.find_lookalike("All") is None and store.find_lookalike("bib") is None
        assert store.find_lookalike("Z\u043e\u0435\u0308") == "Zoë"  # Cyrillic о, е and a combining diaeresis
        assert store.find_lookalike("ZOË") is None  # the same name is rule 2's, not a look-alike
        bob = store.get_account("bob")
        assert bob is not None and store.find_lookalike("b\u043eb", except_id=bob.id) is None
        plan = " ".join(row[-1] for row in store._db.execute(
            "EXPLAIN QUERY PLAN " + LOOKALIKE_QUERY, {"k0": "a", "k1": "A", "k2": "a", "name_key": "a", "except_id": None}))
        for column in ("typed", "upper", "folded"):
            assert f"accounts_by_lookalike_{column}" in plan, plan
        assert "SCAN accounts" not in plan, plan
    finally:
        store.close()


def test_the_online_look_alike_index_follows_claims_renames_and_releases() -> None:
    directory: Directory[object] = Directory()
    coco, other = object(), object()
    assert directory.claim(OnlineUser("Coco", "g:1", False), coco) is Claimed.NEW
    assert [u.nickname for u in directory.lookalikes("\u0421\u043e\u0441\u043e")] == ["Coco"]
    assert directory.rename(coco, OnlineUser("COCO", "g:1", False))  # same name key, new look
    assert [u.nickname for u in directory.lookalikes("C\u041e\u0421O")] == ["COCO"]  # Cyrillic О, С
    assert directory.rename(coco, OnlineUser("Bob", "g:1", False))
    assert directory.lookalikes("\u0421\u043e\u0441\u043e") == []
    assert [u.nickname for u in directory.lookalikes("\u0412ob")] == ["Bob"]  # Cyrillic В
    assert directory.claim(OnlineUser("Ann", "g:2", False), other) is Claimed.NEW
    assert directory.release(coco) == 0
    assert directory.lookalikes("\u0412ob") == [] and len(directory.lookalikes("\u0410nn")) == 1
