"""Finding Parley servers on the LAN for the connect screen: a DNS-SD browser and the list it keeps.

``Discovery`` browses ``_parley._tcp`` with python-zeroconf's asyncio API on
a thread of its own (Tk owns the main thread) and puts what it hears on a
queue: ``ServerFound``, ``ServerGone``, or once ``DiscoveryFailed`` when this
machine cannot browse (no multicast, no network). ``FoundServers`` is the
list those events make, with no I/O; the app polls the queue and shows it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from dataclasses import dataclass

from parley.net.dnssd import CHAT_SERVICE, FoundServer, found_server

log = logging.getLogger("parley.desktop.discovery")

RESOLVE_MS = 3000  # how long one found name may take to tell its address and port
STOP_TIMEOUT = 3.0


@dataclass(frozen=True)
class ServerFound:
    key: str  # the service's full name, "box._parley._tcp.local."
    server: FoundServer


@dataclass(frozen=True)
class ServerGone:
    key: str


@dataclass(frozen=True)
class DiscoveryFailed:
    reason: str


DiscoveryEvent = ServerFound | ServerGone | DiscoveryFailed


class FoundServers:
    """The servers heard of, by the name they are announced under; sorted for showing."""

    def __init__(self) -> None:
        self._by_key: dict[str, FoundServer] = {}
        self.failure = ""  # why this machine cannot look, once it is known

    def apply(self, event: DiscoveryEvent) -> bool:
        """Take in one event; True if the list (or the failure) changed."""
        if isinstance(event, ServerFound):
            changed = self._by_key.get(event.key) != event.server
            self._by_key[event.key] = event.server
            return changed
        if isinstance(event, ServerGone):
            return self._by_key.pop(event.key, None) is not None
        self.failure = event.reason
        return True

    def servers(self) -> list[FoundServer]:
        return sorted(self._by_key.values(), key=lambda s: (s.name.casefold(), s.host, s.port))


class Discovery:
    """Browses the LAN for Parley servers from ``start()`` to ``stop()``, reporting to ``events``."""

    def __init__(self, events: "queue.Queue[DiscoveryEvent]") -> None:
        self.events = events
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._stop_asked = threading.Event()
        self._thread = threading.Thread(target=self._run, name="parley-discovery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop browsing (within a few seconds; the thread is a daemon and never holds up an exit)."""
        self._stop_asked.set()
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # the loop has just ended
                pass
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT)

    def _run(self) -> None:
        try:
            asyncio.run(self._browse())
        except Exception as error:  # a LAN that cannot be browsed: say so on the connect screen
            log.warning("cannot look for servers on the LAN: %s", error)
            self.events.put(DiscoveryFailed(str(error) or type(error).__name__))

    async def _browse(self) -> None:
        from zeroconf import IPVersion, ServiceStateChange, Zeroconf
        from zeroconf.asyncio import (
            AsyncServiceBrowser,
            AsyncServiceInfo,
            AsyncZeroconf,
        )

        self._stopping = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if self._stop_asked.is_set():  # stop() came before this thread had a loop
            return
        if not log.isEnabledFor(logging.DEBUG):
            logging.getLogger("zeroconf").setLevel(logging.CRITICAL)  # its failures are told once, below
        zeroconf = AsyncZeroconf(ip_version=IPVersion.V4Only)
        resolving: set[asyncio.Task[None]] = set()

        async def resolve(service_type: str, name: str) -> None:
            info = AsyncServiceInfo(service_type, name)
            if not await info.async_request(zeroconf.zeroconf, RESOLVE_MS):
                return
            server = found_server(name, info.parsed_addresses(), info.port, info.properties)
            if server is not None:
                self.events.put(ServerFound(name, server))

        def changed(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
            if state_change is ServiceStateChange.Removed:
                self.events.put(ServerGone(name))
                return
            task = asyncio.ensure_future(resolve(service_type, name))
            resolving.add(task)
            task.add_done_callback(resolving.discard)

        browser = AsyncServiceBrowser(zeroconf.zeroconf, [CHAT_SERVICE], handlers=[changed])
        try:
            await self._stopping.wait()
        finally:
            for task in resolving:
                task.cancel()
            await asyncio.gather(*resolving, return_exceptions=True)
            await browser.async_cancel()
            await zeroconf.async_close()
