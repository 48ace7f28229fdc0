"""What a server announces on the LAN and how a found one is read (parley/net/dnssd.py, pure)."""

from __future__ import annotations

import pytest

from parley.flags import build_parser
from parley.net import dnssd


def test_a_server_is_announced_on_the_addresses_other_machines_can_reach() -> None:
    lan = ["192.168.1.20", "10.0.0.5"]
    assert dnssd.announced_addresses("0.0.0.0", lan) == lan
    assert dnssd.announced_addresses("", lan) == lan
    assert dnssd.announced_addresses("192.168.1.20", lan) == ["192.168.1.20"]
    assert dnssd.announced_addresses("127.0.0.1", lan) == []
    assert dnssd.announced_addresses("::1", lan) == []
    assert dnssd.announced_addresses("0.0.0.0", []) == []
    assert dnssd.announced_addresses("chat.example.lan", lan) == lan  # a host name: what it may stand for


def test_names() -> None:
    assert dnssd.default_server_name("box.example.org") == "box"
    assert dnssd.default_server_name("") == "Parley"
    assert dnssd.default_server_name("é" * 40) == "é" * 31  # one label: 63 bytes at most
    assert dnssd.server_name_error("Café Parley") is None
    assert dnssd.server_name_error("a.b") and dnssd.server_name_error(" ") and dnssd.server_name_error("x" * 64)
    assert dnssd.server_name_error("tab\there")
    # Two machines may share a host name, never an address: the mDNS host names differ.
    assert dnssd.host_label(["192.168.1.20"]) == "parley-192-168-1-20.local."
    assert dnssd.host_label(["fe80::1"]) == "parley-fe80-1.local."


def test_the_name_flag_is_checked() -> None:
    parser = build_parser()
    assert parser.parse_args(["serve", "--name", "Café Parley"]).name == "Café Parley"
    assert parser.parse_args(["server"]).name is None
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--name", "a.b"])


def test_txt_records() -> None:
    assert dnssd.chat_properties(tls=True, version="1.2") == {"tls": "1", "version": "1.2"}
    assert dnssd.web_properties(tls=False, path="/chat/") == {"path": "/chat/", "tls": "0"}


def test_a_found_server_is_read_from_its_record() -> None:
    found = dnssd.found_server("Café._parley._tcp.local.", ["fe80::1", "10.0.0.5"], 6666, {b"tls": b"1"})
    assert found == dnssd.FoundServer("Café", "10.0.0.5", 6666, True)
    assert found.label == "Café \u2014 10.0.0.5:6666 (TLS)"
    only_v6 = dnssd.found_server("x._parley._tcp.local.", ["fe80::1", "2001:db8::7"], 7000, {b"tls": None})
    assert only_v6 == dnssd.FoundServer("x", "2001:db8::7", 7000, False)
    assert only_v6.label == "x \u2014 [2001:db8::7]:7000"
    assert dnssd.found_server("x._parley._tcp.local.", ["fe80::1"], 7000, {}) is None  # needs its interface
    assert dnssd.found_server("x._parley._tcp.local.", ["10.0.0.5"], 0, {}) is None
    assert dnssd.found_server("x._parley._tcp.local.", [], 6666, {}) is None
    assert dnssd.found_server("x._parley._tcp.local.", ["nonsense"], 6666, {}) is None


def test_what_a_server_announces() -> None:
    both = dnssd.lan_services("box", tls=False, version="1", lan=["10.0.0.5"], chat=("0.0.0.0", 6666),
                              web=("0.0.0.0", 8080, "/chat/"))
    assert both == [
        dnssd.Service(dnssd.CHAT_SERVICE, "box", 6666, ("10.0.0.5",), {"tls": "0", "version": "1"}),
        dnssd.Service(dnssd.WEB_SERVICE, "box", 8080, ("10.0.0.5",), {"path": "/chat/", "tls": "0"}),
    ]
    page_only = dnssd.lan_services("box", tls=True, version="1", lan=["10.0.0.5"], chat=("127.0.0.1", 6666),
                                   web=("10.0.0.5", 8080, "/"))
    assert [(s.type, s.addresses) for s in page_only] == [(dnssd.WEB_SERVICE, ("10.0.0.5",))]
    assert dnssd.lan_services("box", tls=False, version="1", lan=[], chat=("0.0.0.0", 6666)) == []
    assert dnssd.loopback_only("127.0.0.1") and dnssd.loopback_only("::1") and dnssd.loopback_only("localhost")
    assert not dnssd.loopback_only("0.0.0.0") and not dnssd.loopback_only("box.lan")
