"""A load generator's side of scenario 8 (``rooms.py``): clients joining rooms, and rooms' messages.

The parent gives each worker the rooms its clients are in (by client
number), and which of them create a room (and then send its messages) or
record latency. A room's bench message starts with ``~<send ns>:<room> ``
(``wire.room_chat_frame``): every member counts ``~`` bytes (on the fast
path too), and the sampled members parse them to record each room's
latencies and last arrival.
"""

from __future__ import annotations

import array
import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import wire

if TYPE_CHECKING:
    from .worker import Conn, Worker


@dataclass
class Rooms:
    """One group's rooms as this worker sees them."""

    members: dict[int, list[Conn]] = field(default_factory=dict)  # room -> its members held here
    senders: dict[int, Conn] = field(default_factory=dict)  # room -> the member that sends its messages


class RoomLoad:
    """Scenario 8's commands and figures of one worker."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.groups: dict[str, Rooms] = {}
        self.latencies: dict[int, array.array[int]] = {}
        self.last: dict[int, int] = {}

    def ops(self) -> dict[str, Callable[..., Awaitable[Any]]]:
        """Return the commands this adds to the worker's."""
        return {"rooms_enter": self.enter, "rooms_reset": self.reset, "rooms_paced": self.paced,
                "rooms_expect": self.expect}

    def arrivals(self, acc: bytearray, cut: int, now: int) -> None:
        """Record the latency and arrival of every room message in the complete lines ``acc[:cut]``."""
        i = acc.find(wire.ROOM_MARK, 0, cut)
        while i >= 0:
            colon = acc.find(b":", i, cut)
            space = acc.find(b" ", colon, cut)
            room = int(acc[colon + 1:space])
            samples = self.latencies.get(room)
            if samples is None:
                samples = self.latencies[room] = array.array("q")
            samples.append(now - int(acc[i + 1:colon]))
            self.last[room] = now
            i = acc.find(wire.ROOM_MARK, space, cut)

    def _conns(self, group: str) -> dict[int, Conn]:
        """The group's connections by client number (the number ending their nickname)."""
        return {int(c.nickname.rsplit("x", 1)[1]): c for c in self.worker.groups[group].conns}

    async def enter(self, group: str, entries: Sequence[tuple[int, int, str]], sample: Sequence[int] = (),
                    timeout: float = 120.0) -> dict[str, Any]:
        """Each (client number, room, "CREATE" or "JOIN") of ``entries``: the client sends it; wait for
        every answer. Then the clients numbered in ``sample`` record rooms' latencies. Return {"ok",
        "failed", "errors" (the first few answers that were not OK), "seconds"}."""
        started = time.monotonic()
        rooms = self.groups.setdefault(group, Rooms())
        conns = self._conns(group)
        frames: dict[int, list[bytes]] = {}
        for number, room, reason in entries:
            frames.setdefault(number, []).append(wire.room_frame(reason, room))
            conn = conns[number]
            conn.room_list = (*conn.room_list, room)
            rooms.members.setdefault(room, []).append(conn)
            if reason == "CREATE":
                rooms.senders[room] = conn
        pending = {number: len(batch) for number, batch in frames.items()}
        errors: list[str] = []
        done = asyncio.Event()
        answered = [0]

        def watch(conn: Conn, data: bytes) -> None:
            number = int(conn.nickname.rsplit("x", 1)[1])
            for line in data.splitlines():
                if line.startswith(b"CONFIRM,") and pending.get(number, 0) > 0:
                    pending[number] -= 1
                    answered[0] += 1
                    if not line.rstrip(b"\r").endswith(b",OK"):
                        errors.append(line.decode(errors="replace"))
            if answered[0] == len(entries):
                done.set()

        for number in frames:
            conns[number].watch = watch
            conns[number].line_mode = True
        self.worker.refresh_counting()
        for number, batch in frames.items():
            conns[number].send(batch)
        if entries:
            try:
                await asyncio.wait_for(done.wait(), timeout)
            except TimeoutError:
                errors.append(f"{len(entries) - answered[0]} of {len(entries)} answers missing after {timeout:.0f} s")
        for number in frames:
            conns[number].watch = None
        for number in sample:
            conns[number].room_sampled = True
        for conn in conns.values():
            conn.line_mode = conn.wants_lines()
        return {"ok": answered[0] - len(errors), "failed": len(entries) - answered[0] + len(errors),
                "errors": errors[:3], "seconds": time.monotonic() - started}

    async def reset(self, group: str, timeout: float = 10.0) -> dict[str, Any]:
        """Zero the rooms' counters and samples; return {"members": clients in a room here}."""
        self.latencies, self.last = {}, {}
        members = [c for c in self.worker.groups[group].conns if c.room_list]
        for conn in members:
            conn.room_marks = 0
        return {"members": len(members)}

    async def paced(self, group: str, rate: float, count: int, size: int, timeout: float = 60.0) -> dict[str, Any]:
        """Send ``count`` messages to each room whose sender is held here, ``rate`` a second in each, the
        rooms in turn; return {"sent": {room: n}, "first": {room: send ns of its first}, "t_start", "t_stop"}."""
        senders = sorted(self.groups.get(group, Rooms()).senders.items())
        sent: dict[int, int] = {room: 0 for room, _ in senders}
        first: dict[int, int] = {}
        if not senders or count <= 0:
            now = time.monotonic_ns()
            return {"sent": sent, "first": first, "t_start": now, "t_stop": now}

        def send(i: int) -> None:
            room, conn = senders[i % len(senders)]
            t = time.monotonic_ns()
            first.setdefault(room, t)
            sent[room] += 1
            conn.send([wire.room_chat_frame(t, room, size)])

        run = await self.worker._paced(rate * len(senders), count * len(senders), timeout, send)
        return {"sent": sent, "first": first, "t_start": run["t_start"], "t_stop": run["t_stop"]}

    async def expect(self, group: str, sent: dict[int, int], timeout: float = 30.0) -> dict[str, Any]:
        """Wait until every member held here has read every message ``sent`` to its rooms; return
        {"receivers", "complete", "lost", "members": {room: members held here}, "latencies": {room: int64
        bytes}, "last": {room: ns of the last arrival at a sampled member}}."""
        conns = [c for c in self.worker.groups[group].conns if c.room_list]
        wanted = {id(c): sum(sent.get(room, 0) for room in c.room_list) for c in conns}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(c.room_marks >= wanted[id(c)] for c in conns if not c.closed):
                break
            await asyncio.sleep(0.005)
        live = [c for c in conns if not c.closed]
        lost = sum(max(0, wanted[id(c)] - c.room_marks) for c in live) + sum(wanted[id(c)] for c in conns if c.closed)
        extra = sum(max(0, c.room_marks - wanted[id(c)]) for c in live)
        rooms = self.groups.get(group, Rooms())
        return {"receivers": len(live), "complete": lost == 0 and extra == 0, "lost": lost, "extra": extra,
                "members": {room: len(members) for room, members in rooms.members.items()},
                "latencies": {room: samples.tobytes() for room, samples in self.latencies.items()},
                "last": dict(self.last)}
