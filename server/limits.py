"""Rate and count limits as small pure state machines; the clock is passed in."""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field


@dataclass(slots=True)
class TokenBucket:
    """``rate`` tokens a second, holding at most ``burst``. A rate of 0 means unlimited."""

    rate: float
    burst: float
    tokens: float = math.inf  # full until first used
    updated: float = 0.0

    def _refill(self, now: float) -> float:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return self.tokens

    def take(self, now: float, cost: float = 1.0) -> bool:
        """Spend ``cost`` tokens if there are enough; return whether it was allowed."""
        if self.rate <= 0:
            return True
        if self._refill(now) >= cost:
            self.tokens -= cost
            return True
        return False

    def holds(self, now: float, cost: float) -> bool:
        """Whether ``cost`` tokens are there now (always, when unlimited)."""
        return self.rate <= 0 or self._refill(now) >= cost

    def spend(self, now: float, cost: float) -> None:
        """Spend ``cost`` tokens even when there are fewer: work already done is paid for.

        The debt is at most ``burst`` below zero, so one costly answer (a long
        history) delays what follows by at most two bursts' worth of refill.
        """
        if self.rate > 0:
            self.tokens = max(-self.burst, self._refill(now) - cost)


@dataclass(slots=True)
class Budget:
    """A cost-aware limit over two buckets: the connection's own and its address's.

    A frame is admitted when both hold its cost; work whose cost is known only
    once done (the bytes of a history) is spent from both afterwards.
    """

    own: TokenBucket
    shared: TokenBucket

    def admit(self, now: float, cost: float) -> bool:
        """Spend ``cost`` from both buckets if both hold it; return whether it was admitted."""
        own, shared = self.own, self.shared
        if not (own.holds(now, cost) and shared.holds(now, cost)):
            return False
        own.take(now, cost)
        shared.take(now, cost)
        return True

    def spend(self, now: float, cost: float) -> None:
        self.own.spend(now, cost)
        self.shared.spend(now, cost)


@dataclass
class BucketTable:
    """One token bucket per key (an address), created full when first asked for.

    At most ``max_keys`` buckets are kept, the least recently used forgotten
    first: a forgotten bucket comes back full, which costs an attacker's key
    nothing it could not get by waiting, and memory stays bounded.
    """

    rate: float
    burst: float
    max_keys: int = 100_000
    _buckets: collections.OrderedDict[str, TokenBucket] = field(default_factory=collections.OrderedDict)

    def get(self, key: str) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket


@dataclass
class FailureWindow:
    """Counts failures per key over the last ``window`` seconds, for lockouts.

    At most ``max_keys`` keys are tracked; the oldest are forgotten first, so
    memory stays bounded whatever an attacker sends.
    """

    limit: int
    window: float = 60.0
    max_keys: int = 100_000
    _failures: "collections.OrderedDict[str, collections.deque[float]]" = field(
        default_factory=collections.OrderedDict
    )

    def _recent(self, key: str, now: float) -> "collections.deque[float] | None":
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def locked_for(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again; 0 when it is not locked out."""
        if self.limit <= 0:
            return 0.0
        times = self._recent(key, now)
        if times is None or len(times) < self.limit:
            return 0.0
        return times[-self.limit] + self.window - now

    def fail(self, key: str, now: float) -> None:
        if self.limit <= 0:
            return
        times = self._recent(key, now)
        if times is None:
            times = self._failures[key] = collections.deque(maxlen=self.limit)
            if len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)
        else:
            self._failures.move_to_end(key)
        times.append(now)


@dataclass
class ConnectionCounter:
    """Open connections per address, with a cap (0 means none)."""

    limit: int
    _open: "collections.Counter[str]" = field(default_factory=collections.Counter)

    def open(self, address: str) -> bool:
        """Count a new connection; False (and not counted) when over the cap."""
        if self.limit > 0 and self._open[address] >= self.limit:
            return False
        self._open[address] += 1
        return True

    def close(self, address: str) -> None:
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]

    def count(self, address: str) -> int:
        return self._open[address]
