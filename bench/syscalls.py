"""Counting a process's write system calls with ``perf stat`` (``--syscalls``): how many deliveries each
write carries is the measure of how well a server joins its writes."""

from __future__ import annotations

import shutil
import signal
import subprocess
from typing import Sequence

EVENTS = ("sendto", "sendmsg", "write", "writev")


def available() -> bool:
    """Return whether ``perf`` can count system calls here."""
    perf = shutil.which("perf")
    if not perf:
        return False
    try:
        done = subprocess.run([perf, "stat", "-x,", "-e", "syscalls:sys_enter_write", "--", "true"],
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and "sys_enter_write" in done.stderr


class WriteCounter:
    """Counts write-type system calls of ``pids`` from ``start()`` to ``stop()``."""

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = list(pids)
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        """Start counting."""
        events = ",".join(f"syscalls:sys_enter_{name}" for name in EVENTS)
        self.process = subprocess.Popen(
            ["perf", "stat", "-x,", "-e", events, "-p", ",".join(map(str, self.pids))],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def stop(self) -> int:
        """Stop counting; return the number of write-type system calls (0 if perf failed)."""
        if self.process is None:
            return 0
        self.process.send_signal(signal.SIGINT)
        try:
            _, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return 0
        total = 0
        for line in err.splitlines():
            fields = line.split(",")
            if len(fields) > 2 and fields[0].strip().isdigit() and "sys_enter_" in fields[2]:
                total += int(fields[0])
        return total
