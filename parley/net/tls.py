"""The one builder of TLS contexts: the chat server's, the gateway's (both sides) and the desktop's."""

from __future__ import annotations

import ssl
from pathlib import Path


def server_context(cert: str | Path, key: str | Path | None = None) -> ssl.SSLContext:
    """A context for serving TLS with ``cert`` (PEM; ``key`` may be in the same file).

    Raises OSError or ssl.SSLError when a file cannot be read or is not a key pair.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key or cert))
    return context


def client_context(ca_file: str | Path | None = None, *, verify: bool = True) -> ssl.SSLContext:
    """A context that verifies the server's certificate and host name, as a browser does.

    With ``ca_file`` its certificates are trusted as well as the system's (the
    way to trust a self-signed certificate on a LAN). ``verify=False`` is only
    for a server in this same process, reached over this machine's own address.
    Raises OSError or ssl.SSLError when ``ca_file`` cannot be read.
    """
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
