"""Scenario 11 (issue 16): Parley nodes on PostgreSQL and Redis.

One run measures, on one PostgreSQL server and one Redis server per cluster
(tests/services.py, on loopback, PostgreSQL with fsync on):

1. one node on Redis + PostgreSQL against the embedded default (SQLite, no
   Redis), both ``parley server`` with the same room of N clients: max
   fan-out and latency at 50 broadcasts/s, with the fan-out scenario's
   machinery (``fanout.measure``), rounds alternating between the two;
2. clusters of 1, 2 and 3 nodes (each its own database and its own Redis),
   N clients spread evenly over the nodes: broadcasts at 50/s sent by clients
   of node 0, latency sampled only on clients of the other nodes (on the
   one-node cluster: on the other half of its clients), every client of
   every node must receive every message; and Redis PUBLISH commands
   (``INFO commandstats``) per chat message sent;
3. messages stored a second in PostgreSQL by ``senders`` concurrent senders,
   each with one message in flight, through the server's own path:
   ``server/database.py``'s group commit calling ``PgStore.append_sequenced``
   (all to the lobby, one conversation: the seq row every message takes is
   the same one); the stored rows are counted afterwards.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import importlib
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

import psycopg
import redis

from .common import (
    Bench,
    Result,
    Row,
    Series,
    alternate,
    human,
    ms,
    ratios,
    shared_flags,
    times,
    verdict,
    with_range,
)
from .fanout import fanout_rows, measure, open_rooms, plan_from
from .pool import BenchError, Endpoint, Room, split
from .procs import REPO, parley_server
from .stats import latency_summary, median

SCENARIO = "11 cluster"


def _services() -> Any:
    """Return tests/services.py (RedisServer, PostgresServer), which the tests share with the bench."""
    tests = str(REPO / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    return importlib.import_module("services")


def publishes(url: str) -> int:
    """Return how many PUBLISH commands the Redis at ``url`` has run since it started."""
    client = redis.Redis.from_url(url)
    try:
        stats: dict[str, Any] = client.info("commandstats")
    finally:
        client.close()
    return int(stats.get("cmdstat_publish", {}).get("calls", 0))


class Cluster:
    """``nodes`` ``parley server`` processes on one PostgreSQL database and one Redis of their own."""

    def __init__(self, bench: Bench, name: str, nodes: int, database: str, redis_server: Any,
                 node_timeout: float) -> None:
        self.name = name
        self.redis = redis_server
        self.children = []
        for i in range(nodes):
            node = f"{name}-node{i}"
            extra = ["--database", database, "--redis", redis_server.url, "--node-name", node,
                     "--node-timeout", f"{node_timeout:g}",
                     "--files-dir", str(bench.dir / f"{name}-files")]
            self.children.append(bench.start(parley_server(bench.dir, node, bench.dir / f"{node}-data",
                                                           installed=bench.installed,
                                                           extra=[*bench.server_args, *extra],
                                                           source=bench.parley_source)))

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint("tcp", child.port) for child in self.children]


def layout(endpoints: Sequence[Endpoint], clients: int) -> tuple[list[tuple[Endpoint, int]], list[tuple[Endpoint, int]]]:
    """Return the senders' side (node 0's clients) and the receivers' side (every other node's clients) of
    ``clients`` spread evenly over the nodes; with one node, its clients are halved between the two sides."""
    if len(endpoints) == 1:
        first, rest = split(clients, 2)
        return [(endpoints[0], first)], [(endpoints[0], rest)]
    shares = split(clients, len(endpoints))
    return [(endpoints[0], shares[0])], [(endpoint, share) for endpoint, share in zip(endpoints[1:], shares[1:])]


def across(sending: Room, receiving: Room, rate: float, duration: float, size: int, senders: int, sample: int,
           timeout: float) -> dict[str, Any]:
    """Broadcasts at ``rate`` for ``duration`` s from ``senders`` clients of ``sending`` (on worker 0), latency
    sampled on ``sample`` clients of ``receiving``; every client of both must receive every message. Return
    {"sent", "complete", "lost", "latency"}."""
    pool = sending.pool
    zeros = [0] * pool.size
    sending.reset([senders, *zeros[1:]], zeros)
    receiving.reset(zeros, split(sample, pool.size))
    count = max(1, int(rate * duration))
    run = pool.each("chat_paced", timeout, workers=[0], group=sending.name, rate=rate, count=count, size=size)[0]
    sent = run["sent"]
    results = {room.name: pool.each("expect", timeout, group=room.name, count=sent) for room in (sending, receiving)}
    complete = all(r["complete"] for rs in results.values() for r in rs) and \
        sum(r["receivers"] for rs in results.values() for r in rs) == sending.size + receiving.size
    lost = 0 if complete else sum(max(0, sent - r["min"]) + r["closed"] for rs in results.values() for r in rs)
    samples: list[int] = []
    for result in results[receiving.name]:  # a worker's latencies are its sampled clients': the receivers'
        values = array.array("q")
        values.frombytes(result["latencies"])
        samples.extend(values)
    return {"sent": sent, "complete": complete, "lost": lost, "latency": latency_summary(samples),
            "achieved_per_s": sent / max(1e-9, (run["t_stop"] - run["t_start"]) / 1e9)}


async def _store_rate(url: str, senders: int, seconds: float, limit: int) -> dict[str, Any]:
    """``senders`` tasks, each storing one lobby message at a time through ``Database.submit_message`` (group
    commit on the database thread, ``PgStore.append_sequenced``) for ``seconds`` (at most ``limit`` in all);
    return {"stored", "seconds", "per_s", "commits", "rows", "failed"}."""
    from server.database import Database
    from server.pgstore import PgStore
    from server.records import NewMessage

    loop = asyncio.get_running_loop()
    store = await loop.run_in_executor(None, PgStore, url)
    database = Database(store)
    stored = failed = 0
    stop = time.monotonic() + seconds
    text = "bench " + "x" * 60

    async def sender(number: int) -> None:
        nonlocal stored, failed
        ident = f"g:bench{number}"
        while time.monotonic() < stop and stored + failed < limit:
            done: asyncio.Future[bool] = loop.create_future()

            def on_stored(message_id: int | None, seq: int, error: BaseException | None,
                          done: asyncio.Future[bool] = done) -> None:
                done.set_result(error is None and message_id is not None)

            ms_now = int(time.time() * 1000)
            database.submit_message(NewMessage(ts_ms=ms_now, time_text="00:00", sender=f"bench{number}",
                                               color="#336699", rec="-ALL", content=f"{text} {number}",
                                               sender_ident=ident, rec_ident=None), on_stored)
            if await done:
                stored += 1
            else:
                failed += 1

    started = time.monotonic()
    try:
        await asyncio.gather(*(sender(i) for i in range(senders)))
        elapsed = time.monotonic() - started
        commits = database.commits
    finally:
        await database.close()
    with psycopg.connect(url) as db:
        row = db.execute("SELECT count(*) FROM messages").fetchone()
        rows = int(row[0]) if row else 0
    return {"stored": stored, "failed": failed, "seconds": elapsed, "per_s": stored / max(1e-9, elapsed),
            "commits": commits, "rows": rows, "senders": senders}


def run_cluster(args: argparse.Namespace) -> Result:
    """Scenario 11: one clustered node against the embedded default; 1, 2, 3 nodes; PostgreSQL's store rate."""
    clients = args.clients[0] if args.clients else (300 if args.quick else 1000)
    counts = sorted({1, *args.nodes})
    plan = plan_from(args)
    rate = plan.rates[0]
    services = _services()
    # Stopped from outside, unwind: PostgreSQL and Redis are not our children and would outlive us.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    series = Series()
    rows: list[Row] = []
    summary: list[str] = []
    figures: dict[str, Any] = {"clients": clients, "nodes": counts}
    with Bench.from_args(args) as bench, services.PostgresServer() as postgres:
        redises = {k: services.RedisServer() for k in counts}
        try:
            for server in redises.values():
                server.start()
            clusters = {k: Cluster(bench, f"c{k}", k, postgres.create_database(f"bench_c{k}"), redises[k],
                                   args.node_timeout)
                        for k in counts}
            bench.log(f"clusters of {', '.join(map(str, counts))} nodes started")

            # 1. One clustered node against the embedded default.
            embedded = bench.parley("embedded")
            one = clusters[1]
            rooms = open_rooms(bench, {"embedded": [(embedded.endpoints["tcp"], clients)],
                                       "cluster-1": [(one.endpoints()[0], clients)]})
            first = publishes(one.redis.url)
            part1 = Series()
            measure(bench, rooms, plan, args.rounds, part1, clients)
            sent1 = sum(run.get("sent", 0) for run in part1.raw if run["system"] == "cluster-1")
            per_message1 = (publishes(one.redis.url) - first) / max(1, sent1)
            for room in rooms.values():
                room.close()
            bench.stop(embedded)
            rows += fanout_rows(SCENARIO, part1, "cluster-1", "embedded", clients, [rate],
                                label="1 node on Redis + PostgreSQL vs embedded (SQLite): ",
                                targets={"max": (">= 0.80x", lambda v: v >= 0.8),
                                         f"p99@{rate:g}": ("<= 1.5x", lambda v: v <= 1.5)})
            rows.append(Row(SCENARIO, f"Redis publishes per chat message, 1 node, max fan-out and {rate:g}/s runs",
                            f"{per_message1:.2f}", "", "", "~1, never ~N", verdict(per_message1, lambda v: v < 1.5)))
            series.merge(part1, "")
            max_r = ratios(part1.get("cluster-1", "max"), part1.get("embedded", "max"))
            p99_r = ratios(part1.get("cluster-1", f"p99@{rate:g}"), part1.get("embedded", f"p99@{rate:g}"))
            summary.append(f"1 node vs embedded: max {human(median(part1.get('cluster-1', 'max')))} "
                           f"({times(median(max_r))} embedded) p99@{rate:g}/s "
                           f"{ms(median(part1.get('cluster-1', f'p99@{rate:g}')))} ({times(median(p99_r))})")
            figures["publishes_per_message_part1"] = per_message1

            # 2. 1, 2, 3 nodes: from node 0's clients to the other nodes' clients.
            sides: dict[int, tuple[Room, Room]] = {}
            for k in counts:
                send_parts, receive_parts = layout(clusters[k].endpoints(), clients)
                opened = open_rooms(bench, {f"n{k}-send": send_parts, f"n{k}-receive": receive_parts})
                sides[k] = (opened[f"n{k}-send"], opened[f"n{k}-receive"])
            names = [f"{k} node{'s' if k > 1 else ''}" for k in counts]
            for number in range(args.rounds):
                for name in alternate(names, number):
                    k = int(name.split()[0])
                    sending, receiving = sides[k]
                    sending.quiet(0.2)
                    before = publishes(clusters[k].redis.url)
                    result = across(sending, receiving, rate, plan.latency_seconds, plan.size, plan.paced_senders,
                                    plan.sample, plan.timeout)
                    per_message = (publishes(clusters[k].redis.url) - before) / max(1, result["sent"])
                    latency = result["latency"]
                    tag = f"@{rate:g}"
                    for key in ("p50", "p99", "max"):
                        series.add(name, f"{key}{tag}", latency[f"{key}_ms"])
                    series.add(name, "publishes", per_message)
                    series.add(name, f"lost{tag}", float(result["lost"]), {"round": number, "clients": clients,
                                                                         "nodes": k, **result})
                    bench.log(f"round {number + 1}/{args.rounds} {name} N={clients}: {rate:g}/s across nodes "
                              f"p50 {ms(latency['p50_ms'])} p99 {ms(latency['p99_ms'])} max {ms(latency['max_ms'])}, "
                              f"{per_message:.2f} publishes a message"
                              f"{'' if result['complete'] else ' LOST ' + str(result['lost'])}")
            for sending, receiving in sides.values():
                sending.close()
                receiving.close()
            tag = f"@{rate:g}"
            base = names[0]
            for name in names[1:]:
                rows += fanout_rows(SCENARIO, series, name, base, clients, [rate],
                                    label=f"{name} vs 1 node, sent on node 0, timed on the others: ")
            across_text = []
            for name in names:
                values = series.get(name, "publishes")
                rows.append(Row(SCENARIO, f"Redis publishes per chat message, {name}, N={clients:,}",
                                with_range(values, lambda v: f"{v:.2f}"), "", "", "~1, never ~N",
                                verdict(median(values), lambda v: v < 1.5)))
                lost = int(sum(series.get(name, f"lost{tag}")))
                p99 = median(series.get(name, f"p99{tag}"))
                against = "" if name == base else \
                    f" ({times(median(ratios(series.get(name, f'p99{tag}'), series.get(base, f'p99{tag}'))))})"
                across_text.append(f"{name} {ms(p99)}{against}" + (f" LOST {lost}" if lost else ""))
            per_message = max(median(series.get(name, "publishes")) for name in names)
            summary.append(f"across nodes p99@{rate:g}/s {', '.join(across_text)}; {per_message:.2f} publishes/msg")
            for cluster in clusters.values():
                for child in cluster.children:
                    child.stop()
                    if child in bench.children:
                        bench.children.remove(child)
        finally:
            for server in redises.values():
                server.close()

        # 3. Messages stored a second in PostgreSQL.
        url = postgres.create_database("bench_store")
        bench.log(f"storing with {args.store_senders} senders for {args.store_seconds:g} s")
        stores = []
        for number in range(args.rounds):
            done = asyncio.run(_store_rate(url, args.store_senders, args.store_seconds, args.store_limit))
            stores.append(done)
            series.add("postgresql", "stored/s", done["per_s"], {"round": number, **done})
            bench.log(f"round {number + 1}/{args.rounds}: {done['stored']:,} stored in {done['seconds']:.1f} s "
                      f"({human(done['per_s'])}, {done['commits']} commits), {done['failed']} failed")
        expected = sum(done["stored"] for done in stores)
        rows_found = stores[-1]["rows"]
        if rows_found != expected or any(done["failed"] for done in stores):
            raise BenchError(f"PostgreSQL holds {rows_found} messages, {expected} were stored")
        values = series.get("postgresql", "stored/s")
        rows.append(Row(SCENARIO, f"messages stored a second in PostgreSQL, {args.store_senders} senders (group "
                                  f"commit, PgStore.append_sequenced, fsync on)",
                        with_range(values, human), "", "", ">= 10k/s", verdict(median(values), lambda v: v >= 10_000)))
        summary.append(f"PostgreSQL stores {human(median(values))} with {args.store_senders} senders")
    command = (f"python -m bench cluster --clients {clients} --nodes {','.join(map(str, args.nodes))} "
               f"--rounds {args.rounds} --seconds {args.seconds:g} --latency-seconds {args.latency_seconds:g} "
               f"--store-senders {args.store_senders} --store-seconds {args.store_seconds:g} "
               f"--node-timeout {args.node_timeout:g}")
    command += shared_flags(args)
    return Result("cluster", command, "cluster: " + "; ".join(summary), rows,
                  series.figures(plan=vars(plan), **figures))
