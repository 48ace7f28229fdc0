"""The sequencer puts each conversation back in seq order, from a lossy bus and the database."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from server.cluster.sequencer import Gap, Sequencer


def test_messages_in_order_are_delivered_at_once() -> None:
    seq: Sequencer[str] = Sequencer()
    assert seq.offer("lobby", 1, "a", 0.0) == ["a"]
    assert seq.offer("lobby", 2, "b", 0.0) == ["b"]
    assert seq.delivered("lobby") == 2
    assert seq.due(10.0) == [] and seq.next_due() is None and seq.gaps() == 0


def test_a_duplicate_is_dropped_and_counted() -> None:
    seq: Sequencer[str] = Sequencer()
    seq.offer("lobby", 1, "a", 0.0)
    assert seq.offer("lobby", 1, "a", 0.0) == []
    seq.offer("lobby", 3, "c", 0.0)
    assert seq.offer("lobby", 3, "c", 0.0) == []  # held already
    assert seq.duplicates == 2


def test_a_message_after_a_gap_waits_for_the_missing_one() -> None:
    seq: Sequencer[str] = Sequencer(gap_wait=0.25)
    assert seq.offer("r1", 2, "b", 1.0) == []
    assert seq.offer("r1", 3, "c", 1.1) == []
    assert seq.next_due() == 1.25
    assert seq.due(1.2) == []
    assert seq.offer("r1", 1, "a", 1.2) == ["a", "b", "c"]
    assert seq.due(5.0) == [] and seq.gaps() == 0


def test_a_gap_is_fetched_after_the_wait_and_handed_out_once() -> None:
    seq: Sequencer[str] = Sequencer(gap_wait=0.25)
    seq.offer("lobby", 1, "a", 0.0)
    seq.offer("lobby", 4, "d", 0.0)
    assert seq.due(0.25) == [Gap("lobby", 1, 3)]
    assert Gap("lobby", 1, 3).count == 2
    assert seq.due(9.0) == [] and seq.next_due() is None  # being fetched
    assert seq.fill("lobby", [(2, "b"), (3, None), (4, "d")], 0.3) == ["b", "d"]
    assert seq.delivered("lobby") == 4 and seq.gaps() == 0


def test_the_bus_can_fill_a_gap_while_it_is_being_fetched() -> None:
    seq: Sequencer[str] = Sequencer(gap_wait=0.25)
    seq.offer("lobby", 3, "c", 0.0)
    assert seq.due(0.3) == [Gap("lobby", 0, 2)]
    assert seq.offer("lobby", 1, "a", 0.3) == ["a"]
    assert seq.offer("lobby", 2, "b", 0.3) == ["b", "c"]
    assert seq.offer("lobby", 4, "d", 0.3) == ["d"]
    assert seq.fill("lobby", [(1, "a"), (2, "b")], 0.4) == []  # nothing twice
    assert seq.gaps() == 0 and seq.delivered("lobby") == 4


def test_a_row_the_database_does_not_have_is_skipped_after_a_second_wait() -> None:
    seq: Sequencer[str] = Sequencer(gap_wait=0.25)
    seq.offer("lobby", 1, "a", 0.0)
    seq.offer("lobby", 3, "c", 0.0)
    gap = seq.due(0.25)
    assert gap == [Gap("lobby", 1, 2)]
    assert seq.fill("lobby", [(3, "c")], 0.3) == []  # the database answered past 2 without it
    assert seq.due(0.5) == [] and seq.next_due() == 0.55
    assert seq.due(0.55) == [Gap("lobby", 1, 2)]
    assert seq.fill("lobby", [(3, "c")], 0.6) == ["c"]
    assert seq.skipped == 1 and seq.delivered("lobby") == 3 and seq.gaps() == 0


def test_a_short_page_is_followed_at_once_by_the_next() -> None:
    seq: Sequencer[int] = Sequencer(gap_wait=0.25)
    seq.offer("lobby", 10, 10, 0.0)
    assert seq.due(0.25) == [Gap("lobby", 0, 9)]
    assert seq.fill("lobby", [(1, 1), (2, 2), (3, 3)], 0.3) == [1, 2, 3]  # a limit of 3
    assert seq.due(0.3) == [Gap("lobby", 3, 9)]
    assert seq.fill("lobby", [(n, n) for n in range(4, 11)], 0.3) == list(range(4, 11))
    assert seq.skipped == 0 and seq.gaps() == 0


def test_a_failed_fetch_is_retried_after_the_wait_without_skipping() -> None:
    seq: Sequencer[str] = Sequencer(gap_wait=0.25)
    seq.offer("lobby", 2, "b", 0.0)
    assert seq.due(0.25) == [Gap("lobby", 0, 1)]
    for attempt in range(5):
        seq.retry("lobby", 1.0 + attempt)
        assert seq.due(1.0 + attempt) == []
        assert seq.due(1.25 + attempt) == [Gap("lobby", 0, 1)]
    assert seq.fill("lobby", [(1, "a"), (2, "b")], 9.0) == ["a", "b"]
    assert seq.skipped == 0


def test_start_sets_the_delivered_seq_and_never_moves_it_back() -> None:
    seq: Sequencer[str] = Sequencer()
    seq.start("r7", 41)
    seq.start("r7", 12)
    assert seq.delivered("r7") == 41 and seq.delivered("other") == 0
    assert seq.offer("r7", 41, "old", 0.0) == []
    assert seq.offer("r7", 42, "new", 0.0) == ["new"]


def test_behind_hands_out_what_the_database_has_and_we_have_not() -> None:
    seq: Sequencer[str] = Sequencer()
    seq.offer("lobby", 1, "a", 0.0)
    assert seq.behind("lobby", 1, 0.0) is None
    assert seq.behind("lobby", 3, 0.0) == Gap("lobby", 1, 3)
    assert seq.behind("lobby", 4, 0.0) is None  # already being fetched
    assert seq.fill("lobby", [(2, "b"), (3, "c"), (4, "d")], 0.1) == ["b", "c", "d"]
    assert seq.gaps() == 0


def test_items_over_the_cap_are_let_go_and_fetched_back() -> None:
    seq: Sequencer[int] = Sequencer(gap_wait=0.25, max_held=3)
    for n in range(2, 8):
        assert seq.offer("lobby", n, n, 0.0) == []
    assert seq.released == 3
    assert seq.due(0.25) == [Gap("lobby", 0, 1)]
    assert seq.fill("lobby", [(1, 1)], 0.3) == [1, 2, 3, 4]
    assert seq.due(0.3) == [Gap("lobby", 4, 7)]  # up to the highest heard of
    assert seq.fill("lobby", [(5, 5), (6, 6), (7, 7)], 0.3) == [5, 6, 7]


def test_skip_gives_up_places_and_delivers_what_follows() -> None:
    seq: Sequencer[str] = Sequencer()
    seq.offer("lobby", 3, "c", 0.0)
    assert seq.skip("lobby", 2, 0.0) == ["c"]
    assert seq.skipped == 2 and seq.gaps() == 0
    assert seq.skip("r1", 5, 0.0) == [] and seq.delivered("r1") == 5


# -- any bus, any database: exactly 1..N in order ---------------------------------------

conversations = st.sampled_from(["lobby", "r1", "pa|b"])


@st.composite
def histories(draw: st.DrawFn, absent: int = 0) -> History:
    """Per conversation a top seq; the places deleted, and those absent from the database
    (at most ``absent``); and what the bus carried (lost, duplicated and reordered)."""
    tops = {conv: draw(st.integers(0, 30)) for conv in ["lobby", "r1", "pa|b"]}
    places = [(conv, n) for conv, top in tops.items() for n in range(1, top + 1)]
    if not places:
        return tops, set(), set(), []
    deleted = set(draw(st.lists(st.sampled_from(places), max_size=5)))
    gone = set(draw(st.lists(st.sampled_from(places), max_size=absent))) - deleted
    carried = draw(st.lists(st.sampled_from([p for p in places if p not in gone]), max_size=120))
    return tops, deleted, gone, carried


History = tuple[dict[str, int], set[tuple[str, int]], set[tuple[str, int]], list[tuple[str, int]]]
steps = st.lists(st.sampled_from(["offer", "tick", "poll", "fail"]), max_size=200)
pages = st.lists(st.integers(1, 8), min_size=1, max_size=20)


@settings(max_examples=300, deadline=None)
@given(histories(), pages, steps)
def test_any_bus_filled_from_the_database_delivers_each_conversation_once_in_order(
        history: History, limits: list[int], steps: list[str]) -> None:
    assert replay(history, limits, steps) == 0


@settings(max_examples=200, deadline=None)
@given(histories(absent=4), pages, steps)
def test_rows_the_database_never_had_are_skipped_and_the_rest_delivered_in_order(
        history: History, limits: list[int], steps: list[str]) -> None:
    assert replay(history, limits, steps) == len(history[2])


def replay(history: History, limits: list[int], steps: list[str]) -> int:
    """Drive a sequencer through ``steps``, then catch up; check every conversation came out
    exactly once in seq order; return how many places it skipped."""
    tops, deleted, gone, carried = history
    database = {(conv, n): None if (conv, n) in deleted else f"{conv}:{n}"
                for conv, top in tops.items() for n in range(1, top + 1) if (conv, n) not in gone}
    sequencer: Sequencer[str] = Sequencer(gap_wait=0.25)
    got: dict[str, list[str]] = {conv: [] for conv in tops}
    now = 0.0
    page = 0

    def fetch(gap: Gap, fail: bool) -> None:
        nonlocal page
        if fail:
            sequencer.retry(gap.conv, now)
            return
        limit = limits[page % len(limits)]
        page += 1
        rows = [(n, database[gap.conv, n]) for n in range(gap.after + 1, tops[gap.conv] + 1)
                if (gap.conv, n) in database][:limit]
        got[gap.conv].extend(sequencer.fill(gap.conv, rows, now))

    bus = iter(carried)
    for step in steps + ["offer"] * len(carried):  # the bus delivers all it carried, in the end
        if step == "offer":
            place = next(bus, None)
            if place is not None and database[place] is not None:
                got[place[0]].extend(sequencer.offer(place[0], place[1], database[place] or "", now))
        elif step == "tick":
            now += 0.1
            for gap in sequencer.due(now):
                fetch(gap, fail=False)
        elif step == "fail":
            now += 0.1
            for gap in sequencer.due(now):
                fetch(gap, fail=True)
        else:
            for conv, top in tops.items():
                found = sequencer.behind(conv, top, now)
                if found is not None:
                    fetch(found, fail=False)
    # Catch-up polling and the due gaps finish the work, as the hub's loop does.
    for _ in range(1000):
        now += 0.1
        for conv, top in tops.items():
            found = sequencer.behind(conv, top, now)
            if found is not None:
                fetch(found, fail=False)
        for gap in sequencer.due(now):
            fetch(gap, fail=False)
        if sequencer.gaps() == 0:
            break
    for conv, top in tops.items():
        assert got[conv] == [database[conv, n] for n in range(1, top + 1) if database.get((conv, n))]
        assert sequencer.delivered(conv) == top
    return sequencer.skipped
