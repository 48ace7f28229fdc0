"""Scenario 7, userlist: bytes the server sends when one user joins and leaves in a loop (issue 12, item 6).

N idle clients are logged in: all but ``--userlist-plain`` of them ask for
user-list changes (``CON ... lists=changes``, as the page and the desktop
client do), the rest do not (as the original program's clients). Then one
more client joins and leaves (CON, CONVER, DISCON, close) in a closed loop
for ``--seconds``, and the room's clients count every byte they read, from
the first CON until the room is quiet again. Figures: bytes per join or
leave, and what that rate of changes costs per second.

Against a tree without the extension (``--parley-source`` of an older
checkout) every client gets whole lists: the "before" of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time

from .common import Bench, Result, Row, Series, human, shared_flags, with_range
from .pool import Room
from .stats import median

LOOP_NICKNAME = "looper"


async def _join_and_leave(port: int, seconds: float) -> int:
    """Join and leave as one user, one after another, for ``seconds``; return the number of changes."""
    changes = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"CON,nickname={LOOP_NICKNAME};password=;color=#123456,\n".encode())
        while True:  # until our CONVER (the name may still be held by our last connection: try again)
            line = await asyncio.wait_for(reader.readline(), 10)
            if not line:
                raise RuntimeError("the server closed the looping client's connection")
            if line.startswith(b"CONVER,"):
                break
        if line.rstrip().endswith(b",OK"):
            changes += 2
            writer.write(b"DISCON,,\n")
        while await asyncio.wait_for(reader.read(1 << 16), 10):
            pass  # read until the server closes
        writer.close()
    return changes


def _kb(value: float) -> str:
    return f"{value / 1000:,.1f} KB"


def run_userlist(args: argparse.Namespace) -> Result:
    """Scenario 7: bytes per join or leave with N online (most asking for changes), and bytes a second while
    one user joins and leaves in a loop."""
    sizes = args.clients or ([300] if args.quick else [1000, 3000])
    plain = args.userlist_plain
    series = Series()
    with Bench.from_args(args) as bench:
        for number in range(args.rounds):
            for n in sizes:
                system = bench.parley(f"parley-{n}-{number}")
                tcp = system.endpoints["tcp"]
                changing = max(0, n - plain)
                room = Room(bench.pool, f"userlist-{n}-{number}",
                            [(dataclasses.replace(tcp, lists="changes"), changing), (tcp, n - changing)])
                try:
                    room.connect(timeout=300)
                    room.quiet(1.0, timeout=180)
                    bench.pool.each("reset", 30, group=room.name)
                    started = time.monotonic()
                    changes = asyncio.run(_join_and_leave(tcp.port, args.seconds))
                    looped = time.monotonic() - started
                    room.quiet(1.5, timeout=120)
                    received = sum(r["bytes"] for r in bench.pool.each("received", 30))
                finally:
                    bench.stop(system)
                    room.close()
                per_change = received / max(1, changes)
                series.add("parley", f"per-change-{n}", per_change, {"round": number, "changes": changes,
                                                                      "bytes": received, "seconds": looped})
                series.add("parley", f"per-second-{n}", received / looped)
                bench.log(f"round {number + 1}/{args.rounds} N={n}: {changes} joins and leaves in {looped:.1f} s, "
                          f"{received / 1e6:,.1f} MB to the room: {_kb(per_change)} per change")
    s = "7 userlist"
    rows = []
    for n in sizes:
        rows.append(Row(s, f"bytes the room reads per join or leave, {n:,} online ({min(plain, n)} without "
                           "lists=changes), one user joining and leaving in a loop",
                        with_range(series.get("parley", f"per-change-{n}"), _kb), ""))
        rows.append(Row(s, f"  the same loop: bytes a second to the room, {n:,} online",
                        with_range(series.get("parley", f"per-second-{n}"), lambda v: human(v, " B/s")), ""))
    summary = "userlist: " + "; ".join(
        f"N={n}: {_kb(median(series.get('parley', f'per-change-{n}')))} per join or leave, "
        f"{median(series.get('parley', f'per-second-{n}')) / 1e6:,.1f} MB/s in a join/leave loop" for n in sizes)
    command = (f"python -m bench userlist --clients {','.join(map(str, sizes))} --userlist-plain {plain} "
               f"--seconds {args.seconds:g} --rounds {args.rounds}")
    command += shared_flags(args)
    return Result("userlist", command, summary, rows, series.figures())
