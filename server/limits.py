"""Rate and count limits as small pure state machines; the clock is passed in."""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field

from parley.net.groups import DEFAULT_IPV6_PREFIX, limit_key


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

    At most ``max_keys`` keys are tracked; the least recently failed are
    forgotten first, so memory stays bounded whatever an attacker sends. A
    key holds a tuple of its last ``limit`` failure times (about 400 bytes
    for 10, measured with its dict entry), not a deque (about 1 KiB).
    """

    limit: int
    window: float = 60.0
    max_keys: int = 100_000
    _failures: dict[str, tuple[float, ...]] = field(default_factory=dict)  # oldest first, by last failure

    def _recent(self, key: str, now: float) -> tuple[float, ...]:
        times = self._failures.get(key)
        if times is None:
            return ()
        if times[0] <= now - self.window:
            times = tuple(t for t in times if t > now - self.window)
            if times:
                self._failures[key] = times
            else:
                del self._failures[key]
        return times

    def locked_for(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again; 0 when it is not locked out."""
        if self.limit <= 0:
            return 0.0
        times = self._recent(key, now)
        if len(times) < self.limit:
            return 0.0
        return times[-self.limit] + self.window - now

    def clean_in(self, key: str, now: float) -> float:
        """Seconds until ``key``'s last failure leaves the window; 0 when it has none."""
        if self.limit <= 0:
            return 0.0
        times = self._recent(key, now)
        return times[-1] + self.window - now if times else 0.0

    def fail(self, key: str, now: float) -> None:
        if self.limit <= 0:
            return
        times = self._recent(key, now)
        self._failures.pop(key, None)  # re-inserted last: the most recent
        self._failures[key] = (*times[1 - self.limit:], now) if self.limit > 1 and times else (now,)
        if len(self._failures) > self.max_keys:
            del self._failures[next(iter(self._failures))]


@dataclass
class ConnectionCounter:
    """Open connections per address, with a cap (0 means none)."""

    limit: int
    _open: "collections.Counter[str]" = field(default_factory=collections.Counter)

    def open(self, address: str, *, force: bool = False) -> bool:
        """Count a new connection; False (and not counted) when over the cap, unless ``force``."""
        if not force and self.limit > 0 and self._open[address] >= self.limit:
            return False
        self._open[address] += 1
        return True

    def close(self, address: str) -> None:
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]

    def count(self, address: str) -> int:
        return self._open[address]


@dataclass
class LoginGuard:
    """Who may try a password now: wrong answers counted per address, per (account, address) and per account.

    The rules, so the owner is never locked out by someone else's guessing:

    1. An address (an IPv6 /64 counts as one by default, ``limit_key``) with
       ``per_address`` failures in the window is refused on every account.
    2. An address with ``per_pair`` failures against one account is refused
       on that account.
    3. An account with ``per_account`` failures in the window, from anywhere,
       is under attack: then any address that has failed at all (against it
       or elsewhere) is refused on it, while an address with no failure is
       still let in with the right password.

    A refused try costs no hash and is not counted again, so a guesser's
    wait ends a window after its own last failure. Each window holds at most
    ``max_keys`` keys, the least recently failed forgotten first: memory
    stays bounded. A key only lives while it has a failure in the window,
    and each failure costs a hash or a database lookup, so 20,000 keys are
    more than the hashing pool can fill in a minute.
    """

    per_address: int
    per_pair: int
    per_account: int
    ipv6_prefix: int = DEFAULT_IPV6_PREFIX  # an IPv6 address counts by this prefix (--ipv6-prefix)
    window: float = 60.0
    max_keys: int = 20_000  # per window: 30 MiB for the three with every key full (measured)
    _addresses: FailureWindow = field(init=False)
    _pairs: FailureWindow = field(init=False)
    _accounts: FailureWindow = field(init=False)

    def __post_init__(self) -> None:
        self._addresses = FailureWindow(self.per_address, self.window, self.max_keys)
        self._pairs = FailureWindow(self.per_pair, self.window, self.max_keys)
        self._accounts = FailureWindow(self.per_account, self.window, self.max_keys)

    def address_wait(self, address: str, now: float) -> float:
        """Seconds until ``address`` may try any password again (rule 1); 0: now."""
        return self._addresses.locked_for(limit_key(address, self.ipv6_prefix), now)

    def wait(self, address: str, account: str, now: float) -> float:
        """Seconds until ``address`` may try ``account``'s password again (rules 1 to 3); 0: now."""
        where = limit_key(address, self.ipv6_prefix)
        pair = f"{account}\n{where}"
        wait = max(self._addresses.locked_for(where, now), self._pairs.locked_for(pair, now))
        under_attack = self._accounts.locked_for(account, now)
        if under_attack > 0:
            clean_in = max(self._addresses.clean_in(where, now), self._pairs.clean_in(pair, now))
            wait = max(wait, min(under_attack, clean_in))
        return wait

    def failed(self, address: str, account: str, now: float) -> tuple[bool, bool]:
        """Count a wrong password (or a probe of the account's name) from ``address``.

        Returns whether this failure locked the address out, and whether it
        put the account under attack (each only at the failure that does it).
        """
        where = limit_key(address, self.ipv6_prefix)
        was_locked = self._addresses.locked_for(where, now) > 0
        was_attacked = self._accounts.locked_for(account, now) > 0
        self._addresses.fail(where, now)
        self._pairs.fail(f"{account}\n{where}", now)
        self._accounts.fail(account, now)
        return (not was_locked and self._addresses.locked_for(where, now) > 0,
                not was_attacked and self._accounts.locked_for(account, now) > 0)
