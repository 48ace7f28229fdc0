"""The desktop client's shared files (issue 15): attach, upload, file messages, thumbnails, Open, Save as.

First without a window: the frames the session sends and what it makes of
the server's (PROTOCOL.md, "Files"). Then the real widgets on Xvfb against
this tree's `parley serve` (chat server and gateway, files in its data
folder): a picture attached by one desktop shows as a thumbnail in another
(and as its legacy line to a raw client), Open and Save as write the bytes
sent, refusals (a file over --max-file-size, over the guest quota, an upload
that stalls) are error lines in the conversation before or instead of the
bytes, and the window keeps chatting while an upload runs.
"""

from __future__ import annotations

import io
import re
import threading
import time
import tkinter as tk
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from serverproc import ServeProcess
from test_desktop_gui import (
    ARTIFACTS,
    Desktops,
    connect,
    open_desktops,
    shared_display,
    shown,
)
from wire import TIMEOUT
from xdisplay import screenshot

from desktop import files as files_module
from desktop import themes
from desktop.app import ParleyApp
from desktop.chatlog import LOADING, NO_PREVIEW, ChatLog
from desktop.client import (
    FileMessage,
    LoggedIn,
    LoginDetails,
    Muted,
    ServerError,
    Session,
    UploadGranted,
    UploadRefused,
    UploadRequest,
)
from desktop.conversations import Conversation
from parley.files import links
from parley.files.store import BlobStore
from parley.protocol import format_frame, make_frame, parse_frame, texts
from parley.protocol.reading import FileInfo, UploadGrant
from parley.protocol.sizes import human_size

T = "time=2026-11-24 10:00:00"
TIME = [("time", "2026-11-24 10:00:00")]
LINK = "files/7/" + "ab" * 32 + "/SIGSIGSIGSIGSIGSIGSIGS/cat.png"
MAX_FILE = 3_000_000
GUEST_QUOTA = 4_000_000


def logged_in(nickname: str = "ann", files: str = "http://127.0.0.1:8080/") -> Session:
    session = Session(LoginDetails("127.0.0.1", 6666, nickname, "#FF8800"))
    session.connection_made()
    session.receive(make_frame("CONVER", [*TIME, ("role", "member"), ("files", files)], "OK"))
    return session


# ---- without a window ------------------------------------------------------------------


def test_the_session_asks_upload_then_posts_the_receipt_as_the_contract_says() -> None:
    session = logged_in()
    assert session.files_base == "http://127.0.0.1:8080/"
    request = UploadRequest("#tea", "cat.png", 1234, "/home/ann/cat.png")
    assert format_frame(session.upload(request)) == "UPLOAD,rec=#tea;name=cat.png;size=1234,"
    assert format_frame(session.file_chat("#tea", "RCPT.sig")) == "CHAT,rec=#tea;file=RCPT.sig,"
    granted, = session.receive(make_frame("UPLOAD", [*TIME, ("rec", "#tea"), ("name", "cat.png"), ("size", "1234"),
                                                     ("ticket", "TK.sig"),
                                                     ("url", "http://127.0.0.1:8080/files/upload")]))
    assert granted == UploadGranted(request, UploadGrant("#tea", "cat.png", 1234, "TK.sig",
                                                         "http://127.0.0.1:8080/files/upload"))
    # An ERR answers the oldest UPLOAD not answered ("answered in order"); with none waiting it is an ERR.
    big = UploadRequest("-ALL", "big.iso", 10**9, "/big.iso")
    session.upload(big)
    too_large = "The file is too large: 1.0 GB; files may be up to 10 MB."
    assert session.receive(parse_frame(f"ERR,{T},{too_large}")) == [UploadRefused(big, too_large)]
    assert session.receive(parse_frame(f"ERR,{T},Error: rec parameter required.")) == [
        ServerError("Error: rec parameter required.")]
    session.upload(request)
    muted = session.receive(parse_frame(f"ERR,{T};until=0,Error: You are muted in #tea for good"))
    assert muted == [Muted("#tea", 0, ""), UploadRefused(request, "Error: You are muted in #tea for good")]
    session.upload(request)
    session.connection_lost()  # the ticket was for that connection: its answer never comes
    again = logged_in()
    assert isinstance(again.receive(parse_frame(f"ERR,{T},x"))[0], ServerError)


def test_a_file_message_carries_its_file_and_the_legacy_line() -> None:
    session = logged_in("bob")
    legacy = "[file] cat.png (12 KB) http://127.0.0.1:8080/" + LINK
    params = [*TIME, ("sender", "ann"), ("rec", "-ALL"), ("color", "#FF8800"), ("id", "9"), ("ts", "1"),
              ("file", "7"), ("fname", "cat.png"), ("fsize", "12000"), ("ftype", "image/png"), ("flink", LINK)]
    message, = session.receive(make_frame("CHATR", [*params, ("fw", "640"), ("fh", "480")], legacy))
    assert isinstance(message, FileMessage) and message.text == legacy and message.id == 9
    assert message.file == FileInfo(7, "cat.png", 12000, "image/png", LINK, 640, 480) and message.file.is_image
    plain, = session.receive(make_frame("CHATR", [*params[:-1], ("flink", "/etc/passwd")], legacy))
    assert not isinstance(plain, FileMessage) and plain.text == legacy  # malformed: shown as its line
    document, = session.receive(make_frame("CHATR", [*params[:4], ("id", "11"), *params[5:]], "[file] cat.png"))
    assert isinstance(document, FileMessage) and document.file is not None and not document.file.is_image
    fresh = Session(LoginDetails("h", 1, "cy", "#FFF"))
    fresh.connection_made()
    assert fresh.receive(parse_frame(f"CONVER,{T};role=guest,OK")) == [LoggedIn("cy", "guest", False, "")]


def test_urls_are_the_files_base_and_the_link() -> None:
    assert files_module.file_url("http://h:1/chat/", LINK) == "http://h:1/chat/" + LINK
    assert files_module.file_url("http://h:1/chat", LINK, thumb=True) == "http://h:1/chat/" + LINK + "?thumb=1"
    assert files_module.upload_url("http://h/files/upload", "a+b/c.d") == "http://h/files/upload?ticket=a%2Bb%2Fc.d"


class Fetches:
    """The log's file actions, recorded (the log asks; a test answers with show_thumbnail)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    def thumbnail(self, file: FileInfo) -> None:
        self.asked.append(("thumbnail", file.id))

    def open_file(self, file: FileInfo) -> None:
        self.asked.append(("open", file.id))

    def save_file(self, file: FileInfo) -> None:
        self.asked.append(("save", file.id))


def test_the_log_draws_a_file_with_its_buttons_and_puts_the_thumbnail_in_place(tmp_path: Path) -> None:
    shared_display()
    root = tk.Tk()
    try:
        log = ChatLog(tk.Text(root), themes.palette("light", {}))
        fetches = log.files = Fetches()
        session = logged_in("bob")
        conversation = Conversation("-ALL")
        def file_message(id_: int, name: str, width: str, link: str) -> Any:
            return session.receive(make_frame("CHATR", [
                *TIME, ("sender", "ann"), ("rec", "-ALL"), ("id", str(id_)), ("ts", "1"), ("file", str(id_)),
                ("fname", name), ("fsize", "12000"), ("ftype", "image/png"), ("flink", link), ("fw", width),
                ("fh", "480")], f"[file] {name}"))[0]

        for id_, (name, width) in enumerate((("cat.png", "640"), ("notes.pdf", "0"), ("cat.png", "640")), 1):
            conversation.add(file_message(id_, name, width, f"files/{id_ % 2}/x/y/{name}"))
        log.render(conversation)
        assert fetches.asked == [("thumbnail", 1)]  # the same picture (link) is fetched once
        assert log.content().count(LOADING) == 2 and "notes.pdf  12 KB, image/png" in log.content()
        log.file_buttons(2)[1].invoke()  # type: ignore[attr-defined]
        log.file_buttons(3)[0].invoke()  # type: ignore[attr-defined]
        assert fetches.asked[1:] == [("save", 2), ("open", 3)]
        log.show_thumbnail("files/1/x/y/cat.png", picture(tmp_path / "p.png", (300, 200)))
        assert log.text.image_cget(log.thumbnails()[0], "image")  # a real picture, in place
        assert len(log.thumbnails()) == 2 and LOADING not in log.content()
        assert log.message_at(str(log.text.tag_ranges("m-3")[0])) == 3
        buttons = log.file_buttons(1)
        assert log.remove(1) and conversation.remove(1) and not any(b.winfo_exists() for b in buttons)
        assert len(log.thumbnails()) == 1  # the other one's stays
        log.render(conversation)  # drawn again: from the kept picture, no new fetch
        assert len(fetches.asked) == 3 and len(log.thumbnails()) == 1
        broken = Conversation("-ALL")
        broken.add(file_message(4, "bad.png", "640", "files/4/x/y/bad.png"))
        log.render(broken)
        log.show_thumbnail("files/4/x/y/bad.png", b"\x89PNG not really")
        assert NO_PREVIEW in log.content() and not log.thumbnails()
    finally:
        root.destroy()


# ---- on a real display, against `parley serve` ------------------------------------------


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    data = tmp_path_factory.mktemp("desktop-files") / "data"
    process = ServeProcess(data, "--chat-rate", "0", "--max-file-size", str(MAX_FILE),
                           "--guest-quota", str(GUEST_QUOTA), "--upload-stall-timeout", "1", source=True)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def plain_serve(tmp_path: Path) -> Iterator[ServeProcess]:
    process = ServeProcess(tmp_path / "data", source=True)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def desktops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             caplog: pytest.LogCaptureFixture) -> Iterator[Desktops]:
    shared_display()
    yield from open_desktops(tmp_path, monkeypatch, caplog)


def picture(path: Path, size: tuple[int, int] = (640, 480)) -> bytes:
    """Write a PNG of ``size`` (a gradient with a red square: a thumbnail shows something) to ``path``."""
    image = Image.new("RGB", size)
    image.putdata([(x * 255 // size[0], y * 255 // size[1], 160) for y in range(size[1]) for x in range(size[0])])
    image.paste((220, 30, 30), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    out = io.BytesIO()
    image.save(out, "PNG")
    path.write_bytes(out.getvalue())
    return out.getvalue()


def file_messages(app: ParleyApp) -> list[FileMessage]:
    return [m for m in app.opened().messages if isinstance(m, FileMessage)]


def blobs(serve: ServeProcess) -> list[Path]:
    return [p for p in (data_of(serve) / "files" / "blobs").rglob("*") if p.is_file()]


def data_of(serve: ServeProcess) -> Path:
    return Path(serve.args[serve.args.index("--data-dir") + 1])


def test_the_http_side_uploads_downloads_and_says_the_gateways_refusals(plain_serve: ServeProcess,
                                                                         tmp_path: Path) -> None:
    """desktop.files against the gateway of `parley serve`, with tickets signed by its own key."""
    serve = plain_serve
    secret = BlobStore(data_of(serve) / "files").secret()
    url = f"http://127.0.0.1:{serve.http_port}/files/upload"
    sent = picture(tmp_path / "p.png", (500, 100))
    ticket = links.upload_ticket(secret, "t1", len(sent), int(time.time() * 1000) + 60_000)
    seen: list[int] = []
    uploaded = files_module.upload(tmp_path / "p.png", len(sent), url, ticket,
                                   lambda done, _total: seen.append(done), lambda: False)
    assert uploaded.size == len(sent) and uploaded.type == "image/png" and (uploaded.width, uploaded.height) == (500, 100)
    assert seen[-1] == len(sent) and links.read_receipt(secret, uploaded.receipt) is not None
    base = f"http://127.0.0.1:{serve.http_port}/"
    link = links.file_link(secret, 1, uploaded.sha, "p.png")
    got = files_module.download(files_module.file_url(base, link), tmp_path / "back.png", len(sent),
                                lambda _d, _t: None, lambda: False)
    assert got == len(sent) and (tmp_path / "back.png").read_bytes() == sent
    thumb = Image.open(io.BytesIO(files_module.fetch(files_module.file_url(base, link, thumb=True))))
    assert thumb.format == "PNG" and thumb.size == (320, 64)

    # The gateway's JSON errors are the sentences a user reads.
    with pytest.raises(files_module.TransferError, match=re.escape(texts.UPLOAD_FORBIDDEN)):
        files_module.upload(tmp_path / "p.png", len(sent), url, ticket + "x", lambda _d, _t: None, lambda: False)
    short = links.upload_ticket(secret, "t2", 10, int(time.time() * 1000) + 60_000)
    with pytest.raises(files_module.TransferError, match=re.escape(texts.UPLOAD_TOO_LARGE)):
        files_module.upload(tmp_path / "p.png", len(sent), url, short, lambda _d, _t: None, lambda: False)
    with pytest.raises(files_module.TransferError, match=re.escape(texts.FILE_NOT_FOUND)):
        guessed = link.replace("/p.png", "/q.png")  # a guessed link: its signature does not check
        files_module.fetch(files_module.file_url(base, guessed))
    with pytest.raises(files_module.TransferError, match="more than the 10 bytes"):
        files_module.download(files_module.file_url(base, link), tmp_path / "cut.png", 10, lambda _d, _t: None,
                              lambda: False)
    assert not (tmp_path / "cut.png").exists() and not (tmp_path / "cut.png.part").exists()
    with pytest.raises(files_module.TransferError, match="cancelled"):
        files_module.upload(tmp_path / "p.png", len(sent), url, ticket, lambda _d, _t: None, lambda: True)


def test_a_picture_attached_shows_as_a_thumbnail_elsewhere_and_opens_and_saves_whole(
        desktops: Desktops, serve: ServeProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ann, bob = desktops.open("ann", "640x700+0+0"), desktops.open("bob", "640x700+640+0")
    connect(desktops, ann, serve.port, "ann")
    connect(desktops, bob, serve.port, "bob")
    legacy = desktops.raw(serve.port, "leo")
    sent = picture(tmp_path / "sunset.png")

    # Ctrl+O opens the dialog; the dialog only picks the path.
    asked: list[str] = []
    monkeypatch.setattr("tkinter.filedialog.askopenfilename",
                        lambda **options: asked.append(options["title"]) or str(tmp_path / "sunset.png"))
    ann.chat_view.entry.focus_force()
    desktops.pump_for(0.05)
    ann.chat_view.entry.event_generate("<Control-o>")
    desktops.until(lambda: file_messages(bob), "bob gets the file message")
    assert asked == ["Send a file to Lobby"]
    message = file_messages(bob)[-1]
    file = message.file
    assert file is not None and file.name == "sunset.png" and file.size == len(sent) and file.type == "image/png"
    assert (file.width, file.height) == (640, 480)
    desktops.until(lambda: bob.chat_log.thumbnails(), "bob's thumbnail")
    width = bob.root.tk.call("image", "width", bob.chat_log.thumbnails()[0])
    room = bob.chat_log.text.winfo_width() - 48
    # 320 wide as the server made it (fits in 320x320), or whole in a log narrower than that.
    assert int(width) == 320 or (room < 320 and room // 4 <= int(width) <= room)
    assert f"sunset.png  {human_size(len(sent))}, image/png" in bob.chat_log.content()
    assert "[file]" not in bob.chat_log.content()  # the legacy line is for clients without files
    desktops.until(lambda: any(c.startswith("[file] sunset.png (") for c in legacy.contents("CHATR")),
                   "the raw client's legacy line")
    desktops.until(lambda: ann.chat_log.thumbnails(), "ann sees her picture too")

    # Open: fetched to a private folder, then handed to the system's opener.
    opened: list[Path] = []
    bob.sharing.open_path = opened.append
    open_button, save_button = bob.chat_log.file_buttons(message.id or 0)
    open_button.invoke()  # type: ignore[attr-defined]
    desktops.until(lambda: opened, "the file opened")
    assert opened[0].name == "sunset.png" and opened[0].read_bytes() == sent
    # Save as...: the dialog picks the path; the bytes are the same.
    dest = tmp_path / "saved" / "copy.png"
    dest.parent.mkdir()
    monkeypatch.setattr("tkinter.filedialog.asksaveasfilename", lambda **options: str(dest))
    save_button.invoke()  # type: ignore[attr-defined]
    desktops.until(lambda: dest.exists(), "the file saved")
    assert dest.read_bytes() == sent and not list(dest.parent.glob("*.part"))
    desktops.pump_for(0.3)  # drawn before the picture
    screenshot(ARTIFACTS / "desktop-files-thumbnail.png")


def test_refusals_come_before_the_bytes_and_are_said_in_the_conversation(
        desktops: Desktops, serve: ServeProcess, tmp_path: Path) -> None:
    cat = desktops.open("cat", "900x700+0+0")
    connect(desktops, cat, serve.port, "cat")
    stored = len(blobs(serve))

    big = tmp_path / "big.bin"
    big.write_bytes(b"\x00" * (MAX_FILE + 500_000))
    assert cat.sharing.attach_file(big)
    desktops.until(shown(cat, "big.bin was not sent: The file is too large"), "the size refusal")
    assert human_size(MAX_FILE) in cat.chat_log.content()
    assert not cat.sharing.transfers.running and len(blobs(serve)) == stored  # no byte was sent

    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert not cat.sharing.attach_file(empty)
    assert f"empty.txt was not sent: {texts.FILE_EMPTY.removeprefix('Error: ')}" in cat.chat_log.content()

    # The guest quota: two files fit, the third is refused before its upload.
    for name in ("one.bin", "two.bin"):
        (tmp_path / name).write_bytes(name[:1].encode() * 1_200_000)
        cat.sharing.attach_file(tmp_path / name)
        desktops.until(lambda sent=name: any(m.file and m.file.name == sent for m in file_messages(cat)),  # type: ignore[misc]
                       f"{name} sent")
    (tmp_path / "three.bin").write_bytes(b"3" * (MAX_FILE - 10))
    before = len(blobs(serve))
    cat.sharing.attach_file(tmp_path / "three.bin")
    desktops.until(shown(cat, "three.bin was not sent: You have no room left for files"), "the quota refusal")
    assert not cat.sharing.transfers.running and len(blobs(serve)) == before
    assert "three.bin was not sent" in cat.chat_view.warning_label.cget("text")
    desktops.pump_for(0.3)  # drawn before the picture
    screenshot(ARTIFACTS / "desktop-files-refused.png")


def test_the_window_keeps_chatting_while_an_upload_runs_and_a_stalled_one_is_refused(
        desktops: Desktops, serve: ServeProcess, tmp_path: Path) -> None:
    dan = desktops.open("dan", "900x700+0+0")
    connect(desktops, dan, serve.port, "dan")
    eve = desktops.raw(serve.port, "eve")
    (tmp_path / "notes.txt").write_bytes(b"tea at five\n" * 100_000)  # 1.2 MB: many chunks

    # The upload's thread is held after its first chunk; the Tk loop goes on turning.
    gate = threading.Event()
    dan.sharing.transfers.pace = lambda _sent, _total: gate.wait(TIMEOUT)
    dan.sharing.attach_file(tmp_path / "notes.txt")
    desktops.until(lambda: "Sending notes.txt: " in dan.chat_view.transfer_label.cget("text"), "the progress line")
    eve.chat("-ALL", "still there?")
    desktops.until(shown(dan, "still there?"), "a message shows during the upload")
    assert dan.sharing.transfers.running and "%" in dan.chat_view.transfer_label.cget("text")
    desktops.pump_for(0.2)  # drawn before the picture
    screenshot(ARTIFACTS / "desktop-files-uploading.png")
    gate.set()
    desktops.until(lambda: any(m.file and m.file.name == "notes.txt" for m in file_messages(dan)), "the file sent")
    assert dan.chat_view.transfer_label.cget("text") == ""
    assert any(c.startswith("[file] notes.txt (1.2 MB) http://") for c in eve.contents("CHATR"))

    # An upload that sends nothing for longer than --upload-stall-timeout (1 s): the gateway's 408, said.
    held = threading.Event()
    stalls: list[int] = []

    def stall_once(sent: int, _total: int) -> None:
        # Once, past the gateway's 1 s: then the rest goes, and the gateway's answer (read after it) is its 408.
        if not stalls:
            stalls.append(sent)
            held.wait(3)

    dan.sharing.transfers.pace = stall_once
    dan.sharing.attach_file(tmp_path / "notes.txt")
    desktops.until(shown(dan, f"notes.txt was not sent: {texts.UPLOAD_STALLED}"), "the stall refusal",
                   timeout=TIMEOUT + 5)
    held.set()
