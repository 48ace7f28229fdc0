"""The in-process pipe ``parley serve`` joins its gateway and server with: a socket's behaviour, no socket."""

from __future__ import annotations

import asyncio

from server.pipe import HIGH_WATER, LOW_WATER, open_pipe


class Recorder(asyncio.Protocol):
    """Keeps every call it gets, in order."""

    def __init__(self, keep_open: bool = False) -> None:
        self.calls: list[tuple[str, object]] = []
        self.data = b""
        self.keep_open = keep_open

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.calls.append(("made", None))

    def data_received(self, data: bytes) -> None:
        self.calls.append(("data", len(data)))
        self.data += data

    def eof_received(self) -> bool:
        self.calls.append(("eof", None))
        return self.keep_open

    def connection_lost(self, exc: Exception | None) -> None:
        self.calls.append(("lost", type(exc).__name__ if exc else None))

    def pause_writing(self) -> None:
        self.calls.append(("pause_writing", None))

    def resume_writing(self) -> None:
        self.calls.append(("resume_writing", None))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_writes_arrive_in_order_joined_and_never_inside_write() -> None:
    near, client, far, server = open_pipe(Recorder, Recorder)
    assert isinstance(client, Recorder) and isinstance(server, Recorder)
    assert (client.names(), server.names()) == (["made"], ["made"])
    near.write(b"one\n")
    near.write(b"two\n")
    assert server.data == b""  # delivered by a loop callback, as a socket's bytes would be
    await settle()
    assert server.data == b"one\ntwo\n" and server.calls[1:] == [("data", 8)]
    far.write(b"back\n")
    await settle()
    assert client.data == b"back\n"
    assert far.get_extra_info("peername") is None and far.get_extra_info("missing", 7) == 7
    assert near.get_protocol() is client and far.get_protocol() is server
    other = Recorder()
    far.set_protocol(other)
    near.write(b"to the new protocol\n")
    await settle()
    assert other.data == b"to the new protocol\n"


async def test_a_paused_reader_keeps_the_bytes_and_the_writer_is_told_to_wait() -> None:
    near, client, far, server = open_pipe(Recorder, Recorder)
    assert isinstance(client, Recorder) and isinstance(server, Recorder)
    far.pause_reading()
    chunk = b"x" * 1024
    for _ in range(HIGH_WATER // len(chunk) + 1):
        near.write(chunk)
    await settle()
    assert server.data == b"" and not far.is_reading()
    assert near.get_write_buffer_size() == HIGH_WATER + len(chunk)
    assert client.names() == ["made", "pause_writing"]
    far.resume_reading()
    await settle()
    assert len(server.data) == HIGH_WATER + len(chunk)
    assert near.get_write_buffer_size() == 0 <= LOW_WATER
    assert client.names() == ["made", "pause_writing", "resume_writing"]


async def test_close_delivers_what_is_pending_then_the_end_and_each_side_is_lost_once() -> None:
    near, client, far, server = open_pipe(Recorder, Recorder)
    assert isinstance(client, Recorder) and isinstance(server, Recorder)
    near.write(b"last words\n")
    near.close()
    near.write(b"ignored\n")
    far.write(b"too late\n")  # the closed side reads nothing more, as a closed socket
    assert near.is_closing()
    await settle()
    assert server.data == b"last words\n" and client.data == b""
    assert server.names() == ["made", "data", "eof", "lost"]  # eof_received said close
    assert client.names() == ["made", "lost"]
    near.close(), far.close()
    await settle()
    assert server.names().count("lost") == 1 and client.names().count("lost") == 1


async def test_a_reader_that_keeps_its_side_open_after_the_end_closes_when_it_chooses() -> None:
    near, client, far, server = open_pipe(Recorder, lambda: Recorder(keep_open=True))
    assert isinstance(server, Recorder)
    near.close()
    await settle()
    assert server.names() == ["made", "eof"] and not far.is_closing()
    far.write(b"to nobody\n")  # the other side is gone, as after a socket's close
    far.close()
    await settle()
    assert server.names() == ["made", "eof", "lost"]


async def test_abort_drops_what_is_pending_and_the_peer_sees_a_reset() -> None:
    near, client, far, server = open_pipe(Recorder, Recorder)
    assert isinstance(client, Recorder) and isinstance(server, Recorder)
    far.pause_reading()
    near.write(b"never read\n")
    far.abort()
    await settle()
    assert server.data == b"" and server.names() == ["made", "lost"]
    assert client.calls[-1] == ("lost", "ConnectionResetError")
    assert near.is_closing() and far.is_closing()
