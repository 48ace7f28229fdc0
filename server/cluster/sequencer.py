"""Ordered delivery: each conversation's messages, in seq order, exactly once.

Pure: no I/O, no clock (``now`` is passed in, in seconds, any monotonic
origin). Generic over the item delivered (the hub's frame or action).

PostgreSQL numbers each conversation's messages 1, 2, 3 ... in commit order
(the spec's ``append_sequenced``). Messages reach a node over the Redis bus,
which may lose, duplicate or (across a reconnection) reorder them; the
sequencer turns that into exactly the order of the database:

* ``offer(conv, seq, item, now)`` returns the items now deliverable, in order.
  A seq at or below the one delivered is a duplicate: dropped and counted.
  A seq above delivered + 1 is held; the places between are a *gap*.
* A gap waits ``gap_wait`` seconds (the missing message is usually just a
  little behind on the bus); then ``due(now)`` hands it out once, as a ``Gap``
  to fetch from the database (``messages_after(conv, gap.after, gap.count)``).
* ``fill(conv, rows, now)`` takes the database's rows: ``(seq, item)``, or
  ``(seq, None)`` for a place with nothing to deliver (a deleted message).
  A place the database answered past but did not return is looked for once
  more after a second wait, then skipped (counted): delivery never sticks.
  ``retry(conv, now)`` re-arms a gap whose fetch failed (database down),
  without counting it as an answer.
* ``behind(conv, top_seq, now)``: catch-up polling. The database says the
  conversation is at ``top_seq``; if we are behind and nothing is being
  fetched, the Gap to fetch now.

Convention: ``Gap(conv, after, upto)`` is the places ``after + 1 .. upto``,
both ends included (``after`` is the seq delivered when it was handed out).

Memory: a conversation holds at most ``max_held`` items ahead of a gap; past
that the highest is let go (counted in ``released``) and comes back from the
database when the gap is filled, since the gap reaches up to the highest seq
ever heard of, not only to the highest held.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

GAP_WAIT = 0.25  # seconds a gap waits for the bus before it is fetched
MAX_HELD = 10_000  # items held per conversation ahead of a gap


@dataclass(frozen=True)
class Gap:
    """Places ``after + 1 .. upto`` (both included) of ``conv`` to fetch from the database."""

    conv: str
    after: int
    upto: int

    @property
    def count(self) -> int:
        """How many places the gap spans (the ``limit`` to fetch them in one go)."""
        return self.upto - self.after


class _Nothing:
    """A place known to have nothing to deliver (a deleted message, a skipped row)."""


NOTHING = _Nothing()


@dataclass
class _Open(Generic[T]):
    """A conversation with a gap: what is held past it and where its wait stands."""

    top: int  # the highest seq heard of (bus or database)
    held: dict[int, T | _Nothing] = field(default_factory=dict)
    armed_at: float | None = None  # when the current wait began; None: fetching, or not waiting
    fetching: bool = False
    answers: int = 0  # database answers that left the first missing place missing


class Sequencer(Generic[T]):
    """Per conversation, the highest seq delivered, and the gaps above it."""

    def __init__(self, gap_wait: float = GAP_WAIT, max_held: int = MAX_HELD) -> None:
        self.gap_wait = gap_wait
        self.max_held = max_held
        self._delivered: dict[str, int] = {}
        self._open: dict[str, _Open[T]] = {}
        self.duplicates = 0  # offers at or below the delivered seq, or already held
        self.skipped = 0  # places given up: the database did not have them, twice
        self.released = 0  # items not held over max_held (fetched from the database later)

    # -- what is known ----------------------------------------------------

    def start(self, conv: str, seq: int) -> list[T]:
        """Mark ``conv`` delivered up to ``seq`` (the start-up snapshot; never moves backwards).
        Returns the held items this made deliverable (none at start-up)."""
        if seq <= self._delivered.get(conv, 0):
            return []
        self._delivered[conv] = seq
        gap = self._open.get(conv)
        if gap is None:
            return []
        for old in [old for old in gap.held if old <= seq]:
            del gap.held[old]
        return self._settle(conv, gap, [], None)

    def delivered(self, conv: str) -> int:
        """The highest seq delivered in ``conv`` (0: none)."""
        return self._delivered.get(conv, 0)

    def gaps(self) -> int:
        """How many conversations have a gap (waiting or being fetched)."""
        return len(self._open)

    # -- the bus ------------------------------------------------------------

    def offer(self, conv: str, seq: int, item: T, now: float) -> list[T]:
        """The items of ``conv`` deliverable now, in seq order, after ``seq`` came in with ``item``."""
        delivered = self._delivered.get(conv, 0)
        gap = self._open.get(conv)
        if seq <= delivered or (gap is not None and seq in gap.held):
            self.duplicates += 1
            return []
        if gap is None:
            if seq == delivered + 1:
                self._delivered[conv] = seq
                return [item]
            gap = self._open[conv] = _Open(top=seq)
        gap.top = max(gap.top, seq)
        if len(gap.held) >= self.max_held and seq != delivered + 1:
            self.released += 1  # the gap reaches up to top: it comes back from the database
        else:
            gap.held[seq] = item
        return self._settle(conv, gap, [], now)

    # -- the database -------------------------------------------------------

    def due(self, now: float) -> list[Gap]:
        """The gaps whose wait is over, oldest first; each is handed out once until re-armed."""
        ready = [(gap.armed_at, conv) for conv, gap in self._open.items()
                 if gap.armed_at is not None and gap.armed_at + self.gap_wait <= now]
        ready.sort()
        return [self._hand_out(conv) for _, conv in ready]

    def next_due(self) -> float | None:
        """When the next waiting gap becomes due (``now``'s clock), or None if none waits."""
        times = [gap.armed_at for gap in self._open.values() if gap.armed_at is not None]
        return min(times) + self.gap_wait if times else None

    def behind(self, conv: str, top_seq: int, now: float) -> Gap | None:
        """The Gap to fetch now if ``conv`` is at ``top_seq`` in the database and we are behind
        (None if not behind, or if its gap is already being fetched)."""
        if top_seq <= self._delivered.get(conv, 0):
            return None
        gap = self._open.get(conv)
        if gap is None:
            gap = self._open[conv] = _Open(top=top_seq)
        gap.top = max(gap.top, top_seq)
        return None if gap.fetching else self._hand_out(conv)

    def fill(self, conv: str, rows: Iterable[tuple[int, T | None]], now: float) -> list[T]:
        """The items of ``conv`` deliverable now, given the database's ``rows`` (seq, and the item
        or None for a place with nothing to deliver) in answer to a Gap, in any order."""
        gap = self._open.get(conv)
        if gap is None:
            return []  # answered already (the bus, or an earlier fill)
        before = self._delivered.get(conv, 0)
        highest = before
        for seq, item in rows:
            highest = max(highest, seq)
            if seq > before and seq not in gap.held:
                gap.held[seq] = NOTHING if item is None else item
        gap.top = max(gap.top, highest)
        gap.fetching = False
        out = self._deliver(conv, gap, [])
        if conv not in self._open:
            return out
        hole = self._delivered[conv] + 1
        if highest < hole and self._delivered[conv] > before:
            # A page that stopped short of the hole: fetch the rest at once.
            gap.armed_at = now - self.gap_wait
            return out
        # The database answered past the hole without it (or brought nothing new):
        # look once more after a second wait, then give the places up.
        gap.answers += 1
        if gap.answers >= 2:
            return self.skip(conv, self._hole_end(gap), now, out)
        gap.armed_at = now
        return out

    def retry(self, conv: str, now: float) -> None:
        """The fetch of ``conv``'s gap failed: wait ``gap_wait`` and hand it out again."""
        gap = self._open.get(conv)
        if gap is not None and gap.fetching:
            gap.fetching = False
            gap.armed_at = now

    def skip(self, conv: str, upto: int, now: float, out: list[T] | None = None) -> list[T]:
        """Give up on the missing places of ``conv`` up to ``upto``; the items now deliverable
        (appended to ``out`` if given)."""
        out = [] if out is None else out
        delivered = self._delivered.get(conv, 0)
        gap = self._open.get(conv)
        if gap is None:
            if upto > delivered:
                self.skipped += upto - delivered
                self._delivered[conv] = upto
            return out
        for seq in range(delivered + 1, upto + 1):
            if seq not in gap.held:
                gap.held[seq] = NOTHING
                self.skipped += 1
        gap.top = max(gap.top, upto)
        return self._settle(conv, gap, out, now)

    # -- inside -------------------------------------------------------------

    def _hand_out(self, conv: str) -> Gap:
        gap = self._open[conv]
        gap.fetching = True
        gap.armed_at = None
        return Gap(conv, self._delivered.get(conv, 0), self._hole_end(gap))

    @staticmethod
    def _hole_end(gap: _Open[T]) -> int:
        return min(gap.held) - 1 if gap.held else gap.top

    def _settle(self, conv: str, gap: _Open[T], out: list[T], now: float | None) -> list[T]:
        """Deliver what became contiguous; arm the wait if a gap remains and none is running."""
        self._deliver(conv, gap, out)
        if conv in self._open and not gap.fetching and gap.armed_at is None and now is not None:
            gap.armed_at = now
        return out

    def _deliver(self, conv: str, gap: _Open[T], out: list[T]) -> list[T]:
        """Append the held items contiguous with the delivered seq; close the gap if none is left."""
        delivered = self._delivered.get(conv, 0)
        while delivered + 1 in gap.held:
            delivered += 1
            item = gap.held.pop(delivered)
            if not isinstance(item, _Nothing):
                out.append(item)
            gap.answers = 0
        self._delivered[conv] = delivered
        if delivered >= gap.top and not gap.fetching:
            del self._open[conv]
        return out
