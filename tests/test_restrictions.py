"""The rules of bans and mutes, in memory (server/core/restrictions.py): durations, networks, who a ban covers."""

from __future__ import annotations

from server.core.moderation import search_words
from server.core.restrictions import (
    Restrictions,
    address_network,
    duration_of,
    network_of,
    until_text,
    with_reason,
)
from server.records import Restriction

NOW = 1_800_000_000_000


def restriction(id: int, kind: str, target: str, key: str, ident: str | None = None, room_id: int | None = None,
                until_ms: int = 0) -> Restriction:
    return Restriction(id, kind, target, key, ident, room_id, "", "why", "boss", NOW - 1000, until_ms)


def test_durations_are_whole_seconds_up_to_ten_years_and_nothing_else() -> None:
    assert duration_of(None) == 0 and duration_of("") == 0 and duration_of("0") == 0
    assert duration_of("600") == 600 and duration_of("315360000") == 315360000
    for bad in ("-5", "1.5", "soon", "315360001", "１２", "99999999999", " 5"):
        assert duration_of(bad) is None, bad


def test_until_texts() -> None:
    assert until_text(0) == "for good"
    assert until_text(1_764_064_800_000) == "until 2025-11-25 10:00 UTC"
    assert with_reason("x", "") == "x" and with_reason("x", "why") == "x: why"


def test_networks_of_address_bans() -> None:
    assert str(network_of("203.0.113.9")) == "203.0.113.9/32"
    assert str(network_of("203.0.113.9/24")) == "203.0.113.0/24"
    assert str(network_of("2001:db8::1/64")) == "2001:db8::/64"
    assert str(network_of("::ffff:203.0.113.9")) == "203.0.113.9/32"
    assert network_of("10.0.0.0/7") == "Error: That range is too wide."
    assert network_of("2001:db8::/31") == "Error: That range is too wide."
    assert network_of("10.0.0.0/8") is not None and not isinstance(network_of("10.0.0.0/8"), str)
    for bad in ("", "example.com", "300.1.1.1", "1.2.3.4/33", "1.2.3.4; drop"):
        assert network_of(bad) == f"Error: Bad address {bad}.", bad
    assert str(address_network("2001:db8::5", 64)) == "2001:db8::/64"
    assert str(address_network("192.0.2.7", 64)) == "192.0.2.7/32"
    assert address_network("pipe", 64) is None


def test_who_a_ban_covers() -> None:
    bans = Restrictions([
        restriction(1, "user", "Bob", "bob", ident="a:7"),
        restriction(2, "user", "spam", "spam"),
        restriction(3, "address", "203.0.113.0/24", "203.0.113.0/24"),
        restriction(4, "user", "old", "old", until_ms=NOW - 1),  # over
        restriction(5, "address", "2001:db8::/64", "2001:db8::/64", until_ms=NOW + 1000),
    ])
    assert bans.login_ban("a:7", "bob", "192.0.2.1", NOW).id == 1
    assert bans.login_ban("a:8", "bob", "192.0.2.1", NOW) is None  # an account ban follows the account
    assert bans.login_ban("g:1", "spam", "192.0.2.1", NOW).id == 2  # a guest's ban, its nickname
    assert bans.login_ban("g:1", "ham", "203.0.113.200", NOW).id == 3
    assert bans.login_ban("g:1", "ham", "::ffff:203.0.113.200", NOW).id == 3
    assert bans.login_ban("g:1", "ham", "2001:db8::abcd", NOW).id == 5
    assert bans.login_ban("g:1", "ham", "2001:db8::abcd", NOW + 1000) is None  # ended
    assert bans.login_ban("g:1", "old", "192.0.2.1", NOW) is None
    assert bans.login_ban("g:1", "ham", "pipe", NOW) is None
    assert [entry.id for entry in bans.entries(NOW)] == [5, 3, 2, 1]
    fresh = bans.replace([restriction(2, "user", "spam", "spam"), restriction(9, "user", "new", "new")])
    assert [entry.id for entry in fresh] == [9]
    assert bans.login_ban("a:7", "bob", "192.0.2.1", NOW) is None  # lifted elsewhere


def test_mutes_and_room_bans_are_per_room() -> None:
    held = Restrictions([
        restriction(1, "mute", "bob", "bob", room_id=3),
        restriction(2, "mute", "cat", "cat", room_id=None),
        restriction(3, "room", "dan", "dan", ident="a:4", room_id=3),
    ])
    assert held.has_mutes
    assert held.mute(3, "g:1", "bob", NOW).id == 1 and held.mute(4, "g:1", "bob", NOW) is None
    assert held.mute(None, "g:2", "cat", NOW).id == 2 and held.mute(3, "g:2", "cat", NOW) is None
    assert held.room_ban(3, "a:4", "dan", NOW).id == 3 and held.room_ban(3, "a:5", "dan", NOW) is None
    held.remove(1)
    held.remove(2)
    assert not held.has_mutes and held.mute(3, "g:1", "bob", NOW) is None


def test_search_words_make_fts5_syntax_inert() -> None:
    assert search_words('"zebra* NEAR(a b) OR -c ^d col:e') == ["zebra", "NEAR", "a", "b", "OR", "c", "d", "col", "e"]
    assert search_words('"*()^-:') == []
    assert search_words("Élan_vital 42") == ["Élan", "vital", "42"]
    assert len(search_words("w " * 40)) == 16
    assert search_words("e\u0301cole x\u0301y") == ["\u00e9cole", "x\u0301y"]  # a mark stays in its word
