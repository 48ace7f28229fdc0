"""How a Parley server is named on a LAN with DNS-SD over mDNS, and how a found one is read.

A server announces two services (RFC 6763), both under its name (``--name``,
one DNS label of at most 63 bytes, by default the host name's first label):

- ``_parley._tcp``: the chat port, for the desktop client. TXT ``tls=1`` or
  ``tls=0``, and ``version``.
- ``_http._tcp``: the page. TXT ``path`` (the base path, as RFC 6763's
  ``_http`` convention has it) and ``tls``.

Which addresses are announced follows where the server listens: every LAN
address for 0.0.0.0, the one address it was given, and nothing for loopback
(a listener other machines cannot reach is not announced). Pure functions:
the announcing is in parley.net.announce, the browsing in desktop.discovery.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

CHAT_SERVICE = "_parley._tcp.local."
WEB_SERVICE = "_http._tcp.local."
MAX_NAME_BYTES = 63  # an instance name is one DNS label
DEFAULT_NAME = "Parley"

_EVERY_ADDRESS = ("", "0.0.0.0", "::")


def server_name_error(name: str) -> str | None:
    """Why ``name`` cannot be a server's name on the LAN, or None when it can."""
    if not name.strip():
        return "the name is empty"
    if len(name.encode()) > MAX_NAME_BYTES:
        return f"the name is longer than {MAX_NAME_BYTES} bytes"
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in name):
        return "the name has a control character"
    if "." in name:
        return "the name has a dot (it is one label, like a host name's first part)"
    return None


def default_server_name(hostname: str) -> str:
    """A server's name when ``--name`` is not given: ``hostname``'s first label, else "Parley"."""
    label = hostname.split(".", 1)[0].strip()
    while len(label.encode()) > MAX_NAME_BYTES:
        label = label[:-1]
    return label if label and server_name_error(label) is None else DEFAULT_NAME


def host_label(addresses: Sequence[str]) -> str:
    """The mDNS host name the services point at, from the first address: ``parley-192-168-1-20.local.``.

    Not the machine's host name: that is the system's own responder's
    (Avahi, Bonjour) to announce, and two machines may share one (every
    Raspberry Pi is "raspberrypi"), which would mix their addresses. No two
    machines on one LAN share an address.
    """
    first = sorted(addresses)[0] if addresses else "0"
    return "parley-" + re.sub(r"[^0-9a-f]+", "-", first.lower()).strip("-")[:50] + ".local."


def announced_addresses(bind_host: str, lan_addresses: Sequence[str]) -> list[str]:
    """The addresses to announce for a listener on ``bind_host``; [] when other machines cannot reach it."""
    if bind_host in _EVERY_ADDRESS:
        return [address for address in lan_addresses if _reachable(address)]
    try:
        return [bind_host] if _reachable(bind_host) else []
    except ValueError:  # a host name: announce the LAN addresses it may stand for
        return [address for address in lan_addresses if _reachable(address)]


def _reachable(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return not (ip.is_loopback or ip.is_unspecified or ip.is_multicast)


def chat_properties(*, tls: bool, version: str) -> dict[str, str]:
    """The TXT record of ``_parley._tcp``."""
    return {"tls": "1" if tls else "0", "version": version}


def web_properties(*, tls: bool, path: str) -> dict[str, str]:
    """The TXT record of ``_http._tcp``: the page's base path, and whether it is https."""
    return {"path": path, "tls": "1" if tls else "0"}


@dataclass(frozen=True)
class Service:
    """One service to announce: its type, the server's name, the port and addresses, its TXT record."""

    type: str  # CHAT_SERVICE or WEB_SERVICE
    name: str  # the instance name, one label
    port: int
    addresses: tuple[str, ...]
    properties: Mapping[str, str] = field(default_factory=dict)


def lan_services(name: str, *, tls: bool, version: str, lan: Sequence[str], chat: tuple[str, int],
                 web: tuple[str, int, str] | None = None) -> list[Service]:
    """What a server listening at ``chat`` (host, port), and its page at ``web`` (host, port, base path),
    announces on a machine whose LAN addresses are ``lan``; [] when nothing can be reached."""
    services = []
    chat_addresses = announced_addresses(chat[0], lan)
    if chat_addresses:
        services.append(Service(CHAT_SERVICE, name, chat[1], tuple(chat_addresses),
                                chat_properties(tls=tls, version=version)))
    if web is not None:
        web_addresses = announced_addresses(web[0], lan)
        if web_addresses:
            services.append(Service(WEB_SERVICE, name, web[1], tuple(web_addresses),
                                    web_properties(tls=tls, path=web[2])))
    return services


def loopback_only(host: str) -> bool:
    """Whether a listener on ``host`` can never be reached from the LAN, whatever its addresses become."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@dataclass(frozen=True)
class FoundServer:
    """A Parley chat server heard of on the LAN: what the desktop's connect screen fills in."""

    name: str  # as announced ("box", or "box-2" after a clash)
    host: str
    port: int
    tls: bool

    @property
    def label(self) -> str:
        """One line for a list: the name, the address and whether TLS is on."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.name} \u2014 {host}:{self.port}{' (TLS)' if self.tls else ''}"


def instance_name(full_name: str, service: str = CHAT_SERVICE) -> str:
    """``box`` of ``box._parley._tcp.local.`` (the full name as zeroconf gives it)."""
    suffix = "." + service
    return full_name[: -len(suffix)] if full_name.endswith(suffix) else full_name


def found_server(full_name: str, addresses: Sequence[str], port: int | None,
                 properties: Mapping[bytes, bytes | None]) -> FoundServer | None:
    """The server a resolved ``_parley._tcp`` record describes; None if it names no address or port.

    An IPv4 address is preferred: a link-local IPv6 one needs its interface,
    which a host field cannot carry.
    """
    if not port or not 0 < port < 65536:
        return None
    usable = []
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            continue
        if not (ip.is_unspecified or ip.is_multicast or (ip.version == 6 and ip.is_link_local)):
            usable.append(ip)
    if not usable:
        return None
    best = min(usable, key=lambda ip: (ip.version, ip.is_loopback))
    return FoundServer(name=instance_name(full_name), host=str(best), port=port,
                       tls=properties.get(b"tls") == b"1")
