"""The machine's LAN addresses, so nobody has to look them up by hand."""

from __future__ import annotations

import ipaddress
import socket

import psutil


def lan_ipv4_addresses() -> list[str]:
    """Every non-loopback IPv4 address of this machine, sorted."""
    found: set[str] = set()
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET:
                ip = ipaddress.ip_address(address.address)
                if not ip.is_loopback and not ip.is_link_local:
                    found.add(str(ip))
    return sorted(found, key=ipaddress.ip_address)


def connect_hints(bind_host: str, port: int, scheme: str = "") -> list[str]:
    """Addresses clients can use for a listener on ``bind_host``:``port``."""
    if bind_host in ("0.0.0.0", "", "::"):
        hosts = lan_ipv4_addresses() or [socket.gethostname()]
        hosts.append("127.0.0.1")
    else:
        hosts = [bind_host]
    return [f"{scheme}{host}:{port}" for host in hosts]
