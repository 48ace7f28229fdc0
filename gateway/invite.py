"""The page's Invite dialog: a QR code of a link, drawn here as SVG, and this machine's links for the LAN.

- ``GET {base}invite.svg?url=URL``: a QR code of URL (an http or https link
  of at most 512 bytes, no control characters), made with segno on a
  thread (drawing takes milliseconds) and kept for the next asker: no
  service outside this machine is asked. Anything else is a 400 saying why.
- ``GET {base}invite``: ``{"urls": [...]}``, the page's address on each of
  this machine's LAN addresses (what ``parley serve`` prints), for a page
  opened on this machine's own address, which no other device can reach.
"""

from __future__ import annotations

import asyncio
import functools
import io
from urllib.parse import urlsplit

import segno
from aiohttp import web

from parley.addresses import connect_hints
from parley.net.dnssd import loopback_only

from .config import GatewayConfig

# A page's address is tens of bytes; a code of 512 takes about 30 ms to draw (4.5 ms for 30 bytes), off the loop.
MAX_URL_BYTES = 512


def invite_url_error(url: str) -> str | None:
    """Why ``url`` cannot be drawn as an invitation, or None when it can."""
    if not url:
        return "give the link to draw as ?url="
    if len(url.encode()) > MAX_URL_BYTES:
        return f"the link is longer than {MAX_URL_BYTES} bytes"
    if any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in url):
        return "the link has a control character"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "the link must be an http:// or https:// address"
    return None


@functools.lru_cache(maxsize=64)
def qr_svg(url: str) -> bytes:
    """A QR code of ``url`` as SVG: dark modules on white with the standard quiet zone, sized by its user."""
    out = io.BytesIO()
    segno.make_qr(url, error="m").save(out, kind="svg", border=4, xmldecl=False, omitsize=True, dark="#000",
                                    light="#fff", title=f"QR code of {url}")
    return out.getvalue()


def lan_urls(config: GatewayConfig, port: int) -> list[str]:
    """The page's address on each of this machine's LAN addresses (no loopback one)."""
    scheme = "https://" if config.tls_cert else "http://"
    urls = [f"{hint}{config.base_path}" for hint in connect_hints(config.http_host, port, scheme)]
    return [url for url in urls if not loopback_only(urlsplit(url).hostname or "")]


def add_routes(app: web.Application, base: str, config: GatewayConfig) -> None:
    """Add ``invite.svg`` and ``invite`` under ``base``."""

    async def invite_svg(request: web.Request) -> web.Response:
        url = request.query.get("url", "")
        error = invite_url_error(url)
        if error:
            raise web.HTTPBadRequest(text=f"{error}\n")
        svg = await asyncio.get_running_loop().run_in_executor(None, qr_svg, url)
        return web.Response(body=svg, content_type="image/svg+xml",
                            headers={"Cache-Control": "private, max-age=3600"})

    async def invite(request: web.Request) -> web.Response:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        port = int(sockname[1]) if sockname else config.http_port
        return web.json_response({"urls": lan_urls(config, port)}, headers={"Cache-Control": "no-store"})

    app.router.add_get(base + "invite.svg", invite_svg)
    app.router.add_get(base + "invite", invite)
