"""File sizes as people read them: ``999 B``, ``1.2 KB``, ``12 KB``, ``1.5 MB``, ``10 MB``, ``2.1 GB``.

Decimal units (1 KB = 1000 bytes), "one decimal below 10, none above",
rounded half up. The server's legacy line for a file (``[file] NAME (SIZE)
LINK``) and every client write sizes with ``human_size``; the page holds the
same function in ``web/protocol.js`` (``humanSize``) and
tests/vectors/files.json keeps the two in step.

Integer arithmetic only, so that both languages round the same way (no
float ties, no banker's rounding): a value that rounds up to 10 is written
``10 KB``, and one that rounds up to 1000 moves to the next unit
(999 999 bytes is ``1.0 MB``, not ``1000 KB``).
"""

from __future__ import annotations

UNITS = ("KB", "MB", "GB", "TB", "PB")


def _rounded(numerator: int, denominator: int) -> int:
    """Return numerator / denominator rounded half up (both positive)."""
    return (2 * numerator + denominator) // (2 * denominator)


def human_size(size: int) -> str:
    """Return ``size`` bytes as ``999 B``, ``1.2 KB``, ``12 KB``, ...; raises ValueError when negative."""
    if size < 0:
        raise ValueError(f"a size is never negative: {size}")
    if size < 1000:
        return f"{size} B"
    for power, unit in enumerate(UNITS, start=1):
        scale = 1000**power
        tenths = _rounded(size * 10, scale)
        if tenths < 100:
            return f"{tenths // 10}.{tenths % 10} {unit}"
        whole = _rounded(size, scale)
        if whole < 1000 or unit == UNITS[-1]:
            return f"{whole} {unit}"
    raise AssertionError("unreachable: the last unit always answers")
