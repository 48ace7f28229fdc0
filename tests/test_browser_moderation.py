"""Moderation and editing from the page, in real Chromium, through a real `parley serve`.

An admin bans a user from the page (their page shows the ban and cannot log
back in; a client of the original protocol in the lobby reads the reason), a
report reaches the admin view and is dealt with there, edits and deletes
show live on another page, a room operator mutes a member (the muted page
says until when and why, and still reads).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

from browser import ARTIFACTS, MS, login, open_conversation, open_page, say
from conftest import add_account
from playwright.async_api import Locator, Page, expect
from serverproc import ParleyProcess
from test_browser_rooms import LegacyClient, create_room

expect.set_options(timeout=MS)
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PHONE_OPTIONS = {"device_scale_factor": 2, "is_mobile": True, "has_touch": True}
SCHEMES = ("light", "dark")


def message(page: Page, text: str) -> Locator:
    """The chat message whose text is exactly ``text``."""
    return page.locator("#messages .msg").filter(
        has=page.locator(".msg-text", has_text=re.compile(f"^{re.escape(text)}$")))


async def act(page: Page, text: str, action: str) -> None:
    """Open the actions menu of the message ``text`` (by keyboard) and choose ``action``."""
    item = message(page, text)
    await item.locator(".msg-actions").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#msg-menu")).to_be_visible()
    await page.click(f"#msg-menu button[data-act='{action}']")
    await expect(page.locator("#msg-menu")).to_be_hidden()


async def menu_entries(page: Page, text: str) -> list[str]:
    """The actions the menu of message ``text`` offers (then closed with Esc)."""
    await message(page, text).locator(".msg-actions").click()
    await expect(page.locator("#msg-menu")).to_be_visible()
    shown = await page.locator("#msg-menu li:not([hidden]) button").evaluate_all("(bs) => bs.map((b) => b.dataset.act)")
    await page.keyboard.press("Escape")
    await expect(page.locator("#msg-menu")).to_be_hidden()
    return list(shown)


async def shots(page: Page, name: str) -> None:
    """test-artifacts/NAME-light.png and NAME-dark.png of the page as it is."""
    ARTIFACTS.mkdir(exist_ok=True)
    for scheme in SCHEMES:
        await page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
        await page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
        await page.screenshot(path=str(ARTIFACTS / f"{name}-{scheme}.png"))
    await page.emulate_media(color_scheme="light")


async def legacy_saw(legacy: LegacyClient, *parts: str) -> str:
    """The first INFO the original client got holding every one of ``parts``."""
    deadline = time.monotonic() + MS / 1000
    while time.monotonic() < deadline:
        for frame in "".join(legacy.received).split("INFO,")[1:]:
            if all(part in frame for part in parts):
                return frame
        await asyncio.sleep(0.05)
    raise AssertionError(f"no INFO with {parts}: {legacy.received}")


async def test_an_admin_bans_a_user_from_the_page_and_cleans_up_after_them(
        chromium: Any, data_dir: Any, start_serve: Callable[..., ParleyProcess]) -> None:
    add_account(data_dir, "boss", "password1", "admin")
    add_account(data_dir, "bob", "password1")
    parley = start_serve()
    boss = await open_page(chromium, parley.url, "boss", viewport=DESKTOP)
    await login(boss.page, "boss", password="password1")
    bob = await open_page(chromium, parley.url, "bob", viewport=DESKTOP)
    sockets: list[object] = []
    bob.page.on("websocket", lambda ws: sockets.append(ws))
    await login(bob.page, "bob", password="password1")
    ann = await open_page(chromium, parley.url, "ann", viewport=DESKTOP)
    await login(ann.page, "ann")
    legacy = await asyncio.to_thread(LegacyClient, parley.port, "oldie")
    try:
        await say(bob.page, "buy cheap pills")
        await expect(message(ann.page, "buy cheap pills")).to_have_count(1)

        # Ann reports it; the admin's page counts the new report at once.
        assert await menu_entries(ann.page, "buy cheap pills") == ["report"]
        await act(ann.page, "buy cheap pills", "report")
        await expect(ann.page.locator("#inline-report")).to_be_focused()
        await ann.page.fill("#inline-report", "spam")
        await ann.page.press("#inline-report", "Enter")
        await expect(ann.page.locator(".msg-inline-done")).to_have_text("Reported. Thank you.")
        await expect(boss.page.locator("#admin-count")).to_have_text("1")

        # The admin bans Bob for a day from the user list, with a reason.
        await boss.page.click("#user-list li[data-nick='bob'] .kick")
        await expect(boss.page.locator("#mod-dialog")).to_be_visible()
        await expect(boss.page.locator("#kick-reason")).to_be_focused()
        await boss.page.check("#mod-choices input[value='ban']")
        await expect(boss.page.locator("#kick-title")).to_have_text("Ban bob")
        await boss.page.select_option("#mod-duration", "86400")
        await boss.page.fill("#kick-reason", "selling pills")
        await shots(boss.page, "moderation-ban-dialog-desktop")
        await boss.page.click("#kick-confirm")
        await expect(boss.page.locator("#mod-dialog")).to_be_hidden()

        # Bob's page: the whole screen says so, with until (local time) and why; it stays out.
        notice = bob.page.locator("#ban-notice")
        await expect(notice).to_be_visible()
        await expect(bob.page.locator("#ban-title")).to_have_text("You have been banned")
        await expect(bob.page.locator("#ban-reason")).to_have_text("Reason: selling pills")
        tomorrow = await bob.page.evaluate(
            "() => new Date(Date.now() + 86400000).toLocaleString(undefined, { dateStyle: 'medium' })")
        await expect(bob.page.locator("#ban-until")).to_contain_text(tomorrow)
        await shots(bob.page, "moderation-banned-desktop")
        await expect(bob.page.locator("#status")).to_have_attribute("data-state", "offline")
        # The original client in the lobby reads who, by whom and why.
        await legacy_saw(legacy, "bob has been banned by boss until ", " UTC: selling pills")
        await asyncio.sleep(1.5)  # several first reconnect delays: a banned page must not come back
        assert len(sockets) == 1
        await bob.page.click("#ban-ok")
        await expect(notice).to_be_hidden()
        await bob.page.fill("#login-nickname", "bob")
        await bob.page.fill("#login-password", "password1")
        await bob.page.click("#login-submit")
        await expect(bob.page.locator("#ban-title")).to_have_text("You are banned")
        await expect(bob.page.locator("#ban-reason")).to_have_text("Reason: selling pills")
        await bob.page.click("#ban-ok")
        await expect(bob.page.locator("#login-error")).to_contain_text("Error: You are banned until ")
        await expect(bob.page.locator("#chat-panel")).to_be_hidden()

        # The admin view: the report, dealt with; the ban, then lifted; the audit log says who did what.
        await boss.page.click("#admin-toggle")
        await expect(boss.page.locator("#admin-panel")).to_be_visible()
        await expect(boss.page.locator("#accounts-rows tr td:first-child")).to_have_text(["bob", "boss"])
        await expect(boss.page.locator("#accounts-rows tr td:nth-child(2)")).to_have_text(["member", "admin"])
        await boss.page.click("#tab-reports")
        report = boss.page.locator("#reports-list .report")
        await expect(report).to_have_count(1)
        await expect(boss.page.locator("#admin-count")).to_be_hidden()
        await expect(report.locator(".report-text")).to_have_text("buy cheap pills")
        await expect(report.locator(".report-reason")).to_have_text("Reason: spam")
        await shots(boss.page, "admin-reports-desktop")
        await report.locator(".report-delete").click()
        await expect(message(ann.page, "buy cheap pills")).to_have_count(0)  # gone from every page
        await expect(report.locator(".report-text")).to_have_text("(deleted)")
        await report.locator(".report-resolve").click()
        await expect(report).to_have_count(0)
        await expect(boss.page.locator("#reports-empty")).to_be_visible()

        await boss.page.click("#tab-bans")
        row = boss.page.locator("#bans-rows tr")
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text("bob")
        await expect(row).to_contain_text("selling pills")
        # An address ban from the form: the admin's own address is refused with the server's words.
        await boss.page.fill("#ban-address", "127.0.0.0/8")
        await boss.page.click("#ban-address-submit")
        await expect(boss.page.locator("#ban-address-result")).to_have_text("Error: That ban would cover your own address.")
        await shots(boss.page, "admin-bans-desktop")
        await boss.page.click("#tab-audit")
        audit = boss.page.locator("#audit-rows tr")
        await expect(audit.filter(has_text="ban")).to_have_count(1)
        await expect(audit.filter(has_text="delete")).to_have_count(1)
        await expect(audit.filter(has_text="resolve")).to_have_count(1)
        await shots(boss.page, "admin-audit-desktop")
        await boss.page.click("#tab-bans")
        await row.locator(".ban-lift").click()
        await expect(row).to_have_count(0)
        await expect(boss.page.locator("#bans-empty")).to_be_visible()
        await boss.page.click("#admin-close")
        await expect(boss.page.locator("#messages")).to_be_visible()

        # Lifted: Bob is back.
        await bob.page.click("#login-submit")
        await expect(bob.page.locator("#status")).to_have_attribute("data-state", "online")
    finally:
        legacy.close()
    for watched in (boss, ann, bob):
        await watched.assert_clean()


async def test_edits_and_deletes_show_live_on_another_page(chromium: Any, start_serve: Callable[..., ParleyProcess]) -> None:
    parley = start_serve()
    ann = await open_page(chromium, parley.url, "ann", viewport=DESKTOP)
    await login(ann.page, "ann")
    bob = await open_page(chromium, parley.url, "bob", viewport=DESKTOP)
    await login(bob.page, "bob")
    await say(ann.page, "helo wrld")
    await say(ann.page, "a mistake")
    await expect(message(bob.page, "a mistake")).to_have_count(1)
    # Only the author edits and deletes; others may report.
    assert await menu_entries(ann.page, "helo wrld") == ["edit", "delete"]
    assert await menu_entries(bob.page, "helo wrld") == ["report"]

    # Edit in place: Esc leaves it as it was; Enter saves, Shift+Enter breaks the line.
    await act(ann.page, "helo wrld", "edit")
    box = ann.page.locator("#inline-edit")
    await expect(box).to_be_focused()
    await expect(box).to_have_value("helo wrld")
    await box.fill("something else")
    await box.press("Escape")
    await expect(box).to_have_count(0)
    await expect(message(ann.page, "helo wrld")).to_have_count(1)
    await act(ann.page, "helo wrld", "edit")
    await box.fill("hello world")
    await box.press("Shift+Enter")
    await ann.page.keyboard.type("on two lines")
    await shots(ann.page, "moderation-edit-desktop")
    await box.press("Enter")
    for page in (ann.page, bob.page):
        edited = message(page, "hello world\non two lines")
        await expect(edited).to_have_count(1)
        await expect(edited.locator(".edited")).to_have_text("(edited)")
        await expect(edited.locator(".edited")).to_have_attribute("title", re.compile(r"^Edited "))
    await expect(ann.page.locator("#inline-edit")).to_have_count(0)

    # Delete: gone from both pages.
    await act(ann.page, "a mistake", "delete")
    await ann.page.click(".msg-delete button[type=submit]")
    await expect(message(ann.page, "a mistake")).to_have_count(0)
    await expect(message(bob.page, "a mistake")).to_have_count(0)

    # Reloaded, the history shows the current text, marked as edited, and no deleted message.
    await bob.page.reload()
    await expect(bob.page.locator("#status")).to_have_attribute("data-state", "online")
    await expect(message(bob.page, "hello world\non two lines").locator(".edited")).to_have_count(1)
    await expect(message(bob.page, "a mistake")).to_have_count(0)
    await ann.assert_clean()
    await bob.assert_clean()


async def test_an_operator_mutes_a_member_who_still_reads(chromium: Any, start_serve: Callable[..., ParleyProcess]) -> None:
    parley = start_serve()
    ann = await open_page(chromium, parley.url, "ann", viewport=DESKTOP)
    await login(ann.page, "ann")
    bob = await open_page(chromium, parley.url, "bob", viewport=DESKTOP)
    await login(bob.page, "bob")
    await create_room(ann.page, "#tea", "Tea time")
    await bob.page.click("#browse-open")
    await bob.page.click("#room-list button.room-join[data-room='#tea']")
    await expect(bob.page.locator("#conv-title")).to_have_text("#tea")
    await expect(ann.page.locator("#user-list li[data-nick='bob']")).to_have_count(1)

    # The operator's tools on a member: remove, ban from the room, mute, unmute (no server-wide ban).
    await ann.page.click("#user-list li[data-nick='bob'] .member-mod")
    await expect(ann.page.locator("#mod-choices input")).to_have_count(4)
    await ann.page.check("#mod-choices input[value='mute']")
    await expect(ann.page.locator("#kick-title")).to_have_text("Mute bob in #tea")
    await expect(ann.page.locator("#mod-addresses")).to_be_hidden()
    await ann.page.select_option("#mod-duration", "600")
    await ann.page.fill("#kick-reason", "calm down")
    await ann.page.click("#kick-confirm")
    await expect(ann.page.locator("#mod-dialog")).to_be_hidden()

    # Bob: the composer says until when (local time) and why; writing gets the server's error; reading goes on.
    notice = bob.page.locator("#mute-notice")
    until = await bob.page.evaluate(
        "() => new Date(Date.now() + 600000).toLocaleString(undefined, { dateStyle: 'medium' })")
    await expect(notice).to_have_text(re.compile(rf"^You are muted until {re.escape(until)}.*: calm down$"))
    await bob.page.fill("#message-input", "but why")
    await bob.page.press("#message-input", "Enter")
    await expect(bob.page.locator("#messages .line-error").last).to_have_text(
        re.compile(r"Error: You are muted in #tea until .* UTC: calm down$"))
    await expect(message(ann.page, "but why")).to_have_count(0)
    await say(ann.page, "still reading?", to="#tea")
    await expect(message(bob.page, "still reading?")).to_have_count(1)
    await shots(bob.page, "moderation-muted-desktop")
    # Only that conversation: the lobby's composer has no notice.
    await open_conversation(bob.page, "-ALL")
    await expect(notice).to_be_hidden()
    await open_conversation(bob.page, "#tea")
    await expect(notice).to_be_visible()

    # The room's bans and mutes in its info panel; unmuting clears Bob's notice.
    await ann.page.click("#room-bans-open")
    entry = ann.page.locator("#room-bans-list li")
    await expect(entry).to_have_count(1)
    await expect(entry).to_contain_text("bob: muted until")
    await expect(entry).to_contain_text("calm down")
    await shots(ann.page, "moderation-room-bans-desktop")
    await ann.page.click("#user-list li[data-nick='bob'] .member-mod")
    await ann.page.check("#mod-choices input[value='unmute']")
    await expect(ann.page.locator("#kick-reason")).to_be_hidden()
    await ann.page.click("#kick-confirm")
    await expect(ann.page.locator("#mod-dialog")).to_be_hidden()
    await expect(notice).to_be_hidden()
    await say(bob.page, "thanks", to="#tea")
    await expect(message(ann.page, "thanks")).to_have_count(1)
    await ann.assert_clean()
    await bob.assert_clean()


async def test_screenshots_of_moderation_on_a_phone(
        chromium: Any, data_dir: Any, start_serve: Callable[..., ParleyProcess]) -> None:
    add_account(data_dir, "boss", "password1", "admin")
    parley = start_serve()
    boss = await open_page(chromium, parley.url, "boss", viewport=PHONE, **PHONE_OPTIONS)
    await login(boss.page, "boss", password="password1")
    carl = await open_page(chromium, parley.url, "carl", viewport=PHONE, **PHONE_OPTIONS)
    await login(carl.page, "carl")
    await say(carl.page, "spam spam spam")
    page = boss.page
    await expect(message(page, "spam spam spam")).to_have_count(1)
    # On a touch screen the "…" is always there.
    await expect(message(page, "spam spam spam").locator(".msg-actions")).to_be_visible()
    await message(page, "spam spam spam").locator(".msg-actions").click()
    await expect(page.locator("#msg-menu")).to_be_visible()
    await shots(page, "moderation-menu-phone")
    await page.click("#msg-menu button[data-act='moderate']")
    await expect(page.locator("#kick-title")).to_have_text("Kick carl")
    await page.check("#mod-choices input[value='kickban']")
    await page.check("#mod-addresses")
    await shots(page, "moderation-dialog-phone")
    await page.click("#kick-cancel")
    await page.click("#admin-toggle")
    await expect(page.locator("#accounts-rows tr")).to_have_count(1)
    await shots(page, "admin-accounts-phone")
    await page.click("#tab-bans")
    await expect(page.locator("#bans-empty")).to_be_visible()
    await shots(page, "admin-bans-phone")
    await page.click("#admin-close")
    await page.click("#users-toggle")
    await page.click("#user-list li[data-nick='carl'] .kick")
    await page.check("#mod-choices input[value='mute']")
    await page.fill("#kick-reason", "too loud")
    await page.click("#kick-confirm")
    await expect(carl.page.locator("#mute-notice")).to_contain_text("too loud")
    await shots(carl.page, "moderation-muted-phone")
    await page.click("#user-list li[data-nick='carl'] .kick")
    await page.check("#mod-choices input[value='ban']")
    await page.fill("#kick-reason", "enough")
    await page.click("#kick-confirm")
    await expect(carl.page.locator("#ban-notice")).to_be_visible()
    await shots(carl.page, "moderation-banned-phone")
    for watched in (boss, carl):
        await watched.assert_clean()
