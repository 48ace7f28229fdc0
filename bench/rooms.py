"""Scenario 8, rooms (issue 13): rooms' messages beside a busy lobby, and what they cost the lobby.

N clients are logged in to one ``parley server`` (default 1,000); ``--rooms``
rooms of ``--room-members`` members (default 100 of 50) are made among them:
the clients in rooms log in with ``CON ... rooms=1``, room ``r`` has the
clients numbered ``(r * members + j) % K`` for j < members (K: the clients in
rooms, at most N), so at the default size each client is in 5 rooms. The
first member CREATEs the room, the others JOIN it, and the first member sends
the room's messages.

Each round measures, systems in alternating order:

- the lobby's max fan-out and its latency at 50 broadcasts/s, exactly as
  ``bench fanout`` does (``fanout.py``), on four systems: the rooms' server
  with no room traffic ("lobby"), the same with every room sending
  ``--room-rate`` messages a second meanwhile ("lobby+rooms"), a plain
  ``parley server`` whose N clients know nothing of rooms ("fanout": the
  Parley of ``bench fanout``), and the yardstick;
- the rooms alone: every room at ``--room-rate`` messages a second for
  ``--latency-seconds`` ("rooms"), and the rooms' figures while the lobby runs
  its max fan-out ("rooms+lobby-max") and its 50/s ("rooms+lobby@50").

A room's figures: its deliveries a second (messages times members, from its
first send to the last arrival at its sampled members), and p50/p99 of send
to receive at ``--room-sample`` members of each room. Every member must get
every message of its rooms (counted by the ``~`` that starts them), or the
run is LOST.
"""

from __future__ import annotations

import argparse
import array
import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psutil

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
    with_range,
)
from .fanout import Plan, fanout_rows, plan_from
from .pool import BenchError, Pool, Room, split
from .stats import latency_summary, median, percentile

LOBBY_RATE = 50.0  # the lobby's paced rate, as `bench fanout`'s


@dataclass(frozen=True)
class Layout:
    """Who is in which room: clients numbered 0..N-1, the first ``in_rooms`` of them in rooms."""

    clients: int
    rooms: int
    members: int
    sample: int  # members of each room that record latency
    procs: int

    @property
    def in_rooms(self) -> int:
        """The clients in at least one room (they log in with ``rooms=1``)."""
        return min(self.clients, self.rooms * self.members)

    def client(self, room: int, j: int) -> int:
        """Return the number of room ``room``'s member ``j`` (0 creates the room and sends its messages)."""
        return (room * self.members + j) % self.in_rooms

    def place(self, client: int) -> tuple[int, int]:
        """Return (worker, number on that worker) of a client in rooms (``Room.connect`` numbers them first)."""
        offset = 0
        for worker, share in enumerate(split(self.in_rooms, self.procs)):
            if client < offset + share:
                return worker, client - offset
            offset += share
        raise ValueError(f"no client {client}")

    def entries(self, creators: bool) -> list[list[tuple[int, int, str]]]:
        """Return each worker's (number, room, "CREATE"|"JOIN"): the rooms' creators, or everyone else."""
        per_worker: list[list[tuple[int, int, str]]] = [[] for _ in range(self.procs)]
        for room in range(self.rooms):
            for j in ((0,) if creators else range(1, self.members)):
                worker, number = self.place(self.client(room, j))
                per_worker[worker].append((number, room, "CREATE" if creators else "JOIN"))
        return per_worker

    def sampled(self) -> list[list[int]]:
        """Return each worker's clients that record rooms' latencies (members j < ``sample`` of every room)."""
        per_worker: list[set[int]] = [set() for _ in range(self.procs)]
        for room in range(self.rooms):
            for j in range(min(self.sample, self.members)):
                worker, number = self.place(self.client(room, j))
                per_worker[worker].add(number)
        return [sorted(numbers) for numbers in per_worker]


def enter_rooms(bench: Bench, lobby: Room, layout: Layout, timeout: float = 300.0) -> None:
    """Create every room, then have every other member join it. Raises BenchError if any answer was not OK."""
    for creators in (True, False):
        per_worker = [{"entries": entries, "sample": sample}
                      for entries, sample in zip(layout.entries(creators), layout.sampled())]
        results = bench.pool.each("rooms_enter", timeout, per_worker=per_worker, group=lobby.name)
        failed = sum(r["failed"] for r in results)
        if failed:
            errors = [e for r in results for e in r["errors"]]
            raise BenchError(f"{failed} CREATE or JOIN failed: {errors[:3]}")
        bench.log(f"{'created' if creators else 'joined'} {sum(len(e) for e in layout.entries(creators))} "
                  f"times in {max(r['seconds'] for r in results):.1f} s")


class RoomTraffic:
    """Every room sending at a fixed rate, on the workers that hold its sender."""

    def __init__(self, pool: Pool, group: str) -> None:
        self.pool = pool
        self.group = group

    def start(self, rate: float, seconds: float, size: int, timeout: float) -> list[tuple[int, int]]:
        """Zero the counters, then start ``rate`` messages a second in every room for ``seconds``; return the
        tickets for ``finish``."""
        self.pool.each("rooms_reset", 10, group=self.group)
        count = max(1, round(rate * seconds))
        return [(w, self.pool.submit(w, "rooms_paced", group=self.group, rate=rate, count=count, size=size,
                                     timeout=timeout)) for w in range(self.pool.size)]

    def finish(self, tickets: list[tuple[int, int]], timeout: float) -> dict[str, Any]:
        """Wait for the sending to end and for every member to read every message; return the figures."""
        runs = self.pool.wait(tickets, timeout + 10)
        sent: dict[int, int] = {}
        first: dict[int, int] = {}
        for run in runs:
            sent.update(run["sent"])
            first.update(run["first"])
        results = self.pool.each("rooms_expect", timeout, group=self.group, sent=sent)
        return room_figures(sent, first, results)


def room_figures(sent: dict[int, int], first: dict[int, int], results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Return the rooms' figures from the workers' answers: every room's rate and latency, and the totals."""
    members: dict[int, int] = {}
    last: dict[int, int] = {}
    samples: dict[int, list[int]] = {}
    for result in results:
        for room, count in result["members"].items():
            members[room] = members.get(room, 0) + count
        for room, t in result["last"].items():
            last[room] = max(last.get(room, 0), t)
        for room, raw in result["latencies"].items():
            values = array.array("q")
            values.frombytes(raw)
            samples.setdefault(room, []).extend(values)
    complete = all(r["complete"] for r in results)
    per_room = []
    for room in sorted(sent):
        span = (last.get(room, 0) - first.get(room, 0)) / 1e9
        delivered = sent[room] * members.get(room, 0)
        latency = latency_summary(samples.get(room, []))
        per_room.append({"room": room, "sent": sent[room], "members": members.get(room, 0),
                         "deliveries_per_s": delivered / span if complete and span > 0 else math.nan, **latency})
    everything = sorted(v for values in samples.values() for v in values)
    span = (max(last.values(), default=0) - min(first.values(), default=0)) / 1e9
    total = sum(r["sent"] * r["members"] for r in per_room)
    return {
        "complete": complete, "lost": sum(r["lost"] for r in results) + sum(r["extra"] for r in results),
        "sent": sum(sent.values()), "deliveries": total,
        "deliveries_per_s": total / span if complete and span > 0 else math.nan,
        "latency": latency_summary(everything), "rooms": per_room,
        "room_rate": _spread_of([r["deliveries_per_s"] for r in per_room]),
        "room_p99": _spread_of([r["p99_ms"] for r in per_room]),
    }


def _spread_of(values: Sequence[float]) -> dict[str, float]:
    clean = sorted(v for v in values if not math.isnan(v))
    return {"median": median(clean), "min": clean[0] if clean else math.nan,
            "max": clean[-1] if clean else math.nan, "p10": percentile(clean, 0.10), "p90": percentile(clean, 0.90)}


# Measures --------------------------------------------------------------------------


def lobby_max(lobby: Room, plan: Plan, series: Series, system: str, detail: dict[str, Any]) -> dict[str, Any]:
    """Max fan-out in the lobby as ``bench fanout`` measures it; add "max", "max-bytes", "frame-bytes",
    "lost-max" to ``series``; return the run's figures."""
    result = lobby.closed_loop(plan.senders, plan.window, plan.seconds, plan.limit, plan.size, timeout=plan.timeout)
    series.add(system, "max", result["deliveries_per_s"], {**detail, **result})
    series.add(system, "max-bytes", result["bytes_per_s"] if result["complete"] else math.nan)
    series.add(system, "frame-bytes", result["bytes_per_delivery"])
    series.add(system, "lost-max", float(result["lost"]))
    return result


def lobby_paced(lobby: Room, plan: Plan, series: Series, system: str, detail: dict[str, Any]) -> dict[str, Any]:
    """The lobby at 50 broadcasts/s as ``bench fanout`` measures it; add "p50@50", "p99@50", "max@50",
    "lost@50"; return the run's figures."""
    result = lobby.paced(LOBBY_RATE, plan.latency_seconds, plan.size, plan.paced_senders, plan.sample,
                         timeout=plan.timeout)
    tag = f"@{LOBBY_RATE:g}"
    for key in ("p50", "p99", "max"):
        series.add(system, f"{key}{tag}", result["latency"][f"{key}_ms"])
    series.add(system, f"lost{tag}", float(result["lost"]), {**detail, "rate": LOBBY_RATE, **result})
    return result


def add_rooms(series: Series, system: str, figures: dict[str, Any], detail: dict[str, Any]) -> None:
    """Add the rooms' figures of one run: "rate" (a room's deliveries/s, median room) and "rate-min" (slowest),
    "p99" (median room) and "p99-worst", pooled "p50", "total" (all rooms' deliveries/s), "lost"."""
    series.add(system, "rate", figures["room_rate"]["median"])
    series.add(system, "rate-min", figures["room_rate"]["min"])
    series.add(system, "total", figures["deliveries_per_s"])
    series.add(system, "p99", figures["room_p99"]["median"])
    series.add(system, "p99-worst", figures["room_p99"]["max"])
    series.add(system, "p50", figures["latency"]["p50_ms"])
    series.add(system, "lost", float(figures["lost"]), {**detail, **figures})


@dataclass
class Setup:
    """The systems of one run and their lobbies."""

    lobbies: dict[str, Room]  # "yardstick", "fanout", "lobby" (the rooms' server)
    traffic: RoomTraffic
    layout: Layout
    rate: float
    pids: dict[str, int]  # the server process of each lobby ("yardstick", "fanout", "lobby")

    def cpu(self, lobby: str) -> float:
        """Return the CPU seconds (user and system, all threads) a lobby's server has used so far."""
        times = psutil.Process(self.pids[lobby]).cpu_times()
        return float(times.user + times.system)


def measure_round(bench: Bench, setup: Setup, plan: Plan, series: Series, number: int, rounds: int) -> None:
    """One round: every lobby's max fan-out and 50/s (the rooms' server with and without room traffic),
    and the rooms alone."""
    names = ["yardstick", "fanout", "lobby", "lobby+rooms"]
    margin = 0.5  # the rooms keep sending while the lobby's run drains
    detail = {"round": number, "clients": setup.layout.clients}
    for name in alternate(names, number):
        lobby = setup.lobbies["lobby" if name == "lobby+rooms" else name]
        lobby.quiet(0.2)
        tickets = setup.traffic.start(setup.rate, plan.seconds + margin, plan.size, plan.timeout) \
            if name == "lobby+rooms" else None
        result = lobby_max(lobby, plan, series, name, detail)
        bench.log(f"round {number + 1}/{rounds} {name}: max fan-out {human(result['deliveries_per_s'])}"
                  f"{'' if result['complete'] else ' LOST ' + str(result['lost'])}")
        if tickets is not None:
            _rooms_done(bench, series, "rooms+lobby-max", setup.traffic.finish(tickets, plan.timeout), detail)
    for name in alternate(["rooms", *names], number):
        server = "lobby" if name in ("lobby+rooms", "rooms") else name
        lobby = setup.lobbies[server]
        lobby.quiet(0.2)
        cpu, started = setup.cpu(server), time.monotonic()
        if name == "rooms":
            tickets = setup.traffic.start(setup.rate, plan.latency_seconds, plan.size, plan.timeout)
            _rooms_done(bench, series, "rooms", setup.traffic.finish(tickets, plan.timeout), detail)
            series.add("rooms", "cpu", (setup.cpu(server) - cpu) / (time.monotonic() - started))
            continue
        tickets = setup.traffic.start(setup.rate, plan.latency_seconds + margin, plan.size, plan.timeout) \
            if name == "lobby+rooms" else None
        result = lobby_paced(lobby, plan, series, name, detail)
        if name == "lobby":  # with the rooms' traffic, the CPU is taken once the rooms are done too
            series.add(name, "cpu@50", (setup.cpu(server) - cpu) / (time.monotonic() - started))
        latency = result["latency"]
        bench.log(f"round {number + 1}/{rounds} {name}: {LOBBY_RATE:g}/s p50 {ms(latency['p50_ms'])} "
                  f"p99 {ms(latency['p99_ms'])}{'' if result['complete'] else ' LOST ' + str(result['lost'])}")
        if tickets is not None:
            _rooms_done(bench, series, f"rooms+lobby@{LOBBY_RATE:g}", setup.traffic.finish(tickets, plan.timeout),
                        detail)
            series.add(name, "cpu@50", (setup.cpu(server) - cpu) / (time.monotonic() - started))


def _rooms_done(bench: Bench, series: Series, system: str, figures: dict[str, Any], detail: dict[str, Any]) -> None:
    add_rooms(series, system, figures, detail)
    bench.log(f"  {system}: {figures['sent']} room messages, each room {human(figures['room_rate']['median'])} "
              f"(slowest {human(figures['room_rate']['min'])}), p99 {ms(figures['room_p99']['median'])} "
              f"(worst room {ms(figures['room_p99']['max'])})"
              f"{'' if figures['complete'] else ' LOST ' + str(figures['lost'])}")


# Report ----------------------------------------------------------------------------


def room_rows(series: Series, layout: Layout, rate: float) -> list[Row]:
    """Return the rooms' rows: a room's deliveries a second and its p99, alone and beside the lobby's runs."""
    s = "8 rooms"
    offered = rate * layout.members
    rows = []
    for system, when in (("rooms", "alone"), (f"rooms+lobby@{LOBBY_RATE:g}", f"lobby at {LOBBY_RATE:g}/s meanwhile"),
                         ("rooms+lobby-max", "lobby at max fan-out meanwhile")):
        lost = sum(series.get(system, "lost"))
        flag = f" (LOST {lost:.0f})" if lost else ""
        rows.append(Row(s, f"each room's deliveries/s at {rate:g} messages/s ({offered:g}/s offered), "
                           f"{layout.rooms} rooms of {layout.members}, {when}: median room (slowest room){flag}",
                        f"{with_range(series.get(system, 'rate'), human)} "
                        f"({human(median(series.get(system, 'rate-min')))})",
                        f"all rooms: {with_range(series.get(system, 'total'), human)}"))
        rows.append(Row(s, f"  a room's p99, send to receive, {when}: median room (worst room; p50 of all)",
                        f"{with_range(series.get(system, 'p99'), ms)} ({ms(median(series.get(system, 'p99-worst')))}; "
                        f"{ms(median(series.get(system, 'p50')))})", ""))
    return rows


def rows_for(series: Series, layout: Layout, rate: float) -> list[Row]:
    """Return every row of the scenario's table."""
    n = layout.clients
    rates = [LOBBY_RATE]
    beside = f"{layout.rooms} rooms of {layout.members} at {rate:g}/s each"
    rows = fanout_rows("8 rooms", series, "lobby+rooms", "lobby", n, rates,
                       label=f"lobby with {beside} vs without: ")
    rows += fanout_rows("8 rooms", series, "lobby", "fanout", n, rates,
                        label="lobby beside idle rooms vs `bench fanout`'s Parley (no rooms): ")
    rows += fanout_rows("8 rooms", series, "lobby", "yardstick", n, rates, label="lobby beside idle rooms vs yardstick: ")
    rows += fanout_rows("8 rooms", series, "lobby+rooms", "yardstick", n, rates,
                        label=f"lobby with {beside} vs yardstick: ")
    rows += fanout_rows("8 rooms", series, "fanout", "yardstick", n, rates,
                        label="`bench fanout`'s Parley vs yardstick (as scenario 1): ")
    cpu = Row("8 rooms", f"the server's CPU (all threads) while the lobby runs at {LOBBY_RATE:g}/s: with the rooms' "
                         "traffic vs without; the rooms alone in brackets",
              f"{with_range(series.get('lobby+rooms', 'cpu@50'), _percent)} "
              f"({_percent(median(series.get('rooms', 'cpu')))})",
              with_range(series.get("lobby", "cpu@50"), _percent),
              with_range(ratios(series.get("lobby+rooms", "cpu@50"), series.get("lobby", "cpu@50")), times))
    return [*room_rows(series, layout, rate), cpu, *rows]


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{value * 100:.0f}% of a core"


def summary_of(series: Series, layout: Layout, rate: float) -> str:
    """Return the one summary line."""
    def med(system: str, measure: str) -> float:
        return median(series.get(system, measure))

    def ratio(a: str, b: str, measure: str) -> str:
        return times(median(ratios(series.get(a, measure), series.get(b, measure))))

    lost = sum(sum(v) for system, measure, v in series.iter() if measure.startswith("lost"))
    return (f"rooms: N={layout.clients}, {layout.rooms} rooms of {layout.members} at {rate:g}/s: each room "
            f"{human(med('rooms', 'rate'))} p99 {ms(med('rooms', 'p99'))} (server CPU {_percent(med('rooms', 'cpu'))}; "
            f"worst room "
            f"{ms(med('rooms', 'p99-worst'))}; lobby at max meanwhile {ms(med('rooms+lobby-max', 'p99'))}); "
            f"lobby max {human(med('lobby+rooms', 'max'))} with room traffic, {human(med('lobby', 'max'))} without "
            f"({ratio('lobby+rooms', 'lobby', 'max')}), p99@50/s {ms(med('lobby+rooms', 'p99@50'))} and "
            f"{ms(med('lobby', 'p99@50'))} ({ratio('lobby+rooms', 'lobby', 'p99@50')}); lobby "
            f"{ratio('lobby', 'yardstick', 'max')} yardstick, bench fanout's Parley {ratio('fanout', 'yardstick', 'max')} "
            f"({ratio('lobby', 'fanout', 'max')})" + (f" LOST {lost:.0f}" if lost else ""))


def layout_from(args: argparse.Namespace) -> Layout:
    """Return the layout given by the command line. Raises BenchError for one that cannot be built."""
    clients = args.clients or ([300] if args.quick else [1000])
    if len(clients) != 1:
        raise BenchError("rooms: give one lobby size (--clients N)")
    rooms = args.rooms if args.rooms is not None else (30 if args.quick else 100)
    layout = Layout(clients[0], rooms, args.room_members, args.room_sample, args.procs)
    if layout.rooms < 1 or not 1 <= layout.members <= layout.clients:
        raise BenchError(f"rooms: need 1 or more rooms of 1 to {layout.clients} members")
    return layout


def run_rooms(args: argparse.Namespace) -> Result:
    """Scenario 8: rooms beside the lobby (see the module's docstring)."""
    layout = layout_from(args)
    rate = args.room_rate
    plan = plan_from(args, rates=(LOBBY_RATE,))
    series = Series()
    with Bench.from_args(args) as bench:
        yard = bench.yardstick("yardstick")
        plain = bench.parley("parley-fanout")
        server = bench.parley("parley-rooms")
        tcp = server.endpoints["tcp"]
        parts = {"yardstick": [(yard.endpoints["tcp"], layout.clients)],
                 "fanout": [(plain.endpoints["tcp"], layout.clients)],
                 "lobby": [(dataclasses.replace(tcp, rooms=True), layout.in_rooms),
                           (tcp, layout.clients - layout.in_rooms)]}
        lobbies = {}
        for name, room_parts in parts.items():
            lobby = Room(bench.pool, name, room_parts)
            done = lobby.connect()
            bench.log(f"{name}: {done['connected']} clients connected and logged in in {done['seconds']:.1f} s")
            lobbies[name] = lobby
        enter_rooms(bench, lobbies["lobby"], layout)
        for lobby in lobbies.values():
            lobby.quiet(0.5, timeout=120)
        pids = {"yardstick": yard.children[0].pid, "fanout": plain.children[0].pid, "lobby": server.children[0].pid}
        setup = Setup(lobbies, RoomTraffic(bench.pool, "lobby"), layout, rate, pids)
        for number in range(args.rounds):
            measure_round(bench, setup, plan, series, number, args.rounds)
        for lobby in lobbies.values():
            lobby.close()
    command = (f"python -m bench rooms --clients {layout.clients} --rooms {layout.rooms} "
               f"--room-members {layout.members} --room-rate {rate:g} --room-sample {layout.sample} "
               f"--rounds {args.rounds} --seconds {args.seconds:g} --latency-seconds {args.latency_seconds:g}")
    command += shared_flags(args)
    return Result("rooms", command, summary_of(series, layout, rate), rows_for(series, layout, rate),
                  series.figures(plan=vars(plan), layout=dataclasses.asdict(layout), room_rate=rate))
