"""Announcing a running server on the LAN with mDNS/DNS-SD (python-zeroconf's asyncio API).

What is announced is decided in parley.net.dnssd; this module only sends it.
Announcing is a courtesy: whatever goes wrong (no multicast, no interface, a
container without a LAN) is logged in one line and the server carries on.
Nothing here ever raises into the caller.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from typing import Callable

from .dnssd import Service, host_label

log = logging.getLogger("parley.lan")

# Every record's TTL: RFC 6762's 120 s for host records, also for the service's own (not its 75 minutes),
# so that a server that died without saying goodbye leaves other machines' lists within two minutes.
RECORD_TTL = 120
ADDRESS_CHECK = 5.0  # seconds between looks at this machine's addresses, which DHCP or a new network may change
REGISTER_TIMEOUT = 10.0  # probing and announcing take about 2 s on a quiet LAN
CLOSE_TIMEOUT = 3.0  # saying goodbye must not hold up a stop


class LanAnnouncer:
    """Announces ``services`` from ``start()`` until ``close()``, which says goodbye."""

    def __init__(self, services: list[Service]) -> None:
        self.services = services
        # The mDNS host name the services point at, "parley-192-168-1-20.local.".
        self.host = host_label([address for service in services for address in service.addresses])
        self.announced: list[str] = []  # "'box' (_parley._tcp port 6666)": as announced, after any renaming
        self._zeroconf: object | None = None

    async def start(self) -> bool:
        """Announce every service; True if they all are. A failure is logged, never raised."""
        if not log.isEnabledFor(logging.DEBUG):
            # zeroconf logs its own errors at length (and again at each retry); ours is the one line.
            logging.getLogger("zeroconf").setLevel(logging.CRITICAL)
        try:
            await asyncio.wait_for(self._register(), REGISTER_TIMEOUT)
        except Exception as error:  # any failure of the LAN: the server carries on without it
            log.warning("not announced on the LAN: %s", _reason(error))
            await self.close()
            return False
        log.info("announced on the LAN: %s", ", ".join(self.announced))
        return True

    async def _register(self) -> None:
        from zeroconf import IPVersion
        from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

        addresses = sorted({address for service in self.services for address in service.addresses})
        ipv6 = any(":" in address for address in addresses)
        ipv4 = any(":" not in address for address in addresses)
        version = IPVersion.All if ipv4 and ipv6 else IPVersion.V6Only if ipv6 else IPVersion.V4Only
        # Only the interfaces of the addresses announced: never loopback, never a network not listened on.
        zeroconf = AsyncZeroconf(interfaces=addresses, ip_version=version)
        self._zeroconf = zeroconf
        infos = [AsyncServiceInfo(
            service.type, f"{service.name}.{service.type}", port=service.port,
            properties=dict(service.properties), server=self.host,
            addresses=[socket.inet_pton(socket.AF_INET6 if ":" in a else socket.AF_INET, a) for a in service.addresses])
            for service in self.services]
        # Both at once: probing takes about 1.5 s a name.
        registering = [await zeroconf.async_register_service(info, ttl=RECORD_TTL, allow_name_change=True) for info in infos]
        await asyncio.gather(*registering)  # probing done: the names are ours
        for service, info in zip(self.services, infos):
            name = info.name.removesuffix("." + service.type)
            self.announced.append(f"{name!r} ({service.type.removesuffix('.local.')} port {service.port})")

    async def close(self) -> None:
        """Say goodbye (other machines drop the server at once) and stop listening."""
        zeroconf, self._zeroconf = self._zeroconf, None
        if zeroconf is None:
            return
        from zeroconf.asyncio import AsyncZeroconf

        assert isinstance(zeroconf, AsyncZeroconf)
        try:
            await asyncio.wait_for(zeroconf.async_unregister_all_services(), CLOSE_TIMEOUT)
        except Exception as error:
            log.debug("LAN goodbye failed: %s", _reason(error))
        try:
            await asyncio.wait_for(zeroconf.async_close(), CLOSE_TIMEOUT)
        except Exception as error:
            log.debug("closing the LAN announcer failed: %s", _reason(error))


def _reason(error: BaseException) -> str:
    if isinstance(error, (asyncio.TimeoutError, TimeoutError)):
        return "no answer from the network in time"
    if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
        return ("the mDNS port 5353 is taken by a program that does not share it "
                "(with Avahi, set disallow-other-stacks=no in avahi-daemon.conf)")
    return str(error) or type(error).__name__


async def keep_announced(services_now: Callable[[], list[Service]], every: float = ADDRESS_CHECK) -> None:
    """Announce what ``services_now()`` gives, again whenever it changes (an address came or went), until
    cancelled; then say goodbye. A failure is told once and tried again only when the addresses change."""
    announced: list[Service] | None = None  # None: nothing decided yet, so an empty start is told too
    announcer: LanAnnouncer | None = None
    try:
        while True:
            services = services_now()
            if services != announced:
                if announcer is not None:
                    await announcer.close()
                    announcer = None
                if services:
                    announcer = LanAnnouncer(services)
                    await announcer.start()
                else:
                    log.info("not announced on the LAN: this machine has no LAN address")
                announced = services
            await asyncio.sleep(every)
    finally:
        if announcer is not None:
            await announcer.close()
