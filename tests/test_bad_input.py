"""Bad input: each case gets a clear answer, and everybody else keeps being served."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from conftest import add_account
from wire import Client


async def still_served(client: Client, text: str = "still here") -> None:
    """The bystander can chat and gets its own message back."""
    await client.drain()
    await client.send(f"CHAT,rec=-ALL,{text}")
    chatr = await client.expect("CHATR")
    assert chatr.content == text


@pytest.fixture
async def bystander(connect) -> Client:
    client = await connect()
    await client.login("bystander")
    return client


async def test_bytes_that_are_not_utf8_get_err_and_the_connection_goes_on(connect, bystander) -> None:
    ann = await connect()
    await ann.login("ann")
    await ann.send_raw(b"CHAT,rec=-ALL,\xc3\x28 broken\n")
    assert (await ann.expect("ERR")).content == "Error: Frame is not valid UTF-8."
    await still_served(ann)
    await still_served(bystander)


async def test_frame_without_comma_is_malformed(connect, bystander) -> None:
    ann = await connect()
    await ann.login("ann")
    await ann.send("HELLO")
    err = await ann.expect("ERR")
    assert err.content == "Error: Malformed frame (frame has no ',' separator)."
    await still_served(ann)
    await still_served(bystander)


@pytest.mark.parametrize(
    "text, detail",
    [
        ("CHAT,rec,x", "parameter without '=': 'rec'"),
        ("CHAT,rec=a;rec=b,x", "duplicate parameter 'rec'"),
        ("CHAT,rec=bob/", "dangling escape at end of parameter"),
        ("1X,,", "invalid reason '1X'"),
    ],
)
async def test_malformed_parameters_are_named_in_the_error(connect, text: str, detail: str) -> None:
    ann = await connect()
    await ann.login("ann")
    await ann.send(text)
    assert (await ann.expect("ERR")).content == f"Error: Malformed frame ({detail})."
    await still_served(ann)


async def test_unknown_and_lowercase_reasons_are_errors(connect, bystander) -> None:
    ann = await connect()
    await ann.login("ann")
    for reason in ("FOO", "chat"):
        await ann.send(f"{reason},rec=-ALL,x")
        assert (await ann.expect("ERR")).content == f"Error: Unknown reason: {reason}."
    await still_served(bystander)


async def test_anything_before_con_gets_conver_error_and_the_connection_stays(connect) -> None:
    client = await connect()
    for text in ("CHAT,rec=-ALL,hi", "USER,,", "REF,,", "KICK,user=x,", "UPDATE,color=#FFF,", "NOPE,,", "garbage"):
        await client.send(text)
        conver = await client.expect("CONVER")
        assert conver.content.startswith("Error: "), text
    await client.send("CHAT,rec=-ALL,hi")
    assert (await client.expect("CONVER")).content == "Error: Unknown connection attempt..."
    await client.login("late")


async def test_failed_logins_may_retry_on_the_same_connection(connect, data_dir, bystander) -> None:
    add_account(data_dir, "Reg", "right-pw")
    client = await connect()
    attempts = {
        "CON,nickname=bystander;password=;color=#FFF,": "Error: User is already logged in",
        "CON,nickname=reg;password=wrong;color=#FFF,": "Error: User is a registered user",
        "CON,nickname=x;password=;color=#FFF,": "Error: Username must be between lengths 2 and 16",
        "CON,nickname=waytoolongnickname;password=;color=#FFF,": "Error: Username must be between lengths 2 and 16",
        "CON,nickname=7up;password=;color=#FFF,": "Error: Username must start with a letter",
        "CON,nickname=x,": "Error: Incorrect paramters. nickname, password, and color are required",
        "CON,,": "Error: Incorrect paramters. nickname, password, and color are required",
    }
    for text, error in attempts.items():
        await client.send(text)
        assert (await client.expect("CONVER")).content == error, text
    await client.login("Reg", password="right-pw")
    await still_served(bystander)


async def test_second_con_after_login_is_an_unknown_reason(connect) -> None:
    ann = await connect()
    await ann.login("ann")
    await ann.send("CON,nickname=other;password=;color=#FFF,")
    assert (await ann.expect("ERR")).content == "Error: Unknown reason: CON."


async def test_over_long_frame_gets_err_then_disconnect(make_server) -> None:
    server = await make_server(max_frame=64)
    ann, bob = await Client.connect(server.port), await Client.connect(server.port)
    try:
        await ann.login("ann")
        await bob.login("bob")
        await ann.drain()
        await ann.send_raw(b"CHAT,rec=-ALL," + b"x" * 1000)  # no newline: the cap still holds
        err = await ann.expect("ERR")
        assert err.content == "Error: Frame longer than 64 bytes; closing the connection."
        assert await ann.closed_by_server()
        assert (await bob.expect("INFO")).content == "ann has disconnected"
        await still_served(bob)
    finally:
        await ann.close(), await bob.close()


async def test_connection_that_never_logs_in_is_cut_after_the_login_timeout(make_server) -> None:
    server = await make_server(login_timeout=0.5)
    idle, ann = await Client.connect(server.port), await Client.connect(server.port)
    try:
        await ann.login("ann")
        await idle.send("USER,,")  # activity that is not a login does not extend it
        await idle.expect("CONVER")
        warn = await idle.expect("WARN", timeout=2)
        assert warn.content == "No login within 0.5 seconds; closing the connection."
        assert await idle.closed_by_server(timeout=2)
        await still_served(ann)
    finally:
        await idle.close(), await ann.close()


async def test_login_timeout_does_not_touch_logged_in_clients(make_server) -> None:
    server = await make_server(login_timeout=0.3)
    ann = await Client.connect(server.port)
    try:
        await ann.login("ann")
        await asyncio.sleep(0.6)
        await still_served(ann)
    finally:
        await ann.close()


async def test_peer_that_resets_mid_frame_leaves_the_others_served(server, bystander) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port))
    try:
        sock.sendall(b"CON,nickname=rude;password=;color=#FFF,\n")
        await bystander.expect("INFO")
        await bystander.expect("USER")
        sock.sendall(b"CHAT,rec=-ALL,half a fra")
        # SO_LINGER 0: close() sends a RST instead of a FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        sock.close()
    assert (await bystander.expect("INFO")).content == "rude has disconnected"
    await still_served(bystander)


async def test_kick_of_a_nickname_not_online_is_an_error_not_a_crash(make_server, data_dir) -> None:
    add_account(data_dir, "Boss", "secret1", "admin")
    server = await make_server()
    boss = await Client.connect(server.port)
    try:
        await boss.login("Boss", password="secret1")
        await boss.send("KICK,user=nobody,go")
        assert (await boss.expect("ERR")).content == "Error: nobody is not online."
        await still_served(boss)
    finally:
        await boss.close()


async def test_crlf_terminated_frames_are_accepted(connect) -> None:
    ann = await connect()
    await ann.send_raw(b"CON,nickname=ann;password=;color=#FFF,\r\nCHAT,rec=-ALL,crlf\r\n")
    assert (await ann.expect("CONVER")).content == "OK"
    frames = await ann.drain()
    assert [f.content for f in frames if f.reason == "CHATR"] == ["crlf"]
