"""Bans and mutes in force, and the rules for writing them: who may not log in, join a room or write,
and until when. No I/O: the store keeps them, the adapter reloads them (``RestrictionsLoaded``),
and the time is passed in.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timezone
from typing import Iterable, Union

from parley.protocol import texts

from ..records import Restriction

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

MAX_DURATION = 315_360_000  # seconds: ten years
REASON_LIMIT = 300  # characters
NARROWEST_IPV4 = 8  # the widest range an address ban may cover: a /8
NARROWEST_IPV6 = 32
LOBBY = "-ALL"


def duration_of(text: str | None) -> int | None:
    """Seconds from ``duration=`` (0: for good), or None when it is not 0 to ten years in whole seconds."""
    if not text:
        return 0
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    seconds = int(text)
    return seconds if seconds <= MAX_DURATION else None


def until_text(until_ms: int) -> str:
    """``until 2026-11-25 10:00 UTC``, or ``for good`` for 0."""
    if not until_ms:
        return texts.FOR_GOOD
    when = datetime.fromtimestamp(until_ms / 1000, timezone.utc)
    return texts.UNTIL.format(when=when.strftime("%Y-%m-%d %H:%M UTC"))


def with_reason(text: str, reason: str) -> str:
    """``text: reason``, or ``text`` alone when there is no reason."""
    return f"{text}: {reason}" if reason else text


def network_of(text: str) -> Network | str:
    """The network an address ban of ``text`` (an address or CIDR) covers, or the error text."""
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return texts.BAD_ADDRESS.format(address=text)
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped is not None:
        mapped = network.network_address.ipv4_mapped
        network = ipaddress.ip_network(f"{mapped}/{max(0, network.prefixlen - 96)}", strict=False)
    narrowest = NARROWEST_IPV4 if network.version == 4 else NARROWEST_IPV6
    if network.prefixlen < narrowest:
        return texts.RANGE_TOO_WIDE
    return network


def address_network(host: str, ipv6_prefix: int) -> Network | None:
    """The network a ban of the address ``host`` covers: an IPv4 address alone, an IPv6 address's ``ipv6_prefix``."""
    address = _address(host)
    if address is None:
        return None
    if address.version == 4:
        return ipaddress.ip_network(f"{address}/32")
    return ipaddress.ip_network(f"{address}/{ipv6_prefix}", strict=False)


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None  # not an address (a test's pipe): no address ban applies
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def covers(network: Network, host: str) -> bool:
    address = _address(host)
    return address is not None and address.version == network.version and address in network


class Restrictions:
    """The bans and mutes in force, by id, as last loaded or made here."""

    def __init__(self, entries: Iterable[Restriction] = ()) -> None:
        self._by_id: dict[int, Restriction] = {}
        self._networks: dict[int, Network] = {}
        self._mutes = 0  # how many are mutes: a CHAT looks for one only when there are
        self.replace(entries)

    def replace(self, entries: Iterable[Restriction]) -> list[Restriction]:
        """Hold exactly ``entries`` (a fresh load); return those not held before."""
        old = self._by_id
        self._by_id, self._networks, self._mutes = {}, {}, 0
        for entry in entries:
            self.add(entry)
        return [entry for entry in self._by_id.values() if entry.id not in old]

    def add(self, entry: Restriction) -> None:
        self.remove(entry.id)
        self._by_id[entry.id] = entry
        self._mutes += entry.kind == "mute"
        if entry.kind == "address":
            network = network_of(entry.target_key)
            if not isinstance(network, str):
                self._networks[entry.id] = network

    def remove(self, restriction_id: int) -> Restriction | None:
        self._networks.pop(restriction_id, None)
        entry = self._by_id.pop(restriction_id, None)
        self._mutes -= entry is not None and entry.kind == "mute"
        return entry

    @property
    def has_mutes(self) -> bool:
        return self._mutes > 0

    def get(self, restriction_id: int, now_ms: int) -> Restriction | None:
        entry = self._by_id.get(restriction_id)
        return entry if entry is not None and _in_force(entry, now_ms) else None

    def entries(self, now_ms: int) -> list[Restriction]:
        """Every one in force, newest first."""
        return sorted((e for e in self._by_id.values() if _in_force(e, now_ms)), key=lambda e: -e.id)

    def login_ban(self, ident: str, key: str, host: str, now_ms: int) -> Restriction | None:
        """The ban that keeps this user (``ident``, its nickname's ``key``) or its address out, if any."""
        for entry in self._by_id.values():
            if not _in_force(entry, now_ms):
                continue
            if entry.kind == "user" and _names(entry, ident, key):
                return entry
            if entry.kind == "address":
                network = self._networks.get(entry.id)
                if network is not None and covers(network, host):
                    return entry
        return None

    def matches(self, entry: Restriction, ident: str, key: str, host: str) -> bool:
        """Whether the server-wide ban ``entry`` applies to this user and address."""
        if entry.kind == "user":
            return _names(entry, ident, key)
        network = self._networks.get(entry.id)
        return entry.kind == "address" and network is not None and covers(network, host)

    def room_ban(self, room_id: int, ident: str, key: str, now_ms: int) -> Restriction | None:
        return self._scoped("room", room_id, ident, key, now_ms)

    def mute(self, room_id: int | None, ident: str, key: str, now_ms: int) -> Restriction | None:
        """The mute in ``room_id`` (None: the lobby) of this user, if any."""
        if not self._mutes:
            return None
        return self._scoped("mute", room_id, ident, key, now_ms)

    def _scoped(self, kind: str, room_id: int | None, ident: str, key: str, now_ms: int) -> Restriction | None:
        for entry in self._by_id.values():
            if (entry.kind == kind and entry.room_id == room_id and _in_force(entry, now_ms)
                    and _names(entry, ident, key)):
                return entry
        return None


def _in_force(entry: Restriction, now_ms: int) -> bool:
    return entry.until_ms == 0 or entry.until_ms > now_ms


def _names(entry: Restriction, ident: str, key: str) -> bool:
    """Whether ``entry`` names this user: its account, or (a guest's ban) its nickname."""
    if entry.ident is not None:
        return entry.ident == ident
    return entry.target_key == key
