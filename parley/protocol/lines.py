"""Multi-line messages on a one-line wire. Pure functions, no I/O.

"Multi-line messages: the content carries each line break as ONE SPACE, and
the parameter ``lines=`` lists the positions of those spaces, as 0-based
indexes in code points of the content, joined by ``.``, increasing":
``CHAT,rec=-ALL;lines=5,hello world`` is "hello\\nworld". A client that does
not know ``lines=`` shows the readable line ``hello world``.

The parameter is canonical: each index is plain decimal digits with no
leading zero (``0`` itself excepted), strictly increasing, inside the
content, on a space, and there are at most ``MAX_LINE_BREAKS`` of them.
Anything else is a bad parameter (``ValueError`` from ``decode_lines``;
the server answers ``Error: Bad lines parameter.``).

The page holds the same functions in ``web/text.js``; the shared vectors in
tests/vectors/lines.json keep the two in step.
"""

from __future__ import annotations

import re

MAX_LINE_BREAKS = 1000
"""At most this many line breaks in one message ("at most 1000 breaks")."""

_BREAK_RE = re.compile(r"\r\n|\r|\n")
_INDEX_RE = re.compile(r"(?:0|[1-9][0-9]{0,14})\Z")


def encode_lines(text: str) -> tuple[str, str | None]:
    """Return ``text`` as it goes on the wire: (content, the ``lines`` parameter or None when it has no break).

    ``\\r\\n``, ``\\r`` and ``\\n`` are each one line break. Breaks past the
    first ``MAX_LINE_BREAKS`` stay plain spaces, so any text can be sent.
    """
    parts = _BREAK_RE.split(text)
    content = " ".join(parts)
    positions: list[str] = []
    at = -1
    for part in parts[:-1][:MAX_LINE_BREAKS]:
        at += len(part) + 1
        positions.append(str(at))
    return content, ".".join(positions) or None


def line_breaks(content: str, param: str | None) -> tuple[int, ...]:
    """Return the code point indexes of ``content`` that ``param`` marks as line breaks (none for None).

    Raises ValueError when ``param`` is not a canonical list of increasing
    indexes of spaces in ``content``, or lists more than ``MAX_LINE_BREAKS``.
    """
    if param is None:
        return ()
    items = param.split(".", MAX_LINE_BREAKS)  # one more than allowed is enough to tell
    if len(items) > MAX_LINE_BREAKS:
        raise ValueError(f"more than {MAX_LINE_BREAKS} line breaks")
    positions: list[int] = []
    for item in items:
        if not _INDEX_RE.match(item):
            raise ValueError(f"not an index: {item!r}")
        at = int(item)
        if positions and at <= positions[-1]:
            raise ValueError(f"not increasing: {at}")
        if at >= len(content) or content[at] != " ":
            raise ValueError(f"no space at {at}")
        positions.append(at)
    return tuple(positions)


def decode_lines(content: str, param: str | None) -> str:
    """Return the text of a message: ``content`` with the spaces ``param`` lists made line breaks (``\\n``).

    ``param`` None: the content as it is. Raises ValueError on a bad ``param``.
    """
    positions = line_breaks(content, param)
    if not positions:
        return content
    chars = list(content)
    for at in positions:
        chars[at] = "\n"
    return "".join(chars)


def check_lines(content: str, param: str | None) -> bool:
    """Return True when ``param`` is absent or a good ``lines`` parameter for ``content``."""
    try:
        line_breaks(content, param)
    except ValueError:
        return False
    return True
