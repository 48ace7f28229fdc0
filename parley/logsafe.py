"""Log lines that text from users cannot forge or disguise.

A nickname, a kick reason, a User-Agent or a request path may hold control
characters: ESC starts terminal escape sequences (``ESC[31m`` recolours the
admin's terminal, others retitle it or worse), CR, LF, U+0085, U+2028 and
U+2029 start a new line in one reader or another (a forged log line), and
bidirectional controls reorder what a line shows. ``escape`` writes every
character that is not printable (Python's ``str.isprintable``: categories
Cc, Cf, Cs, Co, Cn, Zl, Zp and spaces other than U+0020) as the escape
``repr`` would use: ``\\n``, ``\\x1b``, ``\\u2028``, ``\\U000e0041``.

``SafeFormatter`` applies it to every record's message on Parley's log
handlers, after its arguments are filled in. It is a formatter rather than a
function each call site calls because no call site can then forget, and
because some lines carrying user text are not Parley's own calls at all:
aiohttp's access log writes the request line and the User-Agent.
"""

from __future__ import annotations

import logging
from types import TracebackType

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape(text: str, keep: str = "") -> str:
    """``text`` with every character that is not printable (except those in ``keep``) written as its escape."""
    if text.isprintable():  # the common case, checked in C
        return text
    return "".join(c if c.isprintable() or c in keep else _escaped(c) for c in text)


class SafeFormatter(logging.Formatter):
    """A Formatter whose lines hold no control characters from the record's message.

    The message (arguments included) is escaped whole, newlines too, so one
    record is one line. A traceback keeps its own line breaks; anything else
    unprintable in it (an exception's text may quote a user) is escaped.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape(super().formatMessage(record))

    def formatException(self, ei: ExcInfo) -> str:
        return escape(super().formatException(ei), keep="\n")

    def formatStack(self, stack_info: str) -> str:
        return escape(super().formatStack(stack_info), keep="\n")
