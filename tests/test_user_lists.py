"""User lists: whole lists for the clients that need them, changes for those that ask (issue 12, item 6).

A client that logs in with ``CON ... lists=changes`` gets one whole list at
login (numbered ``v``) and then USERCHANGES; every other client, the
original program's included, gets whole USER lists exactly as before. No
list frame passes ``MAX_SERVER_FRAME``, whatever the room's size.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from chatworld import ChatWorld
from conftest import add_account
from wire import Client, users

from parley.protocol import Frame, parse_frame
from parley.protocol.framing import encode_frame
from parley.protocol.messages import MAX_SERVER_FRAME
from parley.protocol.reading import UserListState, follow_users, read_users
from server.core.presence import Claimed, OnlineUser


async def login_for_changes(client: Client, nickname: str, password: str = "") -> Frame:
    """Log in asking for changes; return the whole list that follows the join INFO."""
    await client.send(Frame("CON", {"nickname": nickname, "password": password, "color": "#123456",
                                    "lists": "changes"}))
    assert (await client.expect("CONVER")).content == "OK"
    assert (await client.expect("INFO")).content == f"{nickname} has joined the chat!"
    listing = await client.expect("USER")
    client.nickname = nickname
    return listing


async def follow(client: Client, state: UserListState, want: list[str]) -> UserListState:
    """Read ``client``'s frames, following its list, until it is ``want``; no whole list may come."""
    while list(state.online) != want:
        frame = await client.recv()
        assert frame.reason != "USER", f"a whole list came instead of changes: {frame}"
        if frame.reason == "USERCHANGES":
            state = follow_users(state, frame)
            assert not state.resync, frame
    return state


def original_recv(sock: socket.socket) -> str:
    """One recv(4096) as the original client did: exactly one unterminated frame."""
    text = sock.recv(4096).decode("utf-8")
    assert "\n" not in text, text
    return text


async def test_a_client_asking_for_changes_gets_one_list_then_only_changes(make_server, data_dir: Path) -> None:
    add_account(data_dir, "Boss", "secret1", "admin")
    server = await make_server()
    ann, bob, cat, boss = [await Client.connect(server.port) for _ in range(4)]
    try:
        first = await login_for_changes(ann, "ann")
        assert users(first) == ["ann"] and first.params["v"] == "1"
        state = follow_users(UserListState(), first)
        await bob.login("bob")  # a client that did not ask: whole lists, as ever
        state = await follow(ann, state, ["ann", "bob"])
        await cat.login("cat")
        state = await follow(ann, state, ["ann", "bob", "cat"])
        await bob.drain()
        await bob.send("UPDATE,nickname=Bobby,")
        assert (await bob.expect("CONFIRM")).content == "OK"
        await bob.expect("INFO")
        listing = await bob.expect("USER")
        assert users(listing) == ["ann", "Bobby", "cat"] and "v" not in listing.params
        state = await follow(ann, state, ["ann", "Bobby", "cat"])
        await boss.login("Boss", password="secret1")
        state = await follow(ann, state, ["ann", "Bobby", "cat", "Boss"])
        await boss.drain()
        await boss.send("KICK,user=cat,bye")
        state = await follow(ann, state, ["ann", "Bobby", "Boss"])
        await bob.send("DISCON,,")
        state = await follow(ann, state, ["ann", "Boss"])
        assert state.admins == ("Boss",)
        await ann.send("UPDATE,nickname=Anna,")  # renamed, it still gets changes, not whole lists
        state = await follow(ann, state, ["Anna", "Boss"])
        await boss.send("DISCON,,")
        state = await follow(ann, state, ["Anna"])
        await ann.send("USER,,")  # on request: a whole list, numbered so that changes go on from it
        asked = await ann.expect("USER")
        assert users(asked) == ["Anna"] and int(asked.params["v"]) == state.serial
        assert [f.reason for f in await ann.drain()] == []
    finally:
        for client in (ann, bob, cat, boss):
            await client.close()


async def test_a_client_of_the_original_program_still_gets_whole_lists(server) -> None:
    watcher = await Client.connect(server.port)
    await login_for_changes(watcher, "watcher")

    def run() -> list[str]:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.send(b"CON,nickname=oldie;password=;color=#FFF,")
        got = [original_recv(sock) for _ in range(3)]  # CONVER, INFO, USER
        newcomer = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        newcomer.sendall(b"CON,nickname=newbie;password=;color=#FFF,\n")
        got += [original_recv(sock) for _ in range(2)]  # INFO, USER
        newcomer.sendall(b"DISCON,,\n")
        got += [original_recv(sock) for _ in range(2)]
        newcomer.close()
        sock.close()
        return got

    frames = [parse_frame(text) for text in await asyncio.to_thread(run)]
    assert [f.reason for f in frames] == ["CONVER", "INFO", "USER", "INFO", "USER", "INFO", "USER"]
    lists = [f for f in frames if f.reason == "USER"]
    assert [users(f) for f in lists] == [["watcher", "oldie"], ["watcher", "oldie", "newbie"], ["watcher", "oldie"]]
    assert all(set(f.params) == {"time", "num", "admin", *map(str, range(len(users(f))))} for f in lists)
    await watcher.close()


def test_no_list_frame_passes_the_client_limit_in_a_huge_room(tmp_path: Path) -> None:
    """20,000 names of 16 four-byte characters: a whole list of 1.5 MB goes in parts under 1 MiB."""
    world = ChatWorld(tmp_path)
    try:
        plain = world.login("plain")
        world.send(changes := world.connect(), "CON,nickname=changes;password=;color=#123;lists=changes,")
        assert changes.take("CONVER")[0].content == "OK"
        for i in range(20_000):
            name = "\U0001F600" * 11 + f"{i:05d}"
            assert world.directory.claim(OnlineUser(name, f"g:{i}", False), object()) is Claimed.NEW  # type: ignore[arg-type]
        for peer in (plain, changes):
            peer.take()
            world.send(peer, "USER,,")
        plain_frames, parts = plain.take("USER"), changes.take("USER")
        assert len(plain_frames) == 1 and len(encode_frame(plain_frames[0])) <= MAX_SERVER_FRAME
        assert len(parts) > 1 and all(len(encode_frame(f)) <= MAX_SERVER_FRAME for f in parts)
        assert [f.params.get("more") for f in parts] == ["1"] * (len(parts) - 1) + [None]
        state = UserListState()
        for part in parts:
            state = follow_users(state, part)
        assert len(state.online) == 20_002 and state.online[:2] == ("plain", "changes")
        assert list(read_users(plain_frames[0]).online) == list(state.online[:len(read_users(plain_frames[0]).online)])
    finally:
        world.close()


def test_many_changes_in_one_window_are_split_under_the_limit_and_apply_in_order() -> None:
    from parley.protocol.messages import Stamp, UserChange, user_changes, user_list

    now = Stamp.at(1_700_000_000)
    names = [f"user{i:04d}" for i in range(2000)]
    changes = [UserChange(None, name) for name in names] + [UserChange(name, name.upper()) for name in names[:500]]
    changes += [UserChange(name, None) for name in names[1000:]]
    limit = 8192
    frames = user_changes(now, 5, changes, 1000, ["boss"], limit=limit)
    assert len(frames) > 1 and all(len(encode_frame(f)) <= limit for f in frames[:-1])
    assert sum(int(f.params["changes"]) for f in frames) == len(changes)
    state = follow_users(UserListState(), user_list(now, [], ["boss"], 5)[0])
    for f in frames:
        state = follow_users(state, f)
        assert not state.resync, f.params["v"]
    assert list(state.online) == [name.upper() for name in names[:500]] + names[500:1000]
    assert state.admins == ("boss",) and state.serial == 5 + len(changes) and not state.resync
