"""The web page in real Chromium, through a real gateway and chat server.

Every test asserts what people see in the DOM, and that no page logged a
console error or warning, threw, opened a dialog or broke the CSP.
"""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Locator, Page, expect

from browser import (
    MS, RECONNECT_MS, conversation_entry, gateway, login, open_conversation, open_page, say, screenshot, server, texts,
)
from serverproc import REPO, free_port
from conftest import add_account
from wire import Client, users

expect.set_options(timeout=MS)
WEB = REPO / "web"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1200, "height": 800}
XSS = "<img src=x onerror=alert(1)>"
# Records notifications instead of showing them; permission is granted on request.
FAKE_NOTIFICATION = """
window.__notifications = [];
window.Notification = class {
  static permission = "default";
  static requestPermission() { this.permission = "granted"; return Promise.resolve("granted"); }
  constructor(title, options) { window.__notifications.push([title, options.body]); }
};
"""


async def chat_frames(client: Client) -> list[tuple[str, str, str]]:
    """(sender, rec, content) of the CHATR frames that arrive until things go quiet."""
    return [(f.params["sender"], f.params["rec"], f.content) for f in await client.drain() if f.reason == "CHATR"]


def message(page: Page, text: str) -> Locator:
    """The chat message whose text is exactly ``text``."""
    return page.locator("#messages .msg").filter(has=page.locator(".msg-text", has_text=re.compile(f"^{re.escape(text)}$")))


async def hide(page: Page, hidden: bool) -> None:
    """Make the page believe its tab is hidden (or visible again)."""
    await page.evaluate(
        """(hidden) => {
            Object.defineProperty(document, "hidden", { get: () => hidden, configurable: true });
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        hidden,
    )


async def test_two_pages_and_a_tcp_client_chat_publicly_and_privately(chromium, start_serve, tcp) -> None:
    parley = start_serve()
    ann = await open_page(chromium, parley.url, "ann", viewport=DESKTOP)
    await login(ann.page, "ann", color="#cc3300")
    await expect(ann.page.locator("#user-list .user-me .user-name")).to_have_text("ann")
    bob = await open_page(chromium, parley.url, "bob", viewport=DESKTOP, init_script=FAKE_NOTIFICATION)
    await login(bob.page, "bob")
    await expect(ann.page.locator("#user-list .user-name")).to_have_text(["ann", "bob"])
    await bob.page.click("#notify-button")
    await expect(bob.page.locator("#notify-button")).to_have_text("Notifying")
    carl = await tcp(parley.port)
    await carl.login("carl")
    for page in (ann.page, bob.page):
        await expect(page.locator("#user-list .user-name")).to_have_text(["ann", "bob", "carl"])
    await expect(bob.page.locator("#recipient")).to_have_count(0)  # no dropdown: the open conversation

    await say(ann.page, "hello everyone")
    # Bob opens a conversation with Ann by clicking her name in the user list.
    await expect(message(bob.page, "hello everyone")).to_have_count(1)
    await bob.page.click("#user-list .user-name >> text=ann")
    await expect(bob.page.locator("#conv-title")).to_have_text("ann")
    await expect(bob.page.locator("#message-input")).to_be_focused()
    await say(bob.page, "hi ann, privately", to="ann")
    await expect(message(bob.page, "hi ann, privately")).to_have_count(1)
    await carl.send("CHAT,rec=bob,psst bob, from carl")
    await expect(conversation_entry(bob.page, "carl").locator(".count-unread")).to_have_text("1")
    await say(ann.page, "for carl only", to="carl")

    # Each private conversation is a conversation of its own, apart from the lobby.
    for page, rec, shown in (
        (ann.page, "-ALL", ["hello everyone"]), (ann.page, "bob", ["hi ann, privately"]),
        (ann.page, "carl", ["for carl only"]), (bob.page, "-ALL", ["hello everyone"]),
        (bob.page, "ann", ["hi ann, privately"]), (bob.page, "carl", ["psst bob, from carl"]),
    ):
        await open_conversation(page, rec)
        await expect(page.locator("#messages .msg-text")).to_have_text(shown)
    await expect(conversation_entry(bob.page, "carl").locator(".count-unread")).to_be_hidden()
    assert await chat_frames(carl) == [
        ("ann", "-ALL", "hello everyone"), ("carl", "bob", "psst bob, from carl"), ("ann", "carl", "for carl only"),
    ]
    # Public, private, own: each told apart.
    await open_conversation(ann.page, "-ALL")
    own_public = message(ann.page, "hello everyone")
    await expect(own_public).to_have_class(re.compile(r"\bmsg-public\b.*\bmsg-own\b"))
    await expect(own_public.locator(".msg-to")).to_have_count(0)  # lobby lines name no recipient
    await expect(own_public.locator(".sender")).to_have_attribute("data-color", "#cc3300")
    await open_conversation(ann.page, "bob")
    to_ann = message(ann.page, "hi ann, privately")
    await expect(to_ann).to_have_class(re.compile(r"\bmsg-private\b.*\bmsg-to-me\b"))
    await expect(to_ann.locator(".msg-to")).to_have_text("to you")
    await expect(to_ann.locator(".sender")).to_have_text("bob")
    await open_conversation(ann.page, "carl")
    own_private = message(ann.page, "for carl only")
    await expect(own_private).to_have_class(re.compile(r"\bmsg-private\b.*\bmsg-own\b"))
    await expect(own_private.locator(".msg-to")).to_have_text("to carl")
    await open_conversation(bob.page, "-ALL")
    await expect(message(bob.page, "hello everyone")).not_to_have_class(re.compile(r"\bmsg-own\b"))
    await open_conversation(ann.page, "-ALL")

    # Hidden tab: unread count in the title, cleared when visible again.
    # Private messages and mentions notify (permission was asked on a click).
    await hide(bob.page, True)
    await carl.send("CHAT,rec=-ALL,one")
    await carl.send("CHAT,rec=-ALL,two for Bob!")
    await carl.send("CHAT,rec=bob,three")
    await expect(bob.page).to_have_title("(3) Parley")
    assert await bob.page.evaluate("window.__notifications") == [
        ["carl mentioned you", "two for Bob!"], ["Private message from carl", "three"]]
    await hide(bob.page, False)
    await expect(bob.page).to_have_title("Parley")
    await expect(ann.page).to_have_title("Parley")

    # Leaving: the TCP client goes, then Bob presses Leave.
    await carl.close()
    for page in (ann.page, bob.page):
        await expect(page.locator("#user-list .user-name")).to_have_text(["ann", "bob"])
        await expect(page.locator("#messages .line-info").last).to_have_text(re.compile("carl has disconnected$"))
    await screenshot(ann.page, "chat-desktop.png")
    await bob.page.click("#leave")
    await expect(bob.page.locator("#status")).to_have_attribute("data-state", "offline")
    await expect(bob.page.locator("#login-panel")).to_be_visible()
    await expect(ann.page.locator("#user-list .user-name")).to_have_text(["ann"])
    # Bob's page shows nothing of the session it left.
    await expect(bob.page.locator("#chat-panel")).to_be_hidden()
    await expect(bob.page.locator("#user-list .user-name")).to_have_count(0)
    await asyncio.sleep(1.0)  # longer than the first reconnect delay: Leave must not come back
    await expect(bob.page.locator("#status")).to_have_attribute("data-state", "offline")
    await expect(ann.page.locator("#user-list .user-name")).to_have_text(["ann"])
    await ann.assert_clean()
    await bob.assert_clean()


async def test_an_admin_kicks_a_user_who_stays_out(chromium, data_dir, start_serve, tcp) -> None:
    add_account(data_dir, "boss", "boss-secret", "admin")
    parley = start_serve()
    boss = await open_page(chromium, parley.url, "boss")
    await login(boss.page, "boss", password="boss-secret")
    bob = await open_page(chromium, parley.url, "bob")
    sockets: list[object] = []
    bob.page.on("websocket", lambda ws: sockets.append(ws))
    await login(bob.page, "bob")
    carl = await tcp(parley.port)
    await carl.login("carl")
    await expect(boss.page.locator("#user-list .user-name")).to_have_text(["boss", "bob", "carl"])
    # Admins are marked; only an admin gets kick buttons, and never for an admin.
    await expect(bob.page.locator("#user-list li[data-nick='boss'] .badge-admin")).to_have_count(1)
    await expect(bob.page.locator("#user-list .kick")).to_have_count(0)
    await expect(boss.page.locator("#user-list .kick")).to_have_count(2)
    await expect(boss.page.locator("#user-list li[data-nick='boss'] .kick")).to_have_count(0)

    await boss.page.click("#user-list li[data-nick='bob'] .kick")
    await expect(boss.page.locator("#kick-title")).to_have_text("Kick bob")
    await expect(boss.page.locator("#kick-reason")).to_be_focused()
    await boss.page.fill("#kick-reason", "spamming")
    await boss.page.click("#kick-confirm")

    kicked = "You have been kicked for reason: spamming"
    await expect(bob.page.locator("#status")).to_have_attribute("data-state", "offline")
    # No stale list or conversation after a kick.
    await expect(bob.page.locator("#chat-panel")).to_be_hidden()
    await expect(bob.page.locator("#user-list .user-name, #conv-list .conv")).to_have_count(0)
    await expect(bob.page.locator("#status")).to_contain_text(kicked)
    await expect(bob.page.locator("#login-notice")).to_have_text(kicked)
    await expect(boss.page.locator("#messages .line-info").last).to_have_text(re.compile("bob has been kicked by boss: spamming$"))
    await expect(boss.page.locator("#user-list .user-name")).to_have_text(["boss", "carl"])
    await expect(boss.page.locator("#kick-form")).to_be_hidden()
    infos = [f for f in await carl.drain() if f.reason in ("INFO", "USER")]
    assert infos[0].content == "bob has been kicked by boss: spamming"
    assert users(infos[-1]) == ["boss", "carl"]
    await asyncio.sleep(1.5)  # several first reconnect delays: a kicked page must not come back
    assert len(sockets) == 1
    await expect(bob.page.locator("#status")).to_have_attribute("data-state", "offline")
    await expect(boss.page.locator("#user-list .user-name")).to_have_text(["boss", "carl"])
    await boss.assert_clean()
    await bob.assert_clean()


async def test_nickname_and_color_changes_show_in_the_list_and_new_messages(chromium, start_serve) -> None:
    parley = start_serve()
    ann = await open_page(chromium, parley.url, "ann")
    await login(ann.page, "ann", color="#3366cc")
    bob = await open_page(chromium, parley.url, "bob")
    sockets: list[str] = []
    bob.page.on("websocket", lambda ws: sockets.append(ws.url))
    # A refused login is shown by the form; the next try goes over the same socket.
    await bob.page.fill("#login-nickname", "ANN")
    await bob.page.click("#login-submit")
    await expect(bob.page.locator("#login-error")).to_have_text("Error: User is already logged in")
    await expect(bob.page.locator("#login-nickname")).to_be_focused()
    await login(bob.page, "bob")
    assert len(sockets) == 1
    await expect(bob.page.locator("#login-error")).to_be_hidden()
    await say(ann.page, "in blue")

    await ann.page.click("#settings-toggle")
    await expect(ann.page.locator("#set-nickname")).to_be_focused()
    await ann.page.fill("#set-nickname", "b")
    await ann.page.click("#settings-save")
    await expect(ann.page.locator("#settings-result")).to_have_text("Error: Username must be between lengths 2 and 16.")
    await expect(ann.page.locator("#settings-result")).to_have_attribute("data-ok", "false")
    await ann.page.fill("#set-nickname", "anna")
    await ann.page.fill("#set-color", "#00aa00")
    await ann.page.click("#settings-save")
    await expect(ann.page.locator("#settings-result")).to_have_text("Saved.")
    await expect(ann.page.locator("#settings-result")).to_have_attribute("data-ok", "true")

    await expect(bob.page.locator("#user-list .user-name")).to_have_text(["anna", "bob"])
    await expect(bob.page.locator("#messages .line-info .line-text").last).to_have_text(
        "ann is now anna and changed color")
    await expect(bob.page.locator("#messages .line-change .swatch").last).to_have_attribute("title", "#00aa00")
    await expect(ann.page.locator("#status")).to_have_text("Online as anna")
    await expect(ann.page.locator("#user-list .user-me .user-name")).to_have_text("anna")
    await ann.page.click("#settings-close")
    await say(ann.page, "in green")
    old, new = message(bob.page, "in blue").locator(".sender"), message(bob.page, "in green").locator(".sender")
    await expect(new).to_have_attribute("data-color", "#00aa00")
    await expect(new).to_have_text("anna")
    await expect(new.locator(".swatch")).to_have_css("background-color", "rgb(0, 170, 0)")
    await expect(old).to_have_attribute("data-color", "#3366cc")
    await expect(old).to_have_text("ann")
    await expect(message(ann.page, "in green")).to_have_class(re.compile(r"\bmsg-own\b"))
    await ann.assert_clean()
    await bob.assert_clean()


async def test_a_reload_resumes_without_the_form_and_history_has_no_duplicates(chromium, start_serve) -> None:
    parley = start_serve()
    ann = await open_page(chromium, parley.url, "ann")
    await login(ann.page, "ann", color="#aa5500")
    for text in ("first", "second", "third"):
        await say(ann.page, text)
    bob = await open_page(chromium, parley.url, "bob")
    await login(bob.page, "bob")
    await expect(bob.page.locator("#messages .msg-text")).to_have_text(["first", "second", "third"])
    lines_before = await bob.page.locator("#messages .line-info").all_inner_texts()

    # The page's resume token logs the guest back in within the grace: no join form, and Bob sees nothing.
    await ann.page.reload()
    await expect(ann.page.locator("#status")).to_have_attribute("data-state", "online")
    await expect(ann.page.locator("#login-panel")).to_be_hidden()
    await expect(ann.page.locator("#messages .msg-text")).to_have_text(["first", "second", "third"])
    await say(ann.page, "fourth")
    for page in (ann.page, bob.page):
        await expect(page.locator("#messages .msg-text")).to_have_text(["first", "second", "third", "fourth"])
    await asyncio.sleep(0.3)  # nothing late may duplicate them
    assert await texts(ann.page) == ["first", "second", "third", "fourth"]
    await expect(bob.page.locator("#user-list .user-name")).to_have_text(["ann", "bob"])
    assert await bob.page.locator("#messages .line-info").all_inner_texts() == lines_before

    # After Leave a reload shows the form: nickname and color from localStorage, never the password.
    await ann.page.click("#leave")
    await expect(bob.page.locator("#user-list .user-name")).to_have_text(["bob"])
    await ann.page.reload()
    await expect(ann.page.locator("#login-panel")).to_be_visible()
    await expect(ann.page.locator("#login-nickname")).to_have_value("ann")
    await expect(ann.page.locator("#login-color")).to_have_value("#aa5500")
    await expect(ann.page.locator("#login-password")).to_have_value("")
    await ann.assert_clean()
    await bob.assert_clean()


async def test_the_page_reconnects_by_itself_after_the_chat_server_restarts(chromium, tmp_path, data_dir, processes, tcp) -> None:
    port = free_port()
    processes.append(server(tmp_path / "logs", data_dir, port))
    processes.append(gateway(tmp_path / "logs", port))
    ann = await open_page(chromium, processes[1].url, "ann")
    await login(ann.page, "ann")
    await say(ann.page, "before the restart")
    # Stopped only once the message is stored (its echo is shown): a CHAT
    # still on its way when the server stops was never accepted.
    await expect(ann.page.locator("#messages .msg-text")).to_have_text(["before the restart"])

    processes[0].stop()
    status = ann.page.locator("#status")
    await expect(ann.page.locator("#messages .line-warn")).to_contain_text("shutting down")
    await expect(status).to_have_attribute("data-state", re.compile("reconnecting|connecting"))
    await expect(status).to_contain_text("Chat server unavailable; try again later", timeout=RECONNECT_MS)
    await expect(status).to_contain_text(re.compile(r"Reconnecting in \d+ s"))
    await expect(ann.page.locator("#message-input")).to_be_disabled()
    await screenshot(ann.page, "chat-reconnecting.png")

    processes[0] = server(tmp_path / "logs", data_dir, port)
    await expect(status).to_have_attribute("data-state", "online", timeout=RECONNECT_MS)
    await expect(ann.page.locator("#messages .msg-text")).to_have_text(["before the restart"])
    carl = await tcp(port)
    await carl.login("carl")
    await say(ann.page, "after the restart")
    assert await chat_frames(carl) == [("ann", "-ALL", "after the restart")]
    await expect(ann.page.locator("#messages .msg-text")).to_have_text(["before the restart", "after the restart"])
    await ann.assert_clean()


async def test_markup_in_nicknames_and_messages_shows_literally(chromium, start_serve, tcp) -> None:
    parley = start_serve()
    evil_nick = "x<img onerror>"
    ann = await open_page(chromium, parley.url, "ann")
    await login(ann.page, evil_nick)
    mallory = await tcp(parley.port)
    await mallory.login("m<script>")
    await mallory.send(f"CHAT,rec=-ALL,{XSS}")
    await mallory.send("CHAT,rec=-ALL,go https://example.com/a?b=1 or javascript:alert(1) now")
    await say(ann.page, XSS)

    page = ann.page
    await expect(page.locator("#messages .msg-text")).to_have_text(
        [XSS, "go https://example.com/a?b=1 or javascript:alert(1) now", XSS])
    await expect(page.locator("#messages .sender")).to_have_text(["m<script>", "m<script>", evil_nick])
    await expect(page.locator("#user-list .user-name")).to_have_text([evil_nick, "m<script>"])
    await expect(page.locator("#status")).to_have_text(f"Online as {evil_nick}")
    # Only the page's own images (its icon, the Invite dialog's QR code); no script element came from the network.
    assert await page.evaluate("[...document.querySelectorAll('img')].map(i => i.id || i.className)") \
        == ["", "share-qr"]
    assert await page.evaluate("document.querySelectorAll('script').length") == 1
    assert await page.locator("#messages [onerror], #user-list [onerror]").count() == 0
    link = page.locator("#messages a")
    await expect(link).to_have_count(1)
    await expect(link).to_have_attribute("href", "https://example.com/a?b=1")
    await expect(link).to_have_attribute("target", "_blank")
    await expect(link).to_have_attribute("rel", "noopener noreferrer")
    # The message box warns before a frame would pass 8192 bytes, and sends nothing.
    await page.fill("#message-input", "é" * 4100)
    await expect(page.locator("#composer-warning")).to_contain_text("Too long")
    await expect(page.locator("#send")).to_be_disabled()
    await page.press("#message-input", "Enter")
    await page.fill("#message-input", "é" * 4000)
    await expect(page.locator("#composer-warning")).to_be_hidden()
    await page.press("#message-input", "Enter")
    await expect(page.locator("#messages .msg")).to_have_count(4)
    await ann.assert_clean()


async def test_phone_layout_has_no_horizontal_scroll_and_the_composer_in_view(chromium, start_serve, tcp) -> None:
    parley = start_serve()
    phone = await open_page(chromium, parley.url, "phone", viewport=PHONE, device_scale_factor=2,
                            is_mobile=True, has_touch=True)
    page = phone.page
    await expect(page.locator("#login-nickname")).to_be_in_viewport()
    assert await page.evaluate("document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth")
    await login(page, "pat")
    carl = await tcp(parley.port)
    await carl.login("carl_with_a_name")
    await carl.send("CHAT,rec=-ALL," + "x" * 300)
    await carl.send("CHAT,rec=pat,see https://example.com/" + "long/" * 40 + " ok")
    await expect(page.locator("#messages .msg")).to_have_count(1)
    await expect(page.locator("#convs-toggle .count-unread")).to_have_text("1")
    for selector in ("#message-input", "#send", "#convs-toggle", "#status"):
        await expect(page.locator(selector)).to_be_in_viewport()
    no_sideways = """() => [document.scrollingElement, document.getElementById("messages")]
        .every((e) => e.scrollWidth <= e.clientWidth)"""
    assert await page.evaluate(no_sideways)
    # The user list folds away behind a button; a name picked there opens the conversation with them.
    await expect(page.locator("#users-panel")).to_be_hidden()
    await page.click("#users-toggle")
    await expect(page.locator("#users-panel")).to_be_visible()
    assert await page.evaluate(no_sideways)
    await screenshot(page, "chat-phone-users.png")
    await page.click("#user-list .user-name >> text=carl_with_a_name")
    await expect(page.locator("#users-panel")).to_be_hidden()
    await expect(page.locator("#conv-title")).to_have_text("carl_with_a_name")
    await expect(page.locator("#messages .msg")).to_have_count(1)
    await expect(page.locator("#message-input")).to_be_focused()
    assert await page.evaluate(no_sideways)
    # The conversations are a drawer behind "Chats".
    await expect(page.locator("#sidebar")).to_be_hidden()
    await page.click("#convs-toggle")
    await expect(page.locator("#conv-list .conv")).to_have_count(2)
    assert await page.evaluate(no_sideways)
    await screenshot(page, "chat-phone-conversations.png")
    await page.click("#convs-toggle")
    await screenshot(page, "chat-phone.png")
    await page.emulate_media(color_scheme="dark")
    # Carl's #FFFFFF was darkened to read on white; on the dark theme it is white again.
    await expect(page.locator("#messages .sender").first).to_have_css("color", "rgb(255, 255, 255)")
    await screenshot(page, "chat-phone-dark.png")
    await page.click("#settings-toggle")
    await expect(page.locator("#settings-panel")).to_be_visible()
    assert await page.evaluate(no_sideways)
    await phone.assert_clean()


async def test_the_page_works_under_a_base_path_and_is_this_working_trees_page(chromium, start_serve) -> None:
    parley = start_serve("--base-path", "/chat")
    base = parley.url + "chat/"
    watched = await open_page(chromium, base, "page")
    for name in sorted(p.name for p in WEB.iterdir()):
        response = await watched.page.request.get(base + name)
        assert response.ok, name
        assert await response.body() == (WEB / name).read_bytes(), f"{name} served is not web/{name}"
    response = await watched.page.request.get(base)
    assert "script-src 'self'" in response.headers["content-security-policy"]
    sockets: list[str] = []
    watched.page.on("websocket", lambda ws: sockets.append(ws.url))
    await login(watched.page, "ann")
    await say(watched.page, "under /chat/")
    await expect(watched.page.locator("#messages .msg-text")).to_have_text(["under /chat/"])
    assert sockets == [f"ws://127.0.0.1:{parley.http_port}/chat/ws"]
    await watched.assert_clean()


def test_the_page_never_inserts_html_and_has_no_inline_script_or_style() -> None:
    for path in WEB.glob("*.js"):
        source = path.read_text("utf-8")
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                       "setAttribute(\"style\"", ".cssText"):
            assert banned not in source, f"{path.name} uses {banned}"
    html = (WEB / "index.html").read_text("utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html, re.IGNORECASE), "inline style or handler"
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "an absolute URL"
    assert '<script type="module" src="app.js"></script>' in html
