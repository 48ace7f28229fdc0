"""The limit state machines, with a fake clock passed in."""

from __future__ import annotations

from server.limits import ConnectionCounter, FailureWindow, TokenBucket


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=2, burst=5)
    assert all(bucket.take(0.0) for _ in range(5))
    assert not bucket.take(0.0)
    assert bucket.take(0.5)  # one token back after half a second at 2/s
    assert not bucket.take(0.5)
    assert sum(bucket.take(10.0) for _ in range(10)) == 5  # refills only up to the burst


def test_token_bucket_with_rate_zero_is_unlimited() -> None:
    bucket = TokenBucket(rate=0, burst=0)
    assert all(bucket.take(0.0) for _ in range(10_000))


def test_failure_window_locks_after_limit_and_unlocks_when_old_failures_expire() -> None:
    window = FailureWindow(limit=3, window=60)
    for t in (0, 10, 20):
        assert window.locked_for("k", t) == 0
        window.fail("k", t)
    assert window.locked_for("k", 21) == 39  # until the first failure is 60 s old
    assert window.locked_for("other", 21) == 0
    assert window.locked_for("k", 60.5) == 0


def test_failure_window_memory_is_bounded() -> None:
    window = FailureWindow(limit=2, window=60, max_keys=100)
    for i in range(1000):
        window.fail(f"k{i}", 0)
    assert len(window._failures) == 100


def test_connection_counter_caps_per_address() -> None:
    counter = ConnectionCounter(limit=2)
    assert counter.open("a") and counter.open("a")
    assert not counter.open("a")
    assert counter.open("b")
    counter.close("a")
    assert counter.open("a")
    assert counter.count("a") == 2


def test_user_lists_are_gathered_longer_in_a_big_room() -> None:
    from server.core.chat import user_list_window

    assert user_list_window(0.05, 3) == 0.05
    assert user_list_window(0.05, 100) == 0.05
    assert abs(user_list_window(0.05, 1000) - 0.5) < 1e-9
    assert user_list_window(0.05, 5000) == 1.0  # capped
