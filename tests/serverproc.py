"""Run `parley server` as a child process on a free loopback port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

PARLEY = str(Path(sys.executable).parent / "parley")


class ServerProcess:
    def __init__(self, data_dir: Path, *flags: str, port: int = 0) -> None:
        self.args = [PARLEY, "server", "--host", "127.0.0.1", "--port", str(port),
                     "--data-dir", str(data_dir), *flags]
        self.process: subprocess.Popen[str] | None = None
        self.port = 0
        self.log = data_dir.parent / f"server-{os.getpid()}-{time.monotonic_ns()}.log"

    def start(self, timeout: float = 15) -> "ServerProcess":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        log = self.log.open("w")
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            found = re.search(r"TCP port (\d+)", line)
            if found:
                self.port = int(found.group(1))
                return self
        self.stop()
        raise RuntimeError(f"server did not start: {self.log.read_text()}")

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
        if self.process.stdout:
            self.process.stdout.close()
        return code
