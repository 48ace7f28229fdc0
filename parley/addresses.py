"""The machine's LAN addresses, so nobody has to look them up by hand; the ports Parley announces."""

from __future__ import annotations

import ipaddress
import re
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


# How `parley server`/`serve`/`gateway` announce their ports on standard output
# ("... (TCP port 6666)", "... (HTTP port 8080)"), for programs that start them.
_ANNOUNCED_PORT = re.compile(r"\b(TCP|HTTP) port (\d+)")


def announced_port(line: str) -> tuple[str, int] | None:
    """("TCP" or "HTTP", port) from a line of Parley's start-up output; None for other lines."""
    match = _ANNOUNCED_PORT.search(line)
    return (match.group(1), int(match.group(2))) if match else None
