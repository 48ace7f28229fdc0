"""Nickname and color rules. Pure functions, no I/O.

Nicknames are 2 to 16 characters, start with a letter, and hold no control,
format, private-use or unassigned characters, no separators but the plain
space (not leading or trailing), and none of the protocol's special
characters ``, ; = /``. Two nicknames are the same when their NFKC,
casefolded forms are equal, so ``Bob``, ``bob`` and ``ｂｏｂ`` are one name.
"""

from __future__ import annotations

import re
import unicodedata

from . import texts

MIN_LENGTH = 2
MAX_LENGTH = 16
_FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
_PROTOCOL_SPECIALS = set(",;=/")
_COLOR_RE = re.compile(r"#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})\Z")


def name_key(nickname: str) -> str:
    """Return the form under which nicknames are compared and stored."""
    return unicodedata.normalize("NFKC", nickname).casefold()


def nickname_error(nickname: str) -> str | None:
    """Return the original's error text for a bad nickname, or None when it is fine.

    The first-letter rule comes before the length rule, as in the original.
    """
    if not nickname or not nickname[0].isalpha():
        return texts.MUST_START_WITH_LETTER
    if not MIN_LENGTH <= len(nickname) <= MAX_LENGTH:
        return texts.BAD_LENGTH
    if nickname != nickname.strip() or any(_forbidden(ch) for ch in nickname):
        return texts.BAD_CHARACTER
    return None


def _forbidden(char: str) -> bool:
    if char in _PROTOCOL_SPECIALS:
        return True
    category = unicodedata.category(char)
    return category in _FORBIDDEN_CATEGORIES or (category == "Zs" and char != " ")


def is_color(color: str) -> bool:
    """True for ``#RGB`` and ``#RRGGBB`` hex colors."""
    return bool(_COLOR_RE.match(color))
