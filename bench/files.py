"""Scenario 10, files (issue 15): uploads and downloads through ``parley serve``, and chat beside them.

Everything on loopback, against a minimal aiohttp file server started in the
same run (``python -m bench.files --dir D --port 0``: ``POST /upload``
streams ``request.content`` to a file, ``GET /files/NAME`` is aiohttp's
``FileResponse``), as a child process like ``parley serve``.

**Upload.** A guest logged in over TCP with ``rooms=1`` as the desktop
client logs in asks ``UPLOAD,rec=NICK;name=...;size=...``, POSTs the bytes
to the granted url with aiohttp's client (the body whole in the request, no
multipart), then sends ``CHAT,rec=NICK;file=<receipt>`` and waits for its
CHATR. ``--files`` files (default 8) of ``--file-size`` bytes (default
10 MiB, random, so not images: no thumbnail), one after the other, fresh
bytes each round; the same bytes POSTed one after the other to the minimal
handler. The figure is bytes over the summed POST times (request sent to
JSON answer read), MB/s (decimal); the whole share (UPLOAD asked to CHATR
received) is reported too.

**Download.** The same files, one after the other, from Parley by their
``flink`` (the files base URL of CONVER + the link) and from the minimal
handler, the body read in 64 KiB chunks; bytes over the summed GET times.
Each file's length is checked, and one file of each system byte for byte
after the timed runs.

**Chat beside uploads.** ``--clients`` (default 1,000; ``--quick`` 300)
clients in the lobby of the same ``parley serve``; p50/p99/max at 50
broadcasts/s exactly as ``bench fanout`` measures them (20 senders, 50
sampled receivers, every client must get every message), once with nothing
else going on and once while ``--uploaders`` guests (default 4) each share a
``--file-size`` file in a loop (UPLOAD, POST, CHAT file=, again), each to
the next one's private conversation, so that the lobby's clients see none of
it. Each uploader repeats the same bytes: after the first time the blob is
already stored, the upload is still streamed, hashed and checked, and the
disk does not fill. The measure starts once every uploader is sending the
body of its first file; the bytes they send during it (MB/s in all) and the
uploads they finish are reported. ``--upload-rate`` paces each body to at
most that many bytes a second (a real uplink) instead of loopback speed.
Both orders in alternate rounds; the issue wants the p99 with uploads within
1.5x of the p99 without.

Parley runs with the defaults except the quotas (``--account-quota``,
``--guest-quota``, ``--files-total``), lifted so that the loops never run
out of room, and ``--max-file-size`` raised when ``--file-size`` is above it.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import hashlib
import os
import random
import secrets
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from parley.protocol import frames

from . import procs
from .common import (
    Bench,
    Result,
    Row,
    Series,
    alternate,
    human,
    ms,
    ratios,
    shared_flags,
    times,
    verdict,
    with_range,
)
from .fanout import clients_list
from .pool import BenchError, Endpoint, Room
from .stats import median

MIB = 1024 * 1024
FILE_SIZE = 10 * MIB
SERVER_FILE_LIMIT = 10 * MIB  # `parley serve --max-file-size`'s default
NO_LIMIT = 1 << 50  # quotas lifted: a petabyte
RATE = 50.0  # broadcasts a second of the chat measure
PACED_SENDERS = 20
SAMPLE = 50
CHUNK = 64 * 1024
TIMEOUT = 120.0  # the longest any single step may take
PASSWORD = ""  # guests, as anyone who opens the page without an account
TARGET = 1.5  # the issue's: p99 with uploads within 1.5x of without

T = TypeVar("T")


# The yardstick: a minimal aiohttp file server --------------------------------------------


def yardstick_app(folder: Path) -> web.Application:
    """Return the minimal file server: ``POST /upload`` streams the body to a file in ``folder`` and
    answers ``{"name", "size"}``; ``GET /files/NAME`` serves it with aiohttp's FileResponse."""
    app = web.Application()
    counter = iter(range(1 << 62))

    async def upload(request: web.Request) -> web.Response:
        name = f"{next(counter)}-{secrets.token_hex(4)}"
        part = folder / f"{name}.part"
        size = 0
        with part.open("wb") as out:  # written on the loop: the least work a file server can do
            async for chunk in request.content.iter_chunked(CHUNK):
                out.write(chunk)
                size += len(chunk)
        os.replace(part, folder / name)
        return web.json_response({"name": name, "size": size})

    async def download(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if "/" in name or name.startswith("."):
            raise web.HTTPNotFound()
        return web.FileResponse(folder / name)

    app.router.add_post("/upload", upload)
    app.router.add_get("/files/{name}", download)
    return app


def yardstick_main(argv: list[str] | None = None) -> int:
    """Run the minimal file server until SIGTERM; print ``HTTP port N`` once it listens."""
    p = argparse.ArgumentParser(prog="python -m bench.files", description="a minimal aiohttp file server")
    p.add_argument("--dir", type=Path, required=True, help="where uploads are stored")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)

    async def serve() -> None:
        runner = web.AppRunner(yardstick_app(args.dir), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, args.host, args.port)
        await site.start()
        print(f"HTTP port {runner.addresses[0][1]}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(serve())
    return 0


def yardstick_child(log_dir: Path, name: str, folder: Path) -> procs.Child:
    """Return (not started) the minimal file server as a child process storing into ``folder``."""
    args = [sys.executable, "-m", "bench.files", "--dir", str(folder), "--host", "127.0.0.1", "--port", "0"]
    return procs.Child(name, args, log_dir, wanted=("HTTP",))


# Parley's side: a guest that shares files --------------------------------------------------


@dataclass
class Shared:
    """One file shared through Parley: its link and what each step took (seconds)."""

    flink: str
    size: int
    post_seconds: float
    total_seconds: float


class Sharer:
    """A guest logged in over TCP with ``rooms=1`` and ``lists=changes``, as the desktop client logs in.

    One task reads its frames; a request registers what answers it before it is sent, and frames
    nobody waits for (user lists, the partner's messages) are dropped."""

    def __init__(self, nickname: str) -> None:
        self.nickname = nickname
        self.files_base = ""
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._waiting: list[tuple[Callable[[frames.Frame], bool], asyncio.Future[frames.Frame]]] = []

    async def login(self, port: int, http_port: int) -> None:
        """Connect and log in; raises BenchError if refused."""
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
        self._task = asyncio.create_task(self._read())
        con = frames.make_frame("CON", {"nickname": self.nickname, "password": PASSWORD, "color": "#336699",
                                        "rooms": "1", "lists": "changes"})
        answer = await self.ask(con, lambda f: f.reason == "CONVER")
        if answer.content != "OK":
            raise BenchError(f"{self.nickname} could not log in: {answer.content}")
        # CONVER OK carries files=<base URL> for rooms=1 clients; else the page's own origin.
        self.files_base = answer.get("files") or f"http://127.0.0.1:{http_port}/"

    async def _read(self) -> None:
        assert self._reader is not None
        try:
            while line := await self._reader.readline():
                try:
                    frame = frames.parse_frame(line.decode("utf-8", "replace").rstrip("\r\n"))
                except ValueError:
                    continue
                for wanted, future in list(self._waiting):
                    if not future.done() and wanted(frame):
                        future.set_result(frame)
                        self._waiting.remove((wanted, future))
                        break
        finally:
            for _, future in self._waiting:
                if not future.done():
                    future.set_exception(BenchError(f"{self.nickname}: the server closed the connection"))

    async def ask(self, frame: frames.Frame, wanted: Callable[[frames.Frame], bool]) -> frames.Frame:
        """Send ``frame`` and return the first frame received after it that is ``wanted`` (or an ERR)."""
        assert self._writer is not None
        future: asyncio.Future[frames.Frame] = asyncio.get_running_loop().create_future()
        self._waiting.append((lambda f: f.reason == "ERR" or wanted(f), future))
        self._writer.write(frames.format_frame(frame).encode() + b"\n")
        return await asyncio.wait_for(future, TIMEOUT)

    async def share(self, http: aiohttp.ClientSession, rec: str, name: str, data: bytes, rate: float = 0.0,
                    sent: Callable[[int], None] | None = None) -> Shared:
        """Share ``data`` with ``rec`` as the desktop does (UPLOAD, POST, CHAT file=); return its link and times.
        With ``rate`` the body goes at most that many bytes a second; with ``sent``, it is told each chunk's
        size as it goes (else the body is handed over whole). Raises BenchError on any refusal."""
        started = time.perf_counter()
        grant = await self.ask(frames.make_frame("UPLOAD", {"rec": rec, "name": name, "size": str(len(data))}),
                               lambda f: f.reason == "UPLOAD")
        if grant.reason == "ERR":
            raise BenchError(f"UPLOAD refused: {grant.content}")
        url = grant.get("url") or self.files_base + "files/upload"
        posted = time.perf_counter()
        body: bytes | AsyncIterator[bytes] = chunks(data, rate, sent) if rate or sent else data
        async with http.post(url, params={"ticket": grant.get("ticket") or ""}, data=body,
                             headers={"Content-Length": str(len(data))}) as response:
            answer = await response.json(content_type=None)
        post_seconds = time.perf_counter() - posted
        if response.status != 200 or "receipt" not in answer:
            raise BenchError(f"upload answered {response.status}: {answer}")
        if answer.get("size") != len(data):
            raise BenchError(f"upload stored {answer.get('size')} bytes of {len(data)}")
        message = await self.ask(frames.make_frame("CHAT", {"rec": rec, "file": answer["receipt"]}),
                                 lambda f: f.reason == "CHATR" and f.get("sender") == self.nickname
                                 and f.get("file") is not None)
        if message.reason == "ERR":
            raise BenchError(f"CHAT file= refused: {message.content}")
        return Shared(message.get("flink") or "", len(data), post_seconds, time.perf_counter() - started)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def chunks(data: bytes, rate: float, sent: Callable[[int], None] | None) -> AsyncIterator[bytes]:
    """Yield ``data`` in chunks, with ``rate`` no faster than that many bytes a second (a slower uplink than
    loopback), telling ``sent`` each chunk's size."""
    started = time.monotonic()
    for offset in range(0, len(data), CHUNK):
        ahead = offset / rate - (time.monotonic() - started) if rate else 0.0
        if ahead > 0:
            await asyncio.sleep(ahead)
        chunk = data[offset:offset + CHUNK]
        if sent is not None:
            sent(len(chunk))
        yield chunk


async def timed_get(http: aiohttp.ClientSession, url: str, size: int) -> float:
    """GET ``url``, reading the body in chunks; return the seconds it took. Raises BenchError unless it is
    a 200 of ``size`` bytes."""
    started = time.perf_counter()
    received = 0
    async with http.get(url) as response:
        async for chunk in response.content.iter_chunked(CHUNK):
            received += len(chunk)
    seconds = time.perf_counter() - started
    if response.status != 200 or received != size:
        raise BenchError(f"GET {url} answered {response.status} with {received} bytes of {size}")
    return seconds


async def fetch(http: aiohttp.ClientSession, url: str) -> bytes:
    """Return the body of ``url`` (a 200), whole; raises BenchError otherwise."""
    async with http.get(url) as response:
        body = await response.read()
    if response.status != 200:
        raise BenchError(f"GET {url} answered {response.status}")
    return body


async def post_yardstick(http: aiohttp.ClientSession, url: str, data: bytes) -> tuple[str, float]:
    """POST ``data`` to the minimal handler; return the name it was stored under and the seconds it took."""
    started = time.perf_counter()
    async with http.post(url, data=data) as response:
        answer = await response.json(content_type=None)
    seconds = time.perf_counter() - started
    if response.status != 200 or answer.get("size") != len(data):
        raise BenchError(f"the minimal handler answered {response.status}: {answer}")
    return str(answer["name"]), seconds


# The driver: one event loop of our own in a thread ------------------------------------------


class Driver:
    """An asyncio loop in a thread of its own, for the HTTP and chat clients, while the main thread drives
    the load generators' room (which blocks)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench-files", daemon=True)
        self.thread.start()
        self.http: aiohttp.ClientSession = self.run(self._session(), 10)

    async def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT),
                                     connector=aiohttp.TCPConnector(limit=0))

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start ``coro`` on the driver's loop; return its future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = TIMEOUT) -> T:
        """Run ``coro`` on the driver's loop and return its result (within ``timeout`` seconds). Raises
        BenchError when an HTTP request failed."""
        try:
            return self.submit(coro).result(timeout)
        except aiohttp.ClientError as error:
            raise BenchError(f"{error.__class__.__name__}: {error}") from error

    def close(self, sharers: list[Sharer]) -> None:
        async def down() -> None:
            for sharer in sharers:
                await sharer.close()
            await self.http.close()

        try:
            self.run(down(), 10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


@dataclass
class Load:
    """Uploaders sharing files in a loop until told to stop: what they did."""

    stop: asyncio.Event
    rate: float = 0.0  # bytes a second each uploader sends at most; 0: as fast as it goes
    files: int = 0
    bytes: int = 0
    started: float = 0.0
    warm: dict[int, bool] = field(default_factory=dict)


async def upload_loop(driver: Driver, sharers: list[Sharer], blobs: list[bytes], load: Load, warmed: asyncio.Event,
                      deadline: float) -> Load:
    """Each sharer shares its blob with the next sharer again and again until ``load.stop`` is set (or the
    deadline passes); ``warmed`` is set once every sharer is sending the body of its first. Counts the bytes
    sent and the uploads finished from then until ``load.stop``."""

    def sent(index: int, size: int) -> None:
        if warmed.is_set():
            if not load.stop.is_set():
                load.bytes += size
        elif not load.warm.get(index):
            load.warm[index] = True
            if len(load.warm) == len(sharers):
                load.started = time.perf_counter()
                warmed.set()

    async def one(index: int) -> None:
        sharer, partner = sharers[index], sharers[(index + 1) % len(sharers)]
        count = 0
        try:
            while not load.stop.is_set() and time.monotonic() < deadline and count < 100_000:
                await sharer.share(driver.http, partner.nickname, f"loop-{index}.bin", blobs[index], load.rate,
                                   lambda size: sent(index, size))
                count += 1
                if warmed.is_set() and not load.stop.is_set():  # one finished after the measure is not counted
                    load.files += 1
        except BaseException:
            load.stop.set()  # the other loops end too
            raise

    await asyncio.gather(*(one(i) for i in range(len(sharers))))
    return load


# The scenario ------------------------------------------------------------------------------


def blobs_for(seed: int, count: int, size: int) -> list[bytes]:
    """Return ``count`` random blobs of ``size`` bytes, the same for the same seed."""
    rng = random.Random(seed)
    return [rng.randbytes(size) for _ in range(count)]


def transfer_round(bench: Bench, driver: Driver, sharer: Sharer, partner: Sharer, yard_port: int, yard_dir: Path,
                   number: int, files: int, size: int, series: Series) -> None:
    """One round of uploads then downloads, Parley and the minimal server in alternating order."""
    blobs = blobs_for(1500 + number, files, size)
    yard = f"http://127.0.0.1:{yard_port}/"
    links: list[str] = []
    names: list[str] = []
    for system in alternate(["parley", "aiohttp"], number):
        if system == "parley":
            shared = [driver.run(sharer.share(driver.http, partner.nickname, f"bench-{number}-{i}.bin", blob))
                      for i, blob in enumerate(blobs)]
            links = [sharer.files_base + s.flink for s in shared]
            post = sum(s.post_seconds for s in shared)
            whole = sum(s.total_seconds for s in shared)
            series.add("parley", "upload", files * size / post, {"round": number, "post_seconds":
                                                                  [s.post_seconds for s in shared],
                                                                  "share_seconds": [s.total_seconds for s in shared]})
            series.add("parley", "share", files * size / whole)
            bench.log(f"round {number + 1}: parley upload {human(files * size / post, 'B/s')} "
                      f"(whole share {human(files * size / whole, 'B/s')})")
        else:
            posted = [driver.run(post_yardstick(driver.http, yard + "upload", blob)) for blob in blobs]
            names = [name for name, _ in posted]
            seconds = sum(s for _, s in posted)
            series.add("aiohttp", "upload", files * size / seconds, {"round": number,
                                                                     "post_seconds": [s for _, s in posted]})
            bench.log(f"round {number + 1}: aiohttp upload {human(files * size / seconds, 'B/s')}")
    for system in alternate(["parley", "aiohttp"], number):
        urls = links if system == "parley" else [f"{yard}files/{name}" for name in names]
        got = [driver.run(timed_get(driver.http, url, size)) for url in urls]
        series.add(system, "download", files * size / sum(got), {"round": number, "get_seconds": got})
        bench.log(f"round {number + 1}: {system} download {human(files * size / sum(got), 'B/s')}")
    # Byte for byte, untimed: what came back is what was sent.
    for url in (links[-1], f"{yard}files/{names[-1]}"):
        if hashlib.sha256(driver.run(fetch(driver.http, url))).digest() != hashlib.sha256(blobs[-1]).digest():
            raise BenchError(f"GET {url} did not return the bytes uploaded")
    for name in names:  # the yardstick's copies are not needed again
        (yard_dir / name).unlink(missing_ok=True)


def latency_round(bench: Bench, driver: Driver, room: Room, sharers: list[Sharer], blobs: list[bytes],
                  number: int, seconds: float, rate: float, series: Series) -> None:
    """One round of the chat measure, without and with the uploaders' loops, in alternating order."""
    for system in alternate(["chat", "chat+uploads"], number):
        room.quiet(0.2)
        load: Load | None = None
        running: concurrent.futures.Future[Load] | None = None
        stop_event: asyncio.Event | None = None
        if system == "chat+uploads":
            stop_event = driver.run(_event())
            warmed = driver.run(_event())
            load = Load(stop_event, rate)
            running = driver.submit(upload_loop(driver, sharers, blobs, load, warmed,
                                                time.monotonic() + seconds + TIMEOUT))
            driver.run(_wait_either(warmed, running), TIMEOUT)
            if running.done():
                running.result()  # raises what stopped the uploaders
        try:
            result = room.paced(RATE, seconds, 100, min(PACED_SENDERS, room.size), min(SAMPLE, room.size),
                                timeout=TIMEOUT)
        finally:
            if running is not None and stop_event is not None:
                ended = time.perf_counter()
                driver.loop.call_soon_threadsafe(stop_event.set)
                try:
                    running.result(TIMEOUT)
                except aiohttp.ClientError as error:
                    raise BenchError(f"{error.__class__.__name__}: {error}") from error
        latency = result["latency"]
        detail: dict[str, Any] = {"round": number, "clients": room.size, "rate": RATE, **result}
        if load is not None:
            upload_rate = load.bytes / max(1e-9, ended - load.started)
            detail |= {"uploads": load.files, "upload_bytes": load.bytes}
            series.add(system, "upload-bytes-per-s", upload_rate)
            series.add(system, "uploads", float(load.files))
        for key in ("p50", "p99", "max"):
            series.add(system, f"{key}@{RATE:g}", latency[f"{key}_ms"])
        series.add(system, f"lost@{RATE:g}", float(result["lost"]), detail)
        bench.log(f"round {number + 1}: {system} N={room.size}: {RATE:g}/s p50 {ms(latency['p50_ms'])} "
                  f"p99 {ms(latency['p99_ms'])} max {ms(latency['max_ms'])}"
                  + (f" ({load.files} uploads beside it)" if load is not None else "")
                  + ("" if result["complete"] else f" LOST {result['lost']}"))


async def _event() -> asyncio.Event:
    return asyncio.Event()


async def _wait_either(event: asyncio.Event, other: concurrent.futures.Future[Any]) -> None:
    """Return once ``event`` is set or ``other`` (a future of another thread) is done."""
    waiter = asyncio.ensure_future(event.wait())
    await asyncio.wait([waiter, asyncio.wrap_future(other)], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()


def server_flags(size: int) -> list[str]:
    """Return the flags that lift `parley serve`'s file quotas (and its size limit if ``size`` is above it)."""
    flags = ["--account-quota", str(NO_LIMIT), "--guest-quota", str(NO_LIMIT), "--files-total", str(NO_LIMIT)]
    if size > SERVER_FILE_LIMIT:
        flags += ["--max-file-size", str(size)]
    return flags


def run_files(args: argparse.Namespace) -> Result:
    """Scenario 10: file transfers through ``parley serve`` against a minimal aiohttp server, and the chat's p99
    at 50 broadcasts/s with and without uploads running (see the module's docstring)."""
    clients = clients_list(args, (1000,), (300,))[0]
    files, size, uploaders = max(1, args.files), max(1, args.file_size), max(2, args.uploaders)
    series = Series()
    with Bench.from_args(args) as bench:
        yard_dir = bench.dir / "aiohttp-files"
        yard = bench.start(yardstick_child(bench.dir, "aiohttp-files", yard_dir))
        serve = bench.start(procs.parley_serve(bench.dir, "parley-files", bench.dir / "parley-files-data",
                                               installed=bench.installed,
                                               extra=[*server_flags(size), *bench.server_args],
                                               source=bench.parley_source))
        room = Room(bench.pool, "lobby", [(Endpoint("tcp", serve.port), clients)])
        done = room.connect()
        bench.log(f"lobby: {done['connected']} clients connected and logged in in {done['seconds']:.1f} s")
        driver = Driver()
        sharers = [Sharer(f"Sharer{i}") for i in range(uploaders)]
        try:
            for sharer in sharers:
                driver.run(sharer.login(serve.port, serve.http_port))
            room.quiet(0.5, timeout=TIMEOUT)
            for number in range(args.rounds):
                transfer_round(bench, driver, sharers[0], sharers[1], yard.http_port, yard_dir, number, files, size,
                               series)
            loop_blobs = blobs_for(15, uploaders, size)
            for number in range(args.rounds):
                latency_round(bench, driver, room, sharers, loop_blobs, number, args.latency_seconds,
                              args.upload_rate, series)
        finally:
            driver.close(sharers)
            room.close()
    command = (f"python -m bench files --clients {clients} --files {files} --file-size {size} "
               f"--uploaders {uploaders} --rounds {args.rounds} --latency-seconds {args.latency_seconds:g}")
    command += (f" --upload-rate {args.upload_rate:.0f}" if args.upload_rate else "") + shared_flags(args)
    figures = series.figures(clients=clients, files=files, file_size=size, uploaders=uploaders, rate=RATE,
                             upload_rate=args.upload_rate)
    looping = f"{uploaders} uploads of {_size(size)} in a loop" + (
        f" (each at most {_megabytes(args.upload_rate)})" if args.upload_rate else "")
    return Result("files", command, _summary(series, clients, looping), _rows(series, clients, files, size, looping),
                  figures)


def _megabytes(value: float) -> str:
    return human(value, "B/s")


def _size(size: int) -> str:
    """Return a file size as ``10 MiB`` when it is whole mebibytes, else in bytes."""
    return f"{size // MIB} MiB" if size % MIB == 0 else f"{size:,} bytes"


def _rows(series: Series, clients: int, files: int, size: int, looping: str) -> list[Row]:
    what = f"{files} files of {_size(size)} one after the other"
    up, yard_up = series.get("parley", "upload"), series.get("aiohttp", "upload")
    share = series.get("parley", "share")
    down, yard_down = series.get("parley", "download"), series.get("aiohttp", "download")
    rows = [
        Row("10 files", f"upload, {what}: `parley serve` vs a minimal aiohttp handler (POST to answer)",
            with_range(up, _megabytes), with_range(yard_up, _megabytes), with_range(ratios(up, yard_up), times)),
        Row("10 files", "the same, the whole share (UPLOAD asked to CHATR received) vs the handler's POST",
            with_range(share, _megabytes), with_range(yard_up, _megabytes), with_range(ratios(share, yard_up), times)),
        Row("10 files", f"download, {what}: by flink vs aiohttp's FileResponse",
            with_range(down, _megabytes), with_range(yard_down, _megabytes),
            with_range(ratios(down, yard_down), times)),
    ]
    tag = f"@{RATE:g}"
    with_up, without = series.get("chat+uploads", f"p99{tag}"), series.get("chat", f"p99{tag}")
    lost = sum(series.get("chat+uploads", f"lost{tag}")) + sum(series.get("chat", f"lost{tag}"))
    r = ratios(with_up, without)
    rows.append(Row(
        "10 files", f"chat latency at {RATE:g} broadcasts/s, N={clients:,}, with {looping} vs without: "
                    "p99 (p50, max)" + (f" (LOST {lost:.0f})" if lost else ""),
        f"{with_range(with_up, ms)} ({ms(median(series.get('chat+uploads', f'p50{tag}')))}, "
        f"{ms(median(series.get('chat+uploads', f'max{tag}')))})",
        f"{with_range(without, ms)} ({ms(median(series.get('chat', f'p50{tag}')))}, "
        f"{ms(median(series.get('chat', f'max{tag}')))})",
        with_range(r, times), f"<= {TARGET:g}x", "miss" if lost else verdict(median(r), lambda v: v <= TARGET)))
    rows.append(Row("10 files", "  the uploads meanwhile: MB/s sent in all (files finished)",
                    f"{with_range(series.get('chat+uploads', 'upload-bytes-per-s'), _megabytes)} "
                    f"({median(series.get('chat+uploads', 'uploads')):.0f})", ""))
    return rows


def _summary(series: Series, clients: int, looping: str) -> str:
    def mid(system: str, measure: str) -> float:
        return median(series.get(system, measure))

    def ratio_of(a: tuple[str, str], b: tuple[str, str]) -> str:
        return times(median(ratios(series.get(*a), series.get(*b))))

    tag = f"@{RATE:g}"
    lost = sum(series.get("chat+uploads", f"lost{tag}")) + sum(series.get("chat", f"lost{tag}"))
    return (f"files: upload {_megabytes(mid('parley', 'upload'))} "
            f"({ratio_of(('parley', 'upload'), ('aiohttp', 'upload'))} aiohttp {_megabytes(mid('aiohttp', 'upload'))}),"
            f" download {_megabytes(mid('parley', 'download'))} "
            f"({ratio_of(('parley', 'download'), ('aiohttp', 'download'))} aiohttp "
            f"{_megabytes(mid('aiohttp', 'download'))}); N={clients} p99{tag}/s {ms(mid('chat+uploads', f'p99{tag}'))}"
            f" with {looping}, {ms(mid('chat', f'p99{tag}'))} without "
            f"({ratio_of(('chat+uploads', f'p99{tag}'), ('chat', f'p99{tag}'))})"
            + (f" LOST {lost:.0f}" if lost else ""))


if __name__ == "__main__":
    sys.exit(yardstick_main())
