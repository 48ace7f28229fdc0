"""Fan-out measurements (scenarios 1, 5 and 6, and the rooms of scenario 2).

Max fan-out: a closed loop. ``senders`` clients each keep ``window``
broadcasts in flight (a sender sends again when its own message comes back),
for ``seconds``; then every client must have received every message. The
figure is deliveries (frames received, summed over receivers) per second,
from the first send to the last delivery. A run where anything is missing is
reported as lost, not as a rate.

Latency: broadcasts at a fixed rate from ``paced_senders`` clients, each
carrying its send time (monotonic clock, shared by the processes of this
machine); ``sample`` receivers spread over the room record arrival minus
send time. Every client must again receive every message.
"""

from __future__ import annotations

import argparse
import importlib.util
from dataclasses import dataclass, field
from typing import Any, Sequence

from .common import Bench, Result, shared_flags, Row, Series, alternate, human, ms, ratios, times, verdict, with_range
from . import syscalls
from .pool import Room
from .stats import median


@dataclass
class Plan:
    """How one room is measured."""

    senders: int = 32
    window: int = 8
    seconds: float = 3.0
    limit: int = 5_000_000
    size: int = 100
    rates: Sequence[float] = (50.0,)
    latency_seconds: float = 4.0
    paced_senders: int = 20
    sample: int = 50
    measure_max: bool = True
    syscalls: bool = False  # count the servers' write system calls during max fan-out (perf)
    timeout: float = 90.0
    extra_rates: dict[int, Sequence[float]] = field(default_factory=dict)  # room size -> more rates

    def rates_for(self, clients: int) -> list[float]:
        """Return the paced rates measured in a room of ``clients``."""
        return [*self.rates, *self.extra_rates.get(clients, ())]


def plan_from(args: argparse.Namespace, **overrides: Any) -> Plan:
    """Return the plan given by the command line's options."""
    plan = Plan(senders=args.senders, window=args.window, seconds=args.seconds, size=args.size,
                latency_seconds=args.latency_seconds, syscalls=args.syscalls)
    for key, value in overrides.items():
        setattr(plan, key, value)
    return plan


def measure(bench: Bench, rooms: dict[str, Room], plan: Plan, rounds: int, series: Series, clients: int,
            pids: dict[str, list[int]] | None = None) -> None:
    """Measure every room ``rounds`` times, alternating the order (A B, B A...); add the figures to
    ``series`` as measures "max" and "p50@R", "p99@R", "max@R" (ms) per paced rate R, and "lost...";
    with ``plan.syscalls``, also "per-write": deliveries per write system call of the processes in
    ``pids[room]``."""
    names = list(rooms)
    count_writes = plan.syscalls and pids is not None and syscalls.available()
    for number in range(rounds):
        order = alternate(names, number)
        if plan.measure_max:
            for name in order:
                room = rooms[name]
                room.quiet(0.2)
                counter = syscalls.WriteCounter(pids[name]) if count_writes and pids and name in pids else None
                if counter:
                    counter.start()
                result = room.closed_loop(plan.senders, plan.window, plan.seconds, plan.limit, plan.size,
                                          timeout=plan.timeout)
                if counter:
                    writes = counter.stop()
                    result["write_syscalls"] = writes
                    per_write = result["sent"] * result["receivers"] / writes if writes else float("nan")
                    series.add(name, "per-write", per_write)
                detail = {"round": number, "clients": clients, **result}
                series.add(name, "max", result["deliveries_per_s"], detail)
                series.add(name, "max-bytes", result["bytes_per_s"] if result["complete"] else float("nan"))
                series.add(name, "frame-bytes", result["bytes_per_delivery"])
                series.add(name, "lost-max", float(result["lost"]))
                bench.log(f"round {number + 1}/{rounds} {name} N={clients}: max fan-out "
                          f"{human(result['deliveries_per_s'])}"
                          f"{'' if result['complete'] else ' LOST ' + str(result['lost'])}")
        for rate in plan.rates_for(clients):
            for name in order:
                room = rooms[name]
                room.quiet(0.2)
                seconds = plan.latency_seconds
                result = room.paced(rate, seconds, plan.size, plan.paced_senders, plan.sample, timeout=plan.timeout)
                latency = result["latency"]
                tag = f"@{rate:g}"
                for key in ("p50", "p99", "max"):
                    series.add(name, f"{key}{tag}", latency[f"{key}_ms"])
                series.add(name, f"lost{tag}", float(result["lost"]), {"round": number, "clients": clients,
                                                                     "rate": rate, **result})
                bench.log(f"round {number + 1}/{rounds} {name} N={clients}: {rate:g}/s p50 {ms(latency['p50_ms'])} "
                          f"p99 {ms(latency['p99_ms'])} max {ms(latency['max_ms'])}"
                          f"{'' if result['complete'] else ' LOST ' + str(result['lost'])}")


def open_rooms(bench: Bench, parts: dict[str, list[tuple[Any, int]]]) -> dict[str, Room]:
    """Connect (and log in) a room per system, one after the other; return them by name."""
    rooms = {}
    for name, room_parts in parts.items():
        room = Room(bench.pool, name, room_parts)
        done = room.connect()
        bench.log(f"{name}: {done['connected']} clients connected and logged in in {done['seconds']:.1f} s")
        room.quiet(0.5, timeout=120)
        rooms[name] = room
    return rooms


def lost_total(series: Series, system: str) -> int:
    """Return every frame a system lost across its measures."""
    return int(sum(sum(v) for m, v in series.data.get(system, {}).items() if m.startswith("lost")))


def fanout_rows(scenario: str, series: Series, system: str, reference: str, clients: int, rates: Sequence[float],
                label: str = "", targets: dict[str, tuple[str, Any]] | None = None) -> list[Row]:
    """Return table rows comparing ``system`` with ``reference`` at one room size.

    ``targets`` maps "max" or "p99@R" to (target text, test on the median ratio)."""
    targets = targets or {}
    rows = []
    a, b = series.get(system, "max"), series.get(reference, "max")
    if a:
        r = ratios(a, b)
        lost = sum(series.get(system, "lost-max"))
        target, ok = targets.get("max", ("", None))
        rows.append(Row(scenario, f"{label}max fan-out, N={clients:,}" + (f" (LOST {lost:.0f})" if lost else ""),
                        with_range(a, human), with_range(b, human), with_range(r, times), target,
                        verdict(median(r), ok) if ok else ""))
    a, b = series.get(system, "max-bytes"), series.get(reference, "max-bytes")
    if a and b:
        size_a, size_b = median(series.get(system, "frame-bytes")), median(series.get(reference, "frame-bytes"))
        rows.append(Row(scenario, f"{label}max fan-out in bytes (bytes a frame received), N={clients:,}",
                        f"{with_range(a, lambda v: human(v, 'B/s'))} ({size_a:.0f} B)",
                        f"{with_range(b, lambda v: human(v, 'B/s'))} ({size_b:.0f} B)", with_range(ratios(a, b), times)))
    a, b = series.get(system, "per-write"), series.get(reference, "per-write")
    if a and b:
        rows.append(Row(scenario, f"{label}deliveries per write system call during max fan-out, N={clients:,}",
                        with_range(a, lambda v: f"{v:,.1f}"), with_range(b, lambda v: f"{v:,.1f}"),
                        with_range(ratios(a, b), times)))
    for rate in rates:
        tag = f"@{rate:g}"
        p99a, p99b = series.get(system, f"p99{tag}"), series.get(reference, f"p99{tag}")
        p50a, p50b = series.get(system, f"p50{tag}"), series.get(reference, f"p50{tag}")
        maxa, maxb = series.get(system, f"max{tag}"), series.get(reference, f"max{tag}")
        r = ratios(p99a, p99b)
        lost = sum(series.get(system, f"lost{tag}"))
        target, ok = targets.get(f"p99{tag}", ("", None))
        check = verdict(median(r), ok) if ok else ""
        if ok and lost:
            check = "miss"
        rows.append(Row(
            scenario, f"{label}latency at {rate:g} broadcasts/s, N={clients:,}: p99 (p50, max)"
                      + (f" (LOST {lost:.0f})" if lost else ""),
            f"{with_range(p99a, ms)} ({ms(median(p50a))}, {ms(median(maxa))})",
            f"{with_range(p99b, ms)} ({ms(median(p50b))}, {ms(median(maxb))})",
            with_range(r, times), target, check))
    return rows


def clients_list(args: argparse.Namespace, full: Sequence[int], quick: Sequence[int]) -> list[int]:
    """Return the room sizes: ``--clients`` if given, else the full or quick defaults."""
    if args.clients:
        return list(args.clients)
    return list(quick if args.quick else full)


def run_fanout(args: argparse.Namespace) -> Result:
    """Scenario 1: Parley (durable history on) against the yardstick over TCP at each room size."""
    sizes = clients_list(args, (100, 1000, 5000), (100, 1000))
    plan = plan_from(args, extra_rates={1000: (800.0,)} if args.high_rate else {})
    series = Series()
    rows: list[Row] = []
    summary = []
    with Bench.from_args(args) as bench:
        for clients in sizes:
            yard = bench.yardstick(f"yardstick-{clients}")
            parley = bench.parley(f"parley-{clients}")
            rooms = open_rooms(bench, {"yardstick": [(yard.endpoints["tcp"], clients)],
                                       "parley": [(parley.endpoints["tcp"], clients)]})
            local = Series()
            measure(bench, rooms, plan, args.rounds, local, clients,
                    pids={"yardstick": [yard.children[0].pid], "parley": [parley.children[0].pid]})
            for room in rooms.values():
                room.close()
            bench.stop(parley)
            bench.stop(yard)
            series.merge(local, f"-{clients}")
            targets: dict[str, tuple[str, Any]] = {}
            if clients == 1000:
                targets = {"max": (">= 0.50x", lambda v: v >= 0.5), "p99@50": ("<= 1.5x", lambda v: v <= 1.5),
                           "p99@800": ("<= 1.5x, none lost", lambda v: v <= 1.5)}
            rows += fanout_rows("1 fan-out TCP", local, "parley", "yardstick", clients, plan.rates_for(clients),
                                targets=targets)
            r = ratios(local.get("parley", "max"), local.get("yardstick", "max"))
            p99 = ratios(local.get("parley", "p99@50"), local.get("yardstick", "p99@50"))
            lost = lost_total(local, "parley")
            summary.append(f"N={clients} max {human(median(local.get('parley', 'max')))} "
                           f"({times(median(r))} yardstick) p99@50/s {ms(median(local.get('parley', 'p99@50')))} "
                           f"({times(median(p99))})" + (f" LOST {lost}" if lost else ""))
            if 800.0 in plan.rates_for(clients):
                p99h = ratios(local.get("parley", "p99@800"), local.get("yardstick", "p99@800"))
                summary[-1] += f" p99@800/s {ms(median(local.get('parley', 'p99@800')))} ({times(median(p99h))})"
    command = (f"python -m bench fanout --clients {','.join(map(str, sizes))} --rounds {args.rounds} "
               f"--seconds {args.seconds:g} --latency-seconds {args.latency_seconds:g}")
    command += shared_flags(args) + ("" if args.high_rate else " --no-high-rate")
    return Result("fanout", command, "fanout: " + "; ".join(summary), rows,
                  series.figures(plan=vars(plan)))


def run_persistence(args: argparse.Namespace) -> Result:
    """Scenario 5: max fan-out with durable history (fsync on) against a throwaway database (fsync off)."""
    sizes = clients_list(args, (1000,), (1000,))
    plan = plan_from(args, rates=())
    rows: list[Row] = []
    summary = []
    all_series = Series()
    with Bench.from_args(args) as bench:
        for clients in sizes:
            yard = bench.yardstick(f"yardstick-{clients}")
            on = bench.parley(f"parley-fsync-on-{clients}", fsync=True)
            off = bench.parley(f"parley-fsync-off-{clients}", fsync=False)
            rooms = open_rooms(bench, {"fsync-on": [(on.endpoints["tcp"], clients)],
                                       "fsync-off": [(off.endpoints["tcp"], clients)],
                                       "yardstick": [(yard.endpoints["tcp"], clients)]})
            series = Series()
            measure(bench, rooms, plan, args.rounds, series, clients,
                    pids={"fsync-on": [on.children[0].pid], "fsync-off": [off.children[0].pid],
                          "yardstick": [yard.children[0].pid]})
            for room in rooms.values():
                room.close()
            for system in (off, on, yard):
                bench.stop(system)
            on_v, off_v, yard_v = (series.get(s, "max") for s in ("fsync-on", "fsync-off", "yardstick"))
            kept = ratios(on_v, off_v)
            cost = [1 - k for k in kept]
            rows.append(Row("5 persistence", f"max fan-out, N={clients:,}: fsync on vs off",
                            with_range(on_v, human), with_range(off_v, human), with_range(kept, times),
                            "cost <= 20% (ratio >= 0.80x)", verdict(median(kept), lambda v: v >= 0.8)))
            rows.append(Row("5 persistence", f"max fan-out, N={clients:,}: fsync on vs yardstick",
                            with_range(on_v, human), with_range(yard_v, human), with_range(ratios(on_v, yard_v), times),
                            ">= 0.50x" if clients == 1000 else "",
                            verdict(median(ratios(on_v, yard_v)), lambda v: v >= 0.5) if clients == 1000 else ""))
            rows.append(Row("5 persistence", f"max fan-out, N={clients:,}: fsync off vs yardstick",
                            with_range(off_v, human), with_range(yard_v, human),
                            with_range(ratios(off_v, yard_v), times)))
            summary.append(f"N={clients} fsync on {human(median(on_v))} off {human(median(off_v))} "
                           f"durability costs {median(cost) * 100:.0f}% (on = {times(median(ratios(on_v, yard_v)))} "
                           f"yardstick)")
            all_series.merge(series, f"-{clients}")
    command = f"python -m bench persistence --clients {','.join(map(str, sizes))} --rounds {args.rounds} " \
              f"--seconds {args.seconds:g}"
    command += shared_flags(args)
    return Result("persistence", command, "persistence: " + "; ".join(summary), rows,
                  all_series.figures(plan=vars(plan)))


def run_yardstick(args: argparse.Namespace) -> Result:
    """Scenario 6: the yardstick, joined writes against naive writes (one per line per socket)."""
    sizes = clients_list(args, (1000,), (1000,))
    plan = plan_from(args)
    rows: list[Row] = []
    summary = []
    all_series = Series()
    with Bench.from_args(args) as bench:
        for clients in sizes:
            systems = {"joined": bench.yardstick(f"yardstick-{clients}"),
                       "naive": bench.yardstick(f"yardstick-naive-{clients}", naive=True)}
            other = "uvloop" if bench.yardstick_loop == "asyncio" else "asyncio"
            if other == "asyncio" or importlib.util.find_spec("uvloop"):
                systems[f"joined-{other}"] = bench.yardstick(f"yardstick-{other}-{clients}", loop=other)
            rooms = open_rooms(bench, {name: [(system.endpoints["tcp"], clients)] for name, system in systems.items()})
            series = Series()
            measure(bench, rooms, plan, args.rounds, series, clients,
                    pids={name: [system.children[0].pid] for name, system in systems.items()})
            for room in rooms.values():
                room.close()
            for system in systems.values():
                bench.stop(system)
            rows += fanout_rows("6 yardstick", series, "joined", "naive", clients, plan.rates_for(clients),
                                label=f"joined vs naive ({bench.yardstick_loop} loop): ")
            if f"joined-{other}" in systems:
                rows += fanout_rows("6 yardstick", series, f"joined-{other}", "joined", clients, plan.rates_for(clients),
                                    label=f"joined, {other} vs {bench.yardstick_loop} loop: ")
            r = ratios(series.get("joined", "max"), series.get("naive", "max"))
            summary.append(f"N={clients} joined {human(median(series.get('joined', 'max')))} naive "
                           f"{human(median(series.get('naive', 'max')))} ({times(median(r))}) p99@50/s "
                           f"{ms(median(series.get('joined', 'p99@50')))}")
            all_series.merge(series, f"-{clients}")
    command = f"python -m bench yardstick --clients {','.join(map(str, sizes))} --rounds {args.rounds} " \
              f"--seconds {args.seconds:g} --latency-seconds {args.latency_seconds:g}"
    command += shared_flags(args)
    return Result("yardstick", command, "yardstick: " + "; ".join(summary), rows,
                  all_series.figures(plan=vars(plan)))
