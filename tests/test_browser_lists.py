"""The page keeps its user list from USERCHANGES (issue 12, item 6), in real Chromium.

The page logs in with ``lists=changes``; TCP clients join, rename and leave,
some within one 50 ms window and some apart, and the page's list must be
the server's whole list (read by a TCP client that gets whole lists) after
each step, built from changes: no whole list reaches the page after its
first.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Iterator

import pytest
from browser import MS, login, open_page, serve
from playwright.async_api import expect
from serverproc import ParleyProcess
from wire import Client, users

from parley.protocol import parse_frame

expect.set_options(timeout=MS)


@pytest.fixture
def parley(tmp_path: Path, data_dir: Path) -> Iterator[ParleyProcess]:
    process = serve(tmp_path / "logs", data_dir)
    yield process
    process.stop()


async def whole_list(watcher: Client) -> list[str]:
    """The last whole list the watcher (a client that did not ask for changes) got, once things are quiet."""
    lists = [f for f in await watcher.drain() if f.reason == "USER"]
    assert lists
    return users(lists[-1])


async def test_the_page_follows_joins_renames_and_leaves_from_changes(chromium: Any, parley: ParleyProcess, tcp: Any) -> None:
    ann = await open_page(chromium, parley.url, "ann")
    received: list[str] = []
    ann.page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: received.append(str(payload))))
    await login(ann.page, "ann")
    names = ann.page.locator("#user-list .user-name")
    await expect(names).to_have_text(["ann"])
    watcher = await tcp(parley.port)
    await watcher.login("watcher")
    await expect(names).to_have_text(["ann", "watcher"])

    crowd = [await Client.connect(parley.port) for _ in range(6)]
    for i, client in enumerate(crowd):  # six joins sent at once: one window, one USERCHANGES
        await client.send(f"CON,nickname=user{i};password=;color=#123456,")
    for client in crowd:
        assert (await client.expect("CONVER")).content == "OK"
    want = await whole_list(watcher)
    assert want == ["ann", "watcher"] + [f"user{i}" for i in range(6)]
    await expect(names).to_have_text(want)

    await crowd[1].send("UPDATE,nickname=Renamed,")
    await crowd[3].send("DISCON,,")
    await crowd[0].send("UPDATE,nickname=USER0,")  # a change of spelling only
    await asyncio.sleep(0.3)  # apart: another window
    await crowd[5].close()  # vanishes without DISCON
    want = await whole_list(watcher)
    assert want == ["ann", "watcher", "USER0", "Renamed", "user2", "user4"]
    await expect(names).to_have_text(want)
    for _ in range(5):  # one user joining and leaving in a loop
        again = await Client.connect(parley.port)
        await again.login("looper")
        await again.send("DISCON,,")
        await again.closed_by_server()
        await again.close()
    await expect(names).to_have_text(want)
    assert want == await whole_list(watcher)

    frames = [parse_frame(text) for text in received]
    lists = [f for f in frames if f.reason == "USER"]
    changes = [f for f in frames if f.reason == "USERCHANGES"]
    assert len(lists) == 1 and lists[0].params["v"]  # its own, at login
    assert len(changes) >= 5 and all(len(text) < 300 for text in received if text.startswith("USERCHANGES,"))
    for client in crowd:
        await client.close()
    await ann.assert_clean()
