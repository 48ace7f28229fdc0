"""The session state machine: which client reasons each state allows.

Rule 1: a new connection is AWAITING_LOGIN; a successful CON makes it
CHATTING; DISCON, a kick, an error that ends it or the peer leaving make it
CLOSED, where nothing more is read.

Rule 2: a reason not allowed in a state is answered, as the original did,
with ``CONVER ... Error: Unknown connection attempt...`` before login and
with ``ERR ... Error: Unknown reason: X.`` after it (a second CON included).

PING (a Parley extension) and DISCON are allowed before login too.
"""

from __future__ import annotations

import enum


class State(enum.Enum):
    AWAITING_LOGIN = "awaiting login"
    CHATTING = "chatting"
    CLOSED = "closed"


ALLOWED: dict[State, frozenset[str]] = {
    State.AWAITING_LOGIN: frozenset({"CON", "PING", "DISCON"}),
    State.CHATTING: frozenset({"CHAT", "UPDATE", "DISCON", "REF", "USER", "KICK", "PING"}),
    State.CLOSED: frozenset(),
}


def is_allowed(state: State, reason: str) -> bool:
    """Return True when ``reason`` may be handled in ``state``."""
    return reason in ALLOWED[state]
