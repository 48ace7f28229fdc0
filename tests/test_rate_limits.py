"""Every frame pays for its work (server/core/admission.py): USER and REF spam, from one connection or
many of one address, is refused and then cut off, the bytes it gets stay bounded and a bystander's
PING stays fast; normal use of the page and the desktop never meets the limit.

Every client reaches the server through loopback, a trusted proxy here, with a PROXY header naming
the address it plays, so per-address budgets are exercised as behind the gateway.
"""

from __future__ import annotations

import asyncio
import collections
import statistics
from dataclasses import dataclass, field

import aiohttp
from serverproc import GatewayProcess
from wire import TIMEOUT, Client, ws_login, ws_next

from parley.net.proxy import parse_networks
from parley.protocol import parse_frame, texts
from parley.protocol.framing import FrameDecoder, FrameReceived
from server.limits import BucketTable, Budget, TokenBucket

TRUST_LOOPBACK = parse_networks(["127.0.0.0/8"])


def han_name(i: int) -> str:
    """A 16-character nickname of one script, 48 bytes of UTF-8: a large user list for few users."""
    return "".join(chr(0x4E00 + i * 16 + k) for k in range(16))


async def proxied(port: int, address: str) -> Client:
    """A client that says, through the trusted loopback proxy, it comes from ``address``."""
    client = await Client.connect(port)
    family, local = ("TCP6", "::1") if ":" in address else ("TCP4", "127.0.0.1")
    await client.send_raw(f"PROXY {family} {address} {local} 40000 6666\r\n".encode())
    return client


async def join(port: int, address: str, nickname: str) -> Client:
    client = await proxied(port, address)
    await client.send(f"CON,nickname={nickname};password=;color=#123456,")
    conver = await client.next("CONVER")
    assert conver.content == "OK", conver
    return client


async def fill_room(port: int, count: int) -> list[Client]:
    """``count`` guests with long nicknames, each from its own address, who never read."""
    return list(await asyncio.gather(*(join(port, f"10.1.{i // 200}.{i % 200 + 1}", han_name(i))
                                       for i in range(count))))


@dataclass
class Tally:
    """What a spamming connection got back."""

    bytes: int = 0
    reasons: collections.Counter[str] = field(default_factory=collections.Counter)
    contents: collections.Counter[str] = field(default_factory=collections.Counter)
    closed: bool = False


async def spam(client: Client, frame: str, seconds: float, every: float) -> Tally:
    """Send ``frame`` every ``every`` seconds for ``seconds`` (or until closed), reading all that comes."""
    tally = Tally()
    decoder = FrameDecoder(max_frame=1 << 22, detect_legacy=False)

    async def read() -> None:
        while True:
            try:
                data = await client.reader.read(1 << 16)
            except ConnectionError:
                data = b""
            if not data:
                tally.closed = True
                return
            tally.bytes += len(data)
            for event in decoder.receive_data(data):
                if isinstance(event, FrameReceived):
                    tally.reasons[event.frame.reason] += 1
                    if event.frame.reason in ("ERR", "WARN", "CONVER"):
                        tally.contents[event.frame.content] += 1

    reader = asyncio.create_task(read())
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    line = (frame + "\n").encode()
    try:
        while loop.time() < end and not tally.closed:
            try:
                client.writer.write(line)
                await client.writer.drain()
            except ConnectionError:
                break
            await asyncio.sleep(every)
        await asyncio.wait_for(asyncio.shield(reader), 1.0)  # the rest of the answers, or the close
    except TimeoutError:
        pass
    finally:
        reader.cancel()
    return tally


async def round_trips(client: Client, count: int, gap: float) -> list[float]:
    """Seconds each of ``count`` PINGs took to come back as PONG."""
    loop = asyncio.get_running_loop()
    times = []
    for i in range(count):
        start = loop.time()
        await client.send(f"PING,,{i}")
        while (await client.next("PONG")).content != str(i):
            pass
        times.append(loop.time() - start)
        await asyncio.sleep(gap)
    return times


def assert_still_fast(quiet: list[float], busy: list[float]) -> None:
    """A generous bound: the median round trip at most 5x the quiet one, plus 20 ms of scheduling noise."""
    assert statistics.median(busy) <= 5 * statistics.median(quiet) + 0.02, (quiet, busy)


def assert_cut_off_for_flooding(tally: Tally) -> None:
    assert tally.contents[texts.TOO_FAST] >= 1, tally
    assert tally.contents[texts.FLOOD_DISCONNECT] == 1, tally
    assert tally.closed


async def test_user_spam_from_one_connection_is_refused_then_cut_off_and_a_bystander_stays_fast(
        make_server) -> None:
    # Regression: USER was never limited; each answer is the whole list (209 KB with 3,000 online).
    server = await make_server(trusted_proxies=TRUST_LOOPBACK)
    room = await fill_room(server.port, 120)
    calm = await join(server.port, "198.51.100.1", "calm")
    spammer = await join(server.port, "203.0.113.9", "spammer")
    try:
        quiet = await round_trips(calm, 20, 0.01)
        spamming = asyncio.create_task(spam(spammer, "USER,,", 3.0, 0.001))
        busy = await round_trips(calm, 40, 0.02)
        tally = await spamming
        # About 6.4 KB a list: the 1 MiB burst, 64 KiB a second after it, then the cut.
        assert tally.bytes < 2 * 1024 * 1024, tally
        assert_cut_off_for_flooding(tally)
        assert_still_fast(quiet, busy)
        await calm.send("USER,,")
        assert len((await calm.next("USER")).params) > 120  # the bystander is still served
    finally:
        for client in (*room, calm, spammer):
            await client.close()


async def test_user_spam_from_many_connections_of_one_ipv6_64_shares_one_budget(make_server) -> None:
    server = await make_server(trusted_proxies=TRUST_LOOPBACK)
    room = await fill_room(server.port, 120)
    calm = await join(server.port, "2001:db8:5:7::1", "calm")  # the next /64: another address
    spammers = [await join(server.port, f"2001:db8:5:6::{i + 1:x}", f"spam{i}") for i in range(16)]
    try:
        quiet = await round_trips(calm, 20, 0.01)
        spamming = asyncio.gather(*(spam(s, "USER,,", 3.0, 0.004) for s in spammers))
        busy = await round_trips(calm, 40, 0.02)
        tallies = await spamming
        # The /64's 4 MiB burst and 256 KiB a second, whatever the number of its connections.
        assert sum(t.bytes for t in tallies) < 6 * 1024 * 1024, [t.bytes for t in tallies]
        for tally in tallies:
            assert_cut_off_for_flooding(tally)
        assert_still_fast(quiet, busy)
        await calm.send("USER,,")
        assert len((await calm.next("USER")).params) > 120
    finally:
        for client in (*room, calm, *spammers):
            await client.close()


async def test_ref_spam_is_refused_then_cut_off_and_others_still_get_their_history(make_server) -> None:
    # Regression: each REF replays the whole history (here 100 messages of 3,000 characters).
    server = await make_server(trusted_proxies=TRUST_LOOPBACK, chat_rate=0)
    writer = await join(server.port, "198.51.100.2", "writer")
    for i in range(100):
        await writer.send(f"CHAT,rec=-ALL,{i:03d}" + "x" * 2997)
    for _ in range(100):
        await writer.next("CHATR")
    spammer = await join(server.port, "203.0.113.10", "spammer")
    try:
        tally = await spam(spammer, "REF,,", 2.0, 0.01)
        # A REF sends about 310 KB: four fit in the 1 MiB burst, then the cut.
        assert tally.bytes < 2 * 1024 * 1024, tally
        assert tally.reasons["CHATR"] <= 500, tally
        assert_cut_off_for_flooding(tally)
        await writer.send("REF,,")
        await writer.next("CONFIRM")
        assert [(await writer.next("CHATR")).content[:3] for _ in range(100)] == [f"{i:03d}" for i in range(100)]
    finally:
        await writer.close(), await spammer.close()


async def test_normal_use_never_meets_the_limits(make_server) -> None:
    """A page reconnecting (CON, REF on every join), the desktop's refresh, a rename, pings; 30 people
    behind one NAT address joining at once: none is refused."""
    server = await make_server(trusted_proxies=TRUST_LOOPBACK)
    room = await fill_room(server.port, 60)
    server.config.chat_rate = 0  # the history is written quickly; the frames below meet the defaults
    writer = await join(server.port, "198.51.100.3", "writer")
    for i in range(100):
        await writer.send(f"CHAT,rec=-ALL,message {i} " + "y" * 280)
        await writer.next("CHATR")
    got: list[str] = []
    try:
        for attempt in range(8):  # the page reconnecting: each join replays the history
            page = await join(server.port, "192.0.2.50", "pageuser")
            for frame in ("REF,,", "USER,,", "PING,,keepalive", f"UPDATE,color=#00000{attempt},", "REF,,",
                          "DISCON,,"):
                await page.send(frame)
            assert await page.closed_by_server()
            got += [f.content for f in page.frames if f.reason in ("ERR", "CONVER", "WARN")]
            assert sum(f.reason == "CHATR" for f in page.frames) == 200
            await page.close()
        office = await asyncio.gather(*(join(server.port, "192.0.2.80", f"office{i}") for i in range(30)))
        for person in office:
            await person.send("REF,,")
            await person.send("PING,,done")
        for person in office:
            await person.next("PONG")
            got += [f.content for f in person.frames if f.reason in ("ERR", "CONVER", "WARN")]
            await person.close()
        assert texts.TOO_FAST not in got and texts.FLOODING not in got, got
    finally:
        for client in (*room, writer):
            await client.close()


async def test_malformed_frames_before_login_are_cheap_but_not_free(make_server) -> None:
    server = await make_server(trusted_proxies=TRUST_LOOPBACK, request_rate=1024, request_burst=2048)
    junk = await proxied(server.port, "203.0.113.11")
    calm = await join(server.port, "198.51.100.4", "calm")
    try:
        await junk.send_raw(b"garbage\n" * 40)
        assert await junk.closed_by_server()
        answers = [f.content for f in junk.frames]
        assert all(f.reason == "CONVER" for f in junk.frames[:-1])
        assert answers.count(texts.TOO_FAST) >= 1
        assert answers[-1] == texts.FLOOD_DISCONNECT and junk.frames[-1].reason == "WARN"
        assert len(answers) < 40  # not every one was answered
        await calm.send("PING,,still here")
        assert (await calm.next("PONG")).content == "still here"
    finally:
        await junk.close(), await calm.close()


def test_a_budget_admits_while_both_buckets_hold_the_cost_and_costly_work_leaves_a_bounded_debt() -> None:
    own, shared = TokenBucket(rate=100, burst=1000), TokenBucket(rate=1000, burst=500)
    budget = Budget(own, shared)
    assert budget.admit(0.0, 400)
    assert not budget.admit(0.0, 200)  # the shared bucket holds 100
    budget.spend(0.0, 10_000)  # a long history, paid once sent
    assert own.tokens == -1000 and shared.tokens == -500  # at most one burst of debt
    assert not budget.admit(1.0, 1)  # own: -900
    assert budget.admit(20.0, 1)


def test_address_buckets_are_shared_per_key_and_bounded_in_number() -> None:
    table = BucketTable(rate=1, burst=10, max_keys=2)
    first = table.get("a")
    assert table.get("a") is first
    table.get("b"), table.get("c")
    assert table.get("a") is not first  # forgotten (least recently used), back full


async def test_a_browser_spamming_user_through_the_gateway_is_refused_then_cut_off(make_server, tmp_path) -> None:
    server = await make_server(trusted_proxies=TRUST_LOOPBACK, request_rate=1024, request_burst=16 * 1024)
    gateway = GatewayProcess(tmp_path, server.port).start()
    try:
        async with aiohttp.ClientSession() as http:
            spammer = await ws_login(http, gateway.url + "ws", "spammer")
            await ws_next(spammer, "USER")  # the join's list: from here on each frame answers one USER
            got = []
            for _ in range(300):  # one at a time, so the server is never closing on unread frames
                await spammer.send_str("USER,,")
                message = await spammer.receive(TIMEOUT)
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                got.append(parse_frame(message.data))
                if got[-1].reason == "WARN":
                    message = await spammer.receive(TIMEOUT)
                    break
            contents = [f.content for f in got]
            assert texts.TOO_FAST in contents, contents
            assert got[-1].reason == "WARN" and got[-1].content == texts.FLOOD_DISCONNECT
            assert sum(f.reason == "USER" for f in got) < 300
            assert message.type is aiohttp.WSMsgType.CLOSE and message.data == 1000, message
    finally:
        gateway.stop()
