"""The password hashing pool: a few threads, and a queue that lets logins go first.

A hash holds a core and 21 MiB for about 20 ms (server/passwords.py), so the
pool has few threads (half the cores by default) and never more jobs running
than threads. Jobs wait in a priority queue on the event loop: checking a
password at login runs before any waiting password change or registration,
so however many connections ask to change passwords, a login waits for at
most one hash per thread. Each connection has at most one job at a time (the
core handles one request per connection); the core caps password changes per
address.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import heapq
import itertools
from collections.abc import Callable
from typing import Any

LOGIN = 0  # checking a password at login: first
CHANGE = 1  # hashing a new password (a change, a registration): when no login waits

_Job = tuple[int, int, Callable[[], Any], "asyncio.Future[Any]"]


class HashingPool:
    """Runs hashing functions on ``threads`` threads, the lowest priority number first, in order within one."""

    def __init__(self, threads: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._executor = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="parley-hash")
        self._free = threads
        self._waiting: list[_Job] = []
        self._order = itertools.count()

    def submit(self, priority: int, function: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Queue ``function(*args)``; return a future for its result. Cancel the future to drop a waiting job."""
        future: asyncio.Future[Any] = self._loop.create_future()
        job: _Job = (priority, next(self._order), functools.partial(function, *args), future)
        heapq.heappush(self._waiting, job)
        self._start()
        return future

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def shutdown(self) -> None:
        for *_, future in self._waiting:
            future.cancel()
        self._waiting.clear()
        self._executor.shutdown(wait=False)

    def _start(self) -> None:
        while self._free > 0 and self._waiting:
            *_, call, future = heapq.heappop(self._waiting)
            if future.cancelled():
                continue
            self._free -= 1
            running = self._loop.run_in_executor(self._executor, call)
            running.add_done_callback(functools.partial(self._finished, future))

    def _finished(self, future: asyncio.Future[Any], running: asyncio.Future[Any]) -> None:
        self._free += 1
        if not future.cancelled():
            if running.cancelled():
                future.cancel()
            elif (error := running.exception()) is not None:
                future.set_exception(error)
            else:
                future.set_result(running.result())
        self._start()
