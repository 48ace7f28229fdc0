"""The yardstick: a minimal asyncio fan-out server with no protocol at all.

Every complete line any client sends goes to every connected client, the
sender included. By default the lines read during one event loop iteration
are joined and go out in one ``write`` per client at the end of the
iteration; ``--naive`` writes every line to every socket separately, for
reference. Run as ``python -m bench.yardstick --port 0``; it prints
``TCP port N`` when it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import signal
import sys


class Room:
    """The connected clients and the lines waiting to go to all of them."""

    def __init__(self, loop: asyncio.AbstractEventLoop, naive: bool) -> None:
        self.loop = loop
        self.naive = naive
        self.clients: list[asyncio.Transport] = []
        self.pending: list[bytes] = []

    def publish(self, lines: bytes) -> None:
        """Queue complete lines (each ending in ``\\n``) for everyone; flush at the end of this iteration."""
        if self.naive:
            for line in lines.splitlines(keepends=True):
                for transport in self.clients:
                    if not transport.is_closing():
                        transport.write(line)
            return
        if not self.pending:
            self.loop.call_soon(self.flush)
        self.pending.append(lines)

    def flush(self) -> None:
        """Write everything queued since the last flush to every client, one write each."""
        data = b"".join(self.pending)
        self.pending.clear()
        for transport in self.clients:
            if not transport.is_closing():
                transport.write(data)


class Client(asyncio.Protocol):
    """One connection: its complete lines go to the room."""

    def __init__(self, room: Room) -> None:
        self.room = room
        self.partial = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio's class
        self.room.clients.append(self.transport)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        if self.partial:
            data = self.partial + data
        cut = data.rfind(b"\n") + 1
        self.partial = data[cut:]
        if cut:
            self.room.publish(data[:cut] if cut < len(data) else data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport in self.room.clients:
            self.room.clients.remove(self.transport)


async def serve(host: str, port: int, naive: bool, loop_name: str = "asyncio") -> None:
    """Listen until SIGTERM or SIGINT; print ``TCP port N`` once listening."""
    loop = asyncio.get_running_loop()
    room = Room(loop, naive)
    server = await loop.create_server(lambda: Client(room), host, port, backlog=4096, reuse_address=True)
    print(f"yardstick ({'naive' if naive else 'joined'}, {loop_name} loop) TCP port "
          f"{server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    for transport in list(room.clients):
        transport.abort()


def main(argv: list[str] | None = None) -> int:
    """Run the yardstick; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m bench.yardstick", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--naive", action="store_true", help="write every line to every socket separately")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio",
                        help="event loop (default asyncio's own)")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    factory = None
    if args.loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(serve(args.host, args.port, args.naive, args.loop))
    return 0


if __name__ == "__main__":
    sys.exit(main())
