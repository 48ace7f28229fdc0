"""Small statistics: percentiles of samples and medians over rounds (no numpy)."""

from __future__ import annotations

import math
from typing import Iterable, Sequence


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Return the ``fraction`` (0..1) percentile of already sorted values, nearest rank; NaN when empty."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def latency_summary(samples_ns: Iterable[int]) -> dict[str, float]:
    """Return p50, p99 and max in milliseconds, and the sample count, of latencies in nanoseconds."""
    values = sorted(samples_ns)
    return {
        "p50_ms": percentile(values, 0.50) / 1e6,
        "p99_ms": percentile(values, 0.99) / 1e6,
        "max_ms": (values[-1] / 1e6) if values else math.nan,
        "samples": len(values),
    }


def median(values: Sequence[float]) -> float:
    """Return the median of ``values`` (the mean of the middle two for an even count); NaN when empty."""
    clean = sorted(v for v in values if not math.isnan(v))
    if not clean:
        return math.nan
    middle = len(clean) // 2
    if len(clean) % 2:
        return clean[middle]
    return (clean[middle - 1] + clean[middle]) / 2


def spread(values: Sequence[float]) -> dict[str, float]:
    """Return the median, min and max of per-round values (NaN-free; NaN when none)."""
    clean = [v for v in values if not math.isnan(v)]
    if not clean:
        return {"median": math.nan, "min": math.nan, "max": math.nan}
    return {"median": median(clean), "min": min(clean), "max": max(clean)}


def ratio(numerator: float, denominator: float) -> float:
    """Return numerator / denominator, NaN when either is NaN or the denominator is 0."""
    if math.isnan(numerator) or math.isnan(denominator) or denominator == 0:
        return math.nan
    return numerator / denominator
