"""A private LAN for tests: network namespaces joined by a bridge, so no multicast leaves the machine.

``with Lan(hosts=2) as lan:`` makes a namespace holding a bridge (the
switch) and one namespace per host, each with one veth interface on the
bridge and an address ``10.77.0.N/24`` (N = 1, 2, ...). ``lan.run(i, argv)``
starts a program on host ``i``; ``lan.prefix(i)`` is the command prefix that
runs one there. Everything is created inside the namespaces themselves (no
interface ever appears in the machine's own namespace) and removed at the end,
with whatever still runs in them.

Needs root (``ip netns``); ``lan_available()`` says whether this machine can.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from types import TracebackType
from typing import Any, Sequence

SUBNET = "10.77.0"


def lan_available() -> str | None:
    """Why this machine cannot make a private LAN, or None when it can."""
    if shutil.which("ip") is None:
        return "iproute2's ip is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root"
    return None


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


class Lan:
    """``hosts`` namespaces on one bridge; host ``i`` (from 0) has the address ``10.77.0.(i+1)``."""

    def __init__(self, hosts: int = 2) -> None:
        tag = f"{os.getpid()}-{time.monotonic_ns() % 10**9}"
        self.switch = f"plan-sw-{tag}"
        self.hosts = [f"plan-h{i}-{tag}" for i in range(hosts)]
        self.processes: list[subprocess.Popen[Any]] = []

    def address(self, host: int) -> str:
        return f"{SUBNET}.{host + 1}"

    def prefix(self, host: int) -> list[str]:
        """The command prefix that runs a program on host ``host``."""
        return ["ip", "netns", "exec", self.hosts[host]]

    def run(self, host: int, argv: Sequence[str], **popen: Any) -> "subprocess.Popen[Any]":
        """Start ``argv`` on host ``host``; it is killed at the end if still running."""
        process: subprocess.Popen[Any] = subprocess.Popen([*self.prefix(host), *argv], **popen)
        self.processes.append(process)
        return process

    def start(self) -> "Lan":
        try:
            _ip("netns", "add", self.switch)
            _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.switch, "link", "set", "br0", "up")
            for number, host in enumerate(self.hosts):
                _ip("netns", "add", host)
                _ip("-n", host, "link", "set", "lo", "up")
                # Both ends are made inside the namespaces: nothing appears in the machine's own.
                _ip("-n", host, "link", "add", "eth0", "type", "veth", "peer", "name", f"port{number}",
                    "netns", self.switch)
                _ip("-n", self.switch, "link", "set", f"port{number}", "master", "br0", "up")
                _ip("-n", host, "addr", "add", f"{self.address(number)}/24", "dev", "eth0")
                _ip("-n", host, "link", "set", "eth0", "up")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                pass
            for pipe in (process.stdin, process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()
        for namespace in [*self.hosts, self.switch]:
            pids = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)

    def __enter__(self) -> "Lan":
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
