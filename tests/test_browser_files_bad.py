"""Issue 15's bad inputs, sent from the page in real Chromium, seen in the other member's page.

Hostile names are kept safe; HTML, SVG, truncated images and a decompression
bomb named .png arrive as download cards, never images, and their links are
attachments in a sandbox; PNG polyglots show as the images they are; an
upload cut halfway is said not to be sent and nothing is posted; an upload
to a room the uploader was just removed from, or to someone who has left,
gets the server's refusal and nothing is sent; a disk that fills up mid-upload
is reported with the gateway's words, and what was stored before still
downloads whole. (A file over the limit and a guessed link are in
test_browser_files; a room that does not exist cannot be chosen in the page:
it only sends to conversations the server listed, and rooms are never deleted.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import ARTIFACTS, MS, login, open_conversation, open_page, say
from disks import small_tmpfs
from playwright.async_api import Page, Route, expect
from serverproc import ParleyProcess
from test_browser_files import (
    DESKTOP,
    DRAG_IN,
    DROP,
    HTML_AS_PNG,
    file_message,
    given,
    uploads_seen,
)
from test_browser_rooms import create_room, header_form
from test_files_http import CSP
from test_files_store import bomb_png, image_bytes
from wire import eventually

from parley.protocol import texts

expect.set_options(timeout=MS)
SVG_AS_PNG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><circle r="9"/></svg>\n'
LONG_NAME = "x" * 296 + ".txt"  # 300 characters


async def drop(page: Page, files: list[dict[str, str]]) -> None:
    """``files`` dragged onto the open conversation and dropped."""
    await page.evaluate(DRAG_IN, files)
    await page.evaluate(DROP)


def failed(page: Page, name: str) -> Any:
    """The words of failed upload ``name`` in the uploads list."""
    return page.locator("#uploads .upload").filter(
        has=page.locator(".upload-name", has_text=name)).locator(".upload-status.form-error")


async def headers_of(page: Page, link: str) -> dict[str, str]:
    response = await page.request.get(link)
    assert response.status == 200, link
    return response.headers


def leftovers(data_dir: Path) -> list[Path]:
    tmp = data_dir / "files" / "tmp"
    return list(tmp.iterdir()) if tmp.exists() else []


async def test_hostile_names_and_contents_cut_uploads_and_forbidden_rooms_from_the_page(
        chromium: Any, start_serve: Callable[..., ParleyProcess], data_dir: Path) -> None:
    parley = start_serve()
    ann = await open_page(chromium, parley.url, "ann", viewport=DESKTOP)
    await login(ann.page, "ann")
    bob = await open_page(chromium, parley.url, "bob", viewport=DESKTOP)
    await login(bob.page, "bob")

    # Names: the path, the control characters and the length go; Bob sees the names kept.
    await drop(ann.page, [
        given("../../shot.png", image_bytes("PNG", (64, 48)), "image/png"),
        given("bell\x07and\u202eovertxt.exe", b"not run\n", "text/plain"),
        given(LONG_NAME, b"long\n", "text/plain"),
    ])
    kept = ["shot.png", "bellandovertxt.exe", "x" * 116 + ".txt"]
    await expect(bob.page.locator("#messages .msg .file-name")).to_have_text(kept)
    await expect(file_message(bob.page, "shot.png").locator(".file-thumb")).to_have_count(1)
    await expect(ann.page.locator("#uploads")).to_be_hidden()

    # Contents: what is not an image is a card and an attachment; a PNG polyglot is just a PNG.
    cut_png = image_bytes("PNG", (300, 300))[:400]
    cards = {"page.png": HTML_AS_PNG, "drawing.png": SVG_AS_PNG, "cut.png": cut_png, "bomb.png": bomb_png()}
    polyglots = {"html-too.png": image_bytes("PNG", (40, 30)) + b"<html><script>alert(1)</script></html>",
                 "zip-too.png": image_bytes("PNG", (30, 40)) + b"PK\x03\x04" + b"\0" * 26}
    await drop(ann.page, [given(name, data, "image/png") for name, data in {**cards, **polyglots}.items()])
    await expect(bob.page.locator("#messages .msg .file-name")).to_have_text([*kept, *cards, *polyglots])
    for name, data in cards.items():
        card = file_message(bob.page, name)
        await expect(card.locator("img")).to_have_count(0)
        await expect(card.locator(".file-card .file-meta")).to_have_text(f"{len(data)} B · File")
        link = await card.locator("a.file-download").evaluate("(a) => a.href")
        headers = await headers_of(bob.page, link)
        assert headers["content-type"] == "application/octet-stream", name
        assert headers["content-disposition"].startswith("attachment;"), name
        assert headers["x-content-type-options"] == "nosniff" and headers["content-security-policy"] == CSP, name
        assert (await bob.page.request.get(link + "?thumb=1")).status == 404, name
    for name, data in polyglots.items():
        thumb = file_message(bob.page, name).locator(".file-thumb")
        await expect(thumb).to_have_count(1)
        link = await file_message(bob.page, name).locator("a.file-open").evaluate("(a) => a.href")
        headers = await headers_of(bob.page, link)
        assert headers["content-type"] == "image/png", name
        assert headers["content-disposition"].startswith("inline;"), name
        assert headers["x-content-type-options"] == "nosniff" and headers["content-security-policy"] == CSP, name
        assert await (await bob.page.request.get(link)).body() == data
    ARTIFACTS.mkdir(exist_ok=True)
    await bob.page.screenshot(path=str(ARTIFACTS / "files-hostile-desktop.png"))
    posted = len(kept) + len(cards) + len(polyglots)

    # An upload whose connection is cut (the network drops it): Ann is told it was not sent, nobody
    # sees anything. (The gateway's side of a cut, its part file removed, is in test_files_http.)
    sent = uploads_seen(ann.page)
    await ann.page.route("**/files/upload?*", lambda route: route.abort("connectionreset"))
    await drop(ann.page, [given("halfway.bin", bytes(range(256)) * 800, "application/octet-stream")])
    await expect(failed(ann.page, "halfway.bin")).to_have_text(["The upload failed: the connection was lost."])
    await expect(failed(ann.page, "halfway.bin")).to_have_attribute("role", "alert")
    await ann.page.unroute("**/files/upload?*")
    assert len(sent) == 1, sent
    await ann.page.click("#uploads .upload-cancel")  # dismissed
    await expect(ann.page.locator("#uploads")).to_be_hidden()

    # A private room Ann is removed from while her files go up: the server's refusal, nothing posted.
    await create_room(bob.page, "#secret", private=True)
    await header_form(bob.page, "#invite-open", "ann")
    await open_conversation(ann.page, "#secret")
    held: list[Route] = []

    def hold(route: Route) -> None:  # first.bin's bytes wait, on their way
        held.append(route)

    await ann.page.route("**/files/upload?*", hold)
    sent.clear()
    await drop(ann.page, [given("first.bin", bytes(200_000), "application/octet-stream"),
                          given("second.txt", b"for the room\n", "text/plain")])
    await eventually(lambda: len(held) == 1)
    await bob.page.click("#user-list li[data-nick='ann'] .member-remove")
    await bob.page.click("#conv-form-submit")
    await expect(ann.page.locator("#conv-title")).to_have_text("Lobby")
    await held[0].continue_()
    await ann.page.unroute("**/files/upload?*")
    not_in = texts.NO_ROOM.format(room="#secret")  # a private room one is not in: as if there were none
    await expect(failed(ann.page, "second.txt")).to_have_text([not_in])
    # first.bin went up before Ann was removed: its post is refused, said in her open conversation.
    await expect(ann.page.locator("#messages .line-error .line-text").last).to_have_text(not_in)
    assert len(sent) == 1, sent  # first.bin's bytes only: second.txt was refused before a byte
    await ann.page.click("#uploads .upload-cancel")
    await expect(ann.page.locator("#uploads")).to_be_hidden()
    await expect(bob.page.locator("#messages .msg-file")).to_have_count(0)  # Bob is in #secret: nothing came

    # A private conversation with a guest who has left: refused, nothing sent.
    carol = await open_page(chromium, parley.url, "carol", viewport=DESKTOP)
    await login(carol.page, "carol")
    await say(ann.page, "hello carol", to="carol")
    await carol.page.click("#leave")
    await expect(ann.page.locator("#user-list .user-name[data-nick='carol']")).to_have_count(0)
    sent.clear()
    await drop(ann.page, [given("for-carol.txt", b"hi\n", "text/plain")])
    await expect(failed(ann.page, "for-carol.txt")).to_have_text([texts.UNRECOGNIZED_RECIPIENT.format(rec="carol")])
    assert sent == []
    await ann.page.screenshot(path=str(ARTIFACTS / "files-refused-desktop.png"))

    # Nothing of all that reached Bob's lobby.
    await open_conversation(bob.page, "-ALL")
    await expect(bob.page.locator("#messages .msg-file")).to_have_count(posted)
    await bob.assert_clean()


@pytest.fixture
def small_data_dir(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs for `parley serve --data-dir`: a disk that fills up."""
    with small_tmpfs(tmp_path / "small-disk", "3m") as mount:
        yield mount / "data"


async def test_a_disk_that_fills_up_mid_upload_is_said_and_what_was_stored_still_downloads(
        chromium: Any, processes: list[ParleyProcess], tmp_path: Path, small_data_dir: Path) -> None:
    from browser import serve

    processes.append(serve(tmp_path / "logs", small_data_dir))
    parley = processes[-1]
    ann = await open_page(chromium, parley.url, "ann", viewport=DESKTOP)
    await login(ann.page, "ann")
    bob = await open_page(chromium, parley.url, "bob", viewport=DESKTOP)
    await login(bob.page, "bob")
    kept = b"kept safe\n" * 50_000  # 500 kB
    await drop(ann.page, [given("kept.txt", kept, "text/plain")])
    await expect(file_message(bob.page, "kept.txt")).to_have_count(1)

    # Most of the disk filled by something else; then a file bigger than what is left.
    mount = small_data_dir.parent
    free = _free(mount)
    (mount / "filler").write_bytes(bytes(max(0, free - 700_000)))
    assert _free(mount) < 800_000
    await drop(ann.page, [given("too-big.bin", b"no room\n" * 150_000, "application/octet-stream")])  # 1.2 MB
    await expect(failed(ann.page, "too-big.bin")).to_have_text([texts.UPLOAD_DISK_FULL])
    await eventually(lambda: leftovers(small_data_dir) == [])
    link = await file_message(bob.page, "kept.txt").locator("a.file-download").evaluate("(a) => a.href")
    response = await bob.page.request.get(link)
    assert response.status == 200 and await response.body() == kept
    await expect(bob.page.locator("#messages .msg-file")).to_have_count(1)
    ARTIFACTS.mkdir(exist_ok=True)
    await ann.page.screenshot(path=str(ARTIFACTS / "files-disk-full-desktop.png"))
    await bob.assert_clean()


def _free(path: Path) -> int:
    import os

    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize
