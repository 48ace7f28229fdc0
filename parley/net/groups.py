"""Which client addresses per-address limits count together. Pure.

One IPv6 subscriber is usually given a whole /64, so counting each of its
addresses apart would let one machine pass every per-address cap with as many
addresses as it likes. Limits therefore count an IPv6 address by its prefix
(by default the /64), and an IPv4 address (or an IPv4-mapped IPv6 one) alone.
"""

from __future__ import annotations

import ipaddress

DEFAULT_IPV6_PREFIX = 64


def limit_key(address: str, ipv6_prefix: int = DEFAULT_IPV6_PREFIX) -> str:
    """The key per-address limits count ``address`` under.

    ``2001:db8::1`` and ``2001:db8::2`` give ``2001:db8::/64``; ``::ffff:10.0.0.1``
    gives ``10.0.0.1``; anything that is not an IP address (a Unix socket's
    empty peer, ``unknown``) is its own key.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        network = ipaddress.IPv6Network((ip, ipv6_prefix), strict=False)
        return str(network)
    return str(ip)
