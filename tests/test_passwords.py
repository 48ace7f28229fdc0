"""Passwords: guessing throttled without locking the owner out, strong hashes, fair hashing, probes counted.

The guessers come from many addresses the way a trusted proxy (the gateway,
nginx) reports them: a PROXY line from loopback, trusted in these tests.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from conftest import add_account
from parley.net.proxy import parse_networks
from parley.protocol import texts
from server.passwords import check_password, hash_password, verify_password
from server.store import Store, database_path
from wire import Client

TRUST_LOOPBACK = parse_networks(["127.0.0.1/32"])
BUSY = "Error: Too many password changes at once from your address. Try again in a moment. "
_ports = iter(range(20_000, 60_000))


async def from_address(port: int, address: str) -> Client:
    """A connection the server takes to come from ``address`` (a trusted proxy's PROXY line)."""
    client = await Client.connect(port)
    family = "TCP6" if ":" in address else "TCP4"
    here = "::1" if ":" in address else "127.0.0.1"
    await client.send_raw(f"PROXY {family} {address} {here} {next(_ports)} 6666\r\n".encode())
    return client


async def con(port: int, address: str, nickname: str, password: str) -> str:
    """Log in from ``address`` on a new connection and leave; return the CONVER's content."""
    client = await from_address(port, address)
    try:
        await client.send(f"CON,nickname={nickname};password={password};color=#FFF,")
        content = (await client.expect("CONVER")).content
        if content == "OK":
            await client.send("DISCON,,")
            await client.next("CONFIRM")
        return content
    finally:
        await client.close()


def stored_hash(data_dir: Path, name: str) -> str:
    store = Store(database_path(data_dir))
    try:
        account = store.get_account(name)
        assert account is not None
        return account.password_hash
    finally:
        store.close()


def set_stored_hash(data_dir: Path, name: str, password_hash: str) -> None:
    store = Store(database_path(data_dir))
    try:
        account = store.get_account(name)
        assert account is not None
        store.set_password(account.id, password_hash)
    finally:
        store.close()


def scrypt_hash_of_parley_0_1(password: str) -> str:
    """A hash as Parley 0.1 stored it: scrypt, N=2^14, r=8, p=1."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


async def in_batches(calls: list[Callable[[], Awaitable[str]]], size: int = 20) -> list[str]:
    results: list[str] = []
    for start in range(0, len(calls), size):
        results += await asyncio.gather(*(call() for call in calls[start:start + size]))
    return results


# Item 11: hashing -------------------------------------------------------------------


def test_new_hashes_are_argon2id_with_owasps_parameters() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password("correct horse", stored) and not verify_password("Correct horse", stored)
    assert check_password("correct horse", stored) == (True, None)
    assert check_password("x", "not a hash") == (False, None)


async def test_an_old_scrypt_hash_logs_in_and_is_stored_upgraded(make_server, data_dir) -> None:
    # Used to go wrong: hashes stayed scrypt N=2^14, 8x below OWASP's minimum.
    add_account(data_dir, "Old", "old-password")
    set_stored_hash(data_dir, "Old", scrypt_hash_of_parley_0_1("old-password"))
    server = await make_server()
    assert await con(server.port, "127.0.0.1", "old", "wrong-password") == texts.REGISTERED_USER
    assert stored_hash(data_dir, "Old").startswith("scrypt$")  # a wrong password upgrades nothing
    assert await con(server.port, "127.0.0.1", "old", "old-password") == "OK"
    await asyncio.sleep(0.1)
    upgraded = stored_hash(data_dir, "Old")
    assert upgraded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await con(server.port, "127.0.0.1", "old", "old-password") == "OK"
    assert stored_hash(data_dir, "Old") == upgraded  # once upgraded, left alone


# Item 4 (part): hashing admitted fairly, account creation limited --------------------


async def test_a_login_waits_for_at_most_one_hash_behind_password_change_spam(make_server, data_dir) -> None:
    # Used to go wrong: password changes and logins shared one queue, so 120 spammers made logins slow.
    add_account(data_dir, "Boss", "boss-password", role="admin")
    server = await make_server(hash_threads=1, max_hashing_per_address=0, accounts_per_address=0,
                               max_connections_per_address=0)
    spammers = [await Client.connect(server.port) for _ in range(30)]
    boss = await Client.connect(server.port)
    try:
        for i, spammer in enumerate(spammers):
            await spammer.login(f"spam{i}")
            await spammer.drain(0.01)
        answered: dict[str, float] = {}

        async def answer(name: str, client: Client, reason: str) -> None:
            await client.next(reason)
            answered[name] = time.monotonic()

        for spammer in spammers:
            spammer.writer.write(b"UPDATE,password=spam-password,\n")
        boss.writer.write(b"CON,nickname=boss;password=boss-password;color=#FFF,\n")
        await asyncio.gather(*(answer(f"spam{i}", s, "CONFIRM") for i, s in enumerate(spammers)),
                             answer("boss", boss, "CONVER"))
        before_boss = sum(1 for name, at in answered.items() if name != "boss" and at < answered["boss"])
        assert before_boss <= 3, f"{before_boss} password changes were hashed before the login"
    finally:
        for client in (*spammers, boss):
            await client.close()


