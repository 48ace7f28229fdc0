"""Scenario 9, search (issue 14): SEARCH over a large history, and what the index costs a send.

**The history.** ``--messages`` N (default 1,000,000) messages written
through the real Store (server/store.py, ``append_messages`` in batches of
1,000, the way the server writes them but without fsync) into a SQLite data
folder, with 2,000 accounts (password ``password1``), 50 rooms and about
4,000 private conversations. Built once per N, ``--seed`` and schema version
and kept under ``--cache`` (default ``build/bench-search/``), so later runs
start at once. The text is drawn from a vocabulary with a Zipf-like
distribution (rank r has weight 1/(r + 2.7)): about 150 common English words
first, then some accented real words (café, Zürich, jalapeño...), then
40,000 made-up words of one to four syllables, 4% of them accented, so that
a few words are in most messages and the last ones in some 20 of a million.
Messages have 3 to 30 words (1% have 60 to 400), some punctuation, some
capitals, some mentions and links. 35% go to the lobby, 45% to rooms (a
room's share and its members follow its popularity, Zipf again; each user
is in about 3 rooms) and 20% to private conversations.

**Searches.** ``Store.search`` on one thread of its own, as the server's
database thread runs it (``concurrent.futures``, one worker; the time taken
is from handing the call to the thread to having its answer), limit 20,
newest first, the words split as SEARCH splits a query. Query kinds, four
queries each, each run ``--search-rounds`` times (default 10) after one
untimed pass:

- ``rare``: a word of the vocabulary's tail (about 20 messages in a million);
- ``common``: ``the``, ``you``... (in a large share of all messages);
- ``accent``: an accented word typed without its accents (``cafe``);
- ``two words``: two words that must both occur;
- ``prefix``: a 2 or 3 letter beginning (``br``, ``tho``);
- ``FTS syntax``: a query full of FTS5's syntax (``"the" AND kal* -x``);
- ``room``: scoped to one room (the smallest one and the largest one);
- ``private``: scoped to one private conversation;
- ``few rooms``: unscoped, by a user in one room with one or two
  private conversations.

Without scope a search covers the lobby, the searcher's rooms and its
private conversations (a user in 5 rooms, the largest among them, with a few
private conversations). Each kind reports median, p90 and p99; the overall
median is judged against issue 14's target (under 100 ms).

**Through the wire** (when the server knows SEARCH): ``parley serve`` on a
copy of the data folder, two accounts logged in over TCP with ``rooms=1``,
the same queries as SEARCH frames one at a time, timed from the write to
the CONFIRM.

**The index's cost.** Its size on disk (SQLite's ``dbstat``: the FTS
tables' pages against the messages table's), and the time of
``append_messages`` of 1 and of 100 messages (durable, fsync on, as the
server writes) into two copies of the history: as built, and with the FTS
triggers dropped (what a version-3 store does on an insert); the two copies
in alternating order in each round.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import functools
import hashlib
import json
import math
import random
import re
import shutil
import socket
import sqlite3
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from parley.protocol import frames
from server.passwords import hash_password
from server.records import NewMessage
from server.store import SCHEMA_VERSION, Store, database_path

from . import procs
from .common import Bench, Result, Row, alternate, ms, shared_flags, times
from .pool import BenchError
from .stats import median, percentile

GENERATOR = 1  # bump when the history drawn for a given N and seed changes: the cache is keyed by it
DEFAULT_CACHE = procs.REPO / "build" / "bench-search"
PASSWORD = "password1"
USERS = 2000
ROOMS = 50
PRIVATE_ROOMS = 5  # of the ROOMS, the last ones by popularity are private
PAIRS_PER_USER = 2  # private conversations: USERS * PAIRS_PER_USER pairs
BATCH = 1000  # messages per append_messages while building
LIMIT = 20  # SEARCH's default limit
TARGET_MS = 100.0
START_MS = 1_735_689_600_000  # 2025-01-01 00:00 UTC: the history spans the year after it
YEAR_MS = 365 * 86_400_000
SHARE_LOBBY, SHARE_ROOMS = 0.35, 0.45  # the rest is private
WORD = re.compile(r"[^\W_]+")  # SEARCH's words: runs of letters and digits

COMMON = ["the", "I", "to", "you", "a", "and", "it", "is", "that", "of", "in", "for", "on", "me", "this", "my", "be", "have", "not", "was", "with", "just", "so", "but", "what", "do", "no", "can", "like", "at", "are", "we", "get", "if", "all", "know", "your", "one", "up", "out", "about", "think", "yeah", "good", "ok", "how", "now", "time", "people", "there", "will", "when", "an", "or", "lol", "go", "would", "from", "they", "it's", "don't", "really", "did", "he", "see", "then", "well", "want", "because", "some", "more", "here", "thanks", "too", "yes", "right", "got", "going", "her", "day", "she", "make", "much", "work", "need", "back", "still", "been", "them", "new", "thing", "also", "why", "way", "him", "his", "only", "other", "any", "first", "last", "after", "over", "never", "next", "said", "could", "into", "look", "than", "something", "off", "again", "today", "night", "week", "year", "home", "game", "world", "play", "let", "thank", "help", "sure", "maybe", "love", "great", "best", "better", "little", "long", "nice", "fun", "man", "guys", "anyone", "hey", "hello", "oh", "haha", "wait", "post", "read", "news", "code", "bug", "fix", "test", "server", "room", "chat", "near", "message", "send", "tomorrow", "morning", "later", "soon", "free", "talk", "show"]
ACCENTED = ("café", "déjà", "naïve", "über", "señor", "façade", "crème", "résumé", "jalapeño", "fiancée",
            "Zürich", "São", "München", "garçon", "piñata", "Ångström", "smörgåsbord", "Málaga", "Kraków",
            "Réunion", "Gdańsk", "Curaçao", "Tromsø", "Besançon", "Córdoba")
ONSETS = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "cr", "dr", "fl", "gr", "pl", "pr", "st", "tr", "sh", "ch", "th", "kr", "sl", "sp"]
VOWELS = ["a", "e", "i", "o", "u", "a", "e", "i", "o", "ai", "ea", "ou", "ie", "oo"]
CODAS = ("", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "rk", "x")
ACCENTS = {"a": "áàâä", "e": "éèêë", "i": "íï", "o": "óöô", "u": "úüû", "n": "ñ", "c": "ç"}


# The history ---------------------------------------------------------------


@dataclass
class Layout:
    """Who is where in a built history: what the queries need to know, saved beside the data folder."""

    messages: int
    seed: int
    vocabulary: list[str]
    rooms: list[dict[str, Any]]  # {"id", "name", "members": [user numbers], "messages"}
    pairs: list[tuple[int, int]]  # private conversations: (user, user), most active first
    pair_messages: list[int]
    typical: int  # the user whose unscoped searches are measured
    few: int  # a user in one room with one or two private conversations
    build_seconds: float = 0.0

    def ident(self, user: int) -> str:
        """The ident of user number ``user`` (accounts are created in order, ids from 1)."""
        return f"a:{user + 1}"

    def rooms_of(self, user: int) -> list[dict[str, Any]]:
        return [room for room in self.rooms if user in room["members"]]

    def partners_of(self, user: int) -> list[int]:
        return [b if a == user else a for a, b in self.pairs if user in (a, b)]


def user_name(user: int) -> str:
    return f"user{user + 1:04d}"


def vocabulary(rng: random.Random, size: int = 40_000) -> list[str]:
    """Return the words by rank: the common English ones, then accented ones among made-up ones."""
    seen = {w.casefold() for w in COMMON}
    made: list[str] = []
    while len(made) < size:
        word = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) for _ in range(rng.choice((1, 2, 2, 3, 3, 4))))
        word += rng.choice(CODAS)
        if rng.random() < 0.04:
            at = [i for i, letter in enumerate(word) if letter in ACCENTS]
            if at:
                i = rng.choice(at)
                word = word[:i] + rng.choice(ACCENTS[word[i]]) + word[i + 1:]
        if word not in seen:
            seen.add(word)
            made.append(word)
    words = COMMON + made
    for n, accented in enumerate(ACCENTED):  # real accented words at ranks 300 to about 6,000
        words.insert(300 + n * n * 10, accented)
    return words


@functools.cache
def zipf_weights(count: int, offset: float = 2.7) -> list[float]:
    """Cumulative Zipf-Mandelbrot weights 1/(rank + offset) of ``count`` ranks, for ``random.choices``."""
    total, out = 0.0, []
    for rank in range(count):
        total += 1.0 / (rank + offset)
        out.append(total)
    return out


def _text(rng: random.Random, words: list[str], picks: Sequence[int], users: int) -> str:
    """Return one message's text from the word ranks ``picks``: punctuation, capitals, a mention or a link now and then."""
    parts = [words[i] for i in picks]
    for at in range(len(parts) - 1):
        if rng.random() < 0.06:
            parts[at] += rng.choice((",", ",", ".", "?", "!", ":", " -"))
    if rng.random() < 0.5:
        parts[0] = parts[0][:1].upper() + parts[0][1:]
    if rng.random() < 0.04:
        parts.insert(rng.randrange(len(parts) + 1), "@" + user_name(rng.randrange(users)))
    if rng.random() < 0.02:
        parts.append(f"https://example.org/{words[picks[0]]}/{rng.randrange(10_000)}")
    return " ".join(parts) + rng.choice(("", "", "", ".", "?", "!", " :)"))


def _lengths(rng: random.Random, count: int) -> list[int]:
    """Words per message: 3 to 30, most short; 1% are long (60 to 400)."""
    return [rng.randint(60, 400) if rng.random() < 0.01 else min(30, 3 + int(rng.expovariate(1 / 6)))
            for _ in range(count)]


def _plan_people(rng: random.Random) -> tuple[list[list[int]], list[tuple[int, int]]]:
    """Return each room's members (popular rooms have more) and the private pairs."""
    popularity = zipf_weights(ROOMS, offset=1.0)
    members: list[set[int]] = [set() for _ in range(ROOMS)]
    for user in range(USERS):
        wanted = min(ROOMS, int(rng.expovariate(1 / 3)))
        for room in rng.choices(range(ROOMS), cum_weights=popularity, k=wanted):
            members[room].add(user)
    for room, people in enumerate(members):  # every room has at least two members
        while len(people) < 2:
            people.add(rng.randrange(USERS))
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < USERS * PAIRS_PER_USER:
        a, b = rng.randrange(USERS), rng.randrange(USERS)
        if a != b:
            pairs.add((min(a, b), max(a, b)))
    ordered = sorted(pairs)
    rng.shuffle(ordered)
    return [sorted(people) for people in members], ordered


def _pick_users(members: list[list[int]], pairs: list[tuple[int, int]]) -> tuple[int, int]:
    """Return the typical searcher (in 5 rooms with the largest among them, else the closest) and a user of few rooms."""
    rooms_of: dict[int, list[int]] = {}
    for room, people in enumerate(members):
        for user in people:
            rooms_of.setdefault(user, []).append(room)
    partners: dict[int, int] = {}
    for a, b in pairs:
        partners[a] = partners.get(a, 0) + 1
        partners[b] = partners.get(b, 0) + 1
    typical = min(range(USERS), key=lambda u: (abs(len(rooms_of.get(u, [])) - 5), 0 not in rooms_of.get(u, []),
                                               -partners.get(u, 0), u))
    few = min(range(USERS), key=lambda u: (len(rooms_of.get(u, [])) != 1, not 1 <= partners.get(u, 0) <= 2,
                                           -(rooms_of.get(u, [0])[0]), u))
    return typical, few


def build(folder: Path, messages: int, seed: int, log: Callable[[str], None]) -> Layout:
    """Write the history into ``folder``/data through the Store; return its layout (also saved as layout.json)."""
    started = time.monotonic()
    rng = random.Random(seed)
    words = vocabulary(rng)
    members, pairs = _plan_people(rng)
    typical, few = _pick_users(members, pairs)
    store = Store(database_path(folder / "data"), durable=False)
    try:
        _add_people(store, members, log)
        rooms = [{"id": room_id, "name": f"room{n + 1:02d}", "members": people, "messages": 0}
                 for n, (room_id, people) in enumerate(zip(_room_ids(store), members))]
        layout = Layout(messages, seed, words, rooms, pairs, [0] * len(pairs), typical, few)
        _add_messages(store, rng, layout, log)
    finally:
        store.close()
    layout.build_seconds = time.monotonic() - started
    (folder / "layout.json").write_text(json.dumps(dataclasses.asdict(layout)))
    return layout


def _add_people(store: Store, members: list[list[int]], log: Callable[[str], None]) -> None:
    password_hash = hash_password(PASSWORD)  # one hash for every account: 20 ms, not 40 s
    for user in range(USERS):
        account = store.add_account(user_name(user), "member", password_hash)
        if account.ident != f"a:{user + 1}":
            raise BenchError(f"build the search history in an empty folder (account {account.ident})")
    for n, people in enumerate(members):
        creator = people[0]
        room = store.create_room(f"room{n + 1:02d}", f"Topic of room {n + 1}", n >= ROOMS - PRIVATE_ROOMS,
                                 f"a:{creator + 1}", user_name(creator), START_MS)
        for user in people[1:]:
            store.add_member(room.id, f"a:{user + 1}", user_name(user), False, START_MS)
    log(f"search: {USERS} accounts and {ROOMS} rooms created")


def _room_ids(store: Store) -> list[int]:
    rooms = [store.get_room(f"room{n + 1:02d}") for n in range(ROOMS)]
    return [room.id for room in rooms if room is not None]


def _add_messages(store: Store, rng: random.Random, layout: Layout, log: Callable[[str], None]) -> None:
    """Append ``layout.messages`` messages in batches of BATCH, counting each room's and pair's."""
    words, total = layout.vocabulary, layout.messages
    word_weights = zipf_weights(len(words))
    room_weights = zipf_weights(ROOMS, offset=1.0)
    pair_weights = zipf_weights(len(layout.pairs), offset=5.0)
    user_weights = zipf_weights(USERS, offset=20.0)
    colors = [f"#{rng.randrange(1 << 24):06X}" for _ in range(USERS)]
    step = YEAR_MS / max(total, 1)
    done = 0
    while done < total:
        count = min(BATCH, total - done)
        lengths = _lengths(rng, count)
        picks = rng.choices(range(len(words)), cum_weights=word_weights, k=sum(lengths))
        batch: list[NewMessage] = []
        at = 0
        for n, length in enumerate(lengths):
            content = _text(rng, words, picks[at:at + length], USERS)
            at += length
            ts = START_MS + int((done + n) * step) + rng.randrange(1000)
            stamp = datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
            batch.append(_message(rng, layout, ts, stamp, content, colors, room_weights, pair_weights, user_weights))
        store.append_messages(batch)
        store.index_pending()
        done += count
        if done % 100_000 < BATCH or done == total:
            log(f"search: {done:,} of {total:,} messages written")


def _message(rng: random.Random, layout: Layout, ts: int, stamp: str, content: str, colors: list[str],
             room_weights: list[float], pair_weights: list[float], user_weights: list[float]) -> NewMessage:
    """Return one message to the lobby, a room or a private conversation, by their shares."""
    where = rng.random()
    if where < SHARE_LOBBY:
        user = rng.choices(range(USERS), cum_weights=user_weights)[0]
        return NewMessage(ts, stamp, user_name(user), colors[user], "-ALL", content, layout.ident(user), None)
    if where < SHARE_LOBBY + SHARE_ROOMS:
        room = layout.rooms[rng.choices(range(ROOMS), cum_weights=room_weights)[0]]
        room["messages"] += 1
        user = rng.choice(room["members"])
        return NewMessage(ts, stamp, user_name(user), colors[user], f"#{room['name']}", content, layout.ident(user),
                          None, room_id=room["id"])
    pair = rng.choices(range(len(layout.pairs)), cum_weights=pair_weights)[0]
    layout.pair_messages[pair] += 1
    sender, receiver = layout.pairs[pair] if rng.random() < 0.5 else reversed(layout.pairs[pair])
    return NewMessage(ts, stamp, user_name(sender), colors[sender], user_name(receiver), content,
                      layout.ident(sender), layout.ident(receiver))


def schema_digest() -> str:
    """A digest of the schema a new Store creates: a history built with other tables or another index is not reused."""
    with tempfile.TemporaryDirectory() as scratch:
        store = Store(Path(scratch) / "parley.sqlite3", durable=False)
        store.close()
        db = sqlite3.connect(Path(scratch) / "parley.sqlite3")
        try:
            schema = "\n".join(str(sql) for (sql,) in db.execute("SELECT sql FROM sqlite_master ORDER BY name"))
        finally:
            db.close()
    return hashlib.sha1(schema.encode()).hexdigest()[:8]


def cached(cache: Path, messages: int, seed: int, log: Callable[[str], None]) -> tuple[Path, Layout]:
    """Return the data folder and layout of the history for (messages, seed), building it if it is not cached.

    A history is built in a folder of its own and renamed into place when
    complete, so an interrupted build is never taken for a finished one.
    """
    folder = cache / f"n{messages}-seed{seed}-gen{GENERATOR}-schema{SCHEMA_VERSION}-{schema_digest()}"
    layout_file = folder / "layout.json"
    if layout_file.exists():
        log(f"search: the history of {messages:,} messages is cached in {folder}")
        raw = json.loads(layout_file.read_text())
        raw["pairs"] = [tuple(pair) for pair in raw["pairs"]]
        return folder / "data", Layout(**raw)
    building = folder.with_name(folder.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    log(f"search: building a history of {messages:,} messages in {building}")
    layout = build(building, messages, seed, log)
    building.rename(folder)
    log(f"search: built in {layout.build_seconds:.0f} s")
    return folder / "data", layout


# The queries -----------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """One search as the server would make it for SEARCH: the text, who asks, and the scope."""

    kind: str
    text: str
    user: int
    room: int | None = None  # index into layout.rooms: SEARCH rec=#room
    partner: int | None = None  # SEARCH rec=NICK

    def words(self) -> list[str]:
        return WORD.findall(self.text)

    def label(self, layout: Layout) -> str:
        """The query as the JSON names it: kind, text, and who searches where."""
        where = self.rec(layout)
        return f"{self.kind}: {self.text} ({f'rec={where}' if where else 'no rec'}, by {user_name(self.user)})"

    def rec(self, layout: Layout) -> str | None:
        """The SEARCH frame's rec, or None without scope."""
        if self.room is not None:
            return f"#{layout.rooms[self.room]['name']}"
        return None if self.partner is None else user_name(self.partner)


KINDS = ("rare", "common", "accent", "two words", "prefix", "FTS syntax", "room", "private", "few rooms")


def queries(layout: Layout) -> list[Query]:
    """Return the fixed set of queries, four of each kind, chosen by rank so that they are the same for any N."""
    w, user, few = layout.vocabulary, layout.typical, layout.few
    long_tail = [word for word in reversed(w) if len(word) >= 8]  # not the beginning of many other words
    tail = [long_tail[0], long_tail[50], long_tail[500], long_tail[2000]]
    mid = [w[400], w[2000], w[8000], w[15000]]
    plain = [word for word in w[len(COMMON):] if word.isascii()]
    stems = [plain[3][:2], plain[10][:3], "br", "tho"]
    rooms = sorted(range(len(layout.rooms)), key=lambda r: (layout.rooms[r]["messages"], r))
    sizes = sorted((count, n) for n, count in enumerate(layout.pair_messages) if count) or [(0, 0)]
    middle, large = (layout.pairs[sizes[len(sizes) * k // 10][1]] for k in (5, 9))
    return [
        *(Query("rare", word, user) for word in tail),
        *(Query("common", word, user) for word in ("the", "you", "is", "good")),
        *(Query("accent", word, user) for word in ("cafe", "zurich", "jalapeno", "Fiancee")),
        *(Query("two words", text, user) for text in ("good time", f"{mid[0]} {mid[2]}", f"the {tail[1]}",
                                                      f"{w[60]} {mid[1]}")),
        *(Query("prefix", stem, user) for stem in stems),
        *(Query("FTS syntax", text, user) for text in (f'"the" AND {mid[1]}*', f"{mid[0]}:{w[30]} -{w[80]}",
                                                       f"NEAR({w[10]} {w[12]}, 5)", f"({mid[3]} OR ^you)*")),
        # The smallest room and the largest: a common word and a rarer one in each.
        *(Query("room", word, layout.rooms[room]["members"][0], room=room)
          for room in (rooms[0], rooms[-1]) for word in ("the", mid[1])),
        # A conversation of the median size and one at the 90th percentile (most are short).
        *(Query("private", word, pair[0], partner=pair[1]) for pair in (middle, large) for word in ("the", mid[0])),
        *(Query("few rooms", word, few) for word in ("the", mid[0], "good time", tail[0])),
    ]


def search_call(store: Store, layout: Layout, query: Query) -> Callable[[], tuple[list[Any], bool]]:
    """Return the Store.search call the server makes for ``query`` (same rules as HISTORY for the scope)."""
    ident = layout.ident(query.user)
    if query.room is not None:
        scope: dict[str, Any] = {"lobby": False, "room_ids": [layout.rooms[query.room]["id"]], "private": False,
                                 "other_ident": None}
    elif query.partner is not None:
        scope = {"lobby": False, "room_ids": [], "private": True, "other_ident": layout.ident(query.partner)}
    else:
        scope = {"lobby": True, "room_ids": [room["id"] for room in layout.rooms_of(query.user)], "private": True,
                 "other_ident": None}
    search = getattr(store, "search", None)
    if search is None:
        raise BenchError("this Store has no search(): the search scenario needs issue 14's store")
    words = query.words()
    return lambda: search(words, [ident], before=None, limit=LIMIT, **scope)


# Measuring -------------------------------------------------------------------


@dataclass
class Samples:
    """Times in milliseconds by query kind, and what each query found."""

    times: dict[str, list[float]] = field(default_factory=dict)
    by_query: dict[str, list[float]] = field(default_factory=dict)  # Query.label -> times
    found: dict[str, int] = field(default_factory=dict)  # Query.label -> results (in the untimed pass)
    more: dict[str, bool] = field(default_factory=dict)

    def add(self, kind: str, label: str, value: float) -> None:
        self.times.setdefault(kind, []).append(value)
        self.by_query.setdefault(label, []).append(value)

    def summary(self) -> dict[str, dict[str, float]]:
        every = [v for values in self.times.values() for v in values]
        return {kind: _quantiles(values) for kind, values in [*self.times.items(), ("all", every)]}


def _quantiles(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median": median(ordered), "p90": percentile(ordered, 0.90), "p99": percentile(ordered, 0.99),
            "max": ordered[-1] if ordered else math.nan, "samples": len(ordered)}


def measure_store(data: Path, layout: Layout, rounds: int, log: Callable[[str], None]) -> Samples:
    """Time every query ``rounds`` times through Store.search on a thread of its own, after one untimed pass."""
    samples = Samples()
    store = Store(database_path(data))
    thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="bench-db")
    try:
        calls = [(query, search_call(store, layout, query)) for query in queries(layout)]
        for query, call in calls:  # the untimed pass: what each finds
            found, more = thread.submit(call).result(timeout=300)
            samples.found[query.label(layout)] = len(found)
            samples.more[query.label(layout)] = bool(more)
        for number in range(rounds):
            for query, call in calls:
                started = time.perf_counter()
                thread.submit(call).result(timeout=300)
                samples.add(query.kind, query.label(layout), (time.perf_counter() - started) * 1000)
            log(f"search: store round {number + 1} of {rounds}: median so far "
                f"{median([v for vs in samples.times.values() for v in vs]):.2f} ms")
    finally:
        thread.shutdown(wait=True)
        store.close()
    return samples


def index_size(database: Path) -> dict[str, int]:
    """Bytes on disk of the FTS tables, the messages table with its indexes, and the whole file (dbstat)."""
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
        indexes = {name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages'")}
    finally:
        db.close()
    sizes = {str(name): int(size) for name, size in rows}
    return {"fts": sum(size for name, size in sizes.items() if name.startswith("messages_fts")),
            "messages": sizes.get("messages", 0),
            "message_indexes": sum(size for name, size in sizes.items() if name in indexes),
            "file": database.stat().st_size}


def _fts_triggers(db: sqlite3.Connection) -> list[str]:
    return [str(name) for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'messages' AND sql LIKE '%fts%'")]


def measure_appends(bench: Bench, data: Path, layout: Layout, rounds: int, counts: Sequence[tuple[int, int]],
                    log: Callable[[str], None]) -> dict[str, Any]:
    """Time ``append_messages`` of each (size, times) in ``counts`` into two copies: "index" also puts the
    messages in the search index at once (``index_pending``, which the server does after the commit, when
    no message waits), "no index" only commits them (what a message's commit costs on the server).

    Returns {"index": {size: [ms...]}, "no index": {...}, "triggers": names of the FTS triggers dropped
    from the "no index" copy}.
    """
    copies: dict[str, Path] = {}
    for name in ("index", "no index"):
        target = bench.dir / f"append-{name.replace(' ', '-')}" / "parley.sqlite3"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(database_path(data), target)
        copies[name] = target
    db = sqlite3.connect(copies["no index"])
    triggers = _fts_triggers(db)
    for trigger in triggers:
        db.execute(f'DROP TRIGGER "{trigger}"')
    db.commit()
    db.close()
    systems = ["index", "no index"]
    stores = {name: Store(copies[name]) for name in systems}
    rng = random.Random(layout.seed + 1)
    times_ms: dict[str, dict[int, list[float]]] = {name: {size: [] for size, _ in counts} for name in systems}
    try:
        for number in range(rounds):
            for name in alternate(systems, number):
                for size, repeat in counts:
                    for _ in range(repeat):
                        batch = [_new_lobby_message(rng, layout) for _ in range(size)]
                        started = time.perf_counter()
                        stores[name].append_messages(batch)
                        if name == "index":
                            stores[name].index_pending()
                        times_ms[name][size].append((time.perf_counter() - started) * 1000)
            log(f"search: append round {number + 1} of {rounds}")
    finally:
        for store in stores.values():
            store.close()
    return {"triggers": triggers, **times_ms}


def _new_lobby_message(rng: random.Random, layout: Layout) -> NewMessage:
    user = rng.randrange(USERS)
    length = _lengths(rng, 1)[0]
    picks = rng.choices(range(len(layout.vocabulary)), cum_weights=zipf_weights(len(layout.vocabulary)), k=length)
    ts = START_MS + YEAR_MS
    return NewMessage(ts, "2026-01-01 00:00:00", user_name(user), "#336699", "-ALL",
                      _text(rng, layout.vocabulary, picks, USERS), layout.ident(user), None)



class WireClient:
    """One logged-in TCP client (``rooms=1``) that sends SEARCH frames one at a time and waits for their CONFIRM."""

    def __init__(self, port: int, nickname: str, timeout: float = 60.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.reader = self.sock.makefile("rb")
        self.send(frames.make_frame("CON", {"nickname": nickname, "password": PASSWORD, "color": "#336699",
                                            "rooms": "1", "lists": "changes"}))
        answer = self.until(lambda frame: frame.reason == "CONVER")
        if answer.content != "OK":
            raise BenchError(f"{nickname} could not log in: {answer.content}")

    def send(self, frame: frames.Frame) -> None:
        self.sock.sendall(frames.format_frame(frame).encode() + b"\n")

    def until(self, wanted: Callable[[frames.Frame], bool], limit: int = 100_000) -> frames.Frame:
        """Read frames until one is ``wanted``; return it. Raises BenchError at EOF or after ``limit`` frames."""
        for _ in range(limit):
            line = self.reader.readline()
            if not line:
                raise BenchError("the server closed the connection")
            frame = frames.parse_frame(line.decode().rstrip("\r\n"))
            if wanted(frame):
                return frame
        raise BenchError(f"no answer among {limit} frames")

    def search(self, text: str, rec: str | None) -> tuple[int, str]:
        """Send one SEARCH; return the results counted in its CONFIRM and the CONFIRM's text (OK or an error)."""
        self.send(frames.make_frame("SEARCH", {"rec": rec, "limit": str(LIMIT)} if rec else {"limit": str(LIMIT)},
                                    text))
        answer = self.until(lambda frame: frame.reason in ("CONFIRM", "ERR") and
                            (frame.reason == "ERR" or frame.get("reason") == "SEARCH"))
        return int(answer.get("count") or 0), answer.content

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def measure_wire(bench: Bench, data: Path, layout: Layout, rounds: int, log: Callable[[str], None]) -> Samples:
    """Time every query ``rounds`` times as SEARCH frames to ``parley serve`` on a copy of the data folder.

    Raises BenchError when the server does not know SEARCH or refuses one.
    """
    copy = bench.dir / "serve-data"
    shutil.copytree(data, copy)
    server = bench.start(procs.parley_serve(bench.dir, "parley-search", copy, installed=bench.installed,
                                            extra=bench.server_args, source=bench.parley_source))
    samples = Samples()
    clients: dict[int, WireClient] = {}
    try:
        todo = queries(layout)
        for query in todo:
            if query.user not in clients:
                clients[query.user] = WireClient(server.port, user_name(query.user))
        for number in range(rounds + 1):  # the first, untimed, checks each answer
            for query in todo:
                started = time.perf_counter()
                count, text = clients[query.user].search(query.text, query.rec(layout))
                elapsed = (time.perf_counter() - started) * 1000
                if text != "OK":
                    raise BenchError(f"SEARCH {query.text!r} was answered {text!r}")
                if number == 0:
                    samples.found[query.label(layout)] = count
                else:
                    samples.add(query.kind, query.label(layout), elapsed)
            log(f"search: wire round {number} of {rounds}")
    finally:
        for client in clients.values():
            client.close()
        server.stop()
    return samples


# The scenario ----------------------------------------------------------------


def run_search(args: argparse.Namespace) -> Result:
    """Scenario 9: search over a large history (see the module's docstring)."""
    cache = Path(args.cache) if args.cache else DEFAULT_CACHE
    wire: Samples | str
    with Bench.from_args(args) as bench:
        data, layout = cached(cache, args.messages, args.seed, bench.log)
        sizes = index_size(database_path(data))
        store = measure_store(data, layout, args.search_rounds, bench.log)
        appends = measure_appends(bench, data, layout, args.rounds, ((1, 30), (100, 10)), bench.log)
        try:
            wire = measure_wire(bench, data, layout, args.search_rounds, bench.log) if args.wire else "not asked"
        except (RuntimeError, OSError, ValueError) as error:  # BenchError is a RuntimeError, as a failed start
            wire = "not measured: " + [line for line in str(error).splitlines() if line.strip()][-1]
            bench.log(f"search: through the wire {wire}")
    command = (f"python -m bench search --messages {args.messages} --seed {args.seed} "
               f"--search-rounds {args.search_rounds} --rounds {args.rounds}")
    command += ("" if args.wire else " --no-wire") + shared_flags(args)
    figures = {"layout": {"messages": layout.messages, "seed": layout.seed, "users": USERS, "rooms": ROOMS,
                          "pairs": len(layout.pairs), "build_seconds": layout.build_seconds,
                          "room_messages": [room["messages"] for room in layout.rooms],
                          "typical_rooms": len(layout.rooms_of(layout.typical)),
                          "few_rooms": len(layout.rooms_of(layout.few))},
               "queries": [dataclasses.asdict(query) | {"words": query.words()} for query in queries(layout)],
               "sizes": sizes, "store": _figures(store), "appends": appends,
               "wire": wire if isinstance(wire, str) else _figures(wire),
               "series": _series(store, wire, appends)}
    return Result("search", command, _summary(layout, store, wire, sizes, appends),
                  _rows(layout, store, wire, sizes, appends), figures)


def _figures(samples: Samples) -> dict[str, Any]:
    return {"summary": samples.summary(), "times_ms": samples.times, "found": samples.found, "more": samples.more,
            "median_ms_by_query": {label: median(values) for label, values in samples.by_query.items()}}


def _series(store: Samples, wire: Samples | str, appends: dict[str, Any]) -> dict[str, dict[str, list[float]]]:
    """Every time measured, as the other scenarios' ``series``: system -> measure -> values (milliseconds)."""
    series = {"store": store.times}
    if not isinstance(wire, str):
        series["wire"] = wire.times
    for system in ("index", "no index"):
        if system in appends:
            series[f"append, {system}"] = {f"{size} messages": values for size, values in appends[system].items()}
    return series


def _cell(values: dict[str, float]) -> str:
    return f"{ms(values['median'])} ({ms(values['p90'])}, {ms(values['p99'])})"


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def _append_ratio(appends: dict[str, Any], size: int) -> float:
    if "no index" not in appends:
        return math.nan
    return median(appends["index"][size]) / median(appends["no index"][size])


def _rows(layout: Layout, store: Samples, wire: Samples | str, sizes: dict[str, int],
          appends: dict[str, Any]) -> list[Row]:
    n = f"{layout.messages:,} messages"
    summary = store.summary()
    rows = [Row("9 search", f"Store.search on the database thread, {n}: {kind}: median (p90, p99)",
                _cell(summary[kind]), "") for kind in KINDS if kind in summary]
    overall = summary["all"]["median"]
    rows.append(Row("9 search", f"Store.search, {n}: every query: median (p90, p99)", _cell(summary["all"]), "",
                    "", f"median < {TARGET_MS:.0f} ms", "pass" if overall < TARGET_MS else "miss"))
    if isinstance(wire, str):
        rows.append(Row("9 search", "SEARCH over TCP (`parley serve`), first frame to CONFIRM", wire, ""))
    else:
        by_kind = wire.summary()
        rows += [Row("9 search", f"SEARCH over TCP (`parley serve`), {n}: {kind}: median (p90, p99)",
                     _cell(by_kind[kind]), _cell(summary[kind]), times(by_kind[kind]["median"] / summary[kind]["median"]))
                 for kind in (*KINDS, "all") if kind in by_kind]
    rows.append(Row("9 search", f"size on disk, {n}: the FTS index vs the messages table",
                    _megabytes(sizes["fts"]), _megabytes(sizes["messages"]),
                    times(sizes["fts"] / sizes["messages"]) if sizes["messages"] else "-"))
    for size in (1, 100):
        index = _quantiles(appends["index"][size])
        reference = _quantiles(appends["no index"][size]) if "no index" in appends else None
        rows.append(Row("9 search", f"append_messages of {size} (fsync on), {n}: with the FTS index vs without "
                                    "its triggers: median (p90, max)",
                        f"{ms(index['median'])} ({ms(index['p90'])}, {ms(index['max'])})",
                        f"{ms(reference['median'])} ({ms(reference['p90'])}, {ms(reference['max'])})" if reference
                        else "no FTS triggers",
                        times(_append_ratio(appends, size))))
    return rows


def _summary(layout: Layout, store: Samples, wire: Samples | str, sizes: dict[str, int],
             appends: dict[str, Any]) -> str:
    overall = store.summary()["all"]
    worst = max((kind for kind in store.times), key=lambda kind: median(store.times[kind]))
    text = (f"search: {layout.messages:,} messages, Store.search median {ms(overall['median'])} "
            f"(p99 {ms(overall['p99'])}; slowest kind {worst} {ms(median(store.times[worst]))})")
    if not isinstance(wire, str):
        text += f", over TCP {ms(wire.summary()['all']['median'])}"
    text += (f"; index {_megabytes(sizes['fts'])} ({times(sizes['fts'] / max(sizes['messages'], 1))} the messages);"
             f" append of 1 {times(_append_ratio(appends, 1))}, of 100 {times(_append_ratio(appends, 100))} "
             f"the time without the index")
    return text
