"""Gateway settings, with the defaults a new user gets."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from parley.net.budget import ConnectionBudget
from parley.net.groups import DEFAULT_IPV6_PREFIX
from parley.net.proxy import Network


def _web_root() -> Path:
    """The page's folder: inside the installed package, else the repository's web/."""
    installed = Path(__file__).resolve().parent / "web"
    return installed if installed.is_dir() else Path(__file__).resolve().parent.parent / "web"


WEB_ROOT = _web_root()


@dataclass
class GatewayConfig:
    upstream_host: str = "127.0.0.1"
    upstream_port: int = 6666
    http_host: str = "0.0.0.0"
    http_port: int = 8080
    base_path: str = "/"  # e.g. "/chat/": the page at /chat/, the WebSocket at /chat/ws
    web_root: Path = WEB_ROOT
    max_frame: int = 8192  # bytes of one WebSocket text message (one frame)
    ping_interval: float = 25.0  # seconds between WebSocket pings
    # Reverse proxies whose X-Forwarded-For / Forwarded headers are believed: none unless configured.
    trusted_proxies: list[Network] = field(default_factory=list)
    allowed_origins: list[str] = field(default_factory=list)  # besides the page's own origin
    tls_cert: Path | None = None  # serve HTTPS with this certificate
    tls_key: Path | None = None
    upstream_tls: bool = False  # the chat server speaks TLS
    upstream_ca_file: Path | None = None  # trust this CA (or self-signed certificate) for it
    upstream_verify: bool = True  # off only for the server in the same process
    # Hostile conditions (RELIABILITY.md). 0 switches a per-address cap off.
    http_header_timeout: float = 10.0  # seconds from connecting until the first request's headers are in
    http_keepalive_timeout: float = 30.0  # seconds an idle connection is kept between requests
    max_connections_per_address: int = 64  # open web connections (HTTP and WebSocket) of one address
    ipv6_prefix: int = DEFAULT_IPV6_PREFIX  # the per-address cap counts an IPv6 address by this prefix
    # Shared files (PROTOCOL.md, "Files"): the data folder's files/ folder; None: file sharing is off.
    files_root: Path | None = None
    upload_stall_timeout: float = 30.0  # seconds an upload may send nothing before it is refused (408)
    max_image_pixels: int = 50_000_000  # an image with more is not decoded (a decompression bomb)
    upload_rate: float = 0.0  # bytes a second all uploads together may send (0: no limit); see files.Pacer
    max_upload_size: int = 10 * 1024 * 1024  # a sanity cap on one upload; its ticket's size is the real limit
    # The web port's share of the process's connections (None: planned from the descriptor limit at start).
    budget: ConnectionBudget | None = None
