"""The gateway's pure parts: who the client is behind proxies, origins, line splitting."""

from __future__ import annotations

import pytest

from gateway.app import normalize_base_path
from gateway.forwarding import Client, Forwarding, client_address, origin_allowed, parse_address, resolve
from gateway.frames import LineSplitter, LineTooLong, check_browser_frame
from parley.net.proxy import parse_networks

LOOPBACK = parse_networks(["127.0.0.0/8", "::1/128"])
PROXIES = parse_networks(["127.0.0.0/8", "10.0.0.0/8"])


@pytest.mark.parametrize(
    ("peer", "header", "expected"),
    [
        ("127.0.0.1", "", "127.0.0.1"),
        ("127.0.0.1", "203.0.113.9", "203.0.113.9"),
        # The leftmost entry is the client's own claim: only the nearest untrusted hop counts.
        ("127.0.0.1", "6.6.6.6, 203.0.113.9", "203.0.113.9"),
        ("127.0.0.1", "6.6.6.6, 203.0.113.9, 10.1.2.3", "203.0.113.9"),
        # Every hop trusted: the leftmost is all there is.
        ("127.0.0.1", "10.9.9.9, 10.1.2.3", "10.9.9.9"),
        # An untrusted peer's header is ignored entirely.
        ("198.51.100.7", "203.0.113.9", "198.51.100.7"),
        ("127.0.0.1", "[2001:db8::1]:4711", "2001:db8::1"),
        ("127.0.0.1", "2001:db8::1", "2001:db8::1"),
        ("127.0.0.1", "203.0.113.9:5555", "203.0.113.9"),
        # Garbage stops the walk: nothing left of it is believed.
        ("127.0.0.1", "203.0.113.9, unknown", "127.0.0.1"),
        ("127.0.0.1", "203.0.113.9, 10.1.2.3, nonsense", "127.0.0.1"),
    ],
)
def test_client_address_walks_x_forwarded_for_from_the_right(peer: str, header: str, expected: str) -> None:
    assert client_address(peer, Forwarding(x_forwarded_for=header), PROXIES) == expected


def test_forwarded_header_is_used_when_there_is_no_x_forwarded_for() -> None:
    forwarded = ({"for": "6.6.6.6"}, {"for": "[2001:db8::7]:1234", "proto": "https"})
    assert client_address("127.0.0.1", Forwarding(forwarded=forwarded), PROXIES) == "2001:db8::7"
    both = Forwarding(x_forwarded_for="203.0.113.9", forwarded=({"for": "6.6.6.6"},))
    assert client_address("127.0.0.1", both, PROXIES) == "203.0.113.9"


def test_resolve_takes_scheme_and_host_only_from_trusted_proxies() -> None:
    headers = Forwarding(x_forwarded_for="203.0.113.9", x_forwarded_proto="https", x_forwarded_host="chat.example.org")
    assert resolve("127.0.0.1", "http", "127.0.0.1:8080", headers, LOOPBACK) == Client(
        "203.0.113.9", "https", "chat.example.org")
    assert resolve("198.51.100.7", "http", "127.0.0.1:8080", headers, LOOPBACK) == Client(
        "198.51.100.7", "http", "127.0.0.1:8080")
    odd_proto = Forwarding(x_forwarded_proto="gopher")
    assert resolve("127.0.0.1", "http", "h", odd_proto, LOOPBACK).scheme == "http"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.2.3.4", "1.2.3.4"), (' "1.2.3.4:80" ', "1.2.3.4"), ("[::1]", "::1"), ("_hidden", None), ("", None), ("[::1", None)],
)
def test_parse_address(text: str, expected: str | None) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize(
    ("origin", "client", "allowed", "ok"),
    [
        (None, Client("1.2.3.4", "http", "h:8080"), [], True),
        ("http://h:8080", Client("1.2.3.4", "http", "h:8080"), [], True),
        ("HTTP://H:8080", Client("1.2.3.4", "http", "h:8080"), [], True),
        ("https://h", Client("1.2.3.4", "https", "h:443"), [], True),
        ("http://h:80", Client("1.2.3.4", "http", "h"), [], True),
        ("http://h:8081", Client("1.2.3.4", "http", "h:8080"), [], False),
        ("https://h:8080", Client("1.2.3.4", "http", "h:8080"), [], False),
        ("http://evil", Client("1.2.3.4", "http", "h"), [], False),
        ("http://evil", Client("1.2.3.4", "http", "h"), ["http://evil"], True),
        ("null", Client("1.2.3.4", "http", "h"), [], False),
        ("http://h/path", Client("1.2.3.4", "http", "h"), [], False),
        ("http://[::1]:8080", Client("::1", "http", "[::1]:8080"), [], True),
    ],
)
def test_origin_allowed(origin: str | None, client: Client, allowed: list[str], ok: bool) -> None:
    assert origin_allowed(origin, client, allowed) is ok


def test_browser_frames_are_checked_in_utf8_bytes() -> None:
    assert check_browser_frame(b"CHAT,rec=-ALL,hi", 100) is None
    assert check_browser_frame("é".encode() * 50, 100) is None
    refusal = check_browser_frame("é".encode() * 51, 100)
    assert refusal is not None and refusal.code == 1009
    assert check_browser_frame(b"a\nb", 100).code == 1007  # type: ignore[union-attr]
    assert check_browser_frame(b"a\rb", 100).code == 1007  # type: ignore[union-attr]


def test_line_splitter_cuts_lines_across_reads_and_caps_them() -> None:
    splitter = LineSplitter(limit=10)
    assert splitter.feed(b"ab") == []
    assert splitter.feed(b"c\nde\n\nf") == [b"abc", b"de"]
    assert splitter.feed(b"g\n") == [b"fg"]
    with pytest.raises(LineTooLong):
        splitter.feed(b"x" * 11)
    with pytest.raises(LineTooLong):
        LineSplitter(limit=3).feed(b"abcd\n")


@pytest.mark.parametrize(("given", "expected"), [("", "/"), ("/", "/"), ("chat", "/chat/"), ("/chat/", "/chat/"), ("/a/b", "/a/b/")])
def test_base_path_is_normalized(given: str, expected: str) -> None:
    assert normalize_base_path(given) == expected


def test_text_frames_follow_rfc_6455_lengths() -> None:
    from gateway.frames import text_frames

    assert text_frames([b""]) == b"\x81\x00"
    assert text_frames([b"a" * 125]) == b"\x81\x7d" + b"a" * 125
    assert text_frames([b"a" * 126]) == b"\x81\x7e\x00\x7e" + b"a" * 126
    assert text_frames([b"a" * 65535]) == b"\x81\x7e\xff\xff" + b"a" * 65535
    assert text_frames([b"a" * 65536]) == b"\x81\x7f" + (65536).to_bytes(8, "big") + b"a" * 65536
    assert text_frames([b"x", b"yz"]) == b"\x81\x01x\x81\x02yz"
