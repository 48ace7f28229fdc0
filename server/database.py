"""The Store on a thread of its own, with group commit for chat messages.

SQLite work never runs on the event loop. Messages waiting to be stored are
written together in one transaction (one fsync); a message is handed back
(``submit_message``'s callback) only once the transaction holding it is
committed, so nobody is sent a message that a crash could lose.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools
import logging
import sqlite3
from typing import Any, Callable, Optional, TypeVar

import psycopg

from .records import NewMessage, StoreFailed
from .store import Store

T = TypeVar("T")
StoredCallback = Callable[[Optional[int], int, Optional[BaseException]], None]  # (id, seq, error)
log = logging.getLogger("parley.server")
MAX_BATCH = 1000  # messages in one transaction


def store_request(who: str, what: str, function: Callable[..., T], *args: Any) -> T:
    """On the database thread: ``function(*args)`` (a Store method) for ``who``.

    A database failure (a full disk, an I/O error, a locked or read-only file)
    is logged here, once, with SQLite's own words, and raised as StoreFailed
    for the chat core to answer the client with. PostgreSQL's failures (the
    server gone, a connection broken) are the same: the next call reconnects.
    """
    try:
        return function(*args)
    except (sqlite3.Error, psycopg.Error, OSError) as error:
        log.error("%s: %s failed: %s: %s", who, what, type(error).__name__, error)
        raise StoreFailed(what) from error


INDEX_BATCH = 500  # messages put in the search index at a time, when no message waits to be stored


class Database:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="parley-db")
        # Appended on the loop, taken on the database thread (deque operations are atomic).
        self._waiting: collections.deque[tuple[NewMessage, StoredCallback]] = collections.deque()
        self._committing = False
        self.commits = 0  # transactions of messages so far

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` (a Store method) on the database thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(function, *args))

    def submit_message(self, message: NewMessage, on_stored: StoredCallback) -> None:
        """Queue ``message`` for the next commit; ``on_stored(id, seq, None)`` runs once it is durable
        (``seq``: its place in its conversation).

        On failure ``on_stored(None, 0, error)`` runs instead. Messages submitted
        while a commit is running share the next one: a burst costs one fsync,
        not one each. The callback is called straight from the loop callback
        that learns of the commit, so a message goes out in that same loop
        iteration.
        """
        self._waiting.append((message, on_stored))
        if not self._committing:
            self._start_committing()

    def _start_committing(self) -> None:
        self._committing = True
        loop = asyncio.get_running_loop()
        job = self.executor.submit(self._commit_while_waiting, loop)
        job.add_done_callback(lambda _: loop.call_soon_threadsafe(self._commits_ended))

    def _commit_while_waiting(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the database thread: commit what waits, again and again until nothing does.

        The thread does not wait for the event loop between commits (the loop
        may be busy writing), so a commit's turnaround is the disk's and not
        the loop's.
        """
        waiting = self._waiting
        while True:
            while waiting:
                batch = [waiting.popleft() for _ in range(min(len(waiting), MAX_BATCH))]
                self.commits += 1
                try:
                    ids, error = self.store.append_sequenced([m for m, _ in batch]), None
                except Exception as failure:
                    log.error("storing %d messages failed: %s: %s", len(batch), type(failure).__name__, failure)
                    ids, error = [], failure
                loop.call_soon_threadsafe(self._committed, batch, ids, error)
            # Nothing waits for a commit: index what was stored, a batch at a time (a message that comes
            # meanwhile waits for one batch at most). Searching indexes the rest itself.
            try:
                if self.store.index_pending(INDEX_BATCH) < INDEX_BATCH and not waiting:
                    return
            except Exception as failure:  # the messages are stored; a search indexes them later
                log.error("indexing messages for search failed: %s: %s", type(failure).__name__, failure)
                return

    def _commits_ended(self) -> None:
        self._committing = False
        if self._waiting:  # came in as the thread stopped looking
            self._start_committing()

    def _committed(self, batch: list[tuple[NewMessage, StoredCallback]], ids: list[tuple[int, int]],
                   error: BaseException | None) -> None:
        for i, (_, on_stored) in enumerate(batch):
            try:
                if error is not None:
                    on_stored(None, 0, error)
                else:
                    on_stored(*ids[i], None)
            except Exception:
                log.exception("delivering a stored message failed")

    async def close(self) -> None:
        """Wait for pending commits, then close the database."""
        while self._committing or self._waiting:
            await asyncio.sleep(0.01)
        await self.call(self.store.close)
        self.executor.shutdown(wait=True)
