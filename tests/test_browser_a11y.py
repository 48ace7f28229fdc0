"""The page's accessibility and finish, in real Chromium: axe-core on every screen.

axe-core comes from npm, installed by scripts/install-js-deps into build/node
(scripts/test runs it; the fixture below runs it too, and it installs nothing
when axe is there). Each screen is checked at phone and desktop widths, in the
light and the dark theme, and photographed into test-artifacts/a11y-*.png.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from browser import ARTIFACTS, MS, Watched, login, open_conversation, open_page, say
from conftest import add_account
from playwright.async_api import Page, expect
from serverproc import REPO, ParleyProcess

expect.set_options(timeout=MS)
INSTALL_JS_DEPS = REPO / "scripts" / "install-js-deps"
AXE = REPO / "build" / "node" / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
SCHEMES = ("light", "dark")

# Runs axe-core on the whole document; returns one line per failing node.
RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.flatMap((v) =>
    v.nodes.map((n) => `${v.id} (${v.impact}) at ${n.target.join(" ")}: ${n.failureSummary.replace(/\\s+/g, " ")}`));
}"""
# Two animation frames: the theme's media query change has been handled and painted.
SETTLE = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done())))"


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe.min.js, installed by the project's own script if it is not yet."""
    result = subprocess.run([str(INSTALL_JS_DEPS)], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"scripts/install-js-deps failed:\n{result.stderr}"
    assert AXE.is_file(), f"{AXE} missing after scripts/install-js-deps"
    return AXE


async def axe_violations(page: Page, axe: Path) -> list[str]:
    """Every axe-core violation on the page as it is now."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.add_script_tag(path=str(axe))
    result: list[str] = await page.evaluate(RUN_AXE)
    return result


class Audit:
    """Checks screens of one page in both themes; collects what axe finds."""

    def __init__(self, watched: Watched, axe: Path, width: str) -> None:
        self.watched = watched
        self.axe = axe
        self.width = width
        self.found: dict[str, list[str]] = {}

    async def check(self, screen: str) -> None:
        page = self.watched.page
        for scheme in SCHEMES:
            await page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
            await page.evaluate(SETTLE)
            name = f"{screen}-{self.width}-{scheme}"
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / f"a11y-{name}.png"))
            violations = await axe_violations(page, self.axe)
            if violations:
                self.found[name] = violations
        await page.emulate_media(color_scheme="light")

    def assert_clean(self) -> None:
        report = "\n".join(f"{name}:\n  " + "\n  ".join(summary(lines)) for name, lines in self.found.items())
        assert not self.found, f"axe-core found violations:\n{report}"


async def show_sidebar(page: Page, width: str) -> None:
    """The conversations list in view: on a phone, opened from "Chats"."""
    if width == "phone":
        await page.click("#convs-toggle")
    await expect(page.locator("#sidebar")).to_be_visible()


def summary(lines: list[str]) -> list[str]:
    """One line per rule: how many nodes fail it, and the first of them."""
    by_rule: dict[str, list[str]] = {}
    for line in lines:
        by_rule.setdefault(line.split(" ", 1)[0], []).append(line)
    return [f"{len(found)} x {found[0]}" for found in by_rule.values()]


def message(page: Page, text: str) -> Any:
    return page.locator("#messages .msg").filter(
        has=page.locator(".msg-text", has_text=re.compile(f"^{re.escape(text)}$")))


@pytest.mark.parametrize("width", ["phone", "desktop"])
async def test_every_screen_passes_axe_core_in_both_themes(
        chromium: Any, data_dir: Path, start_serve: Callable[..., ParleyProcess], tcp: Any, axe_script: Path,
        width: str) -> None:
    add_account(data_dir, "boss", "boss-secret", "admin")
    parley = start_serve()
    viewport = PHONE if width == "phone" else DESKTOP
    phone = {"device_scale_factor": 2, "is_mobile": True, "has_touch": True} if width == "phone" else {}
    # The CSP (script-src 'self') would refuse the injected axe script; the page itself is unchanged.
    boss = await open_page(chromium, parley.url, "boss", viewport=viewport, bypass_csp=True, **phone)
    audit = Audit(boss, axe_script, width)
    page = boss.page

    await audit.check("join")
    await page.fill("#login-nickname", "")
    await page.click("#login-submit")
    await expect(page.locator("#login-error")).to_be_visible()
    await audit.check("join-error")

    await login(page, "boss", password="boss-secret", color="#3366cc")
    ann = await open_page(chromium, parley.url, "ann", viewport=viewport, bypass_csp=True, **phone)
    await login(ann.page, "ann", color="#ffcc00")
    carl = await tcp(parley.port)
    await carl.login("carl", color="#FFFFFF")
    await say(page, "hello everyone")
    await say(page, "a second line from me")
    await say(ann.page, "hi boss, welcome")
    await say(ann.page, "and more from ann")
    await carl.send("CHAT,rec=boss,psst, a private word")
    await carl.send("CHAT,rec=boss,and a second one")
    await carl.send("CHAT,rec=-ALL,see https://example.com/some/where for it")
    await ann.page.click("#settings-toggle")
    await ann.page.fill("#set-nickname", "anna")
    await ann.page.fill("#set-color", "#00aa00")
    await ann.page.click("#settings-save")
    await expect(ann.page.locator("#settings-result")).to_have_text("Saved.")
    await expect(page.locator("#messages .line-change")).to_have_count(1)
    await expect(page.locator("#messages .msg")).to_have_count(5)
    await audit.check("lobby")

    # The conversations (on a phone, a drawer behind "Chats") and their forms.
    await show_sidebar(page, width)
    await audit.check("sidebar")
    await page.click("#create-open")
    await expect(page.locator("#create-form")).to_be_visible()
    await audit.check("create-room")
    await page.click("#create-cancel")
    await page.click("#browse-open")
    await expect(page.locator("#browse-panel")).to_be_visible()
    await audit.check("browse-rooms")
    await page.click("#browse-close")
    await page.click("#conv-list button.conv-open[data-rec='carl']")
    await expect(page.locator("#conv-title")).to_have_text("carl")
    await page.fill("#message-input", "a private answer")
    await page.press("#message-input", "Enter")
    await expect(page.locator("#messages .msg-own")).to_have_count(1)
    await expect(page.locator("#messages .msg")).to_have_count(3)
    await audit.check("private")

    await page.click("#settings-toggle")
    await expect(page.locator("#settings-panel")).to_be_visible()
    await audit.check("settings")
    await page.click("#settings-close")

    # A message's actions menu, search results, the admin view's tabs.
    await page.locator("#messages .msg .msg-actions").first.click()
    await expect(page.locator("#msg-menu")).to_be_visible()
    await audit.check("message-menu")
    await page.keyboard.press("Escape")
    await page.fill("#search-input", "hello")
    await page.press("#search-input", "Enter")
    await expect(page.locator("#search-results .result")).to_have_count(1)
    await audit.check("search")
    await page.click("#search-close")
    await page.click("#admin-toggle")
    await expect(page.locator("#accounts-rows tr")).to_have_count(1)
    await audit.check("admin-accounts")
    for tab in ("bans", "reports", "audit"):
        await page.click(f"#tab-{tab}")
        await expect(page.locator(f"#admin-{tab}")).to_be_visible()
        await audit.check(f"admin-{tab}")
    await page.click("#admin-close")

    if width == "phone":
        await page.click("#users-toggle")
        await expect(page.locator("#users-panel")).to_be_visible()
    await page.click("#user-list li[data-nick='anna'] .kick")
    await expect(page.locator("#kick-reason")).to_be_focused()
    await audit.check("users-kick")
    await page.fill("#kick-reason", "testing")
    await page.click("#kick-confirm")

    # Ann was kicked: her page is back at the join screen with the reason.
    await expect(ann.page.locator("#login-notice")).to_be_visible()
    kicked = Audit(ann, axe_script, width)
    await kicked.check("kicked")
    audit.assert_clean()
    kicked.assert_clean()
    await boss.assert_clean()
    await ann.assert_clean()


def test_a_second_run_of_install_js_deps_installs_nothing(tmp_path: Path, axe_script: Path) -> None:
    """Once axe-core is in build/node, the script must not call npm again."""
    log = tmp_path / "calls"
    folder = tmp_path / "bin"
    folder.mkdir()
    npm = folder / "npm"
    npm.write_text(f'#!/bin/sh\necho "npm $*" >> "{log}"\nexit 1\n')
    npm.chmod(0o755)
    env = {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([str(INSTALL_JS_DEPS)], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert not log.exists(), log.read_text()
    assert result.stdout == result.stderr == ""


async def test_messages_group_by_sender_and_lobby_lines_name_no_recipient(
        chromium: Any, start_serve: Callable[..., ParleyProcess], tcp: Any) -> None:
    parley = start_serve()
    ann = await open_page(chromium, parley.url, "ann", viewport=DESKTOP)
    page = ann.page
    await login(page, "ann", color="#aa3300")
    carl = await tcp(parley.port)
    await carl.login("carl")
    # The lobby's history is in before anyone speaks (on a busy machine it could land between "one" and "two").
    await expect(page.locator("#messages .history-start")).to_have_count(1)
    await say(page, "one")
    await say(page, "two")
    # Both back from the server before carl speaks: else "two", through the gateway, can land after "three".
    await expect(page.locator("#messages .msg")).to_have_count(2)
    await carl.send("CHAT,rec=-ALL,three")
    await carl.send("CHAT,rec=-ALL,four")
    await carl.send("CHAT,rec=ann,five, privately")
    await say(page, "six")
    await expect(page.locator("#messages .msg")).to_have_count(5)  # six is in before seven is sent
    await carl.send("UPDATE,nickname=;color=#0000ff;password=,")
    await expect(page.locator("#messages .line-change .line-text").last).to_have_text("carl changed color")
    await expect(page.locator("#messages .line-change .swatch").last).to_have_css("background-color", "rgb(0, 0, 255)")
    await carl.send("CHAT,rec=-ALL,seven")
    # The private message is in its own conversation, not in the lobby's log.
    await expect(page.locator("#messages .msg")).to_have_count(6)

    # Only the second of a run from one sender, to one conversation, continues its group.
    continued = [await message(page, t).evaluate("(e) => e.classList.contains('msg-cont')")
                 for t in ("one", "two", "three", "four", "six", "seven")]
    assert continued == [False, True, False, True, False, False]
    # A continuation shows neither name nor time, keeps them for screen readers, and its name leaves the tab order.
    head = message(page, "two").locator(".msg-head")
    box = await head.bounding_box()
    assert box is not None and box["width"] <= 1 and box["height"] <= 1
    await expect(message(page, "two").locator(".sender")).to_have_attribute("tabindex", "-1")
    await expect(message(page, "one").locator(".sender")).to_be_visible()
    await expect(message(page, "one").locator(".when")).to_be_visible()
    snapshot = await message(page, "two").aria_snapshot()
    assert "ann" in snapshot, snapshot
    # Lobby lines name no recipient; a private one says so.
    await expect(page.locator("#messages .msg-public .msg-to")).to_have_count(0)
    await open_conversation(page, "carl")
    await expect(message(page, "five, privately").locator(".msg-to")).to_have_text("to you")
    await expect(message(page, "five, privately").locator(".badge-private")).to_have_text("private")
    # Messages further apart than a few minutes start a new group.
    gaps = await page.evaluate("""async () => {
        const { continuesGroup, GROUP_MS } = await import(new URL("render.js", location.href).href);
        const item = (ts, sender = "ann", rec = "-ALL") => {
          const li = document.createElement("li");
          li.className = "msg";
          Object.assign(li.dataset, { ts: String(ts), sender, rec });
          return li;
        };
        return [GROUP_MS, continuesGroup(item(0), item(GROUP_MS)), continuesGroup(item(0), item(GROUP_MS + 1)),
                continuesGroup(item(0, "ann"), item(1, "ANN")), continuesGroup(item(0), item(1, "ann", "carl"))];
    }""")
    assert gaps == [300000, True, False, True, False]
    await ann.assert_clean()


async def test_nothing_of_the_chat_shows_before_joining_or_after_leaving(
        chromium: Any, start_serve: Callable[..., ParleyProcess]) -> None:
    parley = start_serve()
    watched = await open_page(chromium, parley.url, "ann", viewport=DESKTOP,
                              init_script="window.Notification = class { static permission = 'default'; };")
    page = watched.page
    chat = ("#status", "#notify-button", "#users-toggle", "#user-list", "#messages", "#composer")
    for selector in chat:
        await expect(page.locator(selector)).to_be_hidden()
    await expect(page.locator("#login-nickname")).to_be_visible()
    await login(page, "ann")
    for selector in ("#status", "#notify-button", "#user-list", "#messages", "#composer"):
        await expect(page.locator(selector)).to_be_visible()
    await page.click("#leave")
    await expect(page.locator("#login-panel")).to_be_visible()
    for selector in chat:  # no stale online list either
        await expect(page.locator(selector)).to_be_hidden()
    await watched.assert_clean()


@pytest.mark.parametrize("width", [360, 390])
async def test_the_phone_top_bar_fits_one_row(chromium: Any, start_serve: Callable[..., ParleyProcess], width: int) -> None:
    parley = start_serve()
    watched = await open_page(chromium, parley.url, "pat", viewport={"width": width, "height": 740},
                              device_scale_factor=2, is_mobile=True, has_touch=True,
                              init_script="window.Notification = class { static permission = 'default'; };")
    page = watched.page
    await login(page, "pat_on_a_phone")
    rows = await page.evaluate("""() => {
        const shown = [...document.querySelectorAll(".topbar .brand img, #status, .actions button")]
          .filter((e) => e.getClientRects().length > 0);
        const middles = shown.map((e) => { const r = e.getBoundingClientRect(); return (r.top + r.bottom) / 2; });
        return { spread: Math.max(...middles) - Math.min(...middles),
                 right: Math.max(...shown.map((e) => e.getBoundingClientRect().right)),
                 buttons: shown.filter((e) => e.tagName === "BUTTON").map((e) => e.textContent.trim()) };
    }""")
    assert rows["spread"] <= 6, rows  # one row: every middle at one height
    assert rows["right"] <= width, rows
    assert rows["buttons"] == ["Invite", "Settings", "Leave"], rows
    # The drawers open from the conversation's header, on one row with its title.
    for toggle in ("#convs-toggle", "#users-toggle"):
        await expect(page.locator(toggle)).to_be_in_viewport()
    head = await page.evaluate("""() => [...document.querySelectorAll("#convs-toggle, #conv-title, #users-toggle")]
        .map((e) => { const r = e.getBoundingClientRect(); return (r.top + r.bottom) / 2; })""")
    assert max(head) - min(head) <= 6, head
    await expect(page.locator("#status")).to_be_in_viewport()
    await watched.assert_clean()
