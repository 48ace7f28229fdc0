"""Self-signed certificates for TLS tests, made with the openssl command."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
from pathlib import Path
from typing import AsyncIterator

import aiohttp


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost, 127.0.0.1 and ::1 in ``directory``, and its key."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def unverified() -> ssl.SSLContext:
    """A client context that accepts any certificate (a test's self-signed one)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@contextlib.asynccontextmanager
async def https_session(context: ssl.SSLContext) -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp session over TLS that is fully closed when the block ends.

    Closing a TLS connection finishes in the background (the TLS goodbye); a
    test that ends first leaves a transport to be collected with a
    ResourceWarning. aiohttp's docs advise a short wait after closing.
    """
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context, force_close=True))
    try:
        yield session
    finally:
        await session.close()
        await asyncio.sleep(0.25)
