"""Child processes under test (Parley, the yardstick, websockify) on 127.0.0.1.

Each child's standard error goes to a log file in the run's directory; the
child is ready when it prints ``TCP port N`` / ``HTTP port M`` (Parley and the
yardstick) or when its port accepts connections (websockify).
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Sequence

import psutil

from parley.addresses import announced_port

REPO = Path(__file__).resolve().parent.parent


def raise_nofile() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def free_port() -> int:
    """Return a loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to send SIGTERM when the parent dies (no orphans left running)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def child_env(source: Path = REPO) -> dict[str, str]:
    """Return the environment for children: this one, with ``source`` (the repository) first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(source), env.get("PYTHONPATH", "")) if p)
    # Every client of a benchmark comes from loopback, one address: lift the work budgets and
    # the web port's per-address cap (as variables, which a Parley without these flags ignores).
    env.setdefault("PARLEY_REQUEST_RATE", "0")
    env.setdefault("PARLEY_ADDRESS_REQUEST_RATE", "0")
    env.setdefault("PARLEY_MAX_WEB_CONNECTIONS_PER_ADDRESS", "0")
    env.setdefault("PARLEY_ROOMS_PER_ADDRESS", "0")  # scenario 8 creates its rooms from one address
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class Child:
    """One child process; ``start()`` returns once it is ready to accept connections."""

    def __init__(self, name: str, args: Sequence[str], log_dir: Path, *, wanted: Sequence[str] = ("TCP",),
                 port: int = 0, source: Path = REPO) -> None:
        self.name = name
        self.source = source  # the directory the child runs in, first on its PYTHONPATH
        self.args = list(args)
        self.log = log_dir / f"{name}.log"
        self.wanted = tuple(wanted)
        self.port = port  # the TCP port (known in advance for websockify)
        self.http_port = 0
        self.process: subprocess.Popen[str] | None = None
        self._found: set[str] = set()
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> "Child":
        """Start the child and wait until it is ready; return self. Raises RuntimeError if it does not start."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("w") as log:
            self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                            text=True, env=child_env(self.source), cwd=self.source,
                                            start_new_session=True,
                                            preexec_fn=_die_with_parent)
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        if self.wanted:
            ok = self._ready.wait(timeout) and len(self._found) == len(self.wanted)
        else:
            ok = self._wait_accepting(deadline)
        if not ok:
            self.stop()
            raise RuntimeError(f"{self.name} did not start: {self.args}\n{self.log.read_text()[-3000:]}")
        return self

    def _wait_accepting(self, deadline: float) -> bool:
        """Return True once ``port`` accepts a connection, False at the deadline or if the child died."""
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            announced = announced_port(line)
            if announced is not None and announced[0] in self.wanted:
                kind, port = announced
                self._found.add(kind)
                if kind == "TCP":
                    self.port = port
                else:
                    self.http_port = port
            if self.wanted and len(self._found) == len(self.wanted):
                self._ready.set()
        self._ready.set()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def rss(self, with_children: bool = False) -> int:
        """Return the child's resident memory in bytes; with children, the sum of their PSS (shared pages split)."""
        proc = psutil.Process(self.pid)
        if not with_children:
            return int(proc.memory_info().rss)
        total = 0
        for p in [proc, *proc.children(recursive=True)]:
            try:
                total += int(p.memory_full_info().pss)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return total

    def alive(self) -> bool:
        """Return whether the child is still running."""
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> int:
        """Stop the child (SIGTERM, then SIGKILL after ``timeout``) and its children; return its exit code."""
        if self.process is None:
            return 0
        try:
            kids = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            kids = []
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout)
        for kid in kids:
            try:
                kid.kill()
            except psutil.NoSuchProcess:
                pass
        if self._reader is not None:
            self._reader.join(2)
        if self.process.stdout:
            self.process.stdout.close()
        return code


def parley_program(installed: bool) -> list[str]:
    """Return the command that runs Parley: the working tree's code (``python -m parley``) or the installed script."""
    if installed:
        return [str(Path(sys.executable).parent / "parley")]
    return [sys.executable, "-m", "parley"]


def parley_server(log_dir: Path, name: str, data_dir: Path, *, fsync: bool = True, installed: bool = False,
                  extra: Sequence[str] = (), source: Path = REPO) -> Child:
    """Return (not started) ``parley server`` on loopback with flood and per-address limits lifted,
    from the code in ``source`` (unless ``installed``)."""
    args = [*parley_program(installed), "server", "--host", "127.0.0.1", "--port", "0",
            "--data-dir", str(data_dir), "--chat-rate", "0", "--max-connections-per-address", "0",
            "--login-timeout", "3600", "--fsync", "on" if fsync else "off",
            "--trusted-proxy", "127.0.0.1", *extra]  # the PROXY headers of a `parley gateway` beside it
    return Child(name, args, log_dir, source=source)


def parley_serve(log_dir: Path, name: str, data_dir: Path, *, installed: bool = False, extra: Sequence[str] = (),
                 source: Path = REPO) -> Child:
    """Return (not started) ``parley serve``: server and gateway in one process, as the README's Quick start
    runs them, on loopback with the same limits lifted as ``parley_server``."""
    args = [*parley_program(installed), "serve", "--host", "127.0.0.1", "--port", "0", "--http-host", "127.0.0.1",
            "--http-port", "0", "--data-dir", str(data_dir), "--chat-rate", "0", "--max-connections-per-address", "0",
            "--login-timeout", "3600", "--trusted-proxy", "127.0.0.1", *extra]  # a `parley gateway` may front it too
    return Child(name, args, log_dir, wanted=("TCP", "HTTP"), source=source)


def parley_gateway(log_dir: Path, name: str, upstream_port: int, *, installed: bool = False,
                   extra: Sequence[str] = (), source: Path = REPO) -> Child:
    """Return (not started) ``parley gateway`` on loopback in front of the server at ``upstream_port``."""
    args = [*parley_program(installed), "gateway", "--upstream", f"127.0.0.1:{upstream_port}",
            "--http-host", "127.0.0.1", "--http-port", "0", *extra]
    return Child(name, args, log_dir, wanted=("HTTP",), source=source)


def yardstick(log_dir: Path, name: str, *, naive: bool = False, loop: str = "asyncio") -> Child:
    """Return (not started) the yardstick fan-out server (``python -m bench.yardstick``)."""
    args = [sys.executable, "-m", "bench.yardstick", "--host", "127.0.0.1", "--port", "0", "--loop", loop]
    if naive:
        args.append("--naive")
    return Child(name, args, log_dir)


def websockify(log_dir: Path, name: str, upstream_port: int) -> Child:
    """Return (not started) websockify on a free loopback port in front of ``upstream_port``."""
    port = free_port()
    args = [sys.executable, "-m", "websockify", f"127.0.0.1:{port}", f"127.0.0.1:{upstream_port}"]
    return Child(name, args, log_dir, wanted=(), port=port)
