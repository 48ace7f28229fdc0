"""The Store on a thread of its own, with group commit for chat messages.

SQLite work never runs on the event loop. Messages waiting to be stored are
written together in one transaction (one fsync); a message's ``append``
returns only once the transaction holding it is committed, so nobody is sent
a message that a crash could lose.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from typing import Any, Callable, TypeVar

from .store import NewMessage, Store

T = TypeVar("T")


class Database:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="parley-db")
        self._waiting: list[tuple[NewMessage, asyncio.Future[int]]] = []
        self._committing = False

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` (a Store method) on the database thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args))

    async def append_message(self, message: NewMessage) -> int:
        """Store ``message`` durably; return its id. Raises what SQLite raised."""
        return await self.submit_message(message)

    def submit_message(self, message: NewMessage) -> "asyncio.Future[int]":
        """Queue ``message`` for the next commit; the future gets its id once it is durable.

        Messages submitted before anyone awaits share one commit: a client's
        burst of messages costs one fsync, not one each.
        """
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append((message, future))
        if not self._committing:
            self._commit_waiting()
        return future

    def _commit_waiting(self) -> None:
        batch, self._waiting = self._waiting, []
        self._committing = True
        loop = asyncio.get_running_loop()
        job = self._executor.submit(self.store.append_messages, [m for m, _ in batch])
        job.add_done_callback(lambda done: loop.call_soon_threadsafe(self._committed, batch, done))

    def _committed(
        self, batch: list[tuple[NewMessage, asyncio.Future[int]]], job: concurrent.futures.Future
    ) -> None:
        self._committing = False
        error = job.exception()
        ids = [] if error else job.result()
        for i, (_, future) in enumerate(batch):
            if future.done():
                continue
            if error:
                future.set_exception(error)
            else:
                future.set_result(ids[i])
        if self._waiting:
            self._commit_waiting()

    async def close(self) -> None:
        """Wait for pending commits, then close the database."""
        while self._committing or self._waiting:
            await asyncio.sleep(0.01)
        await self.call(self.store.close)
        self._executor.shutdown(wait=True)
