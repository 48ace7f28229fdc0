"""An admin's login time, alone and while spammers keep the password hasher busy (issue 12, item 4).

``python -m bench.login_under_spam`` starts a chat server in this process on
loopback, times ten admin logins, then has 120 connections, each from its
own address (a PROXY line from loopback, trusted here), send
``UPDATE,password=`` in a loop, and times ten more. Everything stops by itself.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from parley.net.proxy import parse_networks
from parley.protocol import Frame, parse_frame
from server.app import ChatServer
from server.config import ServerConfig
from server.passwords import hash_password
from server.store import Store, database_path

SPAMMERS = 120
LOGINS = 10
WAIT = 60.0


class Line:
    """One connection, reading newline-framed frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, address: str | None = None, source_port: int = 0) -> "Line":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if address is not None:
            writer.write(f"PROXY TCP4 {address} 127.0.0.1 {source_port} 6666\r\n".encode())
        return cls(reader, writer)

    def send(self, text: str) -> None:
        self.writer.write(text.encode() + b"\n")

    async def next(self, reason: str) -> Frame:
        while True:
            line = await asyncio.wait_for(self.reader.readline(), WAIT)
            if not line:
                raise ConnectionError("closed")
            frame = parse_frame(line.rstrip(b"\n").decode())
            if frame.reason == reason:
                return frame

    def close(self) -> None:
        self.writer.close()


async def admin_logins(port: int) -> float:
    """The median of LOGINS admin logins, in seconds."""
    times = []
    for _ in range(LOGINS):
        line = await Line.open(port)
        start = time.perf_counter()
        line.send("CON,nickname=boss;password=boss-password;color=#FFF,")
        answer = await line.next("CONVER")
        times.append(time.perf_counter() - start)
        if answer.content != "OK":
            raise RuntimeError(f"the admin's login failed: {answer.content}")
        line.send("DISCON,,")
        await line.next("CONFIRM")
        line.close()
    return statistics.median(times)


async def spam(port: int, index: int, stop: asyncio.Event, answers: dict[str, int]) -> None:
    line = await Line.open(port, f"10.1.{index // 250}.{index % 250 + 1}", 30000 + index)
    line.send(f"CON,nickname=spam{index};password=;color=#FFF,")
    await line.next("CONVER")
    while not stop.is_set():
        line.send("UPDATE,password=spam-password,")
        content = (await line.next("CONFIRM")).content
        answers[content] = answers.get(content, 0) + 1
    line.close()


async def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="parley-bench-")) / "data"
    store = Store(database_path(data))
    store.add_account("boss", "admin", hash_password("boss-password"))
    store.close()
    config = ServerConfig(host="127.0.0.1", port=0, data_dir=data, trusted_proxies=parse_networks(["127.0.0.1/32"]),
                          max_connections_per_address=0)
    config.accounts_per_address = 0  # the spammers' first change registers them
    server = ChatServer(config)
    await server.start()
    try:
        alone = await admin_logins(server.port)
        stop, answers = asyncio.Event(), dict[str, int]()
        tasks = [asyncio.create_task(spam(server.port, i, stop, answers)) for i in range(SPAMMERS)]
        await asyncio.sleep(2)
        spammed = await admin_logins(server.port)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
    finally:
        await server.close()
    print(f"admin login median: alone {alone * 1000:.0f} ms, with {SPAMMERS} spammers {spammed * 1000:.0f} ms;"
          f" spammers' answers {answers}", flush=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
