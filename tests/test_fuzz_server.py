"""A socket fuzzer against a live server, with a well-behaved client chatting beside it.

Several connections send random bytes and mutations of valid frames for a
bounded time (seeded, so a failure can be replayed with PARLEY_FUZZ_SEED).
The server must never crash, and the well-behaved client must be served
throughout: every message it sends comes back.
"""

from __future__ import annotations

import asyncio
import os
import random

from wire import TIMEOUT, Client

SEED = int(os.environ.get("PARLEY_FUZZ_SEED", "20261124"))
FUZZ_SECONDS = 4.0
FUZZERS = 6

VALID = [
    b"CON,nickname=fuzz{n};password=;color=#FFF,",
    b"CHAT,rec=-ALL,hello",
    b"CHAT,rec=nobody,psst",
    b"UPDATE,nickname=f{n}x;color=#123456,",
    b"UPDATE,password=pw{n}pwpwpw,",
    b"USER,,",
    b"REF,,",
    b"KICK,user=calm,out",
    b"PING,,p",
    b"DISCON,,",
]
SPECIALS = b",;=/\\\r\n\x00\xff\xc3"


def mutate(rng: random.Random, frame: bytes) -> bytes:
    data = bytearray(frame)
    for _ in range(rng.randint(1, 6)):
        action = rng.random()
        where = rng.randint(0, len(data))
        if action < 0.3:
            data[where:where] = bytes([rng.choice(SPECIALS)])
        elif action < 0.5 and data:
            del data[min(where, len(data) - 1)]
        elif action < 0.7:
            data[where:where] = rng.randbytes(rng.randint(1, 20))
        elif action < 0.85:
            data[where:where] = b"/" * rng.randint(1, 200)
        else:
            data[where:where] = b";k=v" * rng.randint(1, 100)
    return bytes(data)


async def fuzz_connection(port: int, rng: random.Random, n: int, deadline: float) -> int:
    """Send garbage until the deadline, reconnecting whenever the server hangs up."""
    sent = 0
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        try:
            while loop.time() < deadline and not reader.at_eof():
                choice = rng.random()
                if choice < 0.1:
                    payload = rng.randbytes(rng.randint(1, 300))
                elif choice < 0.15:
                    payload = b"CHAT,rec=-ALL," + b"z" * rng.randint(8000, 9000) + b"\n"
                else:
                    frame = rng.choice(VALID).replace(b"{n}", str(n).encode())
                    payload = (mutate(rng, frame) if rng.random() < 0.7 else frame) + b"\n"
                writer.write(payload)
                await writer.drain()
                sent += 1
                if reader._buffer:  # type: ignore[attr-defined]  # keep our own buffer small
                    reader._buffer.clear()  # type: ignore[attr-defined]
                await asyncio.sleep(rng.random() * 0.005)
        except OSError:
            pass
        finally:
            writer.transport.abort()
    return sent


async def test_fuzzed_connections_never_stop_a_calm_client(make_server, caplog) -> None:
    # No guessing limit: the fuzzers' CONs and renames onto the accounts they register count as
    # guesses from this address, which would then refuse the late client's login (as it should).
    server = await make_server(chat_rate=0, max_connections_per_address=0, frame_timeout=1.0,
                               login_failures_per_address=0, login_failures_per_nickname=0,
                               login_failures_per_account=0)
    calm = await Client.connect(server.port)
    try:
        await calm.login("calm")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FUZZ_SECONDS
        rng = random.Random(SEED)
        fuzzers = [
            asyncio.create_task(fuzz_connection(server.port, random.Random(rng.random()), n, deadline))
            for n in range(FUZZERS)
        ]
        echoed = 0
        while loop.time() < deadline:
            await calm.send(f"CHAT,rec=-ALL,calm {echoed}")
            while True:
                frame = await calm.recv(timeout=TIMEOUT)
                if frame.reason == "CHATR" and frame.content == f"calm {echoed}":
                    break
            echoed += 1
            await asyncio.sleep(0.02)
        sent = sum(await asyncio.gather(*fuzzers))
        print(f"seed {SEED}: {sent} fuzz frames; calm client served {echoed} times")
        assert sent > 1000 and echoed > 20
        # The server is still whole: a new client logs in and sees the calm one.
        late = await Client.connect(server.port)
        await late.login("late")
        await late.send("USER,,")
        assert "calm" in (await late.expect("USER")).params.values()
        await late.close()
        crashes = [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
        assert crashes == [], crashes[0].getMessage() if crashes else ""
    finally:
        await calm.close()
