"""Nickname and color rules. Pure functions, no I/O.

Nicknames are 2 to 16 characters (code points), start with a letter, and
hold no control, format, private-use, surrogate or unassigned characters, no
line or paragraph separators, and no space separator but the plain space,
which may not end a nickname. The protocol's special characters ``, ; = /``
are allowed: the seed document's own examples are the nicknames ``foo,bar``
(sent as ``nickname=foo/,bar``) and ``foo/bar`` (``nickname=foo//bar``), and
every parameter value is escaped on the wire. Two nicknames are the same when
their NFKC, casefolded forms are equal, so ``Bob``, ``bob`` and ``ｂｏｂ`` are
one name.

The web page holds the same rules in ``web/names.js``, over tables generated
from this Python's Unicode data (tests/generate_web_data.py); the shared
vectors in tests/vectors/client.json keep the two in step.
"""

from __future__ import annotations

import re
import unicodedata

from . import texts

MIN_LENGTH = 2
MAX_LENGTH = 16
# Invisible or unassigned: control, format, surrogate, private use, unassigned,
# line and paragraph separators. Space separators other than " " are refused too.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_COLOR_RE = re.compile(r"#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})\Z")


def name_key(nickname: str) -> str:
    """Return the form under which nicknames are compared and stored (NFKC, then casefold)."""
    return unicodedata.normalize("NFKC", nickname).casefold()


def same_nickname(a: str, b: str) -> bool:
    """Return True when the server takes ``a`` and ``b`` for one nickname."""
    return name_key(a) == name_key(b)


def nickname_error(nickname: str) -> str | None:
    """Return the original's error text for a bad nickname, or None when it is fine.

    The first-letter rule comes before the length rule, as in the original.
    """
    if not nickname or not nickname[0].isalpha():
        return texts.MUST_START_WITH_LETTER
    if not MIN_LENGTH <= len(nickname) <= MAX_LENGTH:
        return texts.BAD_LENGTH
    if nickname != nickname.strip() or any(is_forbidden(ch) for ch in nickname):
        return texts.BAD_CHARACTER
    return None


def is_forbidden(char: str) -> bool:
    """Return True for a character no nickname may hold (the plain space is allowed)."""
    category = unicodedata.category(char)
    return category in FORBIDDEN_CATEGORIES or (category == "Zs" and char != " ")


def is_color(color: str) -> bool:
    """True for ``#RGB`` and ``#RRGGBB`` hex colors."""
    return bool(_COLOR_RE.match(color))
