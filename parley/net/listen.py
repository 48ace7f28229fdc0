"""Listening sockets: the backlog every Parley listener uses, and port numbers."""

from __future__ import annotations

# Connections the kernel holds for accept(). asyncio's default of 100 drops a
# crowd's connections (the clients retry after 1 s, then 3 s); the kernel caps
# it at net.core.somaxconn.
LISTEN_BACKLOG = 4096
MAX_PORT = 65535


def port_range(allow_any: bool) -> str:
    """The port numbers allowed, in words: ``1 to 65535``, or with 0 for any free port."""
    return f"0 to {MAX_PORT}; 0 picks a free port" if allow_any else f"1 to {MAX_PORT}"


def port_error(port: int, *, allow_any: bool) -> str | None:
    """Why ``port`` cannot be listened on, or None. ``allow_any``: 0 (any free port) is allowed."""
    if port == 0 and allow_any:
        return None
    if not 1 <= port <= MAX_PORT:
        return f"{port} is not a port number ({port_range(allow_any)})"
    return None
