"""Words of a search, and where they occur in a message. Pure functions, no I/O.

SEARCH: "words of QUERY (runs of letters/digits; everything else, FTS5
syntax included, separates words) must all occur, each as a word or a
word's beginning, case- and accent-insensitively."

* ``search_words``: the query in NFKC with full case folding (as nicknames
  are compared), split on every code point that is not a letter (L*), a
  decimal digit (Nd) or a mark (M*). ``"``, ``*``, ``-``, ``^``, ``:`` and
  ``(`` are separators like spaces, so nothing of FTS5's syntax survives;
  ``NEAR``, ``OR`` and ``AND`` are plain words.
* ``highlight``: the code point ranges of a message's text to show as
  matches: each word of the text (a run of letters, digits and marks, a
  character whose NFKC form is all of those counting as one) whose
  beginning is a query word, compared with case folding and without marks
  (accents). A range covers the matching beginning (and the marks on its
  last letter); the longest query word that matches wins.

The page holds the same functions in ``web/protocol.js`` (searchWords,
highlight); tests/vectors/client.json keeps the two in step.
"""

from __future__ import annotations

import functools
import unicodedata

from .names import name_key


def _word_char(char: str) -> bool:
    """True for a letter (L*), a decimal digit (Nd) or a mark (M*)."""
    return char.isalpha() or char.isdecimal() or unicodedata.category(char).startswith("M")


@functools.lru_cache(maxsize=4096)
def _in_word(char: str) -> bool:
    """True for a word character, or one whose NFKC form is all word characters (``①`` is ``1``)."""
    if _word_char(char):
        return True
    normal = unicodedata.normalize("NFKC", char)
    return normal != char and bool(normal) and all(_word_char(c) for c in normal)


def search_words(query: str) -> list[str]:
    """Return the words the server searches for in ``query`` (NFKC, case folded), in order; [] when none."""
    words: list[str] = []
    word: list[str] = []
    for char in name_key(query):
        if _word_char(char):
            word.append(char)
        elif word:
            words.append("".join(word))
            word = []
    if word:
        words.append("".join(word))
    return words


@functools.lru_cache(maxsize=4096)
def _fold(char: str) -> str:
    """One code point compared for highlighting: compatibility-decomposed, case folded, its marks dropped."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", char).casefold())
    return "".join(c for c in folded if not unicodedata.category(c).startswith("M"))


def highlight(text: str, words: list[str] | tuple[str, ...]) -> list[tuple[int, int]]:
    """Return the (start, end) code point ranges of ``text`` that match ``words`` (from ``search_words``), in order."""
    needles = {"".join(_fold(c) for c in word) for word in words} - {""}
    if not needles:
        return []
    chars = list(text)
    ranges: list[tuple[int, int]] = []
    at = 0
    while at < len(chars):
        if not _in_word(chars[at]):
            at += 1
            continue
        end = at
        while end < len(chars) and _in_word(chars[end]):
            end += 1
        matched = _match_end(chars, at, end, needles)
        if matched > at:
            ranges.append((at, matched))
        at = end
    return ranges


def _match_end(chars: list[str], start: int, end: int, needles: set[str]) -> int:
    """Where the longest needle that begins the word ``chars[start:end]`` ends (marks after it included), or ``start``."""
    folded = ""
    best = start
    for at in range(start, end):
        before = len(folded)
        folded += _fold(chars[at])
        if any(len(needle) > before and folded.startswith(needle) for needle in needles):
            best = at + 1  # a needle ends within this code point
        if not any(len(needle) > len(folded) and needle.startswith(folded) for needle in needles):
            break  # no longer needle can match
    while start < best < end and unicodedata.category(chars[best]).startswith("M"):
        best += 1
    return best
