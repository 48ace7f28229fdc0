"""The values Parley keeps: accounts and chat messages. Plain data, no I/O.

The store (store.py) persists them and the chat core (core/) reasons about
them; neither needs the other to name them.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("admin", "member")


class AccountExists(Exception):
    """An account with that name (compared as nicknames are) exists."""


class StoreFailed(Exception):
    """The database could not do what was asked (disk full, I/O error...).

    Its ``__cause__`` is the database's own error, already logged where it
    happened; whoever asked answers the client and carries on.
    """


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str
    password_hash: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def ident(self) -> str:
        """Who this account is in message history, whatever its name becomes."""
        return f"a:{self.id}"


@dataclass(frozen=True)
class NewMessage:
    """A chat message to store: ``rec_ident`` is None for a public one."""

    ts_ms: int
    time_text: str
    sender: str
    color: str
    rec: str
    content: str
    sender_ident: str
    rec_ident: str | None


@dataclass(frozen=True)
class StoredMessage:
    id: int
    ts_ms: int
    time_text: str
    sender: str
    color: str
    rec: str
    content: str
