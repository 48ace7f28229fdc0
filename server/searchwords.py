"""The words a message is found by, for a store without SQLite's FTS5 (PgStore's ``words text[]``). Pure.

They follow the SQLite index (store.py, schema version 4) so that both
stores find the same messages: the tokens of FTS5's ``unicode61
remove_diacritics 2`` tokenizer (a token is a run of letters, numbers,
private-use characters and combining marks; lower case, accents removed),
each token's first 1, 2 and 3 characters (FTS5's ``prefix='1 2 3'``) marked
with a trailing ``*``, and the message's scope words (store._scope_words:
``lobby``, ``r<room id>``, ``p<ident>``, ``c<a>x<b>``) marked with a leading
``@``, so that text never passes for a scope. ``*`` and ``@`` are never in a
token.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

import regex

PREFIX_LENGTHS = (1, 2, 3)  # as FTS5's prefix='1 2 3': a longer beginning is checked against the whole words
PREFIX_MARK = "*"
SCOPE_MARK = "@"
# A token: a run of letters, numbers, private-use characters and combining marks (unicode61's token characters).
TOKEN = regex.compile(r"[\p{L}\p{N}\p{Co}\p{Mn}]+")
ASCII_TOKEN = re.compile(r"[a-z0-9]+")


def _folded(token: str) -> str:
    """``token`` in lower case without its accents (composed again: a Hangul syllable stays one)."""
    if token.isascii():
        return token.lower()
    decomposed = unicodedata.normalize("NFD", token.lower())
    return unicodedata.normalize("NFC", "".join(char for char in decomposed if unicodedata.category(char) != "Mn"))


def tokens(text: str) -> Iterator[str]:
    """The words of ``text`` as the unicode61 tokenizer (remove_diacritics 2) makes them, in order."""
    if text.isascii():  # the common case, ten times faster: ASCII's token characters are its letters and digits
        yield from ASCII_TOKEN.findall(text.lower())
        return
    for run in TOKEN.findall(text):
        token = _folded(run)
        if token:
            yield token


def scope_words(sender_ident: str, rec_ident: str | None, room_id: int | None) -> list[str]:
    """Where a message may be read, as store._scope_words writes it (without the ``@`` mark)."""
    if room_id is not None:
        return [f"r{room_id}"]
    if rec_ident is None:
        return ["lobby"]
    sender, rec = sender_ident.replace(":", ""), rec_ident.replace(":", "")
    first, second = sorted((sender, rec))
    return [f"p{sender}", f"p{rec}", f"c{first}x{second}"]


def message_words(content: str, sender_ident: str, rec_ident: str | None, room_id: int | None,
                  deleted: bool = False) -> list[str]:
    """Everything a message is found by (none for a deleted one), each once, sorted."""
    if deleted:
        return []
    found = set(tokens(content))
    prefixes = {token[:length] + PREFIX_MARK for token in found for length in PREFIX_LENGTHS}  # "ab"[:3] is "ab"
    found |= prefixes
    found.update(SCOPE_MARK + word for word in scope_words(sender_ident, rec_ident, room_id))
    return sorted(found)


def query_words(words: list[str] | tuple[str, ...]) -> tuple[list[str], list[str]]:
    """For a search of ``words`` (each a word or a word's beginning): the index entries every match holds, and
    the beginnings longer than the indexed prefixes, which the caller checks against the whole words.

    A searched word holding several tokens (``a-b``) asks for each of them.
    """
    entries: set[str] = set()
    longer: set[str] = set()
    for word in words:
        for token in tokens(word):
            short = token[:PREFIX_LENGTHS[-1]]
            entries.add(short + PREFIX_MARK)
            if len(token) > len(short):
                longer.add(token)
    return sorted(entries), sorted(longer)
