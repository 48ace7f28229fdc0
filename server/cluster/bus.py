"""The bus: how the nodes of a cluster hear of each other's news quickly, over Redis pub/sub.

One channel, ``parley:<cluster>``. A message is a JSON object; the bus adds
``"n": <node name>`` and a node ignores its own. Redis pub/sub is
at-most-once and PostgreSQL is the record: nothing relies on the bus for
completeness (the hub catches up from the database), so the bus never waits
for Redis on anyone's behalf:

* ``publish(message)`` never blocks: it encodes and queues; one task sends
  the queue in order, up to ``batch`` messages per round trip (a pipeline).
  While Redis is unreachable (no confirmed subscription), or while the queue
  holds ``max_queue`` messages, a publish is dropped and counted, as is a
  batch whose sending failed.
* the subscriber reconnects by itself, waiting 0.1 s, doubling to 1 s
  between attempts. ``on_state(True)`` once a (re)subscription is confirmed,
  ``on_state(False)`` when it is lost, including a Redis that stopped
  answering (an idle subscription is pinged every second; nothing for
  ``dead_after`` seconds is a lost connection).

Counters: ``published``, ``dropped``, ``received`` (others' messages),
``reconnects`` (subscriptions confirmed after a loss), ``malformed``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

log = logging.getLogger("parley.server")

Message = dict[str, Any]
BACKOFF_FIRST = 0.1  # seconds before the first reconnection attempt
BACKOFF_MAX = 1.0
MAX_QUEUE = 10_000  # messages waiting to be sent; more are dropped
BATCH = 500  # messages per pipeline
IDLE_PING = 1.0  # an idle subscription is pinged this often
DEAD_AFTER = 3.0  # seconds without a word from Redis: the subscription is lost
SEND_TIMEOUT = 5.0  # seconds for one batch to be sent and acknowledged
PING_TIMEOUT = 1.0  # ping(): Redis answers within this, or it is not healthy
_FAILURES = (RedisError, OSError, TimeoutError)


class Bus:
    """A node's connection to the cluster's Redis channel (see the module's docstring)."""

    def __init__(self, url: str, node: str, *, on_message: Callable[[Message], None],
                 on_state: Callable[[bool], None] = lambda up: None, cluster: str = "parley",
                 max_queue: int = MAX_QUEUE, batch: int = BATCH, dead_after: float = DEAD_AFTER) -> None:
        """A bus for ``node``, not yet started; raises ValueError for a URL that is not Redis's."""
        self.node = node
        self.channel = f"parley:{cluster}"
        self.max_queue = max_queue
        self.batch = batch
        self.dead_after = dead_after
        self._on_message = on_message
        self._on_state = on_state
        # Errors reach us, not redis-py's own retries: we reconnect, with our backoff and on_state.
        self._redis = aioredis.Redis.from_url(url, socket_connect_timeout=PING_TIMEOUT,
                                              socket_timeout=SEND_TIMEOUT, retry=Retry(NoBackoff(), 0))
        self._queue: collections.deque[str] = collections.deque()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.connected = False
        self.published = 0
        self.dropped = 0
        self.received = 0
        self.reconnects = 0
        self.malformed = 0

    def start(self) -> None:
        """Start subscribing and sending (in the running loop); returns at once."""
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._subscribe(), name="bus-subscriber"),
                           asyncio.create_task(self._send(), name="bus-sender")]

    def publish(self, message: Message) -> None:
        """Queue ``message`` for the other nodes (dropped and counted if Redis is unreachable)."""
        if not self.connected or len(self._queue) >= self.max_queue:
            self.dropped += 1
            return
        self._queue.append(json.dumps({**message, "n": self.node}, separators=(",", ":"), ensure_ascii=False))
        self._wake.set()

    async def ping(self) -> bool:
        """Whether Redis answers a PING within a second."""
        try:
            async with asyncio.timeout(PING_TIMEOUT):
                return bool(await self._redis.ping())
        except _FAILURES:
            return False

    async def close(self) -> None:
        """Stop both tasks and close every connection; the bus cannot be started again."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._queue.clear()
        self.connected = False
        await self._redis.aclose()

    # -- sending --------------------------------------------------------------

    async def _send(self) -> None:
        while True:
            await self._wake.wait()
            if not self._queue:
                self._wake.clear()
                continue
            batch = [self._queue.popleft() for _ in range(min(self.batch, len(self._queue)))]
            try:
                async with asyncio.timeout(SEND_TIMEOUT):
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for payload in batch:
                            pipe.publish(self.channel, payload)
                        await pipe.execute()
            except _FAILURES as error:
                self.dropped += len(batch)
                log.warning("bus: %d messages not sent to Redis: %s", len(batch), _describe(error))
                await asyncio.sleep(BACKOFF_FIRST)  # the subscriber says when Redis is back
            else:
                self.published += len(batch)

    # -- receiving ------------------------------------------------------------

    async def _subscribe(self) -> None:
        backoff = BACKOFF_FIRST
        ever = False
        while True:
            pubsub = self._redis.pubsub()
            try:
                await self._confirm(pubsub)
                self.reconnects += ever
                ever = True
                backoff = BACKOFF_FIRST
                self._set_state(True)
                await self._read(pubsub)
            except _FAILURES as error:
                if self.connected:
                    log.warning("bus: lost Redis (%s); reconnecting", _describe(error))
                self._set_state(False)
            finally:
                with contextlib.suppress(*_FAILURES):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _confirm(self, pubsub: PubSub) -> None:
        """Subscribe, and wait for Redis to confirm it (raises TimeoutError if it does not)."""
        async with asyncio.timeout(self.dead_after):
            await pubsub.subscribe(self.channel)
            while True:
                reply = await pubsub.get_message(timeout=self.dead_after)
                if reply is not None and reply["type"] == "subscribe":
                    return

    async def _read(self, pubsub: PubSub) -> None:
        """Hand others' messages to ``on_message`` until the connection fails (raises)."""
        loop = asyncio.get_running_loop()
        heard = loop.time()
        while True:
            reply = await pubsub.get_message(timeout=IDLE_PING)
            now = loop.time()
            if reply is None:
                if now - heard >= self.dead_after:
                    raise TimeoutError(f"no answer from Redis for {self.dead_after:g} s")
                await pubsub.ping()  # answered by a "pong" reply, which counts as a word
                continue
            heard = now
            if reply["type"] == "message":
                self._receive(reply["data"])

    def _receive(self, data: bytes) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            self.malformed += 1
            log.warning("bus: ignored a message that is not a JSON object (%d bytes)", len(data))
            return
        if message.get("n") == self.node:
            return
        self.received += 1
        try:
            self._on_message(message)
        except Exception:  # one bad message must not stop the bus
            log.exception("bus: handling a message from node %r failed", message.get("n"))

    def _set_state(self, up: bool) -> None:
        if up != self.connected:
            self.connected = up
            if up:
                log.info("bus: subscribed to %s", self.channel)
            try:
                self._on_state(up)
            except Exception:  # the bus keeps reconnecting whatever its listener does
                log.exception("bus: handling the state change failed")


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
