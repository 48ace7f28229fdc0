"""The ``parley`` command line (filled in by the server work)."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    return 0
