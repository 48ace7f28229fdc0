"""``python -m bench SCENARIO [options]``: run one benchmark scenario, or ``all`` of them.

Scenarios (the numbers of issue 6): 1 ``fanout``, 2 ``gateway``,
3 ``overhead``, 4 ``capacity``, 5 ``persistence``, 6 ``yardstick``; and
7 ``userlist`` (issue 12: bytes per user-list change), 8 ``rooms`` (issue 13:
rooms' messages beside the lobby, and what they cost it), 9 ``search`` (issue 14:
full-text search over a million stored messages, and what its index costs a send), 10 ``files``
(issue 15: uploads and downloads of 10 MiB files, and chat latency while uploads run), 11 ``cluster`` (issue 16:
nodes on PostgreSQL and Redis against the embedded default, and PostgreSQL's store rate). Each
prints one summary line on standard output (progress goes to standard
error) and writes every figure as JSON with ``--json PATH``. ``all`` runs
every scenario and rewrites the generated table of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

from .common import Result
from .pool import BenchError
from .report import update_benchmarks, write_json

Runner = Callable[[argparse.Namespace], Result]


def _runners() -> dict[str, Runner]:
    from .capacity import run_capacity
    from .cluster import run_cluster
    from .fanout import run_fanout, run_persistence, run_yardstick
    from .files import run_files
    from .gateway import run_gateway, run_overhead
    from .rooms import run_rooms
    from .search import run_search
    from .userlist import run_userlist

    return {"yardstick": run_yardstick, "fanout": run_fanout, "persistence": run_persistence,
            "capacity": run_capacity, "overhead": run_overhead, "gateway": run_gateway, "userlist": run_userlist,
            "rooms": run_rooms, "search": run_search, "files": run_files, "cluster": run_cluster}


NUMBERS = {"1": "fanout", "2": "gateway", "3": "overhead", "4": "capacity", "5": "persistence", "6": "yardstick",
           "7": "userlist", "8": "rooms", "9": "search", "10": "files", "11": "cluster"}
ORDER = ["yardstick", "fanout", "persistence", "capacity", "overhead", "gateway", "userlist", "rooms", "search",
         "files", "cluster"]


def _int_list(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def parser() -> argparse.ArgumentParser:
    """Return the command line parser."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("scenario", help="fanout|gateway|overhead|capacity|persistence|yardstick|userlist|rooms|search|"
                                                "files|cluster|all, or 1-11")
    p.add_argument("--quick", action="store_true", help="smaller rooms, fewer and shorter rounds")
    p.add_argument("--rounds", type=int, help="rounds per measure (default 3; --quick 2)")
    p.add_argument("--procs", type=int, default=2, help="load-generator processes (default 2)")
    p.add_argument("--clients", type=_int_list, help="room sizes, comma-separated (fanout, gateway, persistence, "
                                                     "yardstick, userlist: default 1000,3000; --quick 300; "
                                                     "rooms, files: one size, the lobby, default 1000)")
    p.add_argument("--seconds", type=float, help="length of each max-throughput run (default 3; --quick 2)")
    p.add_argument("--latency-seconds", type=float, help="length of each fixed-rate run (default 4; --quick 2)")
    p.add_argument("--senders", type=int, default=32, help="closed-loop senders (default 32)")
    p.add_argument("--window", type=int, default=8, help="broadcasts each sender keeps in flight (default 8)")
    p.add_argument("--size", type=int, default=100, help="bytes of each client line (default 100)")
    p.add_argument("--no-high-rate", dest="high_rate", action="store_false",
                   help="fanout: skip the 800 broadcasts/s run at N=1000")
    p.add_argument("--mixed-clients", type=int, help="gateway: the half-TCP half-WebSocket room (default 1000; "
                                                     "--quick 100)")
    p.add_argument("--rtt-clients", type=int, default=100, help="overhead: concurrent clients (default 100)")
    p.add_argument("--rtt-rate", type=float, default=1000.0, help="overhead: fixed round trips/s in total "
                                                                  "(default 1000)")
    p.add_argument("--idle-tcp", type=int, help="capacity: idle TCP clients (default 5000; --quick 1000)")
    p.add_argument("--idle-ws", type=int, help="capacity: idle WebSocket clients (default 2000; --quick 500)")
    p.add_argument("--logins", type=int, default=1000, help="capacity: guests logging in at once (default 1000)")
    p.add_argument("--syscalls", action="store_true",
                   help="count the servers' write system calls during max fan-out (needs perf): deliveries "
                        "per write")
    p.add_argument("--userlist-plain", type=int, default=100,
                   help="userlist: clients of the room that do not ask for list changes (default 100)")
    p.add_argument("--rooms", type=int, help="rooms: how many rooms (default 100; --quick 30)")
    p.add_argument("--room-members", type=int, default=50, help="rooms: members of each room (default 50)")
    p.add_argument("--room-rate", type=float, default=5.0,
                   help="rooms: messages a second sent to each room (default 5)")
    p.add_argument("--room-sample", type=int, default=5,
                   help="rooms: members of each room that record latency (default 5)")
    p.add_argument("--messages", type=lambda text: int(text.replace("_", "")), default=1_000_000,
                   help="search: messages in the history searched (default 1,000,000)")
    p.add_argument("--seed", type=int, default=14, help="search: the history's random seed (default 14)")
    p.add_argument("--cache", type=Path, help="search: where built histories are kept, one folder per messages, "
                                              "seed and schema version (default build/bench-search)")
    p.add_argument("--search-rounds", type=int,
                   help="search: times each query is timed (default 10; --quick 3)")
    p.add_argument("--no-wire", dest="wire", action="store_false",
                   help="search: only Store.search, not SEARCH frames to a `parley serve`")
    p.add_argument("--files", type=int, default=8, help="files: files uploaded and downloaded in a round "
                                                        "(default 8)")
    p.add_argument("--file-size", type=lambda text: int(text.replace("_", "")), default=10 * 1024 * 1024,
                   help="files: bytes of each file (default 10 MiB)")
    p.add_argument("--uploaders", type=int, default=4,
                   help="files: uploads running at once beside the chat, at least 2 (default 4)")
    p.add_argument("--upload-rate", type=lambda text: float(text.replace("_", "")), default=0.0,
                   help="files: bytes a second each of those uploads sends at most (default 0: as fast as it goes)")
    p.add_argument("--nodes", type=_int_list, default=[2, 3],
                   help="cluster: node counts measured against one node, comma-separated (default 2,3)")
    p.add_argument("--node-timeout", type=float, default=120.0,
                   help="cluster: each node's --node-timeout (default 120, not the server's 15: a node's heartbeat "
                        "waits behind the presence writes of 1,000 logins at once, which can take longer than 15 s)")
    p.add_argument("--store-senders", type=int, default=100,
                   help="cluster: concurrent senders storing messages in PostgreSQL (default 100)")
    p.add_argument("--store-seconds", type=float, default=3.0,
                   help="cluster: length of each PostgreSQL store-rate run (default 3)")
    p.add_argument("--store-limit", type=lambda text: int(text.replace("_", "")), default=1_000_000,
                   help="cluster: messages stored in a store-rate run at most (default 1,000,000)")
    p.add_argument("--json", type=Path, help="write every figure to this JSON file")
    p.add_argument("--no-write", dest="write", action="store_false", help="all: do not rewrite BENCHMARKS.md")
    p.add_argument("--installed", action="store_true",
                   help="run the installed `parley` script instead of this working tree's code")
    p.add_argument("--server-arg", action="append", metavar="ARG",
                   help="one more argument for every `parley server` (repeatable; e.g. --server-arg=--loop=asyncio)")
    p.add_argument("--gateway-arg", action="append", metavar="ARG", help="one more argument for every `parley gateway`")
    p.add_argument("--yardstick-loop", choices=("asyncio", "uvloop"), default="asyncio",
                   help="the yardstick's event loop (default asyncio's own, as in the issue's figures)")
    p.add_argument("--parley-source", type=Path, metavar="DIR",
                   help="run Parley's code from DIR (another checkout, e.g. `git archive COMMIT | tar -x -C DIR`)")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, databases)")
    p.add_argument("-q", "--quiet", dest="verbose", action="store_false", help="no progress on standard error")
    return p


def defaults(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the options whose default depends on ``--quick``; return ``args``."""
    quick = args.quick
    if args.rounds is None:
        args.rounds = 2 if quick else 3
    if args.seconds is None:
        args.seconds = 2.0 if quick else 3.0
    if args.latency_seconds is None:
        args.latency_seconds = 2.0 if quick else 4.0
    if args.mixed_clients is None:
        args.mixed_clients = 100 if quick else 1000
    if args.idle_tcp is None:
        args.idle_tcp = 1000 if quick else 5000
    if args.idle_ws is None:
        args.idle_ws = 500 if quick else 2000
    if args.search_rounds is None:
        args.search_rounds = 3 if quick else 10
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the scenario(s); return the exit code (1 if a scenario failed)."""
    args = defaults(parser().parse_args(argv))
    name = NUMBERS.get(args.scenario, args.scenario)
    runners = _runners()
    if name != "all" and name not in runners:
        print(f"unknown scenario {args.scenario!r}; choose from {', '.join(ORDER)}, all", file=sys.stderr)
        return 2
    names = ORDER if name == "all" else [name]
    results: list[Result] = []
    failed = False
    for scenario in names:
        started = time.monotonic()
        try:
            result = runners[scenario](args)
        except (BenchError, RuntimeError, OSError) as error:
            print(f"{scenario}: FAILED: {error}", flush=True)
            failed = True
            continue
        result.seconds = time.monotonic() - started
        results.append(result)
        print(result.summary, flush=True)
    if args.json and results:
        write_json(args.json, results, {"argv": sys.argv[1:] if argv is None else argv})
    if name == "all" and args.write and results:
        given = " ".join(a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("--json")
                         and not a.endswith(".json"))
        header = (f"Generated by `python -m bench {given}` "
                  f"({sum(r.seconds for r in results) / 60:.1f} min); medians of {args.rounds} rounds with min..max, "
                  f"ratios taken per round between systems measured in alternating order.")
        update_benchmarks(results, header)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
