"""The page's Invite button, in Chromium: a QR code (read back with zxing-cpp) and the link of the page.

Opened on a name other devices can reach (chat.test, which this Chromium
alone resolves to 127.0.0.1), the dialog shows that address; opened on
localhost, the LAN addresses the gateway gives instead.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, MS, login, open_page, screenshot
from playwright.async_api import Browser, Page, async_playwright, expect
from qrread import decode_png

from parley.addresses import lan_ipv4_addresses

expect.set_options(timeout=MS)

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
async def chromium_with_a_lan_name() -> AsyncIterator[Browser]:
    """Chromium that resolves chat.test to 127.0.0.1, as a LAN's DNS would name the chat's machine."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP chat.test 127.0.0.1"])
        try:
            yield browser
        finally:
            await browser.close()


async def open_invite(page: Page) -> str:
    """Open the dialog with the Invite button; the address its QR code reads back as."""
    await page.click("#share-open")
    dialog = page.locator("#share-dialog")
    await expect(dialog).to_be_visible()
    qr = page.locator("#share-qr")
    await expect(qr).to_be_visible()
    # Polled from here: wait_for_function would evaluate its text, which the page's CSP forbids.
    for _ in range(MS // 20):
        if await qr.evaluate("image => image.complete && image.naturalWidth > 0"):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the QR code never loaded")
    decoded = decode_png(await qr.screenshot())
    assert len(decoded) == 1, decoded
    return decoded[0]


async def test_invite_shows_a_code_and_link_of_the_address_the_page_was_opened_on(
        chromium_with_a_lan_name: Browser, start_serve: Any) -> None:
    parley = start_serve()
    url = f"http://chat.test:{parley.http_port}/"
    for look in ("light", "dark"):
        for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            watched = await open_page(chromium_with_a_lan_name, url + "?from=somewhere#frag", f"{name}-{look}",
                                      viewport=viewport, color_scheme=look)
            page = watched.page
            if look == "dark" and name == "desktop":
                await login(page, "inviter")  # the button is there before joining and after
            assert await open_invite(page) == url  # no query, no fragment: the page itself
            await expect(page.locator("#share-link")).to_have_text(url)
            await expect(page.locator("#share-link")).to_have_attribute("href", url)
            await expect(page.locator("#share-qr")).to_have_attribute("alt", f"QR code of {url}")
            await expect(page.locator("#share-note")).to_be_hidden()
            box = await page.locator("#share-qr").bounding_box()
            assert box is not None and box["width"] >= 200 and box["x"] >= 0 \
                and box["x"] + box["width"] <= viewport["width"], box
            await screenshot(page, f"invite-{name}-{look}.png")
            # Plain http on a LAN has no clipboard API: the link is copied the old way.
            await page.click("#share-copy")
            await expect(page.locator("#share-status")).to_have_text("Copied.")
            await page.keyboard.press("Escape")
            await expect(page.locator("#share-dialog")).to_be_hidden()
            await expect(page.locator("#share-open")).to_be_focused()
            await watched.assert_clean()
            await page.context.close()


async def test_invite_on_localhost_shows_the_lan_address_instead(chromium: Browser, start_serve: Any) -> None:
    parley = start_serve("--http-host", "0.0.0.0")
    watched = await open_page(chromium, parley.url, "localhost", viewport=DESKTOP,
                              permissions=["clipboard-read", "clipboard-write"])
    page = watched.page
    lan = [f"http://{address}:{parley.http_port}/" for address in lan_ipv4_addresses()]
    if not lan:
        await page.click("#share-open")
        await expect(page.locator("#share-note")).to_contain_text("this computer has no network address")
        await expect(page.locator("#share-qr")).to_be_hidden()
        return
    assert await open_invite(page) == lan[0]
    await expect(page.locator("#share-note")).to_have_text(
        "This page was opened on this computer's own address; on another device use:")
    await expect(page.locator("#share-link")).to_have_text(lan[0])
    await expect(page.locator("#share-others a")).to_have_text(lan[1:])
    # localhost is a secure context: the clipboard API itself takes the link.
    await page.click("#share-copy")
    await expect(page.locator("#share-status")).to_have_text("Copied.")
    assert await page.evaluate("navigator.clipboard.readText()") == lan[0]
    await page.click("#share-close")
    await expect(page.locator("#share-dialog")).to_be_hidden()
    await watched.assert_clean()


async def test_the_room_invitation_button_is_told_apart(chromium: Browser, start_serve: Any) -> None:
    parley = start_serve()
    watched = await open_page(chromium, parley.url, "op", viewport=DESKTOP)
    page = watched.page
    await login(page, "opal")
    await page.click("#create-open")
    await page.fill("#create-name", "#plans")
    await page.check("#create-private")
    await page.click("#create-submit")
    await expect(page.locator("#conv-title")).to_have_text("#plans")
    await expect(page.locator("#invite-open")).to_have_text("Invite to room")
    await expect(page.locator("#share-open")).to_have_text("Invite")
    await watched.assert_clean()
