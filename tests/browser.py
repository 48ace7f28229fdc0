"""Helpers for the browser tests: Parley child processes, Chromium, page watching.

Parley runs from this working tree (``python -m parley``, see serverproc),
so the page served is the tree's ``web/``, not a copy made at install time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    Playwright,
    Response,
    expect,
)
from serverproc import REPO, GatewayProcess, ParleyProcess, ServeProcess, ServerProcess
from wire import TIMEOUT

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
MS = int(TIMEOUT * 1000)  # Playwright waits in milliseconds, scaled like every other wait
RECONNECT_MS = 6 * MS  # a reconnect waits out a backoff (0.5 s doubling) first

# Recorded before any page script runs; init scripts are not subject to the page's CSP.
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


def serve(log_dir: Path, data_dir: Path, *flags: str) -> ParleyProcess:
    """``parley serve``: the chat server and the gateway in one process, on free ports."""
    return ServeProcess(data_dir, *flags, source=True).start()


def server(log_dir: Path, data_dir: Path, port: int) -> ParleyProcess:
    """``parley server`` alone on ``port``, trusting the PROXY headers of a gateway on this machine."""
    return ServerProcess(data_dir, "--trusted-proxy", "127.0.0.1", port=port, source=True).start()


def gateway(log_dir: Path, upstream_port: int) -> ParleyProcess:
    """``parley gateway`` alone, in front of the server on ``upstream_port``."""
    return GatewayProcess(log_dir, upstream_port, source=True).start()


async def launch(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


@dataclass
class Watched:
    """A page with everything that went wrong in it recorded."""

    page: Page
    name: str
    problems: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    async def assert_clean(self) -> None:
        """No console error, page error, failed response, dialog or CSP violation so far."""
        if not self.page.is_closed():
            violations = await self.page.evaluate("window.__cspViolations || []")
            self.problems += [f"CSP violation: {v}" for v in violations]
        assert not self.problems, f"{self.name}: {self.problems}"
        assert not self.dialogs, f"{self.name}: dialogs opened: {self.dialogs}"


async def open_page(browser: Browser, url: str, name: str, init_script: str = "", **context: Any) -> Watched:
    """A new page in its own context (own storage), watched, loaded from ``url``."""
    ctx = await browser.new_context(**context)
    page = await ctx.new_page()
    page.set_default_timeout(MS)
    watched = Watched(page, name)
    await page.add_init_script(WATCH_CSP + init_script)

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            watched.problems.append(f"console {message.type}: {message.text}")

    def on_response(response: Response) -> None:
        if response.status >= 400:
            watched.problems.append(f"HTTP {response.status} for {response.url}")

    async def on_dialog(dialog: Any) -> None:
        watched.dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.problems.append(f"page error: {error}"))
    page.on("response", on_response)
    page.on("dialog", on_dialog)
    await page.goto(url)
    return watched


async def login(page: Page, nickname: str, password: str = "", color: str = "") -> None:
    """Fill the login form, join, and wait until online."""
    await page.fill("#login-nickname", nickname)
    await page.fill("#login-password", password)
    if color:
        await page.fill("#login-color", color)
    await page.click("#login-submit")
    await expect(page.locator("#status")).to_have_attribute("data-state", "online")
    await expect(page.locator("#message-input")).to_be_focused()


def conversation_entry(page: Page, rec: str) -> Locator:
    """The sidebar's entry of conversation ``rec`` (``-ALL``, ``#room`` or a nickname)."""
    return page.locator(f"#conv-list button.conv-open[data-rec={json.dumps(rec)}]")


async def open_conversation(page: Page, rec: str) -> None:
    """Open conversation ``rec`` as a user would: its sidebar entry, else (a new private
    conversation) the name in the user list; on a phone through the drawers."""
    entry = conversation_entry(page, rec)
    if await entry.count() == 0 and not rec.startswith("#") and rec != "-ALL":
        if await page.locator("#users-toggle").is_visible() and not await page.locator("#users-panel").is_visible():
            await page.click("#users-toggle")
        await page.click(f"#user-list button.user-name[data-nick={json.dumps(rec)}]")
    else:
        if await page.locator("#convs-toggle").is_visible() and not await page.locator("#sidebar").is_visible():
            await page.click("#convs-toggle")
        await entry.click()
    await expect(page.locator("#conv-title")).to_have_text("Lobby" if rec == "-ALL" else rec)


async def say(page: Page, text: str, to: str = "-ALL") -> None:
    """Open conversation ``to`` (the lobby unless given) and send ``text`` from the composer with Enter."""
    if await page.locator("#conv-title").inner_text() != ("Lobby" if to == "-ALL" else to):
        await open_conversation(page, to)
    await page.fill("#message-input", text)
    await page.press("#message-input", "Enter")
    await expect(page.locator("#message-input")).to_have_value("")
    await expect(page.locator("#message-input")).to_be_focused()


async def texts(page: Page) -> list[str]:
    """The text of every chat message shown, in order."""
    return await page.locator("#messages .msg .msg-text").all_inner_texts()


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / name))
