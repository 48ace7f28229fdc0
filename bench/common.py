"""What every scenario shares: the run's context (directory, children, load generators), the systems
under test, alternating rounds, number formatting, and the result each scenario returns."""

from __future__ import annotations

import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from . import procs
from .pool import Endpoint, Pool
from .stats import ratio, spread


@dataclass
class Row:
    """One line of BENCHMARKS.md's table."""

    scenario: str
    measure: str
    parley: str
    reference: str
    ratio: str = ""
    target: str = ""
    verdict: str = ""


@dataclass
class Result:
    """What a scenario returns: its one summary line, the table rows, and everything for JSON."""

    scenario: str
    command: str
    summary: str
    rows: list[Row]
    figures: dict[str, Any]
    seconds: float = 0.0


@dataclass
class System:
    """A system under test: its child processes and where clients connect."""

    name: str
    children: list[procs.Child]
    endpoints: dict[str, Endpoint]
    rss_with_children: bool = False

    def rss(self) -> int:
        """Return the resident memory of all the system's processes, in bytes."""
        return sum(child.rss(self.rss_with_children) for child in self.children)

    def alive(self) -> bool:
        """Return whether every process of the system still runs."""
        return all(child.alive() for child in self.children)


class Bench:
    """One scenario run: a scratch directory, the children it started, the load generators.

    Use as a context manager: everything started is stopped on exit, and the
    directory (logs, throwaway databases) is removed unless ``keep`` is set
    or the run failed (its path is then printed).
    """

    def __init__(self, procs_count: int, *, installed: bool = False, keep: bool = False, verbose: bool = True,
                 server_args: Sequence[str] = (), gateway_args: Sequence[str] = (),
                 yardstick_loop: str = "asyncio", parley_source: Path | None = None) -> None:
        procs.raise_nofile()
        self.parley_source = Path(parley_source).resolve() if parley_source else procs.REPO
        self.server_args = list(server_args)
        self.gateway_args = list(gateway_args)
        self.yardstick_loop = yardstick_loop
        self.parley_loop = ""  # as Parley's server logs it
        self.dir = Path(tempfile.mkdtemp(prefix="parley-bench-"))
        self.procs_count = procs_count
        self.installed = installed
        self.keep = keep
        self.verbose = verbose
        self.children: list[procs.Child] = []
        self._pool: Pool | None = None
        self.started = time.monotonic()

    def __enter__(self) -> "Bench":
        return self

    def __exit__(self, kind: Any, error: Any, tb: Any) -> None:
        self.stop_all()
        if self._pool is not None:
            self._pool.close()
        if kind is None and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print(f"bench: logs kept in {self.dir}", file=sys.stderr)

    @classmethod
    def from_args(cls, args: Any) -> "Bench":
        """Return a Bench set up from the command line's options."""
        return cls(args.procs, installed=args.installed, keep=args.keep, verbose=args.verbose,
                   server_args=args.server_arg or (), gateway_args=args.gateway_arg or (),
                   yardstick_loop=args.yardstick_loop, parley_source=args.parley_source)

    @property
    def pool(self) -> Pool:
        """The load-generator processes (started on first use)."""
        if self._pool is None:
            self._pool = Pool(self.procs_count)
        return self._pool

    def log(self, message: str) -> None:
        """Print progress on standard error (standard output holds only summary lines)."""
        if self.verbose:
            print(f"[{time.monotonic() - self.started:6.1f}s] {message}", file=sys.stderr, flush=True)

    def start(self, child: procs.Child) -> procs.Child:
        """Start a child and keep it for cleanup; return it."""
        self.children.append(child)
        return child.start()

    def stop(self, system: System) -> None:
        """Stop a system's processes (gateway before server)."""
        for child in reversed(system.children):
            child.stop()
            if child in self.children:
                self.children.remove(child)

    def stop_all(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()

    # Systems ------------------------------------------------------------

    def yardstick(self, name: str, naive: bool = False, loop: str | None = None) -> System:
        """Start the yardstick (on ``--yardstick-loop`` unless ``loop`` is given); return it as a system
        with a "tcp" endpoint."""
        child = self.start(procs.yardstick(self.dir, name, naive=naive, loop=loop or self.yardstick_loop))
        return System(name, [child], {"tcp": Endpoint("tcp", child.port, parley=False)})

    def parley(self, name: str, *, fsync: bool = True, gateway: bool = False, extra: Sequence[str] = ()) -> System:
        """Start ``parley server`` (and ``parley gateway`` in front of it) on a throwaway data dir; return
        the system with a "tcp" endpoint (and a "ws" one)."""
        server = self.start(procs.parley_server(self.dir, name, self.dir / f"{name}-data", fsync=fsync,
                                                installed=self.installed, extra=[*self.server_args, *extra],
                                                source=self.parley_source))
        system = System(name, [server], {"tcp": Endpoint("tcp", server.port)})
        found = re.search(r"event loop: (\w+)", server.log.read_text(errors="replace"))
        self.parley_loop = found.group(1) if found else "asyncio (not logged)"
        if gateway:
            gw = self.start(procs.parley_gateway(self.dir, f"{name}-gateway", server.port, installed=self.installed,
                                                 extra=self.gateway_args, source=self.parley_source))
            system.children.append(gw)
            system.endpoints["ws"] = Endpoint("ws", gw.http_port, path="/ws")
        return system

    def parley_serve(self, name: str) -> System:
        """Start ``parley serve`` (server and gateway in one process); return it with "tcp" and "ws" endpoints."""
        child = self.start(procs.parley_serve(self.dir, name, self.dir / f"{name}-data", installed=self.installed,
                                              extra=self.server_args, source=self.parley_source))
        return System(name, [child], {"tcp": Endpoint("tcp", child.port), "ws": Endpoint("ws", child.http_port, path="/ws")})

    def parley_gateway(self, name: str, upstream_port: int) -> System:
        """Start ``parley gateway`` alone in front of the chat server at ``upstream_port``; return it with a "ws"
        endpoint."""
        child = self.start(procs.parley_gateway(self.dir, name, upstream_port, installed=self.installed,
                                                extra=self.gateway_args, source=self.parley_source))
        return System(name, [child], {"ws": Endpoint("ws", child.http_port, path="/ws")})

    def websockify(self, name: str, upstream_port: int) -> System:
        """Start websockify in front of ``upstream_port``; return it with a binary "ws" endpoint.

        Its memory is counted with its per-connection children (PSS, shared pages split)."""
        child = self.start(procs.websockify(self.dir, name, upstream_port))
        return System(name, [child], {"ws": Endpoint("ws", child.port, path="/", binary=True)},
                      rss_with_children=True)


def shared_flags(args: Any) -> str:
    """Return the options every scenario shares that differ from their defaults, as command-line text."""
    flags = []
    for name, default in (("procs", 2), ("senders", 32), ("window", 8), ("size", 100)):
        if getattr(args, name, default) != default:
            flags.append(f"--{name} {getattr(args, name)}")
    if getattr(args, "syscalls", False):
        flags.append("--syscalls")
    if getattr(args, "yardstick_loop", "asyncio") != "asyncio":
        flags.append(f"--yardstick-loop {args.yardstick_loop}")
    if getattr(args, "installed", False):
        flags.append("--installed")
    if getattr(args, "parley_source", None):
        flags.append(f"--parley-source {args.parley_source}")
    flags += [f"--server-arg={a}" for a in getattr(args, "server_arg", None) or ()]
    flags += [f"--gateway-arg={a}" for a in getattr(args, "gateway_arg", None) or ()]
    return "".join(" " + f for f in flags)


def alternate(names: Sequence[str], round_number: int) -> list[str]:
    """Return the systems' order for a round: as given on even rounds, reversed on odd ones (A B, B A...)."""
    return list(names) if round_number % 2 == 0 else list(reversed(names))


# Formatting ----------------------------------------------------------------


def human(value: float, unit: str = "/s") -> str:
    """Return a count with a k/M suffix and ``unit`` (``3.41M/s``); ``-`` for NaN."""
    if value is None or math.isnan(value):
        return "-"
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}{unit}"
    return f"{value:.3g}{unit}"


def ms(value: float) -> str:
    """Return milliseconds with sensible precision (``7.9 ms``); ``-`` for NaN."""
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def times(value: float) -> str:
    """Return a ratio as ``0.34x``; ``-`` for NaN."""
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.2f}x" if value < 10 else f"{value:.1f}x"


def with_range(values: Sequence[float], fmt: Callable[[float], str]) -> str:
    """Return ``median (min..max)`` of per-round values in ``fmt``; the range is left out for one round."""
    s = spread(values)
    if math.isnan(s["median"]):
        return "-"
    if len([v for v in values if not math.isnan(v)]) < 2:
        return fmt(s["median"])
    low, high = fmt(s["min"]), fmt(s["max"])
    unit = re.search(r"[^\d.,]*$", high)
    if unit and unit.group() and low.endswith(unit.group()):
        low = low[:len(low) - len(unit.group())].rstrip()
    return f"{fmt(s['median'])} ({low}..{high})"


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Return the per-round ratios of two systems measured in the same rounds."""
    return [ratio(a, b) for a, b in zip(numerators, denominators)]


def verdict(value: float, ok: Callable[[float], bool]) -> str:
    """Return "pass" or "miss" for a median value against a target; "-" for NaN."""
    if value is None or math.isnan(value):
        return "miss"
    return "pass" if ok(value) else "miss"


def jsonable(value: Any) -> Any:
    """Return ``value`` with NaN and infinities as None and tuples as lists, for strict JSON."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return len(value)
    return value


def machine() -> dict[str, Any]:
    """Return a description of this machine and software for the report."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=procs.REPO, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "server", "gateway", "parley"],
                               capture_output=True, text=True, cwd=procs.REPO, timeout=10).stdout.strip()
        if commit and dirty:
            commit += " with uncommitted changes to server/, gateway/ or parley/"
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(memory / 2**30, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "commit": commit, "date": time.strftime("%Y-%m-%d %H:%M %Z")}


@dataclass
class Series:
    """Per-round values of named measures for named systems: ``series[system][measure] -> [round values]``."""

    data: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    raw: list[dict[str, Any]] = field(default_factory=list)

    def add(self, system: str, measure: str, value: float, detail: dict[str, Any] | None = None) -> None:
        self.data.setdefault(system, {}).setdefault(measure, []).append(value)
        if detail is not None:
            self.raw.append({"system": system, "measure": measure, **detail})

    def get(self, system: str, measure: str) -> list[float]:
        return self.data.get(system, {}).get(measure, [])

    def figures(self, **extra: Any) -> dict[str, Any]:
        """Everything for a scenario's JSON: the series, their summary, the raw runs, and ``extra``."""
        return {**extra, "series": self.data, "summary": self.summary(), "runs": self.raw}

    def iter(self) -> Iterator[tuple[str, str, list[float]]]:
        for system, measures in self.data.items():
            for measure, values in measures.items():
                yield system, measure, values

    def merge(self, other: "Series", suffix: str) -> None:
        """Add every series of ``other`` under its system's name followed by ``suffix``, and its raw runs."""
        for system, measure, values in other.iter():
            for value in values:
                self.add(f"{system}{suffix}", measure, value)
        self.raw.extend(other.raw)

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """Return median/min/max of every series."""
        return {system: {measure: spread(values) for measure, values in measures.items()}
                for system, measures in self.data.items()}
