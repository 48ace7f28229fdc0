"""Several `parley serve` nodes on one PostgreSQL database and one Redis, on loopback, for the cluster tests."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import Iterator

from serverproc import ServeProcess, free_port
from services import RedisServer


class Cluster:
    """``count`` nodes (``nodes[i]``), each with its own data folder and one shared files folder."""

    def __init__(self, root: Path, database: str, redis: RedisServer, count: int, *flags: str) -> None:
        self.root = root
        self.database = database
        self.redis = redis
        self.flags = flags
        self.files = root / "files"
        self.nodes: list[ServeProcess] = []
        for i in range(count):
            self.nodes.append(self._node(i))

    def _node(self, i: int, port: int = 0, http_port: int = 0) -> ServeProcess:
        return ServeProcess(self.root / f"node{i}", "--database", self.database, "--redis", self.redis.url,
                            "--node-name", f"node{i}", "--files-dir", str(self.files),
                            *self.flags, port=port or free_port(), http_port=http_port or free_port(), source=True)

    def start(self) -> "Cluster":
        for node in self.nodes:
            node.start(timeout=30)
        return self

    def restart(self, i: int) -> ServeProcess:
        """Start node ``i`` again on its ports (after a stop or a kill)."""
        old = self.nodes[i]
        self.nodes[i] = self._node(i, old.port, old.http_port).start(timeout=30)
        return self.nodes[i]

    def kill(self, i: int) -> None:
        self.nodes[i].stop(signal.SIGKILL)

    def stop(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                if node.process is not None and node.process.poll() is None:
                    node.process.send_signal(signal.SIGCONT)
                node.stop()


@contextlib.contextmanager
def cluster_of(root: Path, database: str, redis: RedisServer, count: int, *flags: str) -> Iterator[Cluster]:
    cluster = Cluster(root, database, redis, count, *flags)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
