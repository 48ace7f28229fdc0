"""The conversations a user has open: the lobby, rooms and private ones. No Tk, no I/O.

Addresses (``rec``) are the protocol's: ``-ALL`` the lobby, ``#NAME`` a
room, ``NICK`` a private conversation with NICK. What the server says of a
conversation (CONV: last id, read marker, unread and mention counts, topic,
operator) is applied here; a live message after it is counted by the
client itself ("id > read, not own, mention rule"). Each conversation keeps
the messages received for it, ordered by id and de-duplicated, so the log
can be redrawn when the user switches conversations.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace

from parley.protocol.names import is_room, name_key
from parley.protocol.reading import (
    ACTION_PREFIX,
    EVERYONE,
    ChatMessage,
    conversation_key,
)
from parley.protocol.reading import Conversation as ConvFrame

from .client import FileMessage
from .text import mentions

LOBBY = EVERYONE
UNREAD_CAP = 1000  # the server counts "up to 1000"
MAX_NOTES = 500  # events kept per conversation (joins, topics...): the oldest go first


@dataclass(frozen=True)
class Note:
    """An event line in a conversation (INFO) or our own notice, after message id ``after``."""

    after: int
    kind: str  # "info", "notice" or "error" (a file that could not be sent)
    text: str
    time: str = ""


def conversation_of(message: ChatMessage) -> str:
    """Return the address of the conversation a message belongs to.

    The lobby's and rooms' messages by their ``rec``; a private message is
    in the conversation with the other party (its recipient when we sent it).
    """
    return message.conversation


@dataclass
class Conversation:
    """One entry of the conversation list and the messages shown for it."""

    rec: str
    topic: str = ""
    last: int = 0
    read: int = 0
    unread: int = 0
    mentions: int = 0
    private: bool = False
    op: bool = False
    member_count: int | None = None
    members: list[tuple[str, bool]] | None = None  # (nickname, operator), rooms only, once asked
    messages: list[ChatMessage] = field(default_factory=list)
    more_before: bool | None = None  # older messages exist (None: not known yet)
    notes: list[Note] = field(default_factory=list)
    _ids: list[int] = field(default_factory=list)

    def note(self, kind: str, text: str, time: str = "") -> Note:
        """Keep an event line after the newest message held; return it."""
        note = Note(self.last, kind, text, time)
        self.notes.append(note)
        del self.notes[:-MAX_NOTES]
        return note

    @property
    def kind(self) -> str:
        """Return ``lobby``, ``room`` or ``private``."""
        return "lobby" if self.rec == LOBBY else "room" if is_room(self.rec) else "private"

    @property
    def title(self) -> str:
        """Return the name shown for it."""
        return "Lobby" if self.rec == LOBBY else self.rec

    @property
    def oldest_id(self) -> int | None:
        """Return the id of the oldest message held, or None."""
        return self._ids[0] if self._ids else None

    def add(self, message: ChatMessage) -> int | None:
        """Hold ``message``; return its index in ``messages``, or None when already held.

        Messages without an id go at the end.
        """
        if message.id is None:
            self.messages.append(message)
            return len(self.messages) - 1
        at = bisect.bisect_left(self._ids, message.id)
        if at < len(self._ids) and self._ids[at] == message.id:
            return None
        self._ids.insert(at, message.id)
        # Messages without ids sit at the end; those with ids are in id order before them.
        index = at
        self.messages.insert(index, message)
        self.last = max(self.last, message.id)
        return index

    def find(self, message_id: int) -> int | None:
        """Return the index in ``messages`` of message ``message_id``, or None when not held."""
        at = bisect.bisect_left(self._ids, message_id)
        return at if at < len(self._ids) and self._ids[at] == message_id else None

    def edit(self, message_id: int, text: str, edited_ms: int) -> ChatMessage | None:
        """Replace a held message's text ("EDITED"); return the message as it now reads, or None."""
        at = self.find(message_id)
        if at is None:
            return None
        message = self.messages[at] = replace(self.messages[at], text=text, edited_ms=edited_ms,
                                              action=text.startswith(ACTION_PREFIX))
        return message

    def remove(self, message_id: int) -> bool:
        """Drop a held message ("DELETED"); return False when it was not held."""
        at = self.find(message_id)
        if at is None:
            return False
        del self._ids[at]
        del self.messages[at]
        return True

    def forget(self) -> None:
        """Drop the messages and events held (a refresh loads them again)."""
        self.messages.clear()
        self._ids.clear()
        self.notes.clear()
        self.more_before = None

    def label(self) -> str:
        """Return the list entry's text: name, then unread and mention counts."""
        counts = ""
        if self.unread:
            more = "+" if self.unread >= UNREAD_CAP else ""
            counts = f"  ({self.unread}{more}"
            counts += f", @{self.mentions})" if self.mentions else ")"
        lock = " \U0001f512" if self.private else ""
        return f"{self.title}{lock}{counts}"


class Conversations:
    """Every conversation of the user, in the order shown: lobby, rooms, private ones."""

    def __init__(self, me: str) -> None:
        self.me = me
        self._by_key: dict[str, Conversation] = {LOBBY: Conversation(LOBBY)}

    def ordered(self) -> list[Conversation]:
        """Return the lobby, then the rooms by name, then private conversations by name."""
        rest = [c for k, c in self._by_key.items() if k != LOBBY]
        rooms = sorted((c for c in rest if is_room(c.rec)), key=lambda c: name_key(c.rec))
        private = sorted((c for c in rest if not is_room(c.rec)), key=lambda c: name_key(c.rec))
        return [self._by_key[LOBBY], *rooms, *private]

    def get(self, rec: str) -> Conversation | None:
        """Return the conversation at ``rec``, or None."""
        return self._by_key.get(conversation_key(rec))

    def ensure(self, rec: str) -> Conversation:
        """Return the conversation at ``rec``, adding it when new."""
        key = conversation_key(rec)
        if key not in self._by_key:
            self._by_key[key] = Conversation(rec)
        return self._by_key[key]

    def drop(self, rec: str) -> None:
        """Forget a conversation (a room we left); the lobby stays."""
        key = conversation_key(rec)
        if key != LOBBY:
            self._by_key.pop(key, None)

    def apply_conv(self, frame: ConvFrame, guest: bool = False) -> Conversation | None:
        """Apply a CONV frame; return the conversation, or None when it is gone.

        "A guest keeps no read marker on the server: its CONV say read=last,
        unread=0": a guest keeps the counts it made itself for a conversation
        it already lists.
        """
        if frame.gone:
            self.drop(frame.rec)
            return None
        known = conversation_key(frame.rec) in self._by_key
        conversation = self.ensure(frame.rec)
        conversation.rec = frame.rec  # the server's spelling
        conversation.topic = frame.topic
        conversation.last = max(conversation.last, frame.last)
        if not (guest and known):
            conversation.read = frame.read
            conversation.unread, conversation.mentions = frame.unread, frame.mentions
        conversation.private, conversation.op, conversation.member_count = frame.private, frame.op, frame.members
        return conversation

    def receive(self, message: ChatMessage, old: bool = False) -> tuple[Conversation, int | None]:
        """File a message; return its conversation and index (None: a duplicate).

        A live message (not a HISTORY/REF replay) newer than the read marker
        and not our own counts as unread, and as a mention when it names us.
        """
        conversation = self.ensure(conversation_of(message))
        before_last = conversation.last
        index = conversation.add(message)
        fresh = index is not None and not old and message.id is not None and message.id > max(
            conversation.read, before_last)
        if fresh and not message.mine:
            conversation.unread = min(UNREAD_CAP, conversation.unread + 1)
            if mentions(message.text, self.me) and not isinstance(message, FileMessage):  # a name is no mention
                conversation.mentions += 1
        if message.mine and message.id is not None and not old:
            conversation.read = max(conversation.read, message.id)  # our own words are read
        return conversation, index

    def holding(self, message_id: int) -> Conversation | None:
        """Return the conversation holding message ``message_id`` (ids are unique over all), or None."""
        for conversation in self._by_key.values():
            if conversation.find(message_id) is not None:
                return conversation
        return None

    def mark_read(self, conversation: Conversation) -> int | None:
        """Mark everything held as read; return the id to send in READ (None: nothing new)."""
        newest = max(conversation.last, conversation.read)
        changed = conversation.unread or conversation.mentions or newest > conversation.read
        conversation.unread = conversation.mentions = 0
        if not changed or newest == 0:
            return None
        conversation.read = newest
        return newest

    def totals(self) -> tuple[int, int]:
        """Return (unread, mentions) over every conversation."""
        return (sum(c.unread for c in self._by_key.values()),
                sum(c.mentions for c in self._by_key.values()))
