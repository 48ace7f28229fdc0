"""QR codes of the page's addresses for a terminal, so that a phone's camera opens the chat.

segno draws the code with half-block characters, two modules a character
high: light modules as blocks, dark ones as spaces. On a terminal the lines
are given bright white on black, so that the code reads the same on a light
or a dark theme; in a log or a pipe they stay plain text.
"""

from __future__ import annotations

import io

import segno

BORDER = 2  # modules of quiet zone; a terminal's own background adds to it
_COLORS = "\x1b[97;40m"  # bright white on black
_RESET = "\x1b[0m"


def can_draw_on(encoding: str | None) -> bool:
    """Whether text in ``encoding`` (an output's) has the half blocks the code is drawn with."""
    try:
        "\u2588\u2580\u2584".encode(encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def terminal_qr(url: str, *, color: bool) -> list[str]:
    """The lines of a (full-size, never Micro: phone cameras skip those) QR code of ``url``;
    with ``color``, each wrapped in ANSI colours."""
    out = io.StringIO()
    segno.make_qr(url, error="m").terminal(out=out, compact=True, border=BORDER)
    lines = out.getvalue().splitlines()
    return [f"{_COLORS}{line}{_RESET}" for line in lines] if color else lines
