"""Who is really on the other end of a request behind reverse proxies. Pure.

A request's peer is the last hop; when that hop is a trusted proxy, its
headers say who came before it:

* ``X-Forwarded-For: client, proxy1, proxy2``: each proxy appends the
  address it received the request from. Walking from the right and skipping
  trusted hops finds the first address no trusted proxy vouches for: that is
  the client. The leftmost entry is whatever the client claimed, so it counts
  only when every hop to its right is trusted.
* ``Forwarded: for=...;proto=...;host=...`` (RFC 7239), used when a proxy
  sends no X-Forwarded-For.
* ``X-Forwarded-Proto`` / ``X-Forwarded-Host``, or ``proto=`` / ``host=`` of
  the last Forwarded element: the scheme and host the browser used, which make
  the page's own origin.

Headers from an untrusted peer are ignored entirely.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Mapping, Sequence

from parley.net.proxy import Network, is_trusted


@dataclass(frozen=True)
class Forwarding:
    """What one request's proxy headers carried (absent ones are empty)."""

    x_forwarded_for: str = ""
    x_forwarded_proto: str = ""
    x_forwarded_host: str = ""
    forwarded: Sequence[Mapping[str, str]] = ()  # aiohttp's request.forwarded


@dataclass(frozen=True)
class Client:
    """The browser as the gateway understands it."""

    address: str  # an IP address
    scheme: str  # "http" or "https", as the browser used it
    host: str  # the Host the browser asked for (may carry a port)


def parse_address(text: str) -> str | None:
    """Return the IP address in a forwarded-for entry, or None if it holds none.

    Accepts ``1.2.3.4``, ``1.2.3.4:5678``, ``2001:db8::1``, ``[2001:db8::1]``
    and ``[2001:db8::1]:4711``, quoted or not; ``unknown`` and ``_hidden``
    obfuscated names are None.
    """
    text = text.strip().strip('"').strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]  # IPv4 with a port
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _hops(forwarding: Forwarding) -> list[str]:
    """The forwarded-for chain, leftmost (the client's claim) first."""
    if forwarding.x_forwarded_for:
        return [hop for hop in forwarding.x_forwarded_for.split(",") if hop.strip()]
    return [element["for"] for element in forwarding.forwarded if "for" in element]


def client_address(peer: str, forwarding: Forwarding, trusted: list[Network]) -> str:
    """Return the client's address: ``peer`` unless trusted proxies say otherwise."""
    if not is_trusted(peer, trusted):
        return peer
    address = peer
    for hop in reversed(_hops(forwarding)):
        parsed = parse_address(hop)
        if parsed is None:
            break  # a hop that names no address: trust nothing further left
        address = parsed
        if not is_trusted(parsed, trusted):
            break
    return address


def _last(values: str) -> str:
    """The rightmost item of a comma-separated header: the nearest proxy's."""
    return values.rsplit(",", 1)[-1].strip().strip('"')


def resolve(peer: str, scheme: str, host: str, forwarding: Forwarding, trusted: list[Network]) -> Client:
    """Return the client's address and the scheme and host it used."""
    if not is_trusted(peer, trusted):
        return Client(peer, scheme, host)
    last = forwarding.forwarded[-1] if forwarding.forwarded else {}
    proto = _last(forwarding.x_forwarded_proto) or last.get("proto", "")
    forwarded_host = _last(forwarding.x_forwarded_host) or last.get("host", "")
    return Client(
        client_address(peer, forwarding, trusted),
        proto.lower() if proto.lower() in ("http", "https") else scheme,
        forwarded_host or host,
    )


_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def normalize_origin(scheme: str, host: str) -> str:
    """``scheme://host[:port]`` in lower case, without the scheme's default port."""
    scheme, host = scheme.lower(), host.lower().rstrip(".")
    port = ""
    if host.startswith("["):
        end = host.find("]")
        if end >= 0 and host[end + 1 : end + 2] == ":":
            host, port = host[: end + 1], host[end + 2 :]
    elif ":" in host:
        host, port = host.rsplit(":", 1)
    if port and port != _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


def parse_origin(origin: str) -> str | None:
    """Normalize an Origin header (``scheme://host[:port]``); None if it is not one."""
    scheme, sep, rest = origin.strip().partition("://")
    if not sep or not scheme or not rest or "/" in rest:
        return None
    return normalize_origin(scheme, rest)


def origin_allowed(origin: str | None, client: Client, allowed: Sequence[str]) -> bool:
    """True when a WebSocket upgrade with this Origin header may proceed.

    No Origin header: not a browser, so not a cross-site attack; allowed. A
    browser's Origin must be the page's own origin or a configured one.
    """
    if origin is None:
        return True
    normalized = parse_origin(origin)
    if normalized is None:
        return False
    if normalized == normalize_origin(client.scheme, client.host):
        return True
    return normalized in {parse_origin(a) for a in allowed}
