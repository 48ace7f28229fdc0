"""Search from the page, in real Chromium, through a real `parley serve`.

A search finds messages in every conversation the user may read (or in the
open one), shows the words found, pages with "Load more", and jumps to a
result in its conversation with the scrollback working both ways from there;
FTS5 syntax and empty queries get a clear answer, never an error page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from browser import MS, login, open_conversation, open_page, say
from playwright.async_api import Locator, Page, expect
from serverproc import ParleyProcess
from test_browser_moderation import DESKTOP, PHONE, PHONE_OPTIONS, message, shots
from test_browser_rooms import create_room

expect.set_options(timeout=MS)
FILLER = 150
FOUND_AT = 40  # the message searched for comes after this many fillers


def results(page: Page) -> Locator:
    return page.locator("#search-results .result")


async def search(page: Page, query: str, here: bool = False) -> None:
    """Type ``query`` in the search box ("/" focuses it) and press Enter."""
    await page.locator("#messages").focus()
    await page.keyboard.press("/")
    await expect(page.locator("#search-input")).to_be_focused()
    await page.fill("#search-input", query)
    if here != await page.is_checked("#search-here"):
        await page.click("#search-here")
    await page.press("#search-input", "Enter")
    await expect(page.locator("#search-panel")).to_be_visible()
    await expect(page.locator("#search-status")).not_to_have_text("Searching…")


async def seed(tcp: Any, port: int) -> None:
    seeder = await tcp(port)
    await seeder.login("seeder")
    for n in range(FILLER):
        if n == FOUND_AT:
            await seeder.send("CHAT,rec=-ALL,the Teapot is in the kitchen")
        await seeder.send(f"CHAT,rec=-ALL,filler {n:03}")
    for n in range(25):
        await seeder.send(f"CHAT,rec=-ALL,match number {n:02}")
    while not any(f.reason == "CHATR" and f.content == "match number 24" for f in seeder.frames):
        await seeder.recv()


async def test_a_search_finds_a_message_and_jumping_shows_it_in_context(
        chromium: Any, start_serve: Callable[..., ParleyProcess], tcp: Any) -> None:
    parley = start_serve("--chat-rate", "0")
    await seed(tcp, parley.port)
    ann = await open_page(chromium, parley.url, "ann", viewport=DESKTOP)
    page = ann.page
    await login(page, "ann")
    await expect(message(page, "match number 24")).to_be_in_viewport()
    await expect(page.locator("#search-input")).to_have_attribute("placeholder", re.compile(r"\( / \)"))

    # Found, with the words marked (as typed: a word's beginning, any case).
    await search(page, "teap KITCH")
    await expect(results(page)).to_have_count(1)
    hit = results(page).first
    await expect(hit.locator(".result-conv")).to_have_text("Lobby")
    await expect(hit.locator(".result-sender")).to_have_text("seeder")
    await expect(hit.locator("mark")).to_have_text(["Teap", "kitch"])
    await expect(hit.locator(".result-text")).to_have_text("the Teapot is in the kitchen")
    await shots(page, "search-results-desktop")

    # Jump: the lobby opens at the message, highlighted, with messages on both sides.
    await hit.locator(".result-open").click()
    await expect(page.locator("#search-panel")).to_be_hidden()
    found = message(page, "the Teapot is in the kitchen")
    await expect(found).to_be_in_viewport()
    await expect(found).to_have_class(re.compile(r"\bmsg-found\b"))
    await expect(message(page, f"filler {FOUND_AT - 1:03}")).to_have_count(1)
    await expect(message(page, f"filler {FOUND_AT:03}")).to_have_count(1)
    await expect(message(page, "match number 24")).to_have_count(0)  # not the newest page
    await expect(page.locator("#jump-latest")).to_be_visible()
    await shots(page, "search-jumped-desktop")
    # The scrollback works from there: up to the first message, down to the newest.
    log = page.locator("#messages")
    for _ in range(10):
        if await message(page, "filler 000").count():
            break
        await log.evaluate("(e) => { e.scrollTop = 0; }")
        await page.wait_for_timeout(200)
    await expect(message(page, "filler 000")).to_have_count(1)
    for _ in range(20):
        if await message(page, "match number 24").count():
            break
        await log.evaluate("(e) => { e.scrollTop = e.scrollHeight; }")
        await page.wait_for_timeout(200)
    await expect(message(page, "match number 24")).to_have_count(1)
    shown = await page.locator("#messages .msg-text").all_inner_texts()
    assert len(shown) == len(set(shown)) == FILLER + 1 + 25, len(shown)
    # A new message now joins at the end as ever.
    await say(page, "back to now")
    await expect(message(page, "back to now")).to_be_in_viewport()

    # "Load more": 25 matches come as 20 and then 5, newest first.
    await search(page, "match")
    await expect(results(page)).to_have_count(20)
    await expect(results(page).first.locator(".result-text")).to_have_text("match number 24")
    await page.click("#search-more")
    await expect(results(page)).to_have_count(25)
    await expect(page.locator("#search-more")).to_be_hidden()
    await page.keyboard.press("Escape")
    await expect(page.locator("#search-panel")).to_be_hidden()
    await ann.assert_clean()


async def test_search_syntax_errors_and_this_conversation_only(
        chromium: Any, start_serve: Callable[..., ParleyProcess]) -> None:
    parley = start_serve()
    ann = await open_page(chromium, parley.url, "ann", viewport=DESKTOP)
    page = ann.page
    await login(page, "ann")
    await say(page, "teapot in the lobby")
    await create_room(page, "#tea")
    await say(page, "teapot in the room", to="#tea")
    await say(page, "near or far", to="#tea")

    # FTS5 syntax is only words (or none): a clear answer, the page keeps working.
    await search(page, '"')
    await expect(page.locator("#search-status")).to_have_text("Error: Nothing to search for.")
    await expect(page.locator("#search-status")).to_have_attribute("data-error", "true")
    await expect(results(page)).to_have_count(0)
    await search(page, "NEAR OR *")
    await expect(results(page)).to_have_count(1)
    await expect(results(page).locator(".result-text")).to_have_text("near or far")
    await search(page, 'teapot" lobby*')
    await expect(page.locator("#search-status")).to_have_text("1 message")
    await search(page, "nothingsaysthis")
    await expect(page.locator("#search-status")).to_have_text("No messages found.")
    await search(page, "x" * 200 + " y")
    await expect(page.locator("#search-status")).to_have_text("Error: A search is at most 200 characters.")

    # Everywhere, then the open conversation only.
    await search(page, "teapot")
    await expect(results(page).locator(".result-conv")).to_have_text(["#tea", "Lobby"])
    await search(page, "teapot", here=True)
    await expect(page.locator("#search-title")).to_have_text("Search: “teapot” in #tea")
    await expect(results(page).locator(".result-conv")).to_have_text(["#tea"])
    await page.click("#search-close")
    await open_conversation(page, "-ALL")
    await search(page, "teapot", here=True)
    await expect(results(page).locator(".result-conv")).to_have_text(["Lobby"])
    # Jumping to a result in another conversation opens that one.
    await search(page, "room")
    await results(page).first.locator(".result-open").click()
    await expect(page.locator("#conv-title")).to_have_text("#tea")
    await expect(message(page, "teapot in the room")).to_be_in_viewport()
    await ann.assert_clean()


async def test_screenshots_of_search_on_a_phone(chromium: Any, start_serve: Callable[..., ParleyProcess]) -> None:
    parley = start_serve()
    ann = await open_page(chromium, parley.url, "ann", viewport=PHONE, **PHONE_OPTIONS)
    page = ann.page
    await login(page, "ann")
    for text in ("where is the teapot", "the teapot is on the shelf", "tea for two"):
        await say(page, text)
    await page.fill("#search-input", "teap")
    await page.press("#search-input", "Enter")
    await expect(results(page)).to_have_count(2)
    await shots(page, "search-results-phone")
    await results(page).last.locator(".result-open").click()
    await expect(message(page, "where is the teapot")).to_have_class(re.compile(r"\bmsg-found\b"))
    await shots(page, "search-jumped-phone")
    await ann.assert_clean()
