"""Moderation rules in memory: the chat core fed events with a moved clock (tests/chatworld.py), a real
SQLite store behind it, no loop and no socket."""

from __future__ import annotations

from pathlib import Path

from chatworld import ChatWorld, Peer

from server.core import events as e
from server.passwords import hash_password


def rooms_login(world: ChatWorld, nickname: str, password: str = "", host: str = "127.0.0.1") -> Peer:
    peer = world.connect(host)
    world.send(peer, f"CON,nickname={nickname};password={password};color=#123456;rooms=1,")
    conver = peer.take("CONVER")
    assert conver and conver[0].content == "OK", conver
    peer.take()
    return peer


def test_a_mute_ends_when_its_time_is_up(tmp_path: Path) -> None:
    world = ChatWorld(tmp_path)
    world.store.add_account("boss", "admin", hash_password("password1"))
    boss = rooms_login(world, "boss", "password1")
    bob = rooms_login(world, "bob")
    world.send(boss, "MUTE,room=-ALL;user=bob;duration=60,calm")
    assert boss.contents("CONFIRM") == ["OK"]
    world.send(bob, "CHAT,rec=-ALL,hello")
    refused = bob.take("ERR")
    assert refused[0].content.startswith("Error: You are muted until ") and refused[0].content.endswith(": calm")
    world.advance(61)
    world.send(bob, "CHAT,rec=-ALL,hello again")
    assert "hello again" in bob.contents("CHATR")
    world.close()


def test_a_ban_written_elsewhere_takes_effect_at_the_next_load_and_spares_admins(tmp_path: Path) -> None:
    world = ChatWorld(tmp_path)
    world.store.add_account("boss", "admin", hash_password("password1"))
    boss = rooms_login(world, "boss", "password1", host="203.0.113.5")
    eve = rooms_login(world, "eve", host="203.0.113.9")
    ann = rooms_login(world, "ann", host="198.51.100.1")
    world.store.add_restriction("address", "203.0.113.0/24", "203.0.113.0/24", None, None, "from the shell",
                                "(command line)", 1, 0)  # as `parley ban add` writes it
    world.run(e.RestrictionsLoaded(tuple(world.store.active_restrictions(2))))
    assert eve.contents("WARN") == ["You have been banned for good: from the shell"] and eve.closed
    assert not boss.closed and boss.take("WARN") == []
    assert "eve has been banned by (command line) for good: from the shell" in ann.contents("INFO")
    world.run(e.RestrictionsLoaded(tuple(world.store.active_restrictions(3))))  # the same load again
    assert ann.take("INFO") == []  # a ban is applied once
    again = world.connect("203.0.113.77")
    world.send(again, "CON,nickname=other;password=;color=#123456,")
    assert again.contents("CONVER") == ["Error: You are banned for good: from the shell"]
    world.close()


def test_an_edit_of_the_lobby_reaches_sessions_that_know_rooms_only(tmp_path: Path) -> None:
    world = ChatWorld(tmp_path)
    ann = rooms_login(world, "ann")
    old = world.login("oldie")  # no rooms=1: a client of the original
    old.take()
    world.send(ann, "CHAT,rec=-ALL,helo")
    (sent,) = [f for f in ann.take("CHATR")]
    old.take()
    world.send(ann, f"EDIT,id={sent.params['id']},hello")
    assert ann.contents("EDITED") == ["hello"]
    assert old.take() == []
    world.close()
