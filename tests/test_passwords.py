"""Passwords: guessing throttled without locking the owner out, strong hashes, fair hashing, probes counted.

The guessers come from many addresses the way a trusted proxy (the gateway,
nginx) reports them: a PROXY line from loopback, trusted in these tests.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import statistics
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from conftest import add_account
from wire import TIMEOUT, Client, ws_next

from gateway.app import start_gateway
from gateway.config import GatewayConfig
from parley.net.proxy import parse_networks
from parley.protocol import texts
from server.hashing import CHANGE, LOGIN, HashingPool
from server.limits import LoginGuard
from server.passwords import check_password, hash_password, verify_password
from server.store import Store, database_path

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


# Item 3: guessing ------------------------------------------------------------------


async def test_guessing_from_200_rotating_addresses_never_refuses_the_owner_from_a_clean_one(make_server,
                                                                                             data_dir) -> None:
    # Used to go wrong: 10 wrong passwords a minute from anywhere locked the account for everyone.
    add_account(data_dir, "Owner", "right-pw")
    server = await make_server(trusted_proxies=TRUST_LOOPBACK, hash_threads=2)
    guessers = [f"198.51.{100 + i // 250}.{1 + i % 250}" for i in range(200)]
    answers = await in_batches([lambda a=a, i=i: con(server.port, a, "owner", f"guess{i}")  # type: ignore[misc]
                                for i, a in enumerate(guessers)])
    assert await con(server.port, "203.0.113.9", "owner", "right-pw") == "OK"
    assert set(answers) == {texts.REGISTERED_USER}  # each guess was answered as the original did
    # The guessers stay throttled on it, even with the right password, and cost no hash.
    for address in guessers[:20:5]:
        answer = await con(server.port, address, "owner", "right-pw")
        assert answer.startswith("Error: Too many failed logins. Try again in "), answer


@pytest.mark.parametrize("upstream", ["tcp", "pipe"])
async def test_guessing_through_the_page_with_rotating_forwarded_for_never_refuses_the_owner(
        make_server, data_dir, tmp_path, upstream) -> None:
    # Used to go wrong: rotating X-Forwarded-For through the page's WebSocket locked the owner out.
    add_account(data_dir, "Owner", "right-pw")
    server = await make_server(trusted_proxies=TRUST_LOOPBACK)
    (tmp_path / "web").mkdir()
    config = GatewayConfig(upstream_port=server.port, http_host="127.0.0.1", http_port=0, web_root=tmp_path / "web",
                           trusted_proxies=TRUST_LOOPBACK)
    runner, port = await start_gateway(config, connect_local=server.connect_local if upstream == "pipe" else None)
    url = f"http://127.0.0.1:{port}/ws"

    async def login(address: str, password: str) -> str:
        async with http.ws_connect(url, headers={"X-Forwarded-For": address}) as ws:
            await ws.send_str(f"CON,nickname=owner;password={password};color=#FFF,")
            content = (await ws_next(ws, "CONVER")).content
            if content == "OK":
                await ws.send_str("DISCON,,")
                await ws_next(ws, "CONFIRM")
            return content

    try:
        async with aiohttp.ClientSession() as http:
            guessers = [f"198.51.100.{i}" for i in range(1, 41)]
            answers = await in_batches([lambda a=a: login(a, "guess") for a in guessers])  # type: ignore[misc]
            assert await login("203.0.113.77", "right-pw") == "OK"
            assert set(answers) == {texts.REGISTERED_USER}
            assert (await login(guessers[0], "right-pw")).startswith("Error: Too many failed logins. Try again in ")
    finally:
        await runner.cleanup()


async def test_an_address_guessing_on_many_accounts_is_refused_on_every_name(make_server, data_dir) -> None:
    for name in ("Aaa", "Bbb", "Ccc"):
        add_account(data_dir, name, "right-pw")
    server = await make_server(trusted_proxies=TRUST_LOOPBACK, login_failures_per_address=2)
    for name in ("aaa", "bbb"):
        assert await con(server.port, "198.51.100.7", name, "nope") == texts.REGISTERED_USER
    for name, password in (("ccc", "right-pw"), ("a-guest-name", "")):
        assert (await con(server.port, "198.51.100.7", name, password)).startswith("Error: Too many failed logins.")
    assert await con(server.port, "198.51.100.8", "ccc", "right-pw") == "OK"


async def test_an_ipv6_64_guesses_as_one_address(make_server, data_dir) -> None:
    # Used to go wrong: each address of one /64 had a limit of its own.
    add_account(data_dir, "Owner", "right-pw")
    server = await make_server(trusted_proxies=TRUST_LOOPBACK, login_failures_per_address=3,
                               login_failures_per_nickname=100, login_failures_per_account=100)
    for i in range(1, 4):
        assert await con(server.port, f"2001:db8:1:2::{i}", "owner", "nope") == texts.REGISTERED_USER
    answer = await con(server.port, "2001:db8:1:2:ffff::99", "owner", "right-pw")
    assert answer.startswith("Error: Too many failed logins. Try again in "), answer
    assert await con(server.port, "2001:db8:1:3::1", "owner", "right-pw") == "OK"


def test_the_login_guard_keeps_bounded_memory_and_unlocks_after_the_window() -> None:
    guard = LoginGuard(per_address=20, per_pair=10, per_account=10, max_keys=1000)

    def address(i: int) -> str:
        return f"10.0.{i // 256}.{i % 256}"

    for i in range(5000):
        guard.failed(address(i), f"account{i % 7}", now=i / 1000)
    sizes = [len(window._failures) for window in (guard._addresses, guard._pairs, guard._accounts)]
    assert max(sizes) <= 1000
    assert guard.wait(address(4900), "account0", now=5.0) > 0  # account0 is under attack, and this one failed on it
    assert guard.wait(address(4901), "account0", now=5.0) > 0  # it failed elsewhere: guessing too
    assert guard.wait("192.0.2.1", "account0", now=5.0) == 0  # a clean address
    assert guard.wait(address(4900), "account0", now=65.0) == 0  # a minute after its failure


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
    server = await make_server(trusted_proxies=TRUST_LOOPBACK)
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
        # One running, and what finished while the login's account was looked up; main: 29 of 30.
        assert before_boss <= 8, f"{before_boss} password changes were hashed before the login"
        assert len(answered) - 1 - before_boss >= 15  # the queue was long when the login came
    finally:
        for client in (*spammers, boss):
            await client.close()


async def test_the_hashing_pool_runs_logins_first_and_drops_jobs_whose_connection_left() -> None:
    pool = HashingPool(1)
    try:
        release = threading.Event()
        ran: list[str] = []
        blocker = pool.submit(CHANGE, release.wait, TIMEOUT)
        change = pool.submit(CHANGE, ran.append, "change")
        dropped = pool.submit(CHANGE, ran.append, "dropped")
        login = pool.submit(LOGIN, ran.append, "login")
        dropped.cancel()  # its connection closed while it waited
        release.set()
        await asyncio.wait_for(asyncio.gather(blocker, change, login), TIMEOUT)
        assert ran == ["login", "change"]
    finally:
        pool.shutdown()


async def test_password_changes_hashing_at_once_are_capped_per_address(make_server) -> None:
    server = await make_server(trusted_proxies=TRUST_LOOPBACK, hash_threads=1, max_hashing_per_address=2,
                               accounts_per_address=0)
    crowd = [await from_address(server.port, "198.51.100.20") for _ in range(6)]
    other = await from_address(server.port, "198.51.100.21")
    try:
        for i, client in enumerate((*crowd, other)):
            await client.login(f"user{i}")
            await client.drain(0.01)
        for client in (*crowd, other):
            client.writer.write(b"UPDATE,password=a-new-password,\n")
        answers = [(await client.next("CONFIRM")).content for client in crowd]
        assert answers.count(BUSY) >= 1, answers
        assert answers.count("OK") >= 2 and set(answers) == {"OK", BUSY}, answers
        assert (await other.next("CONFIRM")).content == "OK"
        # Refused ones may try again once the others are done.
        refused = crowd[answers.index(BUSY)]
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            await refused.send("UPDATE,password=a-new-password,")
            if (await refused.next("CONFIRM")).content == "OK":
                break
        else:
            raise AssertionError("a refused password change stayed refused")
    finally:
        for client in (*crowd, other):
            await client.close()


async def test_accounts_created_by_one_address_are_limited(make_server, data_dir) -> None:
    # Used to go wrong: one address registered 300 accounts in 12 s.
    add_account(data_dir, "Member", "member-pw")
    server = await make_server(trusted_proxies=TRUST_LOOPBACK, accounts_per_address=2)
    answers = []
    for i in range(3):
        guest = await from_address(server.port, "198.51.100.30")
        try:
            await guest.login(f"newbie{i}")
            await guest.send("UPDATE,password=my-password,")
            answers.append((await guest.next("CONFIRM")).content)
        finally:
            await guest.close()
    assert answers == ["OK", "OK", "Error: Too many accounts created from your address. Try again in 60 minutes. "]
    assert await con(server.port, "198.51.100.30", "newbie2", "my-password") == "OK"  # still a guest name
    for address, name in (("198.51.100.31", "elsewhere"), ("198.51.100.30", "member")):
        client = await from_address(server.port, address)
        try:
            await client.login(name, "member-pw" if name == "member" else "")
            await client.send("UPDATE,password=another-password,")  # a change, or another address's creation
            assert (await client.next("CONFIRM")).content == "OK"
        finally:
            await client.close()


# Item 12: registered-name probes --------------------------------------------------------


async def test_probing_registered_names_by_renaming_counts_as_guessing(make_server, data_dir) -> None:
    # Used to go wrong: UPDATE,nickname=X told whether X is registered, with no failure counted.
    add_account(data_dir, "Owner", "right-pw")
    server = await make_server(trusted_proxies=TRUST_LOOPBACK, login_failures_per_address=3)
    prober = await from_address(server.port, "198.51.100.40")
    try:
        await prober.login("prober")
        for _ in range(3):
            await prober.send("UPDATE,nickname=owner,")
            assert (await prober.next("CONFIRM")).content == "Error: User is a registered user. "
        answers = []
        for name in ("owner", "unregistered"):
            await prober.send(f"UPDATE,nickname={name},")
            answers.append((await prober.next("CONFIRM")).content)
        assert answers[0] == answers[1] and answers[0].startswith("Error: Too many failed logins from your address.")
        assert (await con(server.port, "198.51.100.40", "owner", "right-pw")).startswith("Error: Too many failed")
        assert await con(server.port, "198.51.100.41", "owner", "right-pw") == "OK"
    finally:
        await prober.close()


async def median_answer_time(client: Client, frames: list[str], reason: str,
                             undo: Callable[[int], str] | None = None) -> tuple[float, set[str]]:
    """The median time from sending each frame to its answer, and the answers' contents."""
    times, contents = [], set()
    for i, frame in enumerate(frames):
        start = time.perf_counter()
        await client.send(frame)
        contents.add((await client.next(reason)).content)
        times.append(time.perf_counter() - start)
        if undo is not None:
            await client.send(undo(i))
            await client.next(reason)
    return statistics.median(times), contents


async def test_a_locked_address_gets_one_answer_in_one_time_for_registered_and_free_names(make_server,
                                                                                         data_dir) -> None:
    # Used to go wrong: once locked, a registered name got the lockout (no hash) and a free one OK.
    add_account(data_dir, "Owner", "right-pw")
    server = await make_server(trusted_proxies=TRUST_LOOPBACK, login_failures_per_address=1)
    assert await con(server.port, "198.51.100.50", "owner", "wrong") == texts.REGISTERED_USER
    for name in ("owner", "free"):
        assert (await con(server.port, "198.51.100.50", name, "guess")).startswith("Error: Too many failed logins.")
    prober = await from_address(server.port, "198.51.100.50")
    try:
        for reason, frame in (("CONVER", "CON,nickname={};password=guess;color=#FFF,"),):
            registered, said_r = await median_answer_time(prober, [frame.format("owner")] * 30, reason)
            free, said_f = await median_answer_time(prober, [frame.format(f"free{i}") for i in range(30)], reason)
            assert {s[:40] for s in said_r} == {s[:40] for s in said_f} == {texts.LOCKED_OUT[:40]}
            assert 1 / 4 < registered / free < 4, (registered, free)
    finally:
        await prober.close()


async def test_refusing_a_registered_name_takes_the_time_a_free_rename_takes(make_server, data_dir) -> None:
    add_account(data_dir, "Owner", "right-pw")
    server = await make_server(login_failures_per_address=0, login_failures_per_nickname=0,
                               login_failures_per_account=0)
    renamer = await Client.connect(server.port)
    try:
        await renamer.login("renamer")
        registered, said_r = await median_answer_time(renamer, ["UPDATE,nickname=owner,"] * 30, "CONFIRM")
        free, said_f = await median_answer_time(renamer, [f"UPDATE,nickname=free{i}," for i in range(30)],
                                                "CONFIRM", undo=lambda i: "UPDATE,nickname=renamer,")
        assert (said_r, said_f) == ({"Error: User is a registered user. "}, {"OK"})
        assert 1 / 4 < registered / free < 4, (registered, free)
    finally:
        await renamer.close()
