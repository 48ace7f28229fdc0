"""A load-generator process: it holds client connections and runs the parent's commands.

The parent (``pool.py``) sends commands as dicts over a pipe; each runs as a
task and is answered with ``{"id", "ok", "result" | "error"}``. Connections
are grouped (one group per system under test), so a process can hold rooms
on several servers at once and the parent can alternate between them.

Receiving is kept cheap: every TCP connection reads into one shared buffer
(``recv_into``, no allocation per read) and counts bench messages with one
``bytearray.count`` per read. Only connections with a role (logging in,
sampled for latency, sending, round trips) look at lines; WebSocket
connections walk frame headers.
"""

from __future__ import annotations

import array
import asyncio
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Awaitable, Callable

from . import wire
from .fastloop import CountingLoop
from .procs import raise_nofile
from .roomload import RoomLoad

READ_BUFFER = 256 * 1024
CONNECT_CONCURRENCY = 32  # the server's listen backlog may be 100
PER_CONNECTION_WAIT = 30.0  # seconds one connection may wait for its upgrade or first PONG
LOGIN = 0
READY = 1


@dataclass
class Run:
    """An active sending run of this process (closed loop or round trips)."""

    kind: str  # "chat" (closed-loop broadcasts) or "rtt" (closed-loop round trips)
    window: int = 1
    size: int = 100
    limit: int = 0
    sent: int = 0
    sending: bool = True


@dataclass
class Group:
    """The connections of one room (one system under test) held by this process."""

    conns: list["Conn"] = field(default_factory=list)
    senders: list["Conn"] = field(default_factory=list)


class Conn(asyncio.BufferedProtocol):
    """One client connection, TCP or WebSocket, to Parley or the yardstick."""

    def __init__(self, worker: "Worker", endpoint: dict[str, Any], nickname: str) -> None:
        self.worker = worker
        self.endpoint = endpoint
        self.ws = endpoint["kind"] == "ws"
        self.binary = bool(endpoint.get("binary"))
        self.parley = bool(endpoint.get("parley", True))
        self.nickname = nickname
        self.transport: asyncio.Transport | None = None
        self.acc = bytearray()  # TCP: partial line (line mode); WebSocket: partial frame
        self.stream = bytearray()  # WebSocket binary: relayed TCP bytes not yet ending in a line
        self.line_mode = True
        self.state = LOGIN if self.parley else READY
        self.handshaking = self.ws
        loop = worker.loop
        self.opened: asyncio.Future[bool] = loop.create_future()
        self.logged_in: asyncio.Future[bool] | None = None
        self.probe: asyncio.Future[bool] | None = None  # answered by the first PONG
        self.closed = False
        self.sampled = False
        self.tag: bytes | None = None
        self.rtt = False
        self.sock: Any = None
        self.fd = -1
        self.marks = 0
        self.t_mark = 0
        self.sent = 0
        self.own = 0
        # Scenario 8 (rooms.py, roomload.py): the rooms this client is in, the room messages it read,
        # whether it records their latency, and a hook that reads its lines while it joins rooms.
        self.room_list: tuple[int, ...] = ()
        self.room_marks = 0
        self.room_sampled = False
        self.watch: Callable[[Conn, bytes], None] | None = None

    def wants_lines(self) -> bool:
        """Return whether this connection must look at lines (a role), not just count messages."""
        return (self.state == LOGIN or self.sampled or self.tag is not None or self.rtt or self.room_sampled
                or self.watch is not None)

    # asyncio callbacks ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.sock = transport.get_extra_info("socket")._sock  # the raw socket, for CountingLoop
        self.fd = self.sock.fileno()
        if self.ws:
            endpoint = self.endpoint
            transport.write(wire.ws_handshake("127.0.0.1", endpoint["port"], endpoint.get("path", "/ws"),
                                              endpoint.get("subprotocol")))
        elif not self.opened.done():
            self.opened.set_result(True)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        counting = self.worker.loop.counting
        if counting.get(self.fd) is self:
            del counting[self.fd]
        self.worker.lost += 1
        for future in (self.opened, self.logged_in, self.probe):
            if future is not None and not future.done():
                future.set_result(False)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.worker.rview

    def buffer_updated(self, nbytes: int) -> None:
        worker = self.worker
        worker.reads += 1
        worker.rx_bytes += nbytes
        if self.ws:
            self._ws_data(nbytes)
            return
        if not self.line_mode:
            found = worker.rbuf.count(wire.MARK_BYTE, 0, nbytes)
            if found:
                self.marks += found
                self.t_mark = time.monotonic_ns()
            return
        acc = self.acc
        acc += worker.rview[:nbytes]
        self._lines(acc)

    def eof_received(self) -> bool | None:
        return None

    # Lines (TCP, and WebSocket binary relaying TCP bytes) ------------------

    def _lines(self, acc: bytearray) -> None:
        """Handle the complete lines at the start of ``acc`` and remove them."""
        cut = acc.rfind(b"\n") + 1
        if not cut:
            return
        now = time.monotonic_ns()
        found = acc.count(wire.MARK_BYTE, 0, cut)
        if found:
            self.marks += found
            self.t_mark = now
            if self.sampled:
                record = self.worker.latencies.append
                i = acc.find(wire.MARK, 0, cut)
                while i >= 0:
                    j = acc.find(b" ", i, cut)
                    record(now - int(acc[i + 1:j]))
                    i = acc.find(wire.MARK, j, cut)
            if self.tag is not None:
                self.own += acc.count(self.tag, 0, cut)
        if self.room_list:
            found_room = acc.count(wire.ROOM_MARK_BYTE, 0, cut)
            if found_room:
                self.room_marks += found_room
                if self.room_sampled:
                    self.worker.room_arrivals(acc, cut, now)
        if self.watch is not None:
            self.watch(self, bytes(acc[:cut]))
        if self.state == LOGIN:
            i = acc.find(b"CONVER,", 0, cut)
            if i >= 0:
                j = acc.find(b"\n", i, cut)
                self._login_answer(bytes(acc[i:j]).rstrip(b"\r").endswith(b",OK"))
        if self.probe is not None and not self.probe.done() and acc.find(b"PONG,", 0, cut) >= 0:
            self.probe.set_result(True)
        if self.rtt:
            i = acc.find(b"PONG,", 0, cut)
            while i >= 0:
                k = acc.find(b",", i + 5, cut)
                j = acc.find(b" ", k, cut)
                self._pong(now, int(acc[k + 1:j]))
                i = acc.find(b"PONG,", j, cut)
        del acc[:cut]
        if found and self.tag is not None:
            self.pump()

    def _login_answer(self, ok: bool) -> None:
        self.state = READY
        self.line_mode = self.wants_lines()
        if self.logged_in is not None and not self.logged_in.done():
            self.logged_in.set_result(ok)

    # WebSocket ---------------------------------------------------------------

    def _ws_data(self, nbytes: int) -> None:
        worker = self.worker
        if self.handshaking:
            self.acc += worker.rview[:nbytes]
            end = self.acc.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.acc[:self.acc.find(b"\r\n")])
            del self.acc[:end + 4]
            self.handshaking = False
            if b" 101 " not in status + b" ":
                self.opened.set_result(False)
                assert self.transport is not None
                self.transport.close()
                return
            self.opened.set_result(True)
            buf, end = self.acc, len(self.acc)
        elif self.acc:
            self.acc += worker.rview[:nbytes]
            buf, end = self.acc, len(self.acc)
        else:
            buf, end = worker.rbuf, nbytes
        used = self._ws_frames(buf, end)
        if buf is self.acc:
            del buf[:used]
        elif used < end:
            self.acc = bytearray(buf[used:end])
        if self.tag is not None and self.worker.run is not None:
            self.pump()

    def _ws_frames(self, b: bytearray, end: int) -> int:
        """Handle the complete frames in ``b[:end]``; return how many bytes they took."""
        p = 0
        now = 0
        marks = 0
        while end - p >= 2:
            size = b[p + 1] & 0x7F
            head = 2
            if size == 126:
                if end - p < 4:
                    break
                size = (b[p + 2] << 8) | b[p + 3]
                head = 4
            elif size == 127:
                if end - p < 10:
                    break
                size = int.from_bytes(b[p + 2:p + 10], "big")
                head = 10
            s = p + head
            q = s + size
            if q > end:
                break
            opcode = b[p] & 0x0F
            p = q
            if opcode == 1:
                if b[s] == 67 and b[s + 1] == 72:  # "CH": CHATR
                    marks += 1
                    if self.sampled or self.tag is not None:
                        now = now or time.monotonic_ns()
                        if self.sampled:
                            i = b.find(wire.MARK, s, q)
                            j = b.find(b" ", i, q)
                            self.worker.latencies.append(now - int(b[i + 1:j]))
                        if self.tag is not None and b.find(self.tag, s, q) >= 0:
                            self.own += 1
                elif b[s] == 80 and self.probe is not None and not self.probe.done():
                    self.probe.set_result(True)
                elif self.rtt and b[s] == 80:  # "P": PONG
                    now = now or time.monotonic_ns()
                    k = b.find(b",", s + 5, q)
                    j = b.find(b" ", k, q)
                    self._pong(now, int(b[k + 1:j]))
                elif self.state == LOGIN and b.startswith(b"CONVER,", s):
                    self._login_answer(b[q - 3:q] == b",OK")
            elif opcode == 2 or opcode == 0:
                self.stream += b[s:q]
                self._lines(self.stream)
            elif opcode == 9:
                assert self.transport is not None
                self.transport.write(wire.ws_frame(bytes(b[s:q]), 10))
            elif opcode == 8:
                self.closed = True
                assert self.transport is not None
                self.transport.close()
        if marks:
            self.marks += marks
            self.t_mark = now or time.monotonic_ns()
        return p

    # Sending -------------------------------------------------------------------

    def send(self, frames: list[bytes]) -> None:
        """Send frames (without terminators) in one write."""
        if self.closed or self.transport is None:
            return
        if not self.ws:
            self.transport.write(b"\n".join(frames) + b"\n")
        elif self.binary:
            self.transport.write(wire.ws_frame(b"\n".join(frames) + b"\n", 2))
        else:
            self.transport.write(b"".join(wire.ws_frame(f) for f in frames))

    def pump(self) -> None:
        """Closed-loop chat: top this sender's outstanding messages up to the run's window."""
        run = self.worker.run
        if run is None or run.kind != "chat" or not run.sending or self.tag is None:
            return
        room = min(run.window - (self.sent - self.own), run.limit - run.sent)
        if room <= 0:
            if run.sent >= run.limit:
                run.sending = False
            return
        t = time.monotonic_ns()
        self.sent += room
        run.sent += room
        self.send([wire.chat_frame(t, self.tag, run.size)] * room)

    def _pong(self, now: int, t_sent: int) -> None:
        worker = self.worker
        worker.latencies.append(now - t_sent)
        self.own += 1
        run = worker.run
        if run is not None and run.kind == "rtt" and run.sending and run.sent < run.limit:
            run.sent += 1
            self.sent += 1
            self.send([wire.ping_frame(time.monotonic_ns(), run.size)])


class Worker:
    """The commands one load-generator process runs (see the module docstring)."""

    def __init__(self, index: int, pipe: Connection) -> None:
        self.index = index
        self.pipe = pipe
        loop = asyncio.get_running_loop()
        assert isinstance(loop, CountingLoop)
        self.loop = loop
        self.rbuf = bytearray(READ_BUFFER)
        self.rview = memoryview(self.rbuf)
        self.groups: dict[str, Group] = {}
        self.group_numbers: dict[str, int] = {}
        self.latencies = array.array("q")
        self.reads = 0
        self.rx_bytes = 0
        self.lost = 0
        self.run: Run | None = None
        self.done = asyncio.Event()
        self.ops: dict[str, Callable[..., Awaitable[Any]]] = {
            "connect": self.connect, "login": self.login, "quiet": self.quiet, "reset": self.reset,
            "chat_closed": self.chat_closed, "chat_paced": self.chat_paced, "expect": self.expect,
            "rtt": self.rtt, "close": self.close, "exit": self.exit, "info": self.info, "received": self.received,
        }
        self.tasks: set[asyncio.Task[None]] = set()
        self.roomload = RoomLoad(self)
        self.room_arrivals = self.roomload.arrivals
        self.ops.update(self.roomload.ops())

    async def serve(self) -> None:
        """Run commands from the pipe until ``exit`` or until the parent goes away."""
        self.loop.add_reader(self.pipe.fileno(), self._command)
        await self.done.wait()
        self.loop.remove_reader(self.pipe.fileno())
        for group in self.groups.values():
            for conn in group.conns:
                if conn.transport is not None:
                    conn.transport.abort()

    def _command(self) -> None:
        try:
            message = self.pipe.recv()
        except (EOFError, OSError):
            self.done.set()
            return
        task = self.loop.create_task(self._answer(message))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _answer(self, message: dict[str, Any]) -> None:
        try:
            result = await self.ops[message["op"]](**message.get("args", {}))
            self.refresh_counting()
            reply = {"id": message["id"], "ok": True, "result": result}
        except Exception:
            reply = {"id": message["id"], "ok": False, "error": traceback.format_exc()}
        try:
            self.pipe.send(reply)
        except (OSError, EOFError):
            self.done.set()

    def refresh_counting(self) -> None:
        """Hand the TCP connections that only count to the loop's fast path; take the others back."""
        self.loop.counting = {c.fd: c for g in self.groups.values() for c in g.conns
                              if not c.ws and not c.line_mode and not c.closed and c.fd >= 0}

    @property
    def total_reads(self) -> int:
        """Reads so far, by protocols and by the loop's fast path."""
        return self.reads + self.loop.reads

    # Commands -------------------------------------------------------------------

    async def connect(self, group: str, endpoints: list[tuple[dict[str, Any], int]], first: int,
                      login: bool = True, concurrency: int = CONNECT_CONCURRENCY, probe: bool = True,
                      timeout: float = 120.0) -> dict[str, Any]:
        """Open connections, at most ``concurrency`` at a time, each until Parley answers a PING (with
        ``probe``) and logged in (with ``login``); return {"connected", "failed", "error", "seconds"}."""
        if group not in self.groups:
            self.groups[group] = Group()
            self.group_numbers[group] = len(self.group_numbers)
        room = self.groups[group]
        prefix = f"u{self.index}g{self.group_numbers[group]}x"
        limit = asyncio.Semaphore(concurrency)
        started = time.monotonic()
        deadline = started + timeout
        errors: list[str] = []
        specs = [endpoint for endpoint, count in endpoints for _ in range(count)]

        async def one(number: int, endpoint: dict[str, Any]) -> bool:
            nickname = f"{prefix}{number}"
            async with limit:
                conn = Conn(self, endpoint, nickname)
                try:
                    await asyncio.wait_for(self.loop.create_connection(lambda: conn, "127.0.0.1", endpoint["port"]),
                                           max(0.1, deadline - time.monotonic()))
                    if not await asyncio.wait_for(conn.opened, _within(deadline)):
                        raise ConnectionError("WebSocket upgrade refused")
                    room.conns.append(conn)
                    if conn.parley and probe:
                        # Wait until the server serves this connection: connect() returns once the
                        # kernel queued it, and a server that accepts slowly overflows its backlog.
                        conn.probe = self.loop.create_future()
                        conn.send([b"PING,,probe"])
                        if not await asyncio.wait_for(conn.probe, _within(deadline)):
                            raise ConnectionError("no PONG")
                    if login and conn.parley:
                        if await self._login_one(conn, deadline):
                            return True
                        errors.append(f"login of {nickname} refused")
                        return False
                    if not conn.parley:
                        conn.line_mode = False
                    return True
                except (OSError, asyncio.TimeoutError, ConnectionError) as error:
                    errors.append(f"{error.__class__.__name__}: {error}")
                    return False

        results = await asyncio.gather(*(one(first + i, spec) for i, spec in enumerate(specs)))
        return {"connected": sum(results), "failed": len(results) - sum(results), "error": errors[:3],
                "seconds": time.monotonic() - started}

    async def _login_one(self, conn: Conn, deadline: float) -> bool:
        conn.logged_in = self.loop.create_future()
        conn.state = LOGIN
        conn.line_mode = True
        conn.send([wire.con_frame(conn.nickname, conn.endpoint.get("lists") or "", bool(conn.endpoint.get("rooms")))])
        return await asyncio.wait_for(conn.logged_in, max(0.1, deadline - time.monotonic()))

    async def login(self, group: str, timeout: float = 60.0) -> dict[str, Any]:
        """Log in every connection of the group at once; return {"ok", "failed", "t_start", "t_end"} (ns)."""
        conns = [c for c in self.groups[group].conns if c.parley and c.state == LOGIN and not c.closed]
        deadline = time.monotonic() + timeout
        t_start = time.monotonic_ns()
        results = await asyncio.gather(*(self._login_one(c, deadline) for c in conns), return_exceptions=True)
        t_end = time.monotonic_ns()
        ok = sum(1 for r in results if r is True)
        return {"ok": ok, "failed": len(results) - ok, "t_start": t_start, "t_end": t_end}

    async def quiet(self, idle: float = 0.3, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until nothing has been read for ``idle`` seconds; return {"quiet", "seconds"}."""
        started = time.monotonic()
        last, since = self.total_reads, time.monotonic()
        while time.monotonic() - started < timeout:
            await asyncio.sleep(min(0.05, idle))
            if self.total_reads != last:
                last, since = self.total_reads, time.monotonic()
            elif time.monotonic() - since >= idle:
                return {"quiet": True, "seconds": time.monotonic() - started}
        return {"quiet": False, "seconds": time.monotonic() - started}

    async def reset(self, group: str, senders: int = 0, sample: int = 0, rtt: bool = False,
                    timeout: float = 10.0) -> dict[str, Any]:
        """Zero the group's counters and give roles: ``senders`` and ``sample`` connections spread
        evenly over the group, round trips for all if ``rtt``; return {"conns", "senders", "sampled"}."""
        room = self.groups[group]
        conns = [c for c in room.conns if not c.closed]
        self.latencies = array.array("q")
        self.rx_bytes = self.loop.bytes = 0
        for c in conns:
            c.marks = c.t_mark = c.sent = c.own = 0
            c.sampled, c.tag, c.rtt = False, None, rtt
        room.senders = _spread(conns, senders, 0)
        for number, c in enumerate(room.senders):
            c.tag = wire.sender_tag(self.index, number)
        for c in _spread(conns, sample, 1):
            c.sampled = True
        for c in conns:
            c.line_mode = c.wants_lines()
        return {"conns": len(conns), "senders": len(room.senders), "sampled": sum(c.sampled for c in conns)}

    async def chat_closed(self, group: str, window: int, duration: float, limit: int, size: int,
                          timeout: float = 60.0) -> dict[str, Any]:
        """Closed loop: each sender keeps ``window`` broadcasts unanswered by its own echo, for
        ``duration`` seconds or ``limit`` messages; return {"sent", "t_start", "t_stop", "t_echoed", "complete"}."""
        senders = self.groups[group].senders
        run = self.run = Run("chat", window=window, size=size, limit=limit)
        t_start = time.monotonic_ns()
        for conn in senders:
            conn.pump()
        stop = self.loop.call_later(duration, setattr, run, "sending", False)
        deadline = time.monotonic() + timeout
        try:
            while run.sending and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            run.sending = False
            t_stop = time.monotonic_ns()
            while time.monotonic() < deadline and any(c.own < c.sent for c in senders if not c.closed):
                await asyncio.sleep(0.002)
        finally:
            stop.cancel()
            self.run = None
        complete = all(c.own == c.sent for c in senders)
        t_echoed = max((c.t_mark for c in senders), default=t_stop)
        return {"sent": run.sent, "t_start": t_start, "t_stop": t_stop, "t_echoed": t_echoed, "complete": complete}

    async def chat_paced(self, group: str, rate: float, count: int, size: int, timeout: float = 60.0) -> dict[str, Any]:
        """Open loop: ``count`` broadcasts at ``rate`` a second, round-robin over the senders;
        return {"sent", "t_start", "t_stop"}."""
        senders = [c for c in self.groups[group].senders if not c.closed]
        if not senders or count <= 0:
            return {"sent": 0, "t_start": time.monotonic_ns(), "t_stop": time.monotonic_ns()}

        def send(i: int) -> None:
            conn = senders[i % len(senders)]
            conn.sent += 1
            conn.send([wire.chat_frame(time.monotonic_ns(), conn.tag or b" ", size)])

        return await self._paced(rate, count, timeout, send)

    async def _paced(self, rate: float, count: int, timeout: float, send: Callable[[int], None]) -> dict[str, Any]:
        interval = 1.0 / rate
        t_start = time.monotonic_ns()
        start = time.monotonic()
        deadline = start + timeout
        i = 0
        while i < count and time.monotonic() < deadline:
            delay = start + i * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.monotonic()
            while i < count and start + i * interval <= now:
                send(i)
                i += 1
        return {"sent": i, "t_start": t_start, "t_stop": time.monotonic_ns()}

    async def expect(self, group: str, count: int, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until every open connection of the group has received ``count`` bench messages; return
        {"receivers", "min", "max", "complete", "t_done" (ns), "closed", "latencies" (int64 bytes)}."""
        conns = self.groups[group].conns
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(c.marks >= count for c in conns if not c.closed):
                break
            await asyncio.sleep(0.005)
        live = [c for c in conns if not c.closed]
        marks = [c.marks for c in live] or [0]
        return {
            "receivers": len(live), "min": min(marks), "max": max(marks), "closed": len(conns) - len(live),
            "complete": len(live) == len(conns) and min(marks) >= count and max(marks) == count,
            "t_done": max((c.t_mark for c in live), default=0), "latencies": self.latencies.tobytes(),
            "bytes": self.rx_bytes + self.loop.bytes,
        }

    async def received(self, timeout: float = 10.0) -> dict[str, Any]:
        """Return {"bytes"}: what this worker's connections read since the last ``reset``."""
        return {"bytes": self.rx_bytes + self.loop.bytes}

    async def rtt(self, group: str, duration: float, size: int, rate: float = 0.0,
                  timeout: float = 60.0) -> dict[str, Any]:
        """Round trips (PING, answered by PONG) on every connection of the group: closed loop, one
        outstanding each, for ``duration`` seconds; or, with ``rate``, that many a second in total
        round-robin; return {"count", "sent", "t_start", "t_stop", "latencies" (int64 bytes)}."""
        conns = [c for c in self.groups[group].conns if not c.closed]
        self.latencies = array.array("q")
        for c in conns:
            c.rtt, c.sent, c.own = True, 0, 0
            c.line_mode = True
        self.refresh_counting()
        deadline = time.monotonic() + timeout
        if rate > 0:
            def send(i: int) -> None:
                conn = conns[i % len(conns)]
                conn.sent += 1
                conn.send([wire.ping_frame(time.monotonic_ns(), size)])

            paced = await self._paced(rate, max(1, int(rate * duration)), timeout, send)
            t_start, t_stop = paced["t_start"], paced["t_stop"]
        else:
            run = self.run = Run("rtt", size=size, limit=1 << 62)
            t_start = time.monotonic_ns()
            for c in conns:
                run.sent += 1
                c.sent += 1
                c.send([wire.ping_frame(time.monotonic_ns(), size)])
            await asyncio.sleep(duration)
            run.sending = False
            t_stop = time.monotonic_ns()
        while time.monotonic() < deadline and any(c.own < c.sent for c in conns if not c.closed):
            await asyncio.sleep(0.005)
        self.run = None
        for c in conns:
            c.rtt = False
        # Count the round trips answered by the end of the timed part only.
        latencies = self.latencies
        return {"count": len(latencies), "sent": sum(c.sent for c in conns), "answered": sum(c.own for c in conns),
                "t_start": t_start, "t_stop": t_stop, "latencies": latencies.tobytes()}

    async def close(self, group: str, timeout: float = 10.0) -> dict[str, Any]:
        """Close the group's connections; return {"closed"}."""
        room = self.groups.pop(group, Group())
        for conn in room.conns:
            if conn.transport is not None:
                conn.transport.abort()
        await asyncio.sleep(0)
        return {"closed": len(room.conns)}

    async def info(self, timeout: float = 10.0) -> dict[str, Any]:
        """Return {"groups": {name: open connections}, "lost"}."""
        return {"groups": {name: sum(not c.closed for c in g.conns) for name, g in self.groups.items()},
                "lost": self.lost}

    async def exit(self) -> dict[str, Any]:
        """Stop this process after answering; return {}."""
        self.loop.call_later(0.05, self.done.set)
        return {}


def _within(deadline: float, cap: float = PER_CONNECTION_WAIT) -> float:
    """Return how long one connection may wait for an answer: until ``deadline``, at most ``cap`` seconds."""
    return max(0.1, min(cap, deadline - time.monotonic()))


def _spread(conns: list[Conn], count: int, offset: int) -> list[Conn]:
    """Return ``count`` of ``conns`` evenly spaced (shifted by ``offset`` so two roles rarely coincide)."""
    if count <= 0 or not conns:
        return []
    count = min(count, len(conns))
    step = len(conns) / count
    return [conns[(int(i * step) + offset) % len(conns)] for i in range(count)]


def main(index: int, pipe: Connection) -> None:
    """The load-generator process's entry point (multiprocessing target)."""
    raise_nofile()

    async def run() -> None:
        await Worker(index, pipe).serve()

    with asyncio.Runner(loop_factory=CountingLoop) as runner:
        runner.run(run())

