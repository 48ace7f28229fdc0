"""Run the installed `parley` command (server, serve, gateway) as a child process on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Sequence

import psutil

from parley.addresses import announced_port

PARLEY = str(Path(sys.executable).parent / "parley")
REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback port nobody listens on now (for a process that must restart on it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ParleyProcess:
    """`parley COMMAND ...` as a child; ``start()`` waits until it prints its ports.

    ``port`` is the TCP chat port (server, serve), ``http_port`` the web port
    (serve, gateway). The child's standard error goes to ``log``. By default
    the installed ``parley`` script runs; ``source=True`` runs this working
    tree's code and ``web/`` instead (``python -m parley`` from the repository).
    ``prefix`` runs it through another program, e.g. ``ip netns exec NS``.
    """

    def __init__(self, log_dir: Path, command: str, *args: str, env: dict[str, str] | None = None,
                 source: bool = False, prefix: Sequence[str] = ()) -> None:
        program = [sys.executable, "-m", "parley"] if source else [PARLEY]
        self.args = [*prefix, *program, command, *args]
        self.cwd = REPO if source else None
        self.env = {**os.environ, **(env or {})}
        self.wanted = {"server": ("TCP",), "serve": ("TCP", "HTTP"), "gateway": ("HTTP",)}[command]
        self.process: subprocess.Popen[str] | None = None
        self.port = 0
        self.http_port = 0
        self.output: list[str] = []
        self.log = log_dir / f"parley-{command}-{os.getpid()}-{time.monotonic_ns()}.log"

    def start(self, timeout: float = 15) -> "ParleyProcess":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        log = self.log.open("w")
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=log, text=True, env=self.env,
                                        cwd=self.cwd)
        log.close()
        self._ready = threading.Event()
        # Read standard output to its end on a thread: the child never blocks on a full pipe.
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()
        if not self._ready.wait(timeout) or len(self._found) < len(self.wanted):
            self.stop()
            raise RuntimeError(f"parley did not start: {self.log.read_text()}")
        return self

    def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        self._found: set[str] = set()
        for line in self.process.stdout:
            self.output.append(line)
            announced = announced_port(line)
            if announced is not None and announced[0] in self.wanted:
                kind, port = announced
                self._found.add(kind)
                if kind == "TCP":
                    self.port = port
                else:
                    self.http_port = port
            if len(self._found) == len(self.wanted):
                self._ready.set()
        self._ready.set()

    def printed(self, text: str, timeout: float = 5) -> bool:
        """Whether the child prints ``text`` on its standard output within ``timeout``."""
        deadline = time.monotonic() + timeout
        while text not in "".join(self.output):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/"

    def rss(self) -> int:
        assert self.process is not None
        return int(psutil.Process(self.process.pid).memory_info().rss)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout)
        self._reader.join(timeout)
        if self.process.stdout:
            self.process.stdout.close()
        return code


class ServerProcess(ParleyProcess):
    """`parley server` on loopback with its data in ``data_dir``."""

    def __init__(self, data_dir: Path, *flags: str, port: int = 0, **options: Any) -> None:
        super().__init__(data_dir.parent, "server", "--host", "127.0.0.1", "--port", str(port),
                         "--data-dir", str(data_dir), *flags, **options)


class ServeProcess(ParleyProcess):
    """`parley serve` (chat server and web gateway) on loopback."""

    def __init__(self, data_dir: Path, *flags: str, port: int = 0, http_port: int = 0, **options: Any) -> None:
        super().__init__(data_dir.parent, "serve", "--host", "127.0.0.1", "--port", str(port),
                         "--http-host", "127.0.0.1", "--http-port", str(http_port),
                         "--data-dir", str(data_dir), *flags, **options)


class GatewayProcess(ParleyProcess):
    """`parley gateway` on loopback in front of the chat server at ``upstream_port``."""

    def __init__(self, log_dir: Path, upstream_port: int, *flags: str, http_port: int = 0, **options: Any) -> None:
        super().__init__(log_dir, "gateway", "--upstream", f"127.0.0.1:{upstream_port}",
                         "--http-host", "127.0.0.1", "--http-port", str(http_port), *flags, **options)
