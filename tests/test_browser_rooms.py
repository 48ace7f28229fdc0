"""Rooms and conversations in the page, in real Chromium, through a real gateway and chat server.

Two pages and a client of the original protocol together: rooms public and
private, private conversations of their own, drafts that stay where they
were typed, a reload that resumes, read state shared by two pages of one
account, scrollback to the first message, offline delivery across a restart.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from pathlib import Path

import pytest
from browser import (
    MS,
    conversation_entry,
    login,
    open_conversation,
    open_page,
    say,
    screenshot,
    serve,
)
from conftest import add_account
from playwright.async_api import Locator, Page, expect
from test_desktop_conversations import conversation
from test_desktop_gui import connect, open_desktops, shown
from test_desktop_gui import say as desktop_say

from parley.protocol import parse_frame

expect.set_options(timeout=MS)
DESKTOP = {"width": 1200, "height": 800}
PHONE = {"width": 360, "height": 740}
ROOM_REASONS = {"CONV", "MEMBERS", "MEMBER", "ROOMS", "SESSION"}


class LegacyClient:
    """A client of the original protocol: unframed CON, one frame per recv, in a thread of its own."""

    def __init__(self, port: int, nickname: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=0.2)
        self.sock.send(f"CON,nickname={nickname};password=;color=#FFF,".encode())
        self.received: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while not self.stopping.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            self.received.append(data.decode("utf-8"))

    def send(self, text: str) -> None:
        self.sock.send(text.encode("utf-8"))

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=2)
        self.sock.close()


def message(page: Page, text: str) -> Locator:
    """The chat message whose text is exactly ``text``."""
    return page.locator("#messages .msg").filter(has=page.locator(".msg-text", has_text=re.compile(f"^{re.escape(text)}$")))


def unread(page: Page, rec: str) -> Locator:
    return conversation_entry(page, rec).locator(".count-unread")


def mentions(page: Page, rec: str) -> Locator:
    return conversation_entry(page, rec).locator(".count-mentions")


async def create_room(page: Page, name: str, topic: str = "", private: bool = False) -> None:
    await page.click("#create-open")
    await page.fill("#create-name", name)
    await page.fill("#create-topic", topic)
    if private:
        await page.check("#create-private")
    await page.click("#create-submit")
    await expect(page.locator("#conv-title")).to_have_text(name)
    await expect(page.locator("#create-form")).to_be_hidden()


async def header_form(page: Page, opener: str, text: str) -> None:
    """Open the conversation header's small form with ``opener``, fill ``text``, submit, see it close."""
    await page.click(opener)
    await page.fill("#conv-form-input", text)
    await page.click("#conv-form-submit")
    await expect(page.locator("#conv-form")).to_be_hidden()


async def test_rooms_public_and_private_and_a_private_conversation_beside_an_original_client(chromium, start_serve) -> None:
    parley = start_serve()
    ann = await open_page(chromium, parley.url, "ann", viewport=DESKTOP)
    await login(ann.page, "ann", color="#cc3300")
    bob = await open_page(chromium, parley.url, "bob", viewport=DESKTOP)
    await login(bob.page, "bob")
    legacy = await asyncio.to_thread(LegacyClient, parley.port, "oldie")
    try:
        await expect(ann.page.locator("#user-list .user-name")).to_have_text(["ann", "bob", "oldie"])
        # A public room: Ann creates it, Bob finds it among the public rooms and joins.
        await create_room(ann.page, "#tea", "Tea time")
        await expect(ann.page.locator("#conv-topic")).to_have_text("Tea time")
        await expect(ann.page.locator("#users-heading")).to_have_text("Members")
        await expect(ann.page.locator("#user-list li[data-nick='ann'] .badge-op")).to_have_count(1)
        await bob.page.click("#browse-open")
        await expect(bob.page.locator("#room-list .room-name")).to_have_text(["#tea"])
        await bob.page.click("#room-list button.room-join[data-room='#tea']")
        await expect(bob.page.locator("#conv-title")).to_have_text("#tea")
        await expect(bob.page.locator("#conv-topic")).to_have_text("Tea time")
        await expect(ann.page.locator("#user-list .user-name")).to_have_text(["ann", "bob"])
        await expect(ann.page.locator("#messages .line-info .line-text").last).to_have_text("bob joined #tea")
        await expect(bob.page.locator("#topic-open")).to_be_hidden()  # not an operator
        await say(bob.page, "hello tea", to="#tea")
        await expect(message(ann.page, "hello tea")).to_have_count(1)

        # Ann in the lobby: a mention in the room counts apart from the other unread messages.
        await open_conversation(ann.page, "-ALL")
        await say(bob.page, "just chatting", to="#tea")
        await say(bob.page, "ann, more tea?", to="#tea")
        await expect(unread(ann.page, "#tea")).to_have_text("2")
        await expect(mentions(ann.page, "#tea")).to_have_text("1")
        await open_conversation(ann.page, "#tea")
        await expect(message(ann.page, "ann, more tea?")).to_have_class(re.compile(r"\bmsg-mention\b"))
        await expect(ann.page.locator("#messages .new-divider")).to_have_count(1)
        await expect(unread(ann.page, "#tea")).to_be_hidden()
        await expect(mentions(ann.page, "#tea")).to_be_hidden()

        # The operator sets the topic; Bob's header follows.
        await header_form(ann.page, "#topic-open", "Green tea only")
        await expect(bob.page.locator("#conv-topic")).to_have_text("Green tea only")
        await expect(bob.page.locator("#messages .line-info .line-text").last).to_have_text(
            "ann set the topic of #tea: Green tea only")

        # A private room: not listed; Bob becomes a member by invitation, then an operator.
        await create_room(ann.page, "#secret", "", private=True)
        await bob.page.click("#browse-open")
        await expect(bob.page.locator("#room-list .room-name")).to_have_text(["#tea"])
        await bob.page.click("#browse-close")
        await header_form(ann.page, "#invite-open", "bob")
        await expect(conversation_entry(bob.page, "#secret")).to_have_count(1)
        await expect(conversation_entry(bob.page, "#secret").locator(".badge-private")).to_have_count(1)
        await ann.page.click("#user-list li[data-nick='bob'] .member-op")
        await expect(ann.page.locator("#user-list li[data-nick='bob'] .badge-op")).to_have_count(1)
        await open_conversation(bob.page, "#secret")
        await expect(bob.page.locator("#topic-open")).to_be_visible()
        await say(bob.page, "a secret", to="#secret")
        await expect(message(ann.page, "a secret")).to_have_count(1)
        await bob.page.click("#part-room")
        await expect(conversation_entry(bob.page, "#secret")).to_have_count(0)
        await expect(bob.page.locator("#conv-title")).to_have_text("Lobby")
        await expect(ann.page.locator("#user-list .user-name")).to_have_text(["ann"])

        # A private conversation of its own, a line break with Shift+Enter, and a /me action.
        await open_conversation(ann.page, "-ALL")
        await open_conversation(ann.page, "bob")
        await ann.page.fill("#message-input", "line one")
        await ann.page.press("#message-input", "Shift+Enter")
        await ann.page.keyboard.type("line two")
        await ann.page.press("#message-input", "Enter")
        await expect(ann.page.locator("#message-input")).to_have_value("")
        await expect(unread(bob.page, "ann")).to_have_text("1")
        await open_conversation(bob.page, "ann")
        await expect(bob.page.locator("#conv-topic")).to_have_text("online")
        await expect(bob.page.locator("#messages .msg-text")).to_have_text(["line one\nline two"])
        await say(bob.page, "/me waves", to="ann")
        await expect(ann.page.locator("#messages .msg-action .msg-text")).to_have_text("* bob waves")
        await say(ann.page, "all\nof you", to="-ALL")
        await open_conversation(bob.page, "-ALL")
        await expect(bob.page.locator("#messages .msg-text")).to_have_text(["all\nof you"])  # no room message

        # The operator removes Bob from #tea while he is writing there: he sees why, the room goes
        # from his list, and his unsent words stay with #tea, never in the lobby's composer.
        await open_conversation(bob.page, "#tea")
        await bob.page.fill("#message-input", "unsent tea words")
        await open_conversation(ann.page, "#tea")
        await ann.page.click("#user-list li[data-nick='bob'] .member-remove")
        await ann.page.fill("#conv-form-input", "too much tea")
        await ann.page.click("#conv-form-submit")
        await expect(conversation_entry(bob.page, "#tea")).to_have_count(0)
        await expect(bob.page.locator("#conv-title")).to_have_text("Lobby")
        await expect(bob.page.locator("#message-input")).to_have_value("")
        await expect(bob.page.locator("#messages .line-info .line-text").last).to_have_text(
            "bob was removed from #tea by ann: too much tea")
        await expect(ann.page.locator("#user-list .user-name")).to_have_text(["ann"])
        await screenshot(ann.page, "rooms-desktop.png")

        # The original client in the lobby saw the lobby as ever, and nothing of the rest.
        await asyncio.sleep(0.5)
        seen = [parse_frame(text) for text in legacy.received]
        assert not [f for f in seen if f.reason in ROOM_REASONS], seen
        assert not [f for f in seen if f.params.get("rec", "").startswith("#")], seen
        assert not [f for f in seen if "Unknown reason" in f.content or "#" in f.content], seen
        chats = [f.content for f in seen if f.reason == "CHATR"]
        assert chats == ["all of you"]
        for page in (ann, bob):
            await page.assert_clean()
    finally:
        await asyncio.to_thread(legacy.close)


async def test_a_private_draft_stays_in_its_conversation_after_a_reload(chromium, start_serve, data_dir, tcp) -> None:
    add_account(data_dir, "ann", "ann-secret")
    parley = start_serve()
    ann = await open_page(chromium, parley.url, "ann", viewport=DESKTOP)
    await login(ann.page, "ann", password="ann-secret")
    bob = await tcp(parley.port)
    await bob.login("bob")
    await open_conversation(ann.page, "bob")
    await ann.page.fill("#message-input", "only for bob")
    await open_conversation(ann.page, "-ALL")
    await expect(ann.page.locator("#message-input")).to_have_value("")
    await open_conversation(ann.page, "bob")
    await expect(ann.page.locator("#message-input")).to_have_value("only for bob")

    await ann.page.reload()
    await expect(ann.page.locator("#status")).to_have_attribute("data-state", "online")
    await expect(ann.page.locator("#login-panel")).to_be_hidden()
    await expect(ann.page.locator("#conv-title")).to_have_text("bob")
    await expect(ann.page.locator("#message-input")).to_have_value("only for bob")
    await ann.page.press("#message-input", "Enter")
    await expect(ann.page.locator("#message-input")).to_have_value("")
    chatr = await bob.next("CHATR")
    assert (chatr.params["rec"], chatr.content) == ("bob", "only for bob")
    await open_conversation(ann.page, "-ALL")
    await expect(ann.page.locator("#messages .msg")).to_have_count(0)
    await ann.assert_clean()


async def test_an_account_reloads_signed_in_with_no_join_or_leave_line_and_history_in_place(chromium, start_serve, data_dir) -> None:
    add_account(data_dir, "ann", "ann-secret")
    parley = start_serve()
    ann = await open_page(chromium, parley.url, "ann", viewport=DESKTOP)
    await login(ann.page, "ann", password="ann-secret")
    bob = await open_page(chromium, parley.url, "bob", viewport=DESKTOP)
    await login(bob.page, "bob")
    for text in ("one", "two"):
        await say(ann.page, text)
    await expect(bob.page.locator("#messages .msg-text")).to_have_text(["one", "two"])
    lines = await bob.page.locator("#messages .line").all_inner_texts()
    frames: list[str] = []
    ann.page.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(str(payload))))

    await ann.page.reload()
    await expect(ann.page.locator("#status")).to_have_attribute("data-state", "online")
    await expect(ann.page.locator("#login-panel")).to_be_hidden()
    await expect(ann.page.locator("#messages .msg-text")).to_have_text(["one", "two"])
    con = next(f for f in frames if f.startswith("CON,"))
    assert ";password=;" in con and ";token=" in con and ";rooms=1" in con and ";remember=1" in con
    # Our own join line is below the older history, never above it.
    texts = await ann.page.locator("#messages > li").evaluate_all("items => items.map((i) => i.className)")
    assert texts.index(next(t for t in texts if "line-info" in t)) > max(i for i, t in enumerate(texts) if "msg" in t.split())
    await say(ann.page, "three")
    await expect(bob.page.locator("#messages .msg-text")).to_have_text(["one", "two", "three"])
    # The open conversation comes back with the reload, a room too.
    await create_room(ann.page, "#den")
    await say(ann.page, "in the den", to="#den")
    await ann.page.reload()
    await expect(ann.page.locator("#conv-title")).to_have_text("#den")
    await expect(ann.page.locator("#messages .msg-text")).to_have_text(["in the den"])
    await asyncio.sleep(0.5)
    assert await bob.page.locator("#messages .line").all_inner_texts() == lines
    await expect(bob.page.locator("#user-list .user-name")).to_have_text(["ann", "bob"])

    # A token that no longer holds: the join form, prefilled, says why, and the token is forgotten.
    await ann.page.evaluate("""() => {
        const kept = JSON.parse(localStorage.getItem("parley.token"));
        localStorage.setItem("parley.token", JSON.stringify({ ...kept, token: "x".repeat(43) }));
    }""")
    await ann.page.reload()
    await expect(ann.page.locator("#login-panel")).to_be_visible()
    await expect(ann.page.locator("#login-error")).to_have_text("Error: Your session has ended; please log in again.")
    await expect(ann.page.locator("#login-nickname")).to_have_value("ann")
    assert await ann.page.evaluate("localStorage.getItem('parley.token')") is None
    for page in (ann, bob):
        await page.assert_clean()


async def test_read_state_agrees_across_two_pages_of_one_account(chromium, start_serve, data_dir, tcp) -> None:
    add_account(data_dir, "ann", "ann-secret")
    parley = start_serve()
    first = await open_page(chromium, parley.url, "ann-1", viewport=DESKTOP)
    await login(first.page, "ann", password="ann-secret")
    second = await open_page(chromium, parley.url, "ann-2", viewport=DESKTOP)
    await login(second.page, "ann", password="ann-secret")
    carl = await tcp(parley.port)
    await carl.login("carl")
    for page in (first.page, second.page):
        await open_conversation(page, "carl")  # both look elsewhere: the lobby gathers unread messages
    for n in range(3):
        await carl.send(f"CHAT,rec=-ALL,lobby {n}")
    for page in (first.page, second.page):
        await expect(unread(page, "-ALL")).to_have_text("3")
    await open_conversation(first.page, "-ALL")
    await expect(unread(first.page, "-ALL")).to_be_hidden()
    await expect(unread(second.page, "-ALL")).to_be_hidden()
    # Hidden tab: nothing is read there, and the other page keeps counting too.
    await carl.send("CHAT,rec=-ALL,lobby 3")
    await expect(unread(second.page, "-ALL")).to_have_text("1")
    await first.assert_clean()
    await second.assert_clean()


async def test_scrollback_through_a_thousand_messages_to_the_first(chromium, start_serve, tcp) -> None:
    parley = start_serve("--chat-rate", "0")
    seeder = await tcp(parley.port)
    await seeder.login("seeder")
    for n in range(1000):
        await seeder.send(f"CHAT,rec=-ALL,message {n:04}")
    while not any(f.reason == "CHATR" and f.content == "message 0999" for f in seeder.frames):
        await seeder.recv()
    reader = await open_page(chromium, parley.url, "reader", viewport=DESKTOP)
    page = reader.page
    await login(page, "reader")
    log = page.locator("#messages")
    await expect(message(page, "message 0999")).to_be_in_viewport()
    loaded = await page.locator("#messages .msg").count()
    assert 0 < loaded < 1000
    for _ in range(100):
        if await message(page, "message 0000").count():
            break
        top = page.locator("#messages .msg").first
        top_text = await top.locator(".msg-text").inner_text()
        await log.evaluate("(e) => { e.scrollTop = 0; }")
        # Older messages come in above without moving what the reader sees.
        await expect(page.locator("#messages .msg").first).not_to_have_text(re.compile(re.escape(top_text)))
        await expect(message(page, top_text)).to_be_in_viewport()
    shown = await page.locator("#messages .msg-text").all_inner_texts()
    assert shown == [f"message {n:04}" for n in range(1000)]
    await expect(page.locator("#messages .history-start")).to_have_count(1)
    await expect(page.locator("#messages .day-separator")).to_have_count(1)
    await expect(page.locator("#jump-latest")).to_be_visible()
    await page.click("#jump-latest")
    await expect(message(page, "message 0999")).to_be_in_viewport()
    await expect(page.locator("#jump-latest")).to_be_hidden()
    await reader.assert_clean()


async def test_a_private_message_to_an_offline_account_arrives_after_a_restart(chromium, tmp_path, data_dir, processes, tcp) -> None:
    add_account(data_dir, "dora", "dora-secret")
    add_account(data_dir, "ann", "ann-secret")
    processes.append(serve(tmp_path / "logs", data_dir))
    ann = await tcp(processes[0].port)
    await ann.login("ann", "ann-secret")
    await ann.send("CHAT,rec=dora,while you were out")
    echo = await ann.next("CHATR")
    assert echo.content == "while you were out"
    await ann.close()
    processes[0].stop()
    processes[0] = serve(tmp_path / "logs", data_dir)

    dora = await open_page(chromium, processes[0].url, "dora", viewport=DESKTOP)
    await login(dora.page, "dora", password="dora-secret")
    await expect(dora.page.locator("#messages .line-info .line-text")).to_contain_text(
        ["1 private message arrived while you were away."])
    await expect(unread(dora.page, "ann")).to_have_text("1")
    await open_conversation(dora.page, "ann")
    await expect(dora.page.locator("#conv-topic")).to_have_text("offline")
    await expect(dora.page.locator("#messages .msg-text")).to_have_text(["while you were out"])
    await expect(unread(dora.page, "ann")).to_be_hidden()
    await dora.assert_clean()


async def test_screenshots_of_a_room_on_desktop_and_phone_light_and_dark(chromium, start_serve, tcp) -> None:
    parley = start_serve()
    bob = await tcp(parley.port)
    await bob.login("bob")
    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        extra = {"is_mobile": True, "has_touch": True, "device_scale_factor": 2} if width == "phone" else {}
        pat = await open_page(chromium, parley.url, f"pat-{width}", viewport=viewport, **extra)
        page = pat.page
        await login(page, f"pat{width[0]}")
        if width == "desktop":
            await create_room(page, "#garden", "Seeds, soil and sun")
        else:
            await page.click("#convs-toggle")
            await page.click("#browse-open")
            await page.click("#room-list button.room-join[data-room='#garden']")
            await expect(page.locator("#conv-title")).to_have_text("#garden")
        await page.fill("#message-input", "Tomatoes are up!")
        await page.press("#message-input", "Shift+Enter")
        await page.keyboard.type("Second line, with a link https://example.com/")
        await page.press("#message-input", "Enter")
        await say(page, "/me waters the beans", to="#garden")
        await bob.send(f"CHAT,rec=pat{width[0]},a private word")
        await expect(unread(page, "bob")).to_have_text("1")
        for scheme in ("light", "dark"):
            await page.emulate_media(color_scheme=scheme)
            await screenshot(page, f"rooms-{width}-{scheme}.png")
        no_sideways = "() => document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth"
        assert await page.evaluate(no_sideways)
        # The room's name reads on one line, beside the drawers' buttons (it once broke letter by letter).
        one_line = ("() => { const t = document.getElementById('conv-title');"
                    " return t.getBoundingClientRect().height < 2 * parseFloat(getComputedStyle(t).lineHeight || 20); }")
        assert await page.evaluate(one_line)
        await pat.assert_clean()


async def test_two_pages_the_desktop_client_and_an_original_client_together(
        chromium, start_serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The four kinds of client at once: the lobby, a public room, a private room and a private conversation.

    The desktop client runs on this test's thread (Xvfb); while it is pumped
    (``desktops.until``) the pages wait, which they do not mind.
    """
    parley = start_serve()
    ann = await open_page(chromium, parley.url, "ann", viewport=DESKTOP)
    await login(ann.page, "ann")
    bob = await open_page(chromium, parley.url, "bob", viewport=DESKTOP)
    await login(bob.page, "bob")
    legacy = await asyncio.to_thread(LegacyClient, parley.port, "oldie")
    opened = open_desktops(tmp_path, monkeypatch, caplog)
    desktops = next(opened)
    try:
        dee = desktops.open("dee", geometry="900x700+0+0")
        connect(desktops, dee, parley.port, "dee")
        await expect(ann.page.locator("#user-list .user-name")).to_have_text(["ann", "bob", "oldie", "dee"])

        # A public room: a page creates it; the other page and the desktop join it.
        await create_room(ann.page, "#tea", "Tea time")
        await bob.page.click("#browse-open")
        await bob.page.click("#room-list button.room-join[data-room='#tea']")
        await expect(bob.page.locator("#conv-title")).to_have_text("#tea")
        dee.chat_view.join_room_button.invoke()
        desktops.until(lambda: any(c.startswith("#tea") for c in dee.chat_view.prompt.entry.cget("values")),
                       "the desktop lists the public rooms")
        dee.chat_view.prompt.entry.current(0)
        dee.chat_view.prompt.ok_button.invoke()
        desktops.until(lambda: dee.open_rec == "#tea", "the desktop in #tea")
        await expect(ann.page.locator("#user-list .user-name")).to_have_text(["ann", "bob", "dee"])
        await say(ann.page, "tea for three", to="#tea")
        await expect(message(bob.page, "tea for three")).to_have_count(1)
        desktops.until(shown(dee, "tea for three\n"), "the desktop gets the room's message")
        desktop_say(desktops, dee, "from the desktop")
        await expect(message(ann.page, "from the desktop")).to_have_count(1)
        await expect(message(bob.page, "from the desktop")).to_have_count(1)

        # A private room: the desktop is added; the other page never sees it.
        await create_room(ann.page, "#secret", "", private=True)
        await header_form(ann.page, "#invite-open", "dee")
        desktops.until(lambda: conversation(dee, "#secret") != "", "the desktop is in the private room")
        dee.open_conversation("#secret")
        desktop_say(desktops, dee, "whisper in secret")
        await expect(message(ann.page, "whisper in secret")).to_have_count(1)
        await expect(conversation_entry(bob.page, "#secret")).to_have_count(0)

        # A private conversation between a page and the desktop.
        await say(bob.page, "hello dee, just us", to="dee")
        desktops.until(lambda: conversation(dee, "bob") != "", "the desktop lists bob's conversation")
        dee.open_conversation("bob")
        desktops.until(shown(dee, "hello dee, just us\n"), "the desktop opens it")
        desktop_say(desktops, dee, "hello bob")
        await expect(message(bob.page, "hello bob")).to_have_count(1)
        await open_conversation(ann.page, "-ALL")
        await expect(message(ann.page, "hello bob")).to_have_count(0)

        # Everyone in the lobby, the original client too.
        await asyncio.to_thread(legacy.sock.send, b"CHAT,rec=-ALL,the old client speaks")
        await expect(message(ann.page, "the old client speaks")).to_have_count(1)
        dee.open_conversation("-ALL")
        desktops.until(shown(dee, "the old client speaks\n"), "the desktop hears the original client")
        await asyncio.sleep(0.5)
        seen = [parse_frame(text) for text in legacy.received]
        assert not [f for f in seen if f.reason in ROOM_REASONS], seen
        assert not [f for f in seen if f.params.get("rec", "").startswith("#")], seen
        assert [f.content for f in seen if f.reason == "CHATR"] == ["the old client speaks"]
        for page in (ann, bob):
            await page.assert_clean()
    finally:
        next(opened, None)
        await asyncio.to_thread(legacy.close)
