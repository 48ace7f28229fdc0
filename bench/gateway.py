"""Scenarios through WebSockets: 2, fan-out through Parley's gateway; 3, the gateway's overhead on round
trips against straight TCP and against websockify in front of the same server."""

from __future__ import annotations

import argparse
from typing import Any

from .common import Bench, Result, shared_flags, Row, Series, alternate, human, ms, ratios, times, verdict, with_range
from .fanout import clients_list, fanout_rows, lost_total, measure, open_rooms, plan_from
from .stats import median


def run_gateway(args: argparse.Namespace) -> Result:
    """Scenario 2: max fan-out and latency at 50 broadcasts/s with WebSocket clients through the gateway
    (and a half-TCP half-WebSocket room), against the yardstick and Parley over TCP in the same rounds."""
    sizes = clients_list(args, (100, 1000), (100,))
    plan = plan_from(args)
    rows: list[Row] = []
    summary = []
    all_series = Series()
    with Bench.from_args(args) as bench:
        for clients in sizes:
            systems = [bench.yardstick(f"yardstick-{clients}"), bench.parley(f"parley-tcp-{clients}"),
                       bench.parley(f"parley-ws-{clients}", gateway=True)]
            parts: dict[str, list[tuple[Any, int]]] = {
                "yardstick": [(systems[0].endpoints["tcp"], clients)],
                "parley-tcp": [(systems[1].endpoints["tcp"], clients)],
                "parley-ws": [(systems[2].endpoints["ws"], clients)],
            }
            if clients == args.mixed_clients:
                mixed = bench.parley(f"parley-mixed-{clients}", gateway=True)
                systems.append(mixed)
                parts["parley-mixed"] = [(mixed.endpoints["tcp"], clients - clients // 2),
                                         (mixed.endpoints["ws"], clients // 2)]
            rooms = open_rooms(bench, parts)
            series = Series()
            names = ["yardstick", "parley-tcp", "parley-ws", "parley-mixed"]
            measure(bench, rooms, plan, args.rounds, series, clients,
                    pids={name: [child.pid for child in system.children] for name, system in zip(names, systems)})
            for room in rooms.values():
                room.close()
            for system in reversed(systems):
                bench.stop(system)
            rates = plan.rates_for(clients)
            for name, label in (("parley-ws", "WebSocket"), ("parley-mixed", "half TCP, half WebSocket")):
                if name not in series.data:
                    continue
                rows += fanout_rows("2 fan-out gateway", series, name, "yardstick", clients, rates,
                                    label=f"{label} vs yardstick: ")
                rows += fanout_rows("2 fan-out gateway", series, name, "parley-tcp", clients, rates,
                                    label=f"{label} vs Parley TCP: ")
                r = ratios(series.get(name, "max"), series.get("yardstick", "max"))
                rt = ratios(series.get(name, "max"), series.get("parley-tcp", "max"))
                lost = lost_total(series, name)
                summary.append(f"{name} N={clients} max {human(median(series.get(name, 'max')))} "
                               f"({times(median(r))} yardstick, {times(median(rt))} Parley TCP) p99@50/s "
                               f"{ms(median(series.get(name, 'p99@50')))}" + (f" LOST {lost}" if lost else ""))
            all_series.merge(series, f"-{clients}")
    command = (f"python -m bench gateway --clients {','.join(map(str, sizes))} --mixed-clients {args.mixed_clients} "
               f"--rounds {args.rounds} --seconds {args.seconds:g} --latency-seconds {args.latency_seconds:g}")
    command += shared_flags(args)
    return Result("gateway", command, "gateway: " + "; ".join(summary), rows,
                  all_series.figures(plan=vars(plan)))


def run_overhead(args: argparse.Namespace) -> Result:
    """Scenario 3: round trips (PING/PONG) of ``--rtt-clients`` clients, closed loop and at a fixed
    ``--rtt-rate`` in total: WebSockets through the gateway of ``parley serve``, straight TCP to its server,
    WebSockets through ``parley gateway`` as a process of its own, and binary WebSockets through websockify,
    all in front of the same server."""
    clients = args.rtt_clients
    rate = args.rtt_rate
    series = Series()
    with Bench.from_args(args) as bench:
        # What the README's Quick start and the systemd unit run: server and gateway in one process. Every
        # path below ends at its chat server: straight TCP, the built-in gateway, the gateway as a process of
        # its own (``parley gateway``), websockify.
        serve = bench.parley_serve("parley-serve")
        (server,) = serve.children
        tcp_port = serve.endpoints["tcp"].port
        own = bench.parley_gateway("parley-gateway", tcp_port)
        wsfy = bench.websockify("websockify", tcp_port)
        # Memory per connection of each path: what its processes grew by while its clients connected.
        memory: dict[str, float] = {}
        rooms = {}
        for name, endpoint, parts in (("gateway", serve.endpoints["ws"], [(server, False)]),
                                      ("tcp", serve.endpoints["tcp"], [(server, False)]),
                                      ("gateway-process", own.endpoints["ws"], [(server, False), (own.children[0], False)]),
                                      ("websockify", wsfy.endpoints["ws"], [(server, False), (wsfy.children[0], True)])):
            before = sum(child.rss(pss) for child, pss in parts)
            rooms.update(open_rooms(bench, {name: [(endpoint, clients)]}))
            memory[name] = (sum(child.rss(pss) for child, pss in parts) - before) / clients / 1024
        names = list(rooms)
        for number in range(args.rounds):
            order = alternate(names, number)
            for name in order:
                room = rooms[name]
                room.quiet(0.2)
                result = room.round_trips(args.seconds, args.size)
                series.add(name, "rtt", result["per_s"], {"round": number, "mode": "closed", **result})
                series.add(name, "closed-p99", result["latency"]["p99_ms"])
                series.add(name, "closed-p50", result["latency"]["p50_ms"])
                bench.log(f"round {number + 1}/{args.rounds} {name}: {human(result['per_s'])} round trips, "
                          f"p99 {ms(result['latency']['p99_ms'])}")
            for name in order:
                room = rooms[name]
                room.quiet(0.2)
                result = room.round_trips(args.latency_seconds, args.size, rate=rate)
                for key in ("p50", "p99", "max"):
                    series.add(name, f"{key}@{rate:g}", result["latency"][f"{key}_ms"])
                series.add(name, "fixed-rate", result["per_s"], {"round": number, "mode": "fixed", **result})
                bench.log(f"round {number + 1}/{args.rounds} {name}: at {rate:g}/s p50 "
                          f"{ms(result['latency']['p50_ms'])} p99 {ms(result['latency']['p99_ms'])}")
        for room in rooms.values():
            room.close()
    gw, tcp, wsfy_rt, own_rt = (series.get(n, "rtt") for n in ("gateway", "tcp", "websockify", "gateway-process"))
    vs_tcp, vs_wsfy = ratios(gw, tcp), ratios(gw, wsfy_rt)
    tag = f"@{rate:g}"
    p99 = ratios(series.get("gateway", f"p99{tag}"), series.get("tcp", f"p99{tag}"))
    p99w = ratios(series.get("gateway", f"p99{tag}"), series.get("websockify", f"p99{tag}"))
    p99o = ratios(series.get("gateway-process", f"p99{tag}"), series.get("tcp", f"p99{tag}"))
    s = "3 gateway overhead"

    def p99_cell(name: str) -> str:
        return f"{with_range(series.get(name, f'p99{tag}'), ms)} ({ms(median(series.get(name, f'p50{tag}')))})"

    rows = [
        Row(s, f"round trips/s, {clients} clients: gateway vs straight TCP", with_range(gw, human),
            with_range(tcp, human), with_range(vs_tcp, times), ">= 0.40x", verdict(median(vs_tcp), lambda v: v >= 0.4)),
        Row(s, f"round trips/s, {clients} clients: gateway vs websockify", with_range(gw, human),
            with_range(wsfy_rt, human), with_range(vs_wsfy, times), ">= 2.5x",
            verdict(median(vs_wsfy), lambda v: v >= 2.5)),
        Row(s, "p99 of those closed-loop round trips: gateway vs straight TCP",
            with_range(series.get("gateway", "closed-p99"), ms), with_range(series.get("tcp", "closed-p99"), ms),
            with_range(ratios(series.get("gateway", "closed-p99"), series.get("tcp", "closed-p99")), times)),
        Row(s, f"p99 at {rate:g} round trips/s in total: gateway vs straight TCP (p50)", p99_cell("gateway"),
            p99_cell("tcp"), with_range(p99, times), "<= 2x", verdict(median(p99), lambda v: v <= 2.0)),
        Row(s, f"p99 at {rate:g} round trips/s in total: gateway vs websockify",
            with_range(series.get("gateway", f"p99{tag}"), ms), with_range(series.get("websockify", f"p99{tag}"), ms),
            with_range(p99w, times)),
        Row(s, f"memory per connection ({clients} clients): gateway + server vs websockify (PSS) + server",
            f"{memory['gateway']:,.0f} KB", f"{memory['websockify']:,.0f} KB",
            times(memory["gateway"] / memory["websockify"]) if memory["websockify"] > 0 else "-"),
        Row(s, "the gateway as its own process (`parley gateway`): round trips/s vs straight TCP",
            with_range(own_rt, human), with_range(tcp, human), with_range(ratios(own_rt, tcp), times)),
        Row(s, f"the gateway as its own process: p99 at {rate:g} round trips/s vs straight TCP (p50)",
            p99_cell("gateway-process"), p99_cell("tcp"), with_range(p99o, times)),
    ]
    summary = (f"overhead: {clients} clients, gateway {human(median(gw))} round trips ({times(median(vs_tcp))} TCP "
               f"{human(median(tcp))}, {times(median(vs_wsfy))} websockify {human(median(wsfy_rt))}); p99 at "
               f"{rate:g}/s {ms(median(series.get('gateway', f'p99{tag}')))} ({times(median(p99))} TCP); "
               f"own process {times(median(p99o))} TCP")
    command = (f"python -m bench overhead --rtt-clients {clients} --rtt-rate {rate:g} --rounds {args.rounds} "
               f"--seconds {args.seconds:g} --latency-seconds {args.latency_seconds:g}")
    command += shared_flags(args)
    return Result("overhead", command, summary, rows,
                  series.figures(memory_kb_per_connection=memory))

