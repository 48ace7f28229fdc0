"""The parent's side of the load generators: worker processes, and rooms of connections on them.

A ``Room`` is one system's clients spread evenly over the worker processes
(one group per worker); its methods run one measurement each and return
plain dicts of figures.
"""

from __future__ import annotations

import array
import multiprocessing
import multiprocessing.connection
import time
from dataclasses import dataclass
from typing import Any, Sequence

from . import worker
from .stats import latency_summary


class BenchError(RuntimeError):
    """A load generator failed or did not answer in time."""


@dataclass(frozen=True)
class Endpoint:
    """Where and how clients connect: TCP lines, or WebSocket text (Parley's gateway) or binary (websockify)."""

    kind: str  # "tcp" or "ws"
    port: int
    parley: bool = True  # log in with CON; False for the yardstick (no protocol)
    path: str = "/ws"
    binary: bool = False
    subprotocol: str | None = None
    lists: str = ""  # CON's lists= ("changes": USERCHANGES rather than whole user lists)
    rooms: bool = False  # CON's rooms=1 (the client knows rooms)

    def spec(self) -> dict[str, Any]:
        """Return the endpoint as the dict the workers take."""
        return {"kind": self.kind, "port": self.port, "parley": self.parley, "path": self.path,
                "binary": self.binary, "subprotocol": self.subprotocol, "lists": self.lists,
                "rooms": self.rooms}


class Pool:
    """Load-generator processes (``worker.main``), started with the spawn method."""

    def __init__(self, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[multiprocessing.connection.Connection] = []
        self.processes: list[Any] = []
        self._next = 0
        self._stash: list[dict[int, dict[str, Any]]] = []
        for index in range(count):
            parent, child = context.Pipe()
            process = context.Process(target=worker.main, args=(index, child), daemon=True,
                                      name=f"bench-worker-{index}")
            process.start()
            child.close()
            self.pipes.append(parent)
            self.processes.append(process)
            self._stash.append({})

    @property
    def size(self) -> int:
        return len(self.pipes)

    def submit(self, index: int, op: str, **args: Any) -> int:
        """Send a command to worker ``index``; return its id (for ``wait``)."""
        self._next += 1
        self.pipes[index].send({"id": self._next, "op": op, "args": args})
        return self._next

    def wait(self, tickets: Sequence[tuple[int, int]], timeout: float) -> list[Any]:
        """Return the results of (worker, id) tickets in order; raises BenchError on a failure or timeout."""
        deadline = time.monotonic() + timeout
        results: list[Any] = []
        for index, ticket in tickets:
            stash = self._stash[index]
            while ticket not in stash:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.pipes[index].poll(remaining):
                    raise BenchError(f"load generator {index} did not answer within {timeout:.0f} s")
                try:
                    reply = self.pipes[index].recv()
                except (EOFError, OSError):
                    raise BenchError(f"load generator {index} died") from None
                stash[reply["id"]] = reply
            reply = stash.pop(ticket)
            if not reply["ok"]:
                raise BenchError(f"load generator {index} failed:\n{reply['error']}")
            results.append(reply["result"])
        return results

    def each(self, op: str, timeout: float, per_worker: Sequence[dict[str, Any]] | None = None,
             workers: Sequence[int] | None = None, **args: Any) -> list[Any]:
        """Run ``op`` on several workers at once (all by default); return their results in worker order."""
        chosen = list(range(self.size)) if workers is None else list(workers)
        tickets = []
        for n, index in enumerate(chosen):
            extra = per_worker[n] if per_worker is not None else {}
            tickets.append((index, self.submit(index, op, **{**args, **extra, "timeout": timeout})))
        return self.wait(tickets, timeout + 10)

    def close(self) -> None:
        """Stop every worker (asking first, then terminating)."""
        for index in range(self.size):
            try:
                self.submit(index, "exit")
            except (OSError, ValueError):
                pass
        for process in self.processes:
            process.join(3)
            if process.is_alive():
                process.terminate()
                process.join(3)
        for pipe in self.pipes:
            pipe.close()


def split(total: int, parts: int) -> list[int]:
    """Return ``total`` split into ``parts`` near-equal non-negative integers (larger ones first)."""
    base, extra = divmod(max(0, total), parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _latencies(results: Sequence[dict[str, Any]]) -> list[int]:
    samples: list[int] = []
    for result in results:
        values = array.array("q")
        values.frombytes(result["latencies"])
        samples.extend(values)
    return samples


class Room:
    """One system's clients, spread over the pool's workers (group ``name`` on each)."""

    def __init__(self, pool: Pool, name: str, parts: Sequence[tuple[Endpoint, int]]) -> None:
        self.pool = pool
        self.name = name
        self.parts = list(parts)
        self.size = sum(count for _, count in parts)

    def connect(self, login: bool = True, timeout: float = 180.0, burst: bool = False) -> dict[str, Any]:
        """Connect (and log in) every client; return {"connected", "seconds"}. Raises BenchError if any failed.

        Normally clients connect a few at a time, each until Parley answers a PING, then all log in at
        once. With ``burst`` every client connects and logs in at once, as a crowd arriving would."""
        shares = [split(count, self.pool.size) for _, count in self.parts]
        per_worker = [{"endpoints": [(endpoint.spec(), share[w]) for (endpoint, _), share in zip(self.parts, shares)],
                       "first": 0, "login": burst and login, "probe": not burst,
                       "concurrency": 1 << 20 if burst else worker.CONNECT_CONCURRENCY} for w in range(self.pool.size)]
        started = time.monotonic()
        results = self.pool.each("connect", timeout, per_worker=per_worker, group=self.name)
        failed = sum(r["failed"] for r in results)
        if failed:
            errors = [e for r in results for e in r["error"]]
            raise BenchError(f"{self.name}: {failed} of {self.size} clients could not connect: {errors[:3]}")
        connected = time.monotonic() - started
        if login and not burst and any(endpoint.parley for endpoint, _ in self.parts):
            # All at once: joins close together share the server's user-list broadcasts.
            done = self.login_all(timeout)
            if done["failed"]:
                raise BenchError(f"{self.name}: {done['failed']} of {self.size} clients could not log in")
        return {"connected": sum(r["connected"] for r in results), "seconds": time.monotonic() - started,
                "connect_seconds": connected}

    def quiet(self, idle: float = 0.3, timeout: float = 60.0) -> bool:
        """Wait until no client has read anything for ``idle`` seconds; return whether that happened in time."""
        return all(r["quiet"] for r in self.pool.each("quiet", timeout, idle=idle))

    def reset(self, senders: Sequence[int], sample: Sequence[int], rtt: bool = False) -> None:
        """Zero counters and give roles: ``senders[w]`` and ``sample[w]`` clients on worker ``w``."""
        per_worker = [{"senders": s, "sample": m} for s, m in zip(senders, sample)]
        self.pool.each("reset", 10, per_worker=per_worker, group=self.name, rtt=rtt)

    def closed_loop(self, senders: int, window: int, duration: float, limit: int, size: int,
                    timeout: float = 60.0) -> dict[str, Any]:
        """Max fan-out: ``senders`` clients each keep ``window`` broadcasts in flight for ``duration`` s
        (at most ``limit`` in all); every client must receive every one. Return {"deliveries_per_s",
        "broadcasts_per_s", "sent", "receivers", "lost", "complete", "seconds"}."""
        shares = split(senders, self.pool.size)
        self.reset(shares, [0] * self.pool.size)
        active = [w for w, s in enumerate(shares) if s]
        limits = split(limit, len(active))
        runs = self.pool.each("chat_closed", timeout, workers=active, group=self.name, window=window,
                              duration=duration, size=size, per_worker=[{"limit": n} for n in limits])
        sent = sum(r["sent"] for r in runs)
        t_start = min(r["t_start"] for r in runs)
        return self._expect(sent, t_start, timeout)

    def _expect(self, sent: int, t_start: int, timeout: float) -> dict[str, Any]:
        results = self.pool.each("expect", timeout, group=self.name, count=sent)
        receivers = sum(r["receivers"] for r in results)
        complete = all(r["complete"] for r in results) and receivers == self.size
        t_done = max(r["t_done"] for r in results)
        seconds = max(1e-9, (t_done - t_start) / 1e9)
        delivered = sum(min(r["min"], sent) for r in results) if not complete else sent
        return {
            "deliveries_per_s": sent * receivers / seconds if complete else float("nan"),
            "broadcasts_per_s": sent / seconds if complete else float("nan"),
            "sent": sent, "receivers": receivers, "complete": complete,
            "lost": 0 if complete else max(0, sent - min(r["min"] for r in results)) + sum(r["closed"] for r in results),
            "seconds": seconds, "min_received": delivered,
            "bytes_per_s": sum(r["bytes"] for r in results) / seconds,
            "bytes_per_delivery": sum(r["bytes"] for r in results) / max(1, sent * receivers),
            "latency": latency_summary(_latencies(results)),
        }

    def paced(self, rate: float, duration: float, size: int, senders: int, sample: int,
              timeout: float = 60.0) -> dict[str, Any]:
        """Broadcasts at a fixed ``rate`` for ``duration`` s from ``senders`` clients of worker 0, latency
        sampled on ``sample`` receivers spread over all workers; return the ``_expect`` figures, whose
        "latency" holds p50/p99/max in ms."""
        zeros = [0] * self.pool.size
        self.reset([senders, *zeros[1:]], split(sample, self.pool.size))
        count = max(1, int(rate * duration))
        run = self.pool.each("chat_paced", timeout, workers=[0], group=self.name, rate=rate, count=count,
                             size=size)[0]
        figures = self._expect(run["sent"], run["t_start"], timeout)
        figures["offered_per_s"] = rate
        figures["achieved_per_s"] = run["sent"] / max(1e-9, (run["t_stop"] - run["t_start"]) / 1e9)
        return figures

    def round_trips(self, duration: float, size: int, rate: float = 0.0, timeout: float = 60.0) -> dict[str, Any]:
        """PING/PONG on every client: closed loop (one outstanding each) or ``rate`` a second in total;
        return {"per_s", "count", "answered_all", "latency"}."""
        per_worker = [{"rate": r} for r in ([rate / self.pool.size] * self.pool.size)] if rate else None
        results = self.pool.each("rtt", timeout, per_worker=per_worker, group=self.name, duration=duration,
                                 size=size)
        count = sum(r["count"] for r in results)
        seconds = max(1e-9, (max(r["t_stop"] for r in results) - min(r["t_start"] for r in results)) / 1e9)
        return {"per_s": count / seconds, "count": count, "seconds": seconds,
                "answered_all": all(r["answered"] == r["sent"] for r in results),
                "latency": latency_summary(_latencies(results))}

    def login_all(self, timeout: float = 60.0) -> dict[str, Any]:
        """Log every connected (not yet logged-in) client in at once; return {"seconds", "ok", "failed"}."""
        results = self.pool.each("login", timeout, group=self.name)
        seconds = (max(r["t_end"] for r in results) - min(r["t_start"] for r in results)) / 1e9
        return {"seconds": seconds, "ok": sum(r["ok"] for r in results), "failed": sum(r["failed"] for r in results)}

    def close(self) -> None:
        """Close every client of the room."""
        self.pool.each("close", 10, group=self.name)
