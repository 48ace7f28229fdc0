"""Scenario 4, capacity: memory per idle connection, and the time for many guests to log in.

Memory: a fresh system's resident memory is taken, then N clients connect
(and log in, on Parley), the room falls quiet, and the memory is taken again;
the difference over N is the cost of one idle client. The system is stopped
before its clients close, so no leave storm is measured.
"""

from __future__ import annotations

import argparse
import time

from .common import Bench, Result, shared_flags, Row, Series, System, alternate, ratios, times, verdict, with_range
from .pool import BenchError, Room
from .stats import median


def _kb(value: float) -> str:
    return f"{value:,.1f} KB"


def _idle_cost(bench: Bench, system: System, endpoint: str, clients: int) -> dict[str, float]:
    """Connect ``clients`` idle clients to a fresh system, then log them in; return KB per client:
    "total" and per child name once logged in and quiet, "connected" (total) before logging in."""
    time.sleep(0.5)
    before = {child.name: child.rss() for child in system.children}
    room = Room(bench.pool, f"idle-{system.name}", [(system.endpoints[endpoint], clients)])
    try:
        done = room.connect(login=False, timeout=300)
        room.quiet(0.5, timeout=60)
        connected = sum(child.rss() for child in system.children)
        if system.endpoints[endpoint].parley:
            room.login_all(timeout=300)
        room.quiet(1.0, timeout=180)
        time.sleep(0.5)
        after = {child.name: child.rss() for child in system.children}
    finally:
        bench.stop(system)
        room.close()
    costs = {name: (after[name] - before[name]) / clients / 1024 for name in before}
    costs["total"] = sum(costs.values())
    costs["connected"] = (connected - sum(before.values())) / clients / 1024
    costs["connect_seconds"] = done["seconds"]
    return costs


def run_capacity(args: argparse.Namespace) -> Result:
    """Scenario 4: KB per idle TCP client (Parley and the yardstick), KB per idle WebSocket client (gateway
    plus server), and seconds for ``--logins`` guests to log in at once."""
    series = Series()
    tcp_n, ws_n, logins = args.idle_tcp, args.idle_ws, args.logins
    with Bench.from_args(args) as bench:
        for number in range(args.rounds):
            for name in alternate(["yardstick", "parley"], number):
                system = bench.yardstick(f"yardstick-{number}") if name == "yardstick" else bench.parley(f"parley-{number}")
                cost = _idle_cost(bench, system, "tcp", tcp_n)
                series.add(name, "tcp-kb", cost["total"], {"round": number, **cost})
                series.add(name, "tcp-kb-connected", cost["connected"])
                bench.log(f"round {number + 1}/{args.rounds} {name}: {cost['total']:.1f} KB per idle TCP client "
                          f"({tcp_n} connected in {cost['connect_seconds']:.1f} s)")
            system = bench.parley(f"parley-ws-{number}", gateway=True)
            server_name, gateway_name = (child.name for child in system.children)
            cost = _idle_cost(bench, system, "ws", ws_n)
            series.add("parley", "ws-kb", cost["total"], {"round": number, **cost})
            series.add("parley", "ws-kb-connected", cost["connected"])
            series.add("parley", "ws-kb-server", cost[server_name])
            series.add("parley", "ws-kb-gateway", cost[gateway_name])
            bench.log(f"round {number + 1}/{args.rounds}: {cost['total']:.1f} KB per idle WebSocket client "
                      f"(server {cost[server_name]:.1f}, gateway {cost[gateway_name]:.1f})")
            system = bench.parley(f"parley-logins-{number}")
            room = Room(bench.pool, f"logins-{number}", [(system.endpoints["tcp"], logins)])
            try:
                room.connect(login=False)
                room.quiet(0.3)
                result = room.login_all(timeout=120)
            finally:
                bench.stop(system)
                room.close()
            seconds = result["seconds"] if not result["failed"] else float("nan")
            series.add("parley", "login-seconds", seconds, {"round": number, **result})
            bench.log(f"round {number + 1}/{args.rounds}: {logins} guests logged in in {result['seconds']:.2f} s"
                      + (f" ({result['failed']} FAILED)" if result["failed"] else ""))
            for name in alternate(["yardstick", "parley"], number):
                system = (bench.yardstick(f"yardstick-burst-{number}") if name == "yardstick"
                          else bench.parley(f"parley-burst-{number}"))
                room = Room(bench.pool, f"burst-{name}-{number}", [(system.endpoints["tcp"], logins)])
                try:
                    seconds = room.connect(burst=True, timeout=120)["seconds"]
                except BenchError as error:
                    bench.log(f"round {number + 1}/{args.rounds}: {name} burst failed: {error}")
                    seconds = float("nan")
                finally:
                    bench.stop(system)
                    room.close()
                series.add(name, "burst-seconds", seconds, {"round": number, "seconds": seconds})
                bench.log(f"round {number + 1}/{args.rounds}: {logins} clients connecting (and logging in) at once "
                          f"to {name}: {seconds:.2f} s")
    parley_tcp, yard_tcp = series.get("parley", "tcp-kb"), series.get("yardstick", "tcp-kb")
    ws = series.get("parley", "ws-kb")
    login = series.get("parley", "login-seconds")
    s = "4 capacity"
    rows = [
        Row(s, f"memory per idle TCP client ({tcp_n:,} logged in)", with_range(parley_tcp, _kb),
            with_range(yard_tcp, _kb), with_range(ratios(parley_tcp, yard_tcp), times), "<= 12 KB",
            verdict(median(parley_tcp), lambda v: v <= 12)),
        Row(s, "  the same, connected but not yet logged in",
            with_range(series.get("parley", "tcp-kb-connected"), _kb), "", "", "", ""),
        Row(s, f"memory per idle WebSocket client ({ws_n:,} logged in; gateway + server)",
            f"{with_range(ws, _kb)} (server {_kb(median(series.get('parley', 'ws-kb-server')))}, gateway "
            f"{_kb(median(series.get('parley', 'ws-kb-gateway')))})", "", "", "<= 40 KB",
            verdict(median(ws), lambda v: v <= 40)),
        Row(s, "  the same, connected but not yet logged in",
            with_range(series.get("parley", "ws-kb-connected"), _kb), "", "", "", ""),
        Row(s, f"{logins:,} guests logging in at once, first CON to last CONVER (connected beforehand)",
            with_range(login, lambda v: f"{v:.2f} s"), "", "", "< 2 s", verdict(median(login), lambda v: v < 2)),
        Row(s, f"{logins:,} clients connecting and logging in at once, from nothing (yardstick: connecting)",
            with_range(series.get("parley", "burst-seconds"), lambda v: f"{v:.2f} s"),
            with_range(series.get("yardstick", "burst-seconds"), lambda v: f"{v:.2f} s"),
            with_range(ratios(series.get("parley", "burst-seconds"), series.get("yardstick", "burst-seconds")), times)),
    ]
    summary = (f"capacity: idle TCP {_kb(median(parley_tcp))}/client (yardstick {_kb(median(yard_tcp))}) at {tcp_n}; "
               f"idle WebSocket {_kb(median(ws))}/client at {ws_n}; {logins} logins in {median(login):.2f} s "
               f"({median(series.get('parley', 'burst-seconds')):.2f} s connecting too)")
    command = (f"python -m bench capacity --idle-tcp {tcp_n} --idle-ws {ws_n} --logins {logins} "
               f"--rounds {args.rounds}")
    command += shared_flags(args)
    return Result("capacity", command, summary, rows,
                  series.figures())
