"""Start-up failures a user can cause, each told in one line that names the thing to fix.

The server, the gateway and the store raise ``StartupError`` where they learn
of the failure (they know the path, the host and the port); the ``parley``
command prints its message and exits with status 1, with no traceback.
"""

from __future__ import annotations

import errno
import socket
import ssl
from pathlib import Path

from parley.net import tls


class StartupError(Exception):
    """Parley cannot start for a reason its user can fix; ``str()`` is the one line to show."""


# What a user can do about the errors listening sockets commonly meet.
_LISTEN_REASONS = {
    errno.EADDRINUSE: "the port is in use (another program, or another Parley, listens there)",
    errno.EACCES: "permission denied (ports below 1024 need root)",
    errno.EADDRNOTAVAIL: "this machine has no such address",
}


def listen_error(host: str, port: int, error: OSError) -> StartupError:
    """The one line for a listening socket on ``host``:``port`` that could not be opened."""
    if isinstance(error, socket.gaierror):
        reason = f"unknown address ({error.strerror})"
    else:
        reason = _LISTEN_REASONS.get(error.errno or 0) or error.strerror or str(error)
    return StartupError(f"cannot listen on {host or '*'} port {port}: {reason}")


def tls_server_context(cert: Path, key: Path | None) -> ssl.SSLContext:
    """``tls.server_context`` for a listener. Raises StartupError naming the file that is wrong."""
    key = key or cert  # the key may be in the certificate's file
    for kind, path in (("certificate", cert), ("key", key)):
        try:
            Path(path).read_bytes()
        except OSError as error:
            raise StartupError(f"cannot read the TLS {kind} {path}: {error.strerror or error}") from None
    try:
        return tls.server_context(cert, key)
    except (OSError, ssl.SSLError) as error:
        raise StartupError(_tls_pair_error(cert, key, error)) from None


def _tls_pair_error(cert: Path, key: Path, error: Exception) -> str:
    """What is wrong with two readable files OpenSSL refused as a certificate and its key.

    OpenSSL's message ("PEM lib") names neither file, so the certificate is
    tried alone to tell which one it is.
    """
    if getattr(error, "reason", None) == "KEY_VALUES_MISMATCH":
        return f"the TLS key {key} is not the key of the certificate {cert}"
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_verify_locations(cafile=str(cert))
    except (OSError, ssl.SSLError):
        return f"the TLS certificate {cert} is not a PEM certificate"
    return f"the TLS key {key} is not a PEM private key without a passphrase"


def tls_client_context(ca_file: Path | None, *, verify: bool) -> ssl.SSLContext:
    """``tls.client_context`` for connecting upstream. Raises StartupError naming an unusable CA file."""
    try:
        return tls.client_context(ca_file, verify=verify)
    except (OSError, ssl.SSLError) as error:
        detail = getattr(error, "reason", None) or getattr(error, "strerror", None) or str(error)
        raise StartupError(f"cannot use the CA file {ca_file or '(the system certificates)'}: {detail}") from None
