"""Builders for the frames the server sends. Pure: times are passed in.

``time`` is always the first parameter, the server's local time as
``YYYY-MM-DD HH:MM:SS``. Parley's extension parameters come after the
original ones, where clients of the original ignore them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from .frames import Frame


@dataclass(frozen=True)
class Stamp:
    """A moment: the original's local time text and epoch milliseconds."""

    text: str
    ms: int

    @classmethod
    def at(cls, epoch_seconds: float) -> "Stamp":
        """Return the stamp for a POSIX time, in the server's local time zone."""
        text = datetime.fromtimestamp(epoch_seconds).strftime("%Y-%m-%d %H:%M:%S")
        return cls(text, int(epoch_seconds * 1000))


def conver(now: Stamp, text: str, role: str | None = None) -> Frame:
    params = {"time": now.text}
    if role is not None:
        params["role"] = role  # extension: admin, member or guest, on a successful login
    return Frame("CONVER", params, text)


def chatr(
    when: Stamp, sender: str, rec: str, color: str, message_id: int, content: str
) -> Frame:
    return Frame(
        "CHATR",
        {
            "time": when.text,
            "sender": sender,
            "rec": rec,
            "color": color,
            "id": str(message_id),  # extension: unique, increasing; clients de-duplicate by it
            "ts": str(when.ms),  # extension: epoch milliseconds, for local times
        },
        content,
    )


def confirm(now: Stamp, reason: str, text: str) -> Frame:
    return Frame("CONFIRM", {"time": now.text, "reason": reason}, text)


def info(now: Stamp, sender: str, text: str) -> Frame:
    return Frame("INFO", {"time": now.text, "sender": sender, "ts": str(now.ms)}, text)


def err(now: Stamp, text: str) -> Frame:
    return Frame("ERR", {"time": now.text}, text)


def warn(now: Stamp, text: str) -> Frame:
    return Frame("WARN", {"time": now.text}, text)


def pong(now: Stamp, content: str) -> Frame:
    return Frame("PONG", {"time": now.text}, content)


def user_list(now: Stamp, online: Sequence[str], admins: Sequence[str]) -> Frame:
    """The USER frame: 0-based keys for online users, then every admin account."""
    params = {"time": now.text, "num": str(len(online)), "admin": str(len(admins))}
    params.update((str(i), nick) for i, nick in enumerate(online))
    params.update((f"admin{i}", name) for i, name in enumerate(admins))
    return Frame("USER", params, "")
