"""The words a message is found by, for a store without SQLite's FTS5 (PgStore's ``words text[]``). Pure.

They follow the SQLite index (store.py, schema version 4) so that both
stores find the same messages: the tokens of FTS5's ``unicode61
remove_diacritics 2`` tokenizer (SQLite's own, run in memory; ASCII text,
the common case, is split here as it would split it),
each token's first 1, 2 and 3 characters (FTS5's ``prefix='1 2 3'``) marked
with a trailing ``*``, and the message's scope words (store._scope_words:
``lobby``, ``r<room id>``, ``p<ident>``, ``c<a>x<b>``) marked with a leading
``@``, so that text never passes for a scope. ``*`` and ``@`` are never in a
token.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import threading

PREFIX_LENGTHS = (1, 2, 3)  # as FTS5's prefix='1 2 3': a longer beginning is checked against the whole words
PREFIX_MARK = "*"
SCOPE_MARK = "@"
ASCII_TOKEN = re.compile(r"[a-z0-9]+")
ASCII_SEPARATORS = re.compile(r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+")


class _Tokenizer(threading.local):
    """SQLite's own unicode61 tokenizer (remove_diacritics 2), in memory, one per thread: its Unicode tables
    (6.1) and its accent folding are FTS5's, which no Python table matches letter for letter."""

    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self.db.execute("CREATE VIRTUAL TABLE words USING fts5(text, tokenize='unicode61 remove_diacritics 2')")
        self.db.execute("CREATE VIRTUAL TABLE found USING fts5vocab(words, 'instance')")

    def tokens(self, text: str) -> list[str]:
        self.db.execute("INSERT INTO words (rowid, text) VALUES (1, ?)", (text,))  # never a NUL: a separator
        try:
            return [term for (term,) in self.db.execute("SELECT term FROM found ORDER BY offset")]
        finally:
            self.db.execute("DELETE FROM words")


_tokenizer = _Tokenizer()


@functools.lru_cache(maxsize=65536)
def _chunk_tokens(chunk: str) -> tuple[str, ...]:
    """The tokens of a run of text without ASCII punctuation or space (the same words come back again and again)."""
    if chunk.isascii():
        return (chunk.lower(),)
    return tuple(_tokenizer.tokens(chunk))


def tokens(text: str) -> list[str]:
    """The words of ``text`` as FTS5's unicode61 tokenizer (remove_diacritics 2) makes them, in order.

    ASCII's token characters are its letters and digits, and every other
    ASCII character separates: text is cut there first, and only the pieces
    holding other characters go to SQLite's tokenizer.
    """
    if text.isascii():  # the common case
        return ASCII_TOKEN.findall(text.lower())
    return [token for chunk in ASCII_SEPARATORS.split(text) if chunk for token in _chunk_tokens(chunk)]


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

    A searched word holding several tokens (``a-b``) is an FTS5 phrase: each
    token but the last is a whole word, the last a beginning (SQLite also
    wants them side by side: here they may be anywhere in the message).
    """
    entries: set[str] = set()
    longer: set[str] = set()
    for word in words:
        found = tokens(word)
        entries.update(found[:-1])
        for token in found[-1:]:
            short = token[:PREFIX_LENGTHS[-1]]
            entries.add(short + PREFIX_MARK)
            if len(token) > len(short):
                longer.add(token)
    return sorted(entries), sorted(longer)
