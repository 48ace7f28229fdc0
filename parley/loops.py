"""Which asyncio event loop runs Parley: uvloop when it is installed, else asyncio's own.

uvloop reads sockets into a reused buffer where CPython 3.11's default loop
allocates (and maps and unmaps) 256 KiB per read, and it moves bytes about
twice as fast through the gateway. The default loop is the fallback, and
``--loop asyncio`` picks it on purpose.
"""

from __future__ import annotations

import asyncio
from typing import Callable

LoopFactory = Callable[[], asyncio.AbstractEventLoop]
CHOICES = ("auto", "uvloop", "asyncio")


def loop_factory(choice: str) -> tuple[LoopFactory | None, str]:
    """Return (a loop factory for asyncio.Runner, or None for the default; the loop's name).

    Raises RuntimeError when ``uvloop`` is asked for and not installed.
    """
    if choice == "asyncio":
        return None, "asyncio"
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise RuntimeError("uvloop is not installed (pip install uvloop)") from None
        return None, "asyncio"
    return uvloop.new_event_loop, "uvloop"
