"""A strict test client for the TCP protocol, built on the project's own codec."""

from __future__ import annotations

import asyncio
import os
import ssl
from typing import Any, Callable

import aiohttp

from parley.protocol import Frame, format_frame, parse_frame
from parley.protocol.framing import FrameDecoder, FrameReceived, FrameRejected, StreamEnded

# One constant scales every wait in the tests (raise it on a slow machine).
TIMEOUT = float(os.environ.get("PARLEY_TEST_TIMEOUT", "5"))
QUIET = 0.2  # how long "nothing more arrives" is watched for


class Closed(Exception):
    pass


class Client:
    """One framed connection: send frames, read frames, nothing hidden."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = FrameDecoder(max_frame=1 << 20, detect_legacy=False)
        self.frames: list[Frame] = []
        self.closed = False
        self.nickname = ""

    @classmethod
    async def connect(cls, port: int, tls: ssl.SSLContext | None = None) -> "Client":
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls)
        return cls(reader, writer)

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send(self, frame: Frame | str) -> None:
        text = format_frame(frame) if isinstance(frame, Frame) else frame
        await self.send_raw(text.encode("utf-8") + b"\n")

    async def _fill(self, timeout: float) -> None:
        try:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
        except ConnectionError:
            data = b""  # reset by the server: as good as closed
        for event in self.decoder.receive_data(data):
            if isinstance(event, FrameReceived):
                self.frames.append(event.frame)
            elif isinstance(event, StreamEnded):
                self.closed = True
            elif isinstance(event, FrameRejected):
                raise AssertionError(f"server sent a bad frame: {event.error}")

    async def recv(self, timeout: float = TIMEOUT) -> Frame:
        """The next frame. Raises Closed at end of stream, TimeoutError if none."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.frames:
            if self.closed:
                raise Closed()
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise asyncio.TimeoutError()
            await self._fill(remaining)
        return self.frames.pop(0)

    async def expect(self, reason: str, timeout: float = TIMEOUT) -> Frame:
        frame = await self.recv(timeout)
        assert frame.reason == reason, f"expected {reason}, got {frame}"
        return frame

    async def next(self, reason: str) -> Frame:
        """The next frame with ``reason``, skipping any other."""
        while (frame := await self.recv()).reason != reason:
            pass
        return frame

    async def drain(self, quiet: float = QUIET) -> list[Frame]:
        """Every frame that arrives until nothing comes for ``quiet`` seconds."""
        got: list[Frame] = []
        while True:
            try:
                got.append(await self.recv(quiet))
            except (asyncio.TimeoutError, Closed):
                return got

    async def closed_by_server(self, timeout: float = TIMEOUT) -> bool:
        """True when the server closes the connection (frames before it are kept)."""
        try:
            while not self.closed:
                await self._fill(timeout)
        except (asyncio.TimeoutError, ConnectionError):
            return self.closed
        return True

    async def login(self, nickname: str, password: str = "", color: str = "#FFFFFF") -> Frame:
        """CON and read CONVER OK, the join INFO and the user list; return CONVER."""
        await self.send(Frame("CON", {"nickname": nickname, "password": password, "color": color}))
        conver = await self.expect("CONVER")
        assert conver.content == "OK", conver
        await self.expect("INFO")
        await self.expect("USER")
        self.nickname = nickname
        return conver

    async def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()
        try:
            await self.writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass  # the server may have reset it first


async def eventually(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Wait until ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.02)


# WebSocket clients of the gateway: one text message is one frame.


async def ws_login(http: aiohttp.ClientSession, url: str, nickname: str, **kwargs: Any) -> aiohttp.ClientWebSocketResponse:
    """Open the WebSocket at ``url`` and log in as a guest; return it after CONVER OK."""
    ws = await http.ws_connect(url, **kwargs)
    await ws.send_str(f"CON,nickname={nickname};password=;color=#123456,")
    assert parse_frame((await ws.receive(TIMEOUT)).data).content == "OK"
    return ws


async def ws_next(ws: aiohttp.ClientWebSocketResponse, reason: str) -> Frame:
    """The next frame with ``reason`` on a WebSocket, skipping any other."""
    while True:
        message = await ws.receive(TIMEOUT)
        assert message.type is aiohttp.WSMsgType.TEXT, message
        frame = parse_frame(message.data)
        if frame.reason == reason:
            return frame


async def ws_closed(ws: aiohttp.ClientWebSocketResponse) -> aiohttp.WSMessage:
    """Wait for the close; return its message (code in ``.data``, reason in ``.extra``)."""
    while True:
        message = await ws.receive(TIMEOUT)
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            return message


def users(frame: Frame) -> list[str]:
    """The online nicknames of a USER frame, in order."""
    return [frame.params[str(i)] for i in range(int(frame.params["num"]))]


def admins(frame: Frame) -> list[str]:
    return [frame.params[f"admin{i}"] for i in range(int(frame.params["admin"]))]


def frame(text: str) -> Frame:
    return parse_frame(text)
