"""Real Redis and PostgreSQL servers on free loopback ports, each in a temporary folder of its own.

``RedisServer`` and ``PostgresServer`` are context managers: started on
entry, stopped (and their folder removed) on exit. ``stop()`` / ``start()``
keep the port and the data; ``pause()`` / ``resume()`` freeze and thaw every
process of the server (SIGSTOP / SIGCONT: a hung server, connections held
open); ``kill()`` is a crash (SIGKILL). PostgreSQL refuses to run as root,
so when we are root it runs as the unprivileged ``nobody``, in a folder that
user owns. The tests' fixtures (conftest.py) and the benchmarks share this.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg import sql
from serverproc import free_port

POSTGRES_BIN = Path(os.environ.get("PARLEY_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "parley"  # the superuser initdb makes (trust authentication, loopback only)
READY_TIMEOUT = 30.0
_running: set[_Service] = set()  # stopped at exit, whatever a test left behind


def _as_nobody() -> list[str]:
    """The prefix that runs a command as ``nobody`` when we are root (PostgreSQL refuses root); else nothing."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]


class _Service:
    """A server process started in a new session (its process group is the server and its children)."""

    name = "service"

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=f"parley-{self.name}-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.folder / f"{self.name}.log"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    def _stop_cleanly(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        """Start the server on its port and wait until it accepts connections."""
        if self.running:
            return
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.folder)
        _running.add(self)
        deadline = time.monotonic() + READY_TIMEOUT
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"{self.name} did not start: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _signal_group(self, sig: int) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def stop(self) -> None:
        """Stop the server cleanly (killed if it does not stop within 15 s); port and data are kept."""
        if self.process is None:
            return
        if self.running:
            self._signal_group(signal.SIGCONT)  # a paused server cannot stop
            try:
                self._stop_cleanly()
                self.process.wait(15)
            except (subprocess.SubprocessError, OSError):
                self.kill()
        self._reap()

    def kill(self) -> None:
        """Kill every process of the server at once (a crash); port and data are kept."""
        self._signal_group(signal.SIGKILL)
        self._reap()

    def _reap(self) -> None:
        if self.process is not None:
            with contextlib.suppress(subprocess.SubprocessError):
                self.process.wait(15)
            # The server's children (PostgreSQL's backends) leave with it; any left is killed.
            self._signal_group(signal.SIGKILL)
        self.process = None
        _running.discard(self)

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP to all its processes): connections stay open, nothing answers."""
        self._signal_group(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal_group(signal.SIGCONT)

    def close(self) -> None:
        """Stop the server and remove its folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class RedisServer(_Service):
    """``redis-server`` on 127.0.0.1, nothing saved to disk."""

    name = "redis"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _command(self) -> list[str]:
        return ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.folder), "--daemonize", "no"]

    def _ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def _stop_cleanly(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)


class PostgresServer(_Service):
    """PostgreSQL 15 on 127.0.0.1 (initdb once, at construction), superuser ``parley``, trust authentication.

    ``url`` is its ``postgres`` database's; ``create_database(name)`` makes
    another and returns its URL.
    """

    name = "postgres"

    def __init__(self, *, fsync: bool = True) -> None:
        super().__init__()
        self.fsync = fsync
        self.data = self.folder / "data"
        if os.geteuid() == 0:
            shutil.chown(self.folder, "nobody", "nogroup")
        self.log.touch()
        if os.geteuid() == 0:
            shutil.chown(self.log, "nobody", "nogroup")
        done = subprocess.run([*_as_nobody(), str(POSTGRES_BIN / "initdb"), "-D", str(self.data), "-A", "trust",
                               "-U", PG_USER, "-E", "UTF8", "--locale", "C.UTF-8", "--no-sync"],
                              capture_output=True, text=True, check=False, cwd=self.folder)
        if done.returncode != 0:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise RuntimeError(f"initdb failed: {done.stderr.strip()}")

    def url_of(self, database: str) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        return self.url_of("postgres")

    def _command(self) -> list[str]:
        settings = {"listen_addresses": "127.0.0.1", "unix_socket_directories": str(self.folder),
                    "fsync": "on" if self.fsync else "off", "max_connections": "200",
                    "shared_buffers": "32MB", "logging_collector": "off"}
        options = [part for key, value in settings.items() for part in ("-c", f"{key}={value}")]
        return [*_as_nobody(), str(POSTGRES_BIN / "postgres"), "-D", str(self.data), "-p", str(self.port), *options]

    def _ready(self) -> bool:
        try:
            with psycopg.connect(self.url, connect_timeout=2):
                return True
        except psycopg.Error:
            return False

    def _stop_cleanly(self) -> None:
        subprocess.run([*_as_nobody(), str(POSTGRES_BIN / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast",
                        "-w", "-t", "15"], capture_output=True, check=True, cwd=self.folder)

    def create_database(self, name: str) -> str:
        """Create an empty database ``name``; return its URL."""
        with psycopg.connect(self.url, autocommit=True) as db:
            db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_of(name)

    def drop_database(self, name: str) -> None:
        """Drop the database ``name``, closing whatever connections it still has."""
        with psycopg.connect(self.url, autocommit=True) as db:
            db.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _stop_all(*_: Any) -> None:
    for service in list(_running):
        service.kill()


atexit.register(_stop_all)
