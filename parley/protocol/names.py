"""Nickname and color rules. Pure functions, no I/O.

Nicknames are 2 to 16 characters (code points), start with a letter, and
hold no control, format, private-use, surrogate or unassigned characters, no
line or paragraph separators, no default-ignorable code point (invisible
fillers such as U+3164 HANGUL FILLER) and no space separator but the plain
space, which may not end a nickname. The protocol's special characters
``, ; = /`` are allowed: the seed document's own examples are the nicknames
``foo,bar`` (sent as ``nickname=foo/,bar``) and ``foo/bar``
(``nickname=foo//bar``), and every parameter value is escaped on the wire.
Two nicknames are the same when their NFKC, casefolded forms are equal, so
``Bob``, ``bob`` and ``ｂｏｂ`` are one name.

Every rule holds for the name as typed AND for its NFKC form, so no name can
expand past 16 characters (U+FDFA is one character, its NFKC form 18) or
start with a space or a combining mark once normalised. The name kept and
shown is the one typed: clients written for the original find themselves in
USER lists by the spelling they sent.

Look-alikes follow Unicode's security mechanisms (UTS #39):

* the NFKC form must be "Highly Restrictive" (UTS #39 section 5.2): of one
  script by Script_Extensions (from the ``regex`` module), or Latin with Han
  and Hiragana and Katakana, or Latin with Han and Bopomofo, or Latin with
  Han and Hangul;
* ``lookalike_keys`` are the UTS #39 skeletons (NFD, map each character to
  its prototype in confusables.txt, NFD) of the NFKC form as typed, upper
  cased and case folded: ``Сосо`` (Cyrillic), ``AIice`` (capital I),
  ``Вob`` and ``ADRNIN`` share a key with ``Coco``, ``Alice``, ``bob`` and
  ``Admin``.
  The server refuses a new name whose key is a registered account's or an
  online user's (server/core/accounts.py); the page checks only the rules
  above.

The web page holds the same rules in ``web/names.js``, over tables generated
from this Python's Unicode data (tests/generate_web_data.py); the shared
vectors in tests/vectors/client.json keep the two in step.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import regex
from confusable_homoglyphs.confusables import confusables_data  # type: ignore[import-untyped]

from . import texts

MIN_LENGTH = 2
MAX_LENGTH = 16
# Invisible or unassigned: control, format, surrogate, private use, unassigned,
# line and paragraph separators. Space separators other than " " are refused too.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_COLOR_RE = re.compile(r"#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})\Z")
_DEFAULT_IGNORABLE = regex.compile(r"\p{Default_Ignorable_Code_Point}")

# UTS #39 section 5.1: "Hani" also stands for the writing systems that use
# it, and Hiragana, Katakana, Hangul and Bopomofo for theirs.
_AUGMENT = {"HANI": {"HANB", "JPAN", "KORE"}, "HIRA": {"JPAN"}, "KANA": {"JPAN"},
            "HANG": {"KORE"}, "BOPO": {"HANB"}}
# Section 5.2, Highly Restrictive: besides one script, these combinations.
_COVERS = (frozenset({"LATN", "HANI", "HIRA", "KANA", "JPAN"}),
           frozenset({"LATN", "HANI", "BOPO", "HANB"}),
           frozenset({"LATN", "HANI", "HANG", "KORE"}))
ANY_SCRIPT: frozenset[str] = frozenset()  # Common and Inherited go with every script

# Nicknames a server refuses to guests by default (--reserved-nicknames): they would pass for its staff.
RESERVED_NICKNAMES = ("admin", "administrator", "root", "moderator", "mod", "operator", "sysop", "system",
                      "server", "parley", "support", "staff", "owner", "help")


def _script_codes() -> list[str]:
    """One name per script the ``regex`` module knows (its ISO 15924 code where it has one)."""
    # regex has no public list of property values; its table maps every
    # alias of a script to one id.
    from regex import _regex_core

    by_id: dict[int, list[str]] = {}
    for name, value in _regex_core.PROPERTIES["SCRIPTEXTENSIONS"][1].items():  # type: ignore[attr-defined]
        by_id.setdefault(value, []).append(name)
    return sorted(min(names, key=lambda n: (len(n) != 4, n)) for names in by_id.values())


_SCRIPTS = [(code, regex.compile(rf"\p{{Script_Extensions={code}}}")) for code in _script_codes()]


def name_key(nickname: str) -> str:
    """Return the form under which nicknames are compared and stored (NFKC, then casefold)."""
    return unicodedata.normalize("NFKC", nickname).casefold()


def same_nickname(a: str, b: str) -> bool:
    """Return True when the server takes ``a`` and ``b`` for one nickname."""
    return name_key(a) == name_key(b)


def nickname_error(nickname: str) -> str | None:
    """Return the error text for a nickname no one may newly take, or None when it is fine.

    The rules are checked on the name as typed, then on its NFKC form; for
    each the first-letter rule comes before the length rule, as in the
    original. Then the NFKC form must not mix scripts.
    """
    normal = unicodedata.normalize("NFKC", nickname)
    error = _form_error(nickname) or _form_error(normal)
    if error is None and not is_highly_restrictive(normal):
        return texts.MIXED_SCRIPTS
    return error


def _form_error(nickname: str) -> str | None:
    """The first-letter, length and character rules for one form of a nickname."""
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
    return (category in FORBIDDEN_CATEGORIES or (category == "Zs" and char != " ")
            or _DEFAULT_IGNORABLE.match(char) is not None)


_BLOCK = 256
_block_sets: dict[int, tuple[frozenset[str], ...]] = {}  # code point >> 8 -> each one's script set


def script_set(char: str) -> frozenset[str]:
    """The UTS #39 augmented script set of ``char`` (Script_Extensions); ANY_SCRIPT for Common and Inherited.

    Found for 256 code points at once, one pass of each script's pattern over
    them, and kept: asking the ~180 scripts one character at a time cost a
    millisecond a nickname on the event loop, however new its characters.
    """
    code = ord(char)
    sets = _block_sets.get(code // _BLOCK)
    if sets is None:
        sets = _block_sets[code // _BLOCK] = _scan_block(code // _BLOCK)
    return sets[code % _BLOCK]


def _scan_block(block: int) -> tuple[frozenset[str], ...]:
    """The script set of each code point of ``block`` (``_BLOCK`` code points)."""
    text = "".join(map(chr, range(block * _BLOCK, (block + 1) * _BLOCK)))
    found: list[set[str]] = [set() for _ in text]
    for code, pattern in _SCRIPTS:
        for match in pattern.finditer(text):
            found[match.start()].add(code)
    return tuple(_interned.setdefault(sets, sets) for sets in map(augmented_scripts, found))


_interned: dict[frozenset[str], frozenset[str]] = {}  # one object per distinct set


def augmented_scripts(scripts: set[str]) -> frozenset[str]:
    """A character's Script_Extensions codes made its augmented script set (ANY_SCRIPT for Common, Inherited)."""
    if not scripts or scripts <= {"ZYYY", "ZINH"}:
        return ANY_SCRIPT
    return frozenset(scripts.union(*(_AUGMENT.get(code, set()) for code in scripts)))


def script_patterns() -> list[tuple[str, regex.Pattern[str]]]:
    """Each script's code and a pattern for one character of it (by Script_Extensions)."""
    return list(_SCRIPTS)


def is_highly_restrictive(text: str) -> bool:
    """True when ``text`` is of one script, or one of the combinations UTS #39 "Highly Restrictive" allows."""
    sets = [found for found in map(script_set, text) if found]
    if not sets or frozenset.intersection(*sets):
        return True
    return any(all(found & cover for found in sets) for cover in _COVERS)


@functools.lru_cache(maxsize=1)
def _prototypes() -> dict[str, str]:
    """Each character of confusables.txt and the prototype UTS #39 maps it to.

    confusable_homoglyphs ships confusables.txt as pairs listed both ways
    (source -> [prototype], prototype -> [its sources]), with right-to-left
    characters wrapped in U+200E marks. A source is listed with its one
    prototype; a prototype with one source cannot be told from it, so for
    such a pair the member used inside a multi-character prototype, else the
    lower code point, stands for both: equality of skeletons is the same.
    """
    lists = {key.replace("\u200e", ""): [entry["c"].replace("\u200e", "") for entry in entries]
             for key, entries in confusables_data.items()}
    in_prototypes = {char for key in lists if len(key) > 1 for char in key}
    mapping: dict[str, str] = {}
    for key, entries in lists.items():
        if len(key) != 1 or len(entries) != 1 or entries[0] == key:
            continue
        (target,) = entries
        pair = len(target) == 1 and lists.get(target) == [key]
        if pair and (key in in_prototypes or (target not in in_prototypes and key < target)):
            continue  # key stands for the pair
        mapping[key] = target
    return mapping


def skeleton(text: str) -> str:
    """The UTS #39 skeleton of ``text``: NFD, each character mapped to its prototype, NFD."""
    mapping = _prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", "".join(mapping.get(char, char) for char in decomposed))


def lookalike_keys(nickname: str) -> tuple[str, str, str]:
    """The keys under which look-alikes of ``nickname`` are found: (as sent, upper case, case folded).

    Each is the UTS #39 skeleton of the NFKC form in one case. Nicknames are
    one whatever their case, so a name is shown in any of them: two names
    are look-alikes when any key of one is any key of the other. As sent
    finds ``AIice`` (capital I) for ``Alice``, which folding would hide; upper
    case ``Вob`` (Cyrillic В) for ``bob`` and ``ADMlN`` for ``Admin``; folded
    ``ADRNIN`` for ``Admin``.
    """
    normal = unicodedata.normalize("NFKC", nickname)
    return skeleton(normal), skeleton(normal.upper()), skeleton(normal.casefold())


def is_color(color: str) -> bool:
    """True for ``#RGB`` and ``#RRGGBB`` hex colors."""
    return bool(_COLOR_RE.match(color))


# ---- room names -----------------------------------------------------------------------
# "Room names: 1 to 32 characters; letters (any script, Unicode category L*),
# digits (Nd), and - _ .; marks (M*) allowed after the first character; the
# first character a letter or digit. Compared as nicknames are (NFKC +
# casefold: name_key). lobby is reserved. A name is always written with its
# # on the wire."
# As for nicknames, every rule holds for the name as typed and for its NFKC
# form (U+FDFA is one letter, its NFKC form holds spaces), and no default-
# ignorable code point is allowed (U+3164 HANGUL FILLER is a letter, and
# invisible; variation selectors are marks).

ROOM_PREFIX = "#"
ROOM_MAX_LENGTH = 32
RESERVED_ROOMS = frozenset({"lobby"})  # as room_key
_ROOM_PUNCTUATION = frozenset("-_.")


def is_room(rec: str) -> bool:
    """Return True when ``rec`` (a ``rec=`` or ``room=`` value) names a room: it starts with ``#``."""
    return rec.startswith(ROOM_PREFIX)


def room_key(name: str) -> str:
    """Return the form under which room names are compared and stored (name_key, without the ``#``)."""
    return name_key(name.removeprefix(ROOM_PREFIX))


def room_name_error(name: str) -> str | None:
    """Return the error text for a room name (without its ``#``) no one may create, or None when it is fine.

    A reserved name (``lobby`` in any case or width) gets the same text: it
    is not a name a room can have.
    """
    normal = unicodedata.normalize("NFKC", name)
    if _room_form_ok(name) and _room_form_ok(normal) and room_key(name) not in RESERVED_ROOMS:
        return None
    return texts.ROOM_NAME_ERROR


def _room_form_ok(name: str) -> bool:
    """The length and character rules for one form of a room name."""
    if not 1 <= len(name) <= ROOM_MAX_LENGTH or not _starts_room_name(name[0]):
        return False
    return all(_in_room_name(char) for char in name[1:])


def _starts_room_name(char: str) -> bool:
    return (char.isalpha() or char.isdecimal()) and not is_forbidden(char)


def _in_room_name(char: str) -> bool:
    if char in _ROOM_PUNCTUATION:
        return True
    return (char.isalpha() or char.isdecimal() or unicodedata.category(char).startswith("M")) and not is_forbidden(char)


# ---- mentions ---------------------------------------------------------------------------


def mentions(text: str, nickname: str) -> bool:
    """Return True when ``text`` mentions ``nickname``.

    "A message mentions NICK when its content (line breaks as spaces)
    contains NICK, or @ NICK, compared as nicknames are (NFKC + casefold),
    not preceded and not followed by a letter, digit, mark or _." A ``@``
    is neither, so ``@bob`` is found as ``bob`` is; ``bob's`` mentions bob,
    ``bobby`` and ``_bob`` do not. The search runs over the folded text.
    """
    needle = name_key(nickname)
    if not needle:
        return False
    haystack = name_key(text)
    end = len(needle)
    at = haystack.find(needle)
    while at >= 0:
        before = haystack[at - 1] if at else ""
        after = haystack[at + end] if at + end < len(haystack) else ""
        if not _in_word(before) and not _in_word(after):
            return True
        at = haystack.find(needle, at + 1)
    return False


def _in_word(char: str) -> bool:
    """True for a letter (L*), decimal digit (Nd), mark (M*) or ``_``: what a mention may not touch."""
    if not char:
        return False
    return char == "_" or char.isalpha() or char.isdecimal() or unicodedata.category(char).startswith("M")
