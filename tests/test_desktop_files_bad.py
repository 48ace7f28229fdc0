"""Issue 15's bad inputs, sent and seen through the desktop client (Xvfb) against a real `parley serve`.

Ann's window attaches what the issue lists, one after another, to the lobby
and to rooms she cannot see; Bob's window, in the lobby with her, shows what
arrived. Names are kept safe (``../../shot.png`` is ``shot.png``, control
characters dropped, 300 characters cut to 120 with the extension); HTML and
SVG named .png, a truncated picture and a decompression bomb are file lines
with Open and Save as (no picture), and their links answer as attachments in
a sandbox; PNGs that are also HTML or a ZIP show as the pictures they are; an
upload cut on the network (a forwarder between the window and the gateway is
reset half-way) is said not sent and nothing is posted; an upload to a room
she is not in, or that does not exist, shows the server's ERR; a made-up link
fails to download and writes nothing. Last, on a small tmpfs, a disk that
fills mid-upload is the gateway's sentence, and a file stored before still
downloads whole.

Every file's HTTP goes through the forwarder: ``--public-url`` names it, so
the CONVER ``files=`` and upload URLs the windows use point at it.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from disks import small_tmpfs
from serverproc import ServeProcess, free_port
from test_desktop_files import blobs, data_of, file_messages, picture
from test_desktop_gui import ARTIFACTS, Desktops, connect, open_desktops, shown
from test_files_http import CSP
from test_files_store import bomb_png, image_bytes
from wire import TIMEOUT
from xdisplay import screenshot

from desktop import files as files_module
from desktop.app import ParleyApp
from desktop.client import FileMessage, UploadRequest
from parley.files import links
from parley.protocol import texts
from parley.protocol.reading import FileInfo
from parley.protocol.sizes import human_size

HTML = b"<!doctype html><html><body><script>alert('owned')</script></body></html>\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9" height="9"/></svg>\n'
ZIP_TAIL = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\0" * 20 + b"PK\x05\x06" + b"\0" * 18
OCTET = "application/octet-stream"


class Forwarder:
    """A TCP forwarder on loopback in front of the gateway; `cut` resets every connection through it."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.pairs: list[tuple[socket.socket, socket.socket, threading.Event]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, name="forwarder", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=TIMEOUT)
            stop = threading.Event()
            with self.lock:
                self.pairs.append((client, upstream, stop))
            threading.Thread(target=self._pump, args=(client, upstream, stop), daemon=True).start()

    @staticmethod
    def _pump(client: socket.socket, upstream: socket.socket, stop: threading.Event) -> None:
        """Copy both ways until one side ends or the pair is cut (then: a reset on both sides)."""
        ends = {client: upstream, upstream: client}
        open_ = {client, upstream}
        try:
            while open_ and not stop.is_set():
                readable, _, _ = select.select(list(open_), [], [], 0.05)
                for sock in readable:
                    data = sock.recv(65536)
                    if data:
                        ends[sock].sendall(data)
                    else:
                        open_.discard(sock)
                        ends[sock].shutdown(socket.SHUT_WR)
        except OSError:
            pass
        for sock in (client, upstream):
            if stop.is_set():  # SO_LINGER 0: close() sends a RST, as a network that drops the connection
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()

    def cut(self) -> int:
        """Reset every connection open now; return how many."""
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for _, _, stop in pairs:
            stop.set()
        return len(pairs)

    def close(self) -> None:
        self.listener.close()
        self.cut()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, Forwarder]]:
    http_port = free_port()
    forwarder = Forwarder(http_port)
    data = tmp_path_factory.mktemp("desktop-files-bad") / "data"
    process = ServeProcess(data, "--chat-rate", "0", "--public-url", f"http://127.0.0.1:{forwarder.port}/",
                           http_port=http_port, source=True)
    process.start()
    yield process, forwarder
    process.stop()
    forwarder.close()


@pytest.fixture
def desktops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             caplog: pytest.LogCaptureFixture) -> Iterator[Desktops]:
    yield from open_desktops(tmp_path, monkeypatch, caplog)


def leftovers(serve: ServeProcess) -> list[Path]:
    tmp = data_of(serve) / "files" / "tmp"
    return list(tmp.iterdir()) if tmp.exists() else []


def named(app: ParleyApp, name: str) -> FileMessage | None:
    return next((m for m in file_messages(app) if m.file is not None and m.file.name == name), None)


def headers_of(app: ParleyApp, file: FileInfo) -> tuple[bytes, dict[str, str]]:
    """GET a file message's link as the window would (the files base URL + flink)."""
    with urllib.request.urlopen(files_module.file_url(app.sharing.base, file.link), timeout=TIMEOUT) as answer:
        return answer.read(), {k.lower(): v for k, v in answer.headers.items()}


def test_every_bad_input_is_refused_or_made_harmless_in_the_desktop(
        desktops: Desktops, served: tuple[ServeProcess, Forwarder], tmp_path: Path) -> None:
    serve, forwarder = served
    ann, bob = desktops.open("ann", "640x760+0+0"), desktops.open("bob", "640x760+640+0")
    connect(desktops, ann, serve.port, "ann")
    connect(desktops, bob, serve.port, "bob")
    assert ann.sharing.base == f"http://127.0.0.1:{forwarder.port}/"

    # ---- names and contents that are not what they say, to the lobby -----------------------
    shot = picture(tmp_path / "shot.png", (300, 200))
    long_name = "a" * 251 + ".png"  # 255: the longest name a file on Linux can have
    # Other bytes than shot.png's: the same picture uploaded twice at once is another matter (see the report).
    long_picture = picture(tmp_path / long_name, (310, 200))
    control_name = "note\x07s\u202e\x1b.txt"  # BEL, RIGHT-TO-LEFT OVERRIDE, ESC: a real file's name on Linux
    (tmp_path / control_name).write_bytes(b"tea at five\n")
    whole = image_bytes("JPEG", (400, 300))
    hostile = {  # the name sent -> (bytes, the name kept, the type served, shown as a picture)
        "cute.png": (HTML, "cute.png", OCTET, False),
        "logo.png": (SVG, "logo.png", OCTET, False),
        "cut.png": (whole[: len(whole) // 2], "cut.png", OCTET, False),
        "bomb.png": (bomb_png(), "bomb.png", OCTET, False),
        "page.png": (picture(tmp_path / "p1.png", (200, 120)) + HTML, "page.png", "image/png", True),
        "archive.png": (image_bytes("PNG", (120, 200)) + ZIP_TAIL, "archive.png", "image/png", True),
    }
    for name, (data, _, _, _) in hostile.items():
        (tmp_path / name).write_bytes(data)
        assert ann.sharing.attach_file(tmp_path / name)
    for name in (control_name, long_name):
        assert ann.sharing.attach_file(tmp_path / name)
    # A name no file on disk can carry goes as the desktop's own UPLOAD of a file with that name.
    ann.connection.upload(UploadRequest("-ALL", "../../shot.png", len(shot), str(tmp_path / "shot.png")))  # type: ignore[union-attr]
    hostile["../../shot.png"] = (shot, "shot.png", "image/png", True)
    hostile[long_name] = (long_picture, links.safe_name(long_name), "image/png", True)
    hostile[control_name] = (b"tea at five\n", "notes.txt", "text/plain; charset=utf-8", False)
    assert len(hostile[long_name][1]) == 120 and hostile[long_name][1].endswith("a.png")

    desktops.until(lambda: len(file_messages(bob)) == len(hostile), "bob gets every file")
    for sent, (data, kept, served_type, is_image) in hostile.items():
        message = named(bob, kept)
        assert message is not None and message.file is not None, sent
        file = message.file
        assert file.size == len(data) and file.type == served_type.split(";")[0], sent
        assert file.is_image == is_image, sent
        assert len(bob.chat_log.file_buttons(message.id or 0)) == 2, sent  # Open and Save as...
        assert f"{kept}  {human_size(len(data))}, {file.type}" in bob.chat_log.content(), sent
        body, headers = headers_of(bob, file)
        assert body == data, sent
        assert headers["content-type"] == served_type, sent
        assert headers["content-disposition"].startswith("inline;" if is_image else "attachment;"), sent
        assert headers["x-content-type-options"] == "nosniff" and headers["content-security-policy"] == CSP, sent
    assert "../" not in bob.chat_log.content() and "\u202e" not in bob.chat_log.content()
    pictures = sum(1 for v in hostile.values() if v[3])
    desktops.until(lambda: len(bob.chat_log.thumbnails()) == pictures, "bob's pictures")
    assert "(no preview)" not in bob.chat_log.content()  # nothing not a picture was taken for one
    # Over 1000 characters, more than a file on disk can have: refused, saying why (300 are cut to 120: test_files).
    over = "b" * 1001 + ".png"
    ann.connection.upload(UploadRequest("-ALL", over, len(shot), str(tmp_path / "shot.png")))  # type: ignore[union-attr]
    too_long = texts.FILE_NAME_TOO_LONG.format(limit=1000).removeprefix("Error: ")
    desktops.until(shown(ann, f"bbbbbbbbbbbbbbbbbbbbbbbbbbbbb…bbbbbbbbbbbbbbbbbbbbbbbbb.png was not sent: {too_long}"),
                   "the long name refused, said with its middle left out")
    assert not ann.sharing.transfers.running and len(file_messages(bob)) == len(hostile)
    desktops.pump_for(0.2)  # laid out
    warning = ann.chat_view.warning_label  # under the log, read whole: wrapped within the window, not cut at its edge
    assert warning.winfo_reqwidth() <= warning.winfo_width() <= ann.root.winfo_width(), (
        warning.winfo_reqwidth(), warning.winfo_width())
    # Saved, the HTML named .png is the bytes sent, under the name kept.
    cute = named(bob, "cute.png")
    assert cute is not None and cute.file is not None
    bob.sharing.save_to(cute.file, tmp_path / "bob-cute.png")
    desktops.until(lambda: (tmp_path / "bob-cute.png").exists(), "the HTML saved")
    assert (tmp_path / "bob-cute.png").read_bytes() == HTML
    bob.chat_log.text.see(str(bob.chat_log.text.tag_ranges(f"m-{cute.id}")[0]))  # the file lines in view
    desktops.pump_for(0.3)  # drawn before the picture
    screenshot(ARTIFACTS / "desktop-files-hostile.png")

    # ---- an upload cut half-way on the network: said not sent, nothing posted ---------------
    (tmp_path / "halfway.txt").write_bytes(b"half of it\n" * 100_000)  # 1.1 MB: many chunks
    gate, paced = threading.Event(), list[int]()

    def hold_once(sent: int, _total: int) -> None:
        if not paced:
            paced.append(sent)
            gate.wait(TIMEOUT)

    ann.sharing.transfers.pace = hold_once
    assert ann.sharing.attach_file(tmp_path / "halfway.txt")
    desktops.until(lambda: bool(paced) and len(leftovers(serve)) == 1, "the upload under way")
    stored = len(blobs(serve))
    assert forwarder.cut() >= 1
    gate.set()
    desktops.until(shown(ann, "halfway.txt was not sent: The transfer with "), "the cut said")
    assert "halfway.txt was not sent" in ann.chat_view.warning_label.cget("text")
    ann.sharing.transfers.pace = None
    desktops.until(lambda: leftovers(serve) == [], "the part file removed")
    bob_files = len(file_messages(bob))
    ann.connection.send_chat("-ALL", "after the cut")  # type: ignore[union-attr]
    desktops.until(shown(bob, "after the cut"), "a message after the cut")
    assert len(file_messages(bob)) == bob_files and named(ann, "halfway.txt") is None
    assert len(blobs(serve)) == stored

    # ---- conversations Ann cannot see ------------------------------------------------------
    bob.create_room("vault", private=True)
    desktops.until(lambda: bob.conversations.get("#vault") is not None, "bob's private room")
    (tmp_path / "plans.txt").write_bytes(b"the secret plans\n")
    bob.sharing.attach_file(tmp_path / "plans.txt", "#vault")
    vault = bob.conversations.get("#vault")
    assert vault is not None
    desktops.until(lambda: any(isinstance(m, FileMessage) for m in vault.messages), "bob's file in #vault")
    plans = next(m.file for m in vault.messages if isinstance(m, FileMessage))
    assert plans is not None
    stored = len(blobs(serve))
    (tmp_path / "leak.txt").write_bytes(b"not for ann\n")
    for room, error in (("#vault", texts.NO_ROOM), ("#nowhere", texts.NO_ROOM)):  # a private room: as if none
        assert ann.sharing.attach_file(tmp_path / "leak.txt", room)
        desktops.until(lambda: "leak.txt was not sent: " in ann.chat_view.warning_label.cget("text"),
                       f"the refusal for {room}")
        said = ann.chat_view.warning_label.cget("text")
        assert said == f"leak.txt was not sent: {error.format(room=room).removeprefix('Error: ')}", said
        ann.chat_view.warn("")
    assert len(blobs(serve)) == stored and not ann.sharing.transfers.running  # no byte went
    assert not any(m.file and m.file.name == "leak.txt" for m in file_messages(bob))

    # ---- a guessed link: the download says it failed, and nothing is written ---------------
    mine = named(ann, "cute.png")
    assert mine is not None and mine.file is not None
    _, _, my_sha, my_sig, _ = mine.file.link.split("/")
    _, _, vault_sha, _, _ = plans.link.split("/")
    for guess in (f"files/{plans.id}/{my_sha}/{my_sig}/plans.txt",  # her own signature, bob's file's id
                  f"files/{plans.id}/{vault_sha}/{'A' * 22}/plans.txt"):  # the right bytes, a made-up signature
        dest = tmp_path / "ann-guess.txt"
        ann.sharing.save_to(FileInfo(plans.id, "plans.txt", plans.size, plans.type, guess), dest)
        desktops.until(lambda: "plans.txt could not be fetched: " in ann.chat_view.warning_label.cget("text"),
                       "the failed download")
        assert ann.chat_view.warning_label.cget("text") == f"plans.txt could not be fetched: {texts.FILE_NOT_FOUND}"
        assert not dest.exists() and not dest.with_name(dest.name + ".part").exists()
        ann.chat_view.warn("")
    bob.sharing.save_to(plans, tmp_path / "bob-plans.txt")  # the member's real link: whole
    desktops.until(lambda: (tmp_path / "bob-plans.txt").exists(), "bob's download")
    assert (tmp_path / "bob-plans.txt").read_bytes() == b"the secret plans\n"


# ---- the disk fills up mid-upload ---------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MiB tmpfs: the data folder of a server whose disk fills."""
    with small_tmpfs(tmp_path / "disk", "6m") as mount:
        yield mount


def test_a_disk_full_mid_upload_is_said_and_what_was_stored_still_downloads_whole(
        desktops: Desktops, small_disk: Path, tmp_path: Path) -> None:
    serve = ServeProcess(small_disk, "--chat-rate", "0", source=True)  # its log beside the disk, not on it
    serve.start()
    try:
        ann, bob = desktops.open("ann", "640x700+0+0"), desktops.open("bob", "640x700+640+0")
        connect(desktops, ann, serve.port, "ann")
        connect(desktops, bob, serve.port, "bob")
        kept = b"kept safe\n" * 40_000  # 400 kB
        (tmp_path / "kept.txt").write_bytes(kept)
        ann.sharing.attach_file(tmp_path / "kept.txt")
        desktops.until(lambda: named(bob, "kept.txt") is not None, "the first file stored")

        # Fill the disk but 600 kB; the next file is 1.5 MB.
        filler = small_disk / "filler"
        room = os.statvfs(small_disk)
        filler.write_bytes(b"\0" * (room.f_bavail * room.f_frsize - 600_000))
        (tmp_path / "big.txt").write_bytes(b"no room for me\n" * 100_000)
        stored = len(blobs(serve))
        ann.sharing.attach_file(tmp_path / "big.txt")
        desktops.until(shown(ann, f"big.txt was not sent: {texts.UPLOAD_DISK_FULL}"), "the disk full said")
        assert len(blobs(serve)) == stored and leftovers(serve) == []
        assert named(bob, "big.txt") is None and named(ann, "big.txt") is None

        first = named(bob, "kept.txt")
        assert first is not None and first.file is not None
        bob.sharing.save_to(first.file, tmp_path / "bob-kept.txt")
        desktops.until(lambda: (tmp_path / "bob-kept.txt").exists(), "the stored file downloaded")
        assert (tmp_path / "bob-kept.txt").read_bytes() == kept
        desktops.pump_for(0.3)  # drawn before the picture
        screenshot(ARTIFACTS / "desktop-files-disk-full.png")
    finally:
        serve.stop()
