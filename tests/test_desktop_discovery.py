"""The desktop's list of servers found on the LAN: the list the events make, and the connect screen showing it.

The real discovery on a real (private) LAN is in test_lan_desktop.py; here
the list and the screen are fed found servers directly, under Xvfb.
"""

from __future__ import annotations

import tkinter as tk
from typing import Iterator

import pytest
from test_desktop_gui import shared_display

from desktop import themes
from desktop.discovery import DiscoveryFailed, FoundServers, ServerFound, ServerGone
from desktop.views import CHOOSE, LOOKING, ConnectView
from parley.net.dnssd import FoundServer

OFFICE = FoundServer("office", "10.0.0.5", 6666, False)
SECURE = FoundServer("Secure", "10.0.0.9", 7000, True)


def test_the_list_follows_what_is_heard() -> None:
    found = FoundServers()
    assert found.apply(ServerFound("Secure._parley._tcp.local.", SECURE))
    assert found.apply(ServerFound("office._parley._tcp.local.", OFFICE))
    assert found.servers() == [OFFICE, SECURE]  # by name, whatever the case
    assert not found.apply(ServerFound("office._parley._tcp.local.", OFFICE))  # heard again: no change
    moved = FoundServer("office", "10.0.0.6", 6666, False)
    assert found.apply(ServerFound("office._parley._tcp.local.", moved))
    assert found.servers() == [moved, SECURE]
    assert found.apply(ServerGone("Secure._parley._tcp.local."))
    assert not found.apply(ServerGone("Secure._parley._tcp.local."))
    assert found.servers() == [moved] and found.failure == ""
    assert found.apply(DiscoveryFailed("no multicast"))
    assert found.failure == "no multicast"


@pytest.fixture
def view() -> Iterator[ConnectView]:
    shared_display()
    root = tk.Tk(className="Parley")
    theme = themes.palette("light", {})
    themes.apply_styles(root, theme, "light")
    connected: list[bool] = []
    connect_view = ConnectView(root, theme, lambda: connected.append(True), discovering=True)
    connect_view.connected = connected  # type: ignore[attr-defined]
    connect_view.pack(fill="both", expand=True)
    root.update()
    try:
        yield connect_view
    finally:
        root.destroy()


def choose(view: ConnectView, index: int) -> None:
    view.lan_list.selection_clear(0, "end")
    view.lan_list.selection_set(index)
    view.lan_list.event_generate("<<ListboxSelect>>")
    view.update()


def test_choosing_a_found_server_fills_its_address_port_and_tls(view: ConnectView) -> None:
    assert str(view.lan_status.cget("text")) == LOOKING
    view.ca_file.set("/home/ann/other-server.pem")
    view.show_found([OFFICE, SECURE])
    assert list(view.lan_list.get(0, "end")) == ["office \u2014 10.0.0.5:6666", "Secure \u2014 10.0.0.9:7000 (TLS)"]
    assert str(view.lan_status.cget("text")) == CHOOSE
    choose(view, 1)
    assert (view.host.get(), view.port.get(), view.tls.get()) == ("10.0.0.9", "7000", True)
    assert view.ca_file.get() == "/home/ann/other-server.pem"  # kept: it may be this server's certificate
    choose(view, 0)
    assert (view.host.get(), view.port.get(), view.tls.get()) == ("10.0.0.5", "6666", False)
    assert view.ca_file.get() == ""  # it would turn TLS back on for a server without it
    # A live update keeps the server chosen chosen, wherever it moves in the list.
    early = FoundServer("Alpha", "10.0.0.2", 6666, False)
    view.show_found([early, OFFICE, SECURE])
    assert view.lan_list.curselection() == (1,)
    view.show_found([SECURE])
    assert view.lan_list.curselection() == ()
    view.show_found([])
    assert str(view.lan_status.cget("text")) == LOOKING
    view.show_found([], "no multicast here")
    assert str(view.lan_status.cget("text")) == "Cannot look for servers on this network: no multicast here"


def test_double_click_or_return_on_a_found_server_connects(view: ConnectView) -> None:
    view.show_found([OFFICE])
    view.lan_list.selection_set(0)
    view.lan_list.focus_force()
    view.update()
    view.lan_list.event_generate("<Return>")
    view.update()
    assert view.connected == [True]  # type: ignore[attr-defined]
    assert view.host.get() == "10.0.0.5"


def test_without_looking_the_list_is_not_shown() -> None:
    shared_display()
    root = tk.Tk(className="Parley")
    try:
        quiet = ConnectView(root, themes.palette("light", {}), lambda: None)
        quiet.pack()
        root.update()
        assert not quiet.lan_box.winfo_ismapped() and quiet.winfo_ismapped()
    finally:
        root.destroy()
