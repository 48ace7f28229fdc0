"""The hub is a seam: a hub whose claims are answered later works with the core unchanged.

A hub shared by several server processes must ask its peers before it puts a
nickname online, so its answer comes after a round trip. ``LaterHub``
answers every claim and rename after a delay, and the whole server runs on
it over real sockets: logins, a race for one nickname, renames, and a
connection that drops while its claim is out.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import pytest

from parley.protocol import texts
from server.app import ChatServer
from server.config import ServerConfig
from server.core import OnlineUser
from server.core.presence import Claimed, SessionKind
from server.hub import Hub, Member
from wire import Client, eventually, users

DELAY = 0.05  # seconds: a round trip to the other nodes


class LaterHub:
    """Another Hub implementation: claims and renames answered after ``DELAY``, the rest as the hub it wraps."""

    def __init__(self, inner: Hub) -> None:
        self.inner = inner

    async def claim(self, user: OnlineUser, member: Member, kind: SessionKind, attach: bool) -> Claimed:
        await asyncio.sleep(DELAY)
        claimed = self.inner.claim(user, member, kind, attach)
        assert isinstance(claimed, Claimed)
        return claimed

    async def rename(self, member: Member, user: OnlineUser) -> bool:
        await asyncio.sleep(DELAY)
        return bool(self.inner.rename(member, user))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
async def server(data_dir: Any) -> AsyncIterator[ChatServer]:
    chat = ChatServer(ServerConfig(host="127.0.0.1", port=0, data_dir=data_dir, user_list_delay=0.01))
    chat.hub = LaterHub(chat.hub)
    await chat.start()
    yield chat
    await chat.close()


async def test_logins_chats_and_renames_through_a_hub_that_answers_later(server: ChatServer) -> None:
    ann, bob = await Client.connect(server.port), await Client.connect(server.port)
    try:
        await ann.login("ann")
        await bob.login("bob")
        await ann.send("CHAT,rec=bob,hi bob")
        assert (await bob.next("CHATR")).content == "hi bob"
        await ann.send("UPDATE,nickname=anna,")
        assert (await ann.next("CONFIRM")).content == "OK"
        assert (await bob.next("INFO")).content == "ann's name changed to anna "
        while users(await bob.next("USER")) != ["anna", "bob"]:
            pass  # a list from before the rename; the one after it must come
        assert server.hub.online() == ["anna", "bob"]
    finally:
        await ann.close()
        await bob.close()


async def test_two_logins_racing_for_one_nickname_get_one_ok(server: ChatServer) -> None:
    first, second = await Client.connect(server.port), await Client.connect(server.port)
    try:
        await asyncio.gather(first.send("CON,nickname=ann;password=;color=#fff,"),
                             second.send("CON,nickname=ANN;password=;color=#fff,"))
        answers = sorted([(await first.next("CONVER")).content, (await second.next("CONVER")).content])
        assert answers == sorted(["OK", texts.ALREADY_LOGGED_IN])
        assert [name.lower() for name in server.hub.online()] == ["ann"]
    finally:
        await first.close()
        await second.close()


async def test_a_connection_lost_while_its_claim_is_out_does_not_stay_online(server: ChatServer) -> None:
    gone = await Client.connect(server.port)
    await gone.send("CON,nickname=ghost;password=;color=#fff,")
    await gone.close()
    await asyncio.sleep(2 * DELAY)
    await eventually(lambda: server.hub.online() == [] and not server.adapter.protocols)
    again = await Client.connect(server.port)
    try:
        assert (await again.login("ghost")).content == "OK"
    finally:
        await again.close()
