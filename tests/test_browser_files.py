"""Files and images from the page, in real Chromium, through a real `parley serve`.

Someone on a phone pastes a screenshot into a private room and the other
member sees its thumbnail and opens it full size, while someone outside the
room neither sees it nor fetches it (a guessed link is 404); files attached
with the button and dropped onto the conversation go one after another, an
HTML file named .png shows as a download card, a larger file shows its
progress; a file over the limit is refused before a byte is sent.
"""

from __future__ import annotations

import base64
import io
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from browser import ARTIFACTS, MS, login, open_conversation, open_page, say
from PIL import Image
from playwright.async_api import Locator, Page, Request, expect
from serverproc import ParleyProcess
from test_browser_a11y import AXE, INSTALL_JS_DEPS, axe_violations
from test_browser_rooms import create_room, header_form

expect.set_options(timeout=MS)
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PHONE_OPTIONS = {"device_scale_factor": 2, "is_mobile": True, "has_touch": True}
SCHEMES = ("light", "dark")
PASTED_NAME = re.compile(r"^pasted-\d{4}-\d{2}-\d{2}-\d{4}\.png$")
HTML_AS_PNG = b"<!doctype html><html><body><script>alert('owned')</script></body></html>\n"

# A File made in the page from base64 bytes, put in a DataTransfer.
MAKE_FILES = """
(files) => {
  const data = new DataTransfer();
  for (const { b64, name, type } of files) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    data.items.add(new File([bytes], name, { type }));
  }
  return data;
}
"""
PASTE = f"""
(files) => {{
  const data = ({MAKE_FILES})(files);
  const input = document.getElementById("message-input");
  input.focus();
  return input.dispatchEvent(new ClipboardEvent("paste", {{ clipboardData: data, bubbles: true, cancelable: true }}));
}}
"""
DRAG_IN = f"""
(files) => {{
  window.__dropped = ({MAKE_FILES})(files);
  const target = document.getElementById("messages");
  for (const type of ["dragenter", "dragover"]) {{
    target.dispatchEvent(new DragEvent(type, {{ dataTransfer: window.__dropped, bubbles: true, cancelable: true }}));
  }}
}}
"""
DROP = """
() => document.getElementById("messages").dispatchEvent(
  new DragEvent("drop", { dataTransfer: window.__dropped, bubbles: true, cancelable: true }))
"""


@pytest.fixture(scope="module")
def axe() -> Path:
    """axe.min.js, installed by the project's own script if it is not yet (as test_browser_a11y)."""
    result = subprocess.run([str(INSTALL_JS_DEPS)], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"scripts/install-js-deps failed:\n{result.stderr}"
    return AXE


def png(width: int, height: int) -> bytes:
    """A real PNG of ``width`` x ``height``: a colored gradient with a square in the middle."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    image.paste((204, 51, 0), (width // 3, height // 3, 2 * width // 3, 2 * height // 3))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def given(name: str, data: bytes, mime: str) -> dict[str, str]:
    return {"name": name, "b64": base64.b64encode(data).decode("ascii"), "type": mime}


def file_message(page: Page, name: str) -> Locator:
    """The chat message showing file ``name`` (an image's or a card's)."""
    return page.locator("#messages .msg").filter(has=page.locator(".msg-file .file-name", has_text=name))


async def shots(page: Page, name: str, axe: Path | None = None) -> None:
    """test-artifacts/NAME-light.png and NAME-dark.png of the page as it is; with ``axe``, no violation in either."""
    ARTIFACTS.mkdir(exist_ok=True)
    found: dict[str, list[str]] = {}
    for scheme in SCHEMES:
        await page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
        await page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
        await page.screenshot(path=str(ARTIFACTS / f"{name}-{scheme}.png"))
        if axe is not None and (violations := await axe_violations(page, axe)):
            found[scheme] = violations
    await page.emulate_media(color_scheme="light")
    assert not found, f"axe-core on {name}: {found}"


def uploads_seen(page: Page) -> list[str]:
    """The URL of every request the page makes to files/upload, from now on."""
    seen: list[str] = []

    def on_request(request: Request) -> None:
        if "/files/upload" in request.url:
            seen.append(f"{request.method} {request.url}")

    page.on("request", on_request)
    return seen


async def image_loaded(image: Locator) -> int:
    """The natural width of ``image`` once loaded (0 if it failed)."""
    return int(await image.evaluate(
        "(img) => img.complete && img.naturalWidth ? img.naturalWidth"
        " : new Promise((done) => { img.onload = () => done(img.naturalWidth); img.onerror = () => done(0); })"))


async def test_a_screenshot_pasted_on_a_phone_reaches_the_private_room_and_nobody_else(
        chromium: Any, start_serve: Callable[..., ParleyProcess]) -> None:
    parley = start_serve()
    ann = await open_page(chromium, parley.url, "ann", viewport=PHONE, **PHONE_OPTIONS)
    await login(ann.page, "ann")
    bob = await open_page(chromium, parley.url, "bob", viewport=DESKTOP)
    await login(bob.page, "bob")
    carol = await open_page(chromium, parley.url, "carol", viewport=DESKTOP)
    await login(carol.page, "carol")

    await ann.page.click("#convs-toggle")
    await create_room(ann.page, "#secret", private=True)
    await header_form(ann.page, "#invite-open", "bob")
    await expect(bob.page.locator("#conv-list button.conv-open[data-rec='#secret']")).to_have_count(1)

    # Ann pastes a screenshot into the composer: it is sent, named for when it was pasted.
    shot = png(640, 480)
    sent = uploads_seen(ann.page)
    assert await ann.page.evaluate(PASTE, [given("image.png", shot, "image/png")]) is False  # taken, not pasted as text
    mine = ann.page.locator("#messages .msg.msg-own .file-thumb")
    await expect(mine).to_have_count(1)
    await expect(ann.page.locator("#uploads")).to_be_hidden()
    assert len(sent) == 1 and sent[0].startswith("POST ") and "ticket=" in sent[0]
    name = await mine.get_attribute("alt")
    assert name and PASTED_NAME.match(name), name
    assert await image_loaded(mine) == 320  # the thumbnail: 320 wide
    # The composer stays usable on the phone.
    await say(ann.page, "that is the bug", to="#secret")
    await shots(ann.page, "files-paste-phone")

    # Bob, a member, sees the thumbnail, sized before it loads, and opens it full size.
    await open_conversation(bob.page, "#secret")
    thumb = bob.page.locator("#messages .msg .file-thumb")
    await expect(thumb).to_have_count(1)
    assert (await thumb.get_attribute("width"), await thumb.get_attribute("height")) == ("320", "240")
    assert await thumb.get_attribute("loading") == "lazy"
    assert await image_loaded(thumb) == 320
    await expect(bob.page.locator("#messages .msg .file-caption .file-name")).to_have_text(name)
    await shots(bob.page, "files-room-desktop")
    await thumb.click()
    viewer = bob.page.locator("#file-viewer")
    await expect(viewer).to_be_visible()
    await expect(bob.page.locator("#viewer-title")).to_have_text(name)
    assert await image_loaded(bob.page.locator("#viewer-image")) == 640  # the whole image
    await shots(bob.page, "files-viewer-desktop")
    await bob.page.keyboard.press("Escape")
    await expect(viewer).to_be_hidden()
    await expect(bob.page.locator("#messages .file-open")).to_be_focused()

    # Carol is not in the room: she sees nothing of it, and neither the link nor a guess at one gets the file.
    link = await bob.page.locator("#messages .file-open").get_attribute("href")
    assert link is not None
    full = await bob.page.locator("#messages .file-open").evaluate("(a) => a.href")
    response = await bob.page.request.get(full)
    assert response.status == 200 and await response.body() == shot
    assert response.headers["content-type"] == "image/png"
    await expect(carol.page.locator("#conv-list button.conv-open[data-rec='#secret']")).to_have_count(0)
    await expect(carol.page.locator("#messages .msg-file")).to_have_count(0)
    match = re.search(r"files/(\d+)/([0-9a-f]{64})/([^/]+)/([^/?]+)$", full)
    assert match, full
    file_id, sha, sig, quoted = match.groups()
    base = full[: match.start()]
    guesses = [
        f"{base}files/{file_id}/{sha}/{'A' * len(sig)}/{quoted}",  # a forged signature
        f"{base}files/{int(file_id) + 1}/{sha}/{sig}/{quoted}",  # another file's id with this signature
        f"{base}files/{file_id}/{sha}/{sig}/other.png",  # another name
        f"{base}files/{file_id}/{sha}/{'A' * len(sig)}/{quoted}?thumb=1",
    ]
    for guess in guesses:
        response = await carol.page.request.get(guess)
        assert response.status == 404, guess
        assert await response.body() != shot
    await ann.assert_clean()
    await bob.assert_clean()
    await carol.assert_clean()


async def test_files_attached_and_dropped_go_one_after_another_as_images_and_cards(
        chromium: Any, start_serve: Callable[..., ParleyProcess], tmp_path: Path, axe: Path) -> None:
    parley = start_serve()
    ann = await open_page(chromium, parley.url, "ann", viewport=DESKTOP)
    await login(ann.page, "ann")
    # Bob's page runs axe-core (a script of the test's: the page's CSP is set aside there; Ann's keeps it).
    bob = await open_page(chromium, parley.url, "bob", viewport=PHONE, bypass_csp=True, **PHONE_OPTIONS)
    await login(bob.page, "bob")

    # The paper-clip button opens the file picker.
    await expect(ann.page.locator("#attach")).to_have_accessible_name("Attach files")
    photo = tmp_path / "holiday photo.png"
    photo.write_bytes(png(200, 900))
    async with ann.page.expect_file_chooser() as chooser:
        await ann.page.click("#attach")
    await (await chooser.value).set_files(str(photo))
    await expect(file_message(bob.page, "holiday photo.png").locator(".file-thumb")).to_have_count(1)
    thumb = file_message(bob.page, "holiday photo.png").locator(".file-thumb")
    assert (await thumb.get_attribute("width"), await thumb.get_attribute("height")) == ("71", "320")

    # Dropped onto the conversation: a drop zone while dragging, then each file in turn.
    await ann.page.evaluate(DRAG_IN, [
        given("notes.txt", b"Shopping list:\n- tea\n", "text/plain"),
        given("evil.png", HTML_AS_PNG, "image/png"),
    ])
    await expect(ann.page.locator("#drop-zone")).to_be_visible()
    await expect(ann.page.locator("#drop-target")).to_have_text("Lobby")
    await shots(ann.page, "files-drop-zone-desktop")
    await ann.page.evaluate(DROP)
    await expect(ann.page.locator("#drop-zone")).to_be_hidden()
    await expect(bob.page.locator("#messages .msg .msg-file")).to_have_count(3)
    await expect(bob.page.locator("#messages .msg .file-name")).to_have_text(
        ["holiday photo.png", "notes.txt", "evil.png"])

    # HTML named .png: a card with a download link, never an image.
    evil = file_message(bob.page, "evil.png")
    await expect(evil.locator("img")).to_have_count(0)
    await expect(evil.locator(".file-card .file-meta")).to_have_text(f"{len(HTML_AS_PNG)} B · File")
    download = evil.locator("a.file-download")
    await expect(download).to_have_attribute("download", "evil.png")
    await expect(download).to_have_accessible_name("Download evil.png")
    response = await bob.page.request.get(await download.evaluate("(a) => a.href"))
    assert response.status == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    await expect(file_message(bob.page, "notes.txt").locator(".file-meta")).to_have_text("21 B · Text")
    await shots(bob.page, "files-cards-phone", axe)
    await shots(ann.page, "files-cards-desktop")

    # A file can be deleted, not edited; deleted, it is gone from every page and its link answers 404.
    notes = await file_message(bob.page, "notes.txt").locator("a.file-download").evaluate("(a) => a.href")
    assert (await bob.page.request.get(notes)).status == 200
    await file_message(ann.page, "notes.txt").locator(".msg-actions").click()
    await expect(ann.page.locator("#msg-menu button[data-act='edit']")).to_be_hidden()
    await ann.page.click("#msg-menu button[data-act='delete']")
    await file_message(ann.page, "notes.txt").locator(".msg-inline button[type=submit]").click()
    await expect(file_message(bob.page, "notes.txt")).to_have_count(0)
    await expect(file_message(ann.page, "notes.txt")).to_have_count(0)
    assert (await bob.page.request.get(notes)).status == 404

    # A larger file, sent slowly: its progress shows, then it is posted.
    cdp = await ann.page.context.new_cdp_session(ann.page)
    await cdp.send("Network.enable")
    await cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 1_000_000})
    big = given("big.bin", bytes(range(256)) * (3 * 1024 * 4), "application/octet-stream")
    await ann.page.evaluate(DRAG_IN, [big])
    await ann.page.evaluate(DROP)
    bar = ann.page.locator("#uploads .upload-progress")
    await expect(bar).to_be_visible()
    await expect(ann.page.locator("#uploads .upload-name")).to_have_text("big.bin")
    await ann.page.wait_for_function(
        "() => { const b = document.querySelector('#uploads .upload-progress'); return b && b.value > 0 && b.value < 100; }")
    await shots(ann.page, "files-progress-desktop")
    await cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    await expect(file_message(bob.page, "big.bin").locator(".file-meta")).to_have_text("3.1 MB · File", timeout=3 * MS)
    await expect(ann.page.locator("#uploads")).to_be_hidden()
    await ann.assert_clean()
    await bob.assert_clean()


async def test_a_file_over_the_limit_is_refused_before_a_byte_is_sent(
        chromium: Any, start_serve: Callable[..., ParleyProcess]) -> None:
    parley = start_serve("--max-file-size", "100000")
    ann = await open_page(chromium, parley.url, "ann", viewport=PHONE, **PHONE_OPTIONS)
    await login(ann.page, "ann")
    bob = await open_page(chromium, parley.url, "bob", viewport=DESKTOP)
    await login(bob.page, "bob")
    sent = uploads_seen(ann.page)

    await ann.page.set_input_files("#attach-input", files=[
        {"name": "huge.zip", "mimeType": "application/zip", "buffer": b"PK\x03\x04" + bytes(200_000)},
        {"name": "small.txt", "mimeType": "text/plain", "buffer": b"fits\n"},
    ])
    refused = ann.page.locator("#uploads .upload .upload-status.form-error")
    await expect(refused).to_have_text("Error: The file is too large: 200 KB; files may be up to 100 KB.")
    await expect(refused).to_have_attribute("role", "alert")
    # The next file goes on; the refused one stays until dismissed.
    await expect(file_message(bob.page, "small.txt")).to_have_count(1)
    await shots(ann.page, "files-refused-phone")
    assert len(sent) == 1, sent  # small.txt's only
    await expect(bob.page.locator("#messages .msg-file")).to_have_count(1)
    await ann.page.click("#uploads .upload-cancel")
    await expect(ann.page.locator("#uploads")).to_be_hidden()
    await ann.assert_clean()
    await bob.assert_clean()
