"""Browse the LAN for Parley's two DNS-SD services and print what is heard, one JSON object a line.

    python tests/mdns_browse.py SECONDS

Run by the LAN tests inside a network namespace (tests/lan.py). It uses
python-zeroconf directly, not Parley's own discovery, so that it checks the
announcement against the standard rather than against Parley's reading of it.
Each line: {"change": "added"|"updated"|"removed", "type", "name", and for a
resolved record "addresses", "port", "properties", "server"}. It stops after
SECONDS (bounded), or when the test ends it sooner.
"""

from __future__ import annotations

import asyncio
import json
import sys

from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

TYPES = ["_parley._tcp.local.", "_http._tcp.local."]


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


async def resolve(zeroconf: Zeroconf, change: str, service_type: str, name: str) -> None:
    info = AsyncServiceInfo(service_type, name)
    if not await info.async_request(zeroconf, 3000):
        say(change=change, type=service_type, name=name, resolved=False)
        return
    properties = {key.decode(): (value or b"").decode() for key, value in info.properties.items()}
    say(change=change, type=service_type, name=name, resolved=True, addresses=info.parsed_addresses(),
        port=info.port, properties=properties, server=info.server)


async def main(seconds: float) -> None:
    zeroconf = AsyncZeroconf(ip_version=IPVersion.V4Only)
    tasks: set[asyncio.Task[None]] = set()

    def changed(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        change = state_change.name.lower()
        if state_change is ServiceStateChange.Removed:
            say(change=change, type=service_type, name=name)
        else:
            task = asyncio.ensure_future(resolve(zeroconf, change, service_type, name))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    browser = AsyncServiceBrowser(zeroconf.zeroconf, TYPES, handlers=[changed])
    say(change="browsing")
    await asyncio.sleep(seconds)
    await browser.async_cancel()
    await zeroconf.async_close()


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1])))
