"""PROXY protocol v1 (the header line a trusted proxy sends first). Pure.

``PROXY TCP4 203.0.113.7 10.0.0.1 51234 6666\\r\\n`` says the real client is
203.0.113.7:51234. ``PROXY UNKNOWN ...`` keeps the connection's own address.
"""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_LINE = 107  # the specification's longest v1 header, CRLF included
SIGNATURE = b"PROXY "


class ProxyHeaderError(ValueError):
    pass


def parse_proxy_line(line: bytes) -> tuple[str, int] | None:
    """Return (client address, port) from a header line without its CRLF.

    Returns None for ``PROXY UNKNOWN``. Raises ProxyHeaderError when malformed.
    """
    try:
        parts = line.decode("ascii").split(" ")
    except UnicodeDecodeError:
        raise ProxyHeaderError("PROXY header is not ASCII") from None
    if len(parts) >= 2 and parts[0] == "PROXY" and parts[1] == "UNKNOWN":
        return None
    if len(parts) != 6 or parts[0] != "PROXY" or parts[1] not in ("TCP4", "TCP6"):
        raise ProxyHeaderError("malformed PROXY header")
    try:
        source = ipaddress.ip_address(parts[2])
        ipaddress.ip_address(parts[3])
        port = int(parts[4])
        int(parts[5])
    except ValueError:
        raise ProxyHeaderError("malformed PROXY header addresses") from None
    if source.version != (4 if parts[1] == "TCP4" else 6) or not 0 <= port <= 65535:
        raise ProxyHeaderError("malformed PROXY header addresses")
    return str(source), port


def format_proxy_line(client: tuple[str, int], server: tuple[str, int]) -> bytes:
    """Return the v1 header (CRLF included) a proxy sends for ``client``."""
    source = ipaddress.ip_address(client[0])
    family = "TCP4" if source.version == 4 else "TCP6"
    dest = server[0]
    if ipaddress.ip_address(dest).version != source.version:
        dest = "0.0.0.0" if source.version == 4 else "::"
    return f"PROXY {family} {source} {dest} {client[1]} {server[1]}\r\n".encode("ascii")


def parse_networks(values: list[str]) -> list[Network]:
    """Parse addresses or CIDR networks. Raises ValueError."""
    return [ipaddress.ip_network(v, strict=False) for v in values]


LOOPBACK = ("127.0.0.0/8", "::1/128")


def is_trusted(address: str, networks: list[Network]) -> bool:
    """True when ``address`` lies in one of ``networks``."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


class ProxyHeaderReader:
    """Takes the PROXY v1 header off the start of a stream, as its bytes arrive. No I/O.

    A stream that does not start with ``PROXY `` has no header: its bytes are
    passed through whole. The reader never holds more than ``MAX_LINE`` bytes.
    """

    __slots__ = ("_held", "client", "done")

    def __init__(self) -> None:
        self._held = b""
        self.client: tuple[str, int] | None = None  # the client the header names (None: UNKNOWN or no header)
        self.done = False

    def feed(self, data: bytes) -> bytes | None:
        """Return the stream's bytes after the header, or None while more are needed to decide.

        Raises ProxyHeaderError for a malformed or overlong header.
        """
        held = self._held + data if self._held else data
        if len(held) < len(SIGNATURE) and SIGNATURE.startswith(held):
            self._held = held
            return None
        if not held.startswith(SIGNATURE):
            return self._finish(held)
        end = held.find(b"\r\n", 0, MAX_LINE)
        if end < 0:
            if len(held) >= MAX_LINE:
                raise ProxyHeaderError("PROXY header too long")
            self._held = held
            return None
        self.client = parse_proxy_line(held[:end])
        return self._finish(held[end + 2:])

    def _finish(self, rest: bytes) -> bytes:
        self._held = b""
        self.done = True
        return rest
