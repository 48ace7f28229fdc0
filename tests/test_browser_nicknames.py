"""The page in real Chromium with nicknames of , ; = /, and after a flood disconnect.

As in test_browser.py: a real `parley serve`, real pages, TCP clients
beside them; every test asserts what people see and that no page logged an
error, threw, opened a dialog or broke the CSP.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Callable, Iterator

import pytest
from playwright.async_api import Error as PlaywrightError, Locator, Page, expect

from browser import MS, conversation_entry, login, open_conversation, open_page, say, screenshot, serve
from conftest import add_account
from parley.protocol import texts
from serverproc import ParleyProcess
from wire import users

expect.set_options(timeout=MS)
DESKTOP = {"width": 1200, "height": 800}


@pytest.fixture
def start_serve(tmp_path: Path, data_dir: Path) -> Iterator[Callable[..., ParleyProcess]]:
    started: list[ParleyProcess] = []

    def start(*flags: str) -> ParleyProcess:
        started.append(serve(tmp_path / "logs", data_dir, *flags))
        return started[-1]

    yield start
    for process in reversed(started):
        process.stop()


def message(page: Page, text: str) -> Locator:
    """The chat message whose text is exactly ``text``."""
    return page.locator("#messages .msg").filter(
        has=page.locator(".msg-text", has_text=re.compile(f"^{re.escape(text)}$")))


async def test_foo_bar_chats_privately_with_a_page_and_a_tcp_client(chromium, start_serve, tcp) -> None:
    parley = start_serve()
    ann = await open_page(chromium, parley.url, "ann", viewport=DESKTOP)
    await login(ann.page, "ann", color="#cc3300")
    foo = await open_page(chromium, parley.url, "foo,bar", viewport=DESKTOP)
    await login(foo.page, "foo,bar", color="#3366cc")
    await expect(foo.page.locator("#status")).to_have_text("Online as foo,bar")
    await expect(foo.page.locator("#user-list .user-me .user-name")).to_have_text("foo,bar")
    xyz = await tcp(parley.port)
    await xyz.login("x=y/z")
    await expect(ann.page.locator("#user-list .user-name")).to_have_text(["ann", "foo,bar", "x=y/z"])

    # Ann picks foo,bar from the list and writes privately; foo,bar answers.
    await ann.page.click("#user-list li[data-nick='foo,bar'] .user-name")
    await expect(ann.page.locator("#conv-title")).to_have_text("foo,bar")
    await say(ann.page, "hi foo,bar, just you", to="foo,bar")
    await expect(conversation_entry(foo.page, "ann").locator(".count-unread")).to_have_text("1")
    await open_conversation(foo.page, "ann")
    to_foo = message(foo.page, "hi foo,bar, just you")
    await expect(to_foo).to_have_class(re.compile(r"\bmsg-private\b.*\bmsg-to-me\b"))
    await expect(to_foo.locator(".msg-to")).to_have_text("to you")
    await say(foo.page, "hello ann; from foo,bar = me/", to="ann")
    await expect(message(ann.page, "hello ann; from foo,bar = me/")).to_have_class(re.compile(r"\bmsg-to-me\b"))
    await expect(message(ann.page, "hi foo,bar, just you").locator(".msg-to")).to_have_text("to foo,bar")
    await expect(message(ann.page, "hi foo,bar, just you")).to_have_class(re.compile(r"\bmsg-own\b"))

    # foo,bar and the TCP client x=y/z, both ways; the server matches FOO,BAR to foo,bar.
    await say(foo.page, "to x=y/z", to="x=y/z")
    chatr = await xyz.next("CHATR")
    assert (chatr.params["sender"], chatr.params["rec"], chatr.content) == ("foo,bar", "x=y/z", "to x=y/z")
    await xyz.send("CHAT,rec=FOO/,BAR,psst, from x=y/z")
    from_xyz = message(foo.page, "psst, from x=y/z")
    await expect(from_xyz).to_have_class(re.compile(r"\bmsg-to-me\b"))
    await expect(from_xyz.locator(".sender")).to_have_text("x=y/z")
    await expect(ann.page.locator("#messages .msg-text")).to_have_text(
        ["hi foo,bar, just you", "hello ann; from foo,bar = me/"])
    await screenshot(ann.page, "nicknames-foo-bar.png")

    # Renaming: an invisible character is refused on the page, in the server's words; foo/bar is fine.
    await foo.page.click("#settings-toggle")
    await foo.page.fill("#set-nickname", "foo\u200bbar")
    await foo.page.click("#settings-save")
    await expect(foo.page.locator("#settings-result")).to_have_text(
        "Error: Username contains a character that is not allowed.")
    await foo.page.fill("#set-nickname", "foo/bar")
    await foo.page.click("#settings-save")
    await expect(foo.page.locator("#settings-result")).to_have_text("Saved.")
    await expect(ann.page.locator("#user-list .user-name")).to_have_text(["ann", "foo/bar", "x=y/z"])
    await open_conversation(ann.page, "-ALL")
    await expect(ann.page.locator("#messages .line-info .line-text").last).to_have_text("foo,bar is now foo/bar")
    infos = [f.content for f in await xyz.drain() if f.reason == "INFO"]
    assert infos == ["foo,bar's name changed to foo/bar "]  # the refused name never reached the server
    await expect(foo.page.locator("#status")).to_have_text("Online as foo/bar")
    await ann.assert_clean()
    await foo.assert_clean()


async def test_the_page_stays_out_after_a_flood_disconnect(chromium, start_serve, tcp) -> None:
    parley = start_serve("--chat-rate", "1", "--chat-burst", "2")
    watcher = await tcp(parley.port)
    await watcher.login("watcher")
    flooder = await open_page(chromium, parley.url, "a=b")
    sockets: list[str] = []
    flooder.page.on("websocket", lambda ws: sockets.append(ws.url))
    await login(flooder.page, "a=b")
    page = flooder.page
    flooded = "You have been disconnected for flooding the chat."
    for n in range(60):
        try:  # the composer is disabled once the server has cut the page off
            await page.fill("#message-input", f"spam {n}", timeout=500)
            await page.press("#message-input", "Enter", timeout=500)
        except PlaywrightError:
            if await page.locator("#message-input").is_disabled():
                break
    await expect(page.locator("#status")).to_have_attribute("data-state", "offline")
    await expect(page.locator("#status")).to_contain_text(flooded)
    await expect(page.locator("#login-notice")).to_have_text(flooded)
    await expect(page.locator("#chat-panel")).to_be_hidden()
    await asyncio.sleep(1.5)  # several first reconnect delays: a flooder must not come back
    assert len(sockets) == 1
    await expect(page.locator("#status")).to_have_attribute("data-state", "offline")
    seen = await watcher.drain()
    assert [f.content for f in seen if f.reason == "INFO"] == ["a=b has joined the chat!", "a=b has disconnected"]
    await watcher.send("USER,,")
    assert users(await watcher.next("USER")) == ["watcher"]
    await flooder.assert_clean()


async def test_the_page_shows_the_servers_refusal_of_a_look_alike(chromium, start_serve, data_dir, tcp) -> None:
    add_account(data_dir, "Alice", "alice-secret")
    parley = start_serve()
    coco = await tcp(parley.port)
    await coco.login("Coco")
    watched = await open_page(chromium, parley.url, "look-alike", viewport=DESKTOP)
    page = watched.page

    # Capital I for l: only the server knows Alice is registered, and says so.
    await page.fill("#login-nickname", "AIice")
    await page.click("#login-submit")
    await expect(page.locator("#login-error")).to_have_text(texts.LOOKS_LIKE)
    # Cyrillic А among Latin letters: the page refuses it in the server's words, sending nothing.
    await page.fill("#login-nickname", "\u0410lice")
    await page.click("#login-submit")
    await expect(page.locator("#login-error")).to_have_text(texts.MIXED_SCRIPTS)

    await login(page, "Bob")
    await page.click("#settings-toggle")
    await page.fill("#set-nickname", "\u0421\u043e\u0441\u043e")  # all-Cyrillic Сосо, like Coco online
    await page.click("#settings-save")
    await expect(page.locator("#settings-result")).to_have_text(texts.LOOKS_LIKE + ".")
    await expect(page.locator("#status")).to_have_text("Online as Bob")
    joins = [f.content for f in await coco.drain() if f.reason == "INFO"]
    assert joins == ["Bob has joined the chat!"]  # no look-alike ever got in
    await watched.assert_clean()
