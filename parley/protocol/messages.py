"""Builders for the frames the server sends. Pure: times are passed in.

``time`` is always the first parameter, the server's local time as
``YYYY-MM-DD HH:MM:SS``. Parley's extension parameters come after the
original ones, where clients of the original ignore them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping, Sequence

from .frames import Frame, escape

# No server frame is longer than this many bytes (terminator excluded): what
# every client may rely on (the desktop client reads frames up to it). Only a
# user list can grow with the room; it is split (``user_list``, ``user_changes``).
MAX_SERVER_FRAME = 1 << 20
_HEADROOM = 256  # the reason, time, counts and separators around a list's names


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


def conver(now: Stamp, text: str, role: str | None = None, away: int = 0, until: int | None = None,
           files: str = "") -> Frame:
    params = {"time": now.text}
    if until is not None:
        params["until"] = str(until)  # extension: a ban's end (epoch ms; 0: for good)
    if role is not None:
        params["role"] = role  # extension: admin, member or guest, on a successful login
    if away:
        params["away"] = str(away)  # extension: private messages that arrived while the account was offline
    if files:
        params["files"] = files  # extension: where shared files' links start (rooms=1 clients)
    return Frame("CONVER", params, text)


def chatr(
    when: Stamp, sender: str, rec: str, color: str, message_id: int, content: str, *,
    lines: str | None = None, old: bool = False, edited_ms: int = 0, found: bool = False,
    file: Mapping[str, str] | None = None,
) -> Frame:
    """A chat message. ``content`` is as on the wire (line breaks as spaces, their places in ``lines``);
    ``file``: the parameters of the file it shares (``file_params``)."""
    params = {
        "time": when.text,
        "sender": sender,
        "rec": rec,
        "color": color,
        "id": str(message_id),  # extension: unique, increasing; clients de-duplicate by it
        "ts": str(when.ms),  # extension: epoch milliseconds, for local times
    }
    if lines:
        params["lines"] = lines  # extension: where the line breaks are (lines.py)
    if file:
        params.update(file)  # extension: the file it shares
    if edited_ms:
        params["edited"] = str(edited_ms)  # extension: when its author last edited it (epoch ms)
    if found:
        params["found"] = "1"  # extension: a SEARCH result
    if old:
        params["old"] = "1"  # extension: from the history (HISTORY), not live
    return Frame("CHATR", params, content)


def file_params(file_id: int, name: str, size: int, kind: str, link: str, width: int = 0,
                height: int = 0) -> dict[str, str]:
    """A file message's parameters: ``link`` relative to the page (or the files base URL); ``fw``/``fh``
    only for an image shown inline (its thumbnail at ``link?thumb=1``)."""
    params = {"file": str(file_id), "fname": name, "fsize": str(size), "ftype": kind, "flink": link}
    if width > 0 and height > 0:
        params.update(fw=str(width), fh=str(height))
    return params


def upload(now: Stamp, rec: str, name: str, size: int, ticket: str, url: str) -> Frame:
    """UPLOAD granted: POST the bytes with ``ticket`` to ``url`` (empty: ``files/upload`` beside the page)."""
    return Frame("UPLOAD", {"time": now.text, "rec": rec, "name": name, "size": str(size), "ticket": ticket,
                            "url": url}, "")


def confirm(now: Stamp, reason: str, text: str) -> Frame:
    return Frame("CONFIRM", {"time": now.text, "reason": reason}, text)


def info(now: Stamp, sender: str, text: str, rec: str | None = None, **extra: str) -> Frame:
    """An event line. ``rec``: the room it happened in (absent: the lobby); ``extra``: what it changed."""
    params = {"time": now.text, "sender": sender, "ts": str(now.ms)}
    if rec is not None:
        params["rec"] = rec
    params.update(extra)
    return Frame("INFO", params, text)


def conv(now: Stamp, rec: str, *, last: int = 0, read: int = 0, unread: int = 0, mentions: int = 0,
         topic: str = "", private: bool = False, op: bool = False, members: int = 0, gone: bool = False) -> Frame:
    """What a client needs to list one conversation (rooms=1 clients)."""
    params = {"time": now.text, "rec": rec}
    if gone:
        params["gone"] = "1"
        return Frame("CONV", params, "")
    params.update(last=str(last), read=str(read), unread=str(unread), mentions=str(mentions))
    if rec.startswith("#"):
        if private:
            params["private"] = "1"
        if op:
            params["op"] = "1"
        params["members"] = str(members)
    return Frame("CONV", params, topic)


def room_members(now: Stamp, room: str, members: Sequence[tuple[str, bool]],
                 limit: int = MAX_SERVER_FRAME) -> list[Frame]:
    """MEMBERS: every member of ``room`` (name, operator) in join order, split at ``limit`` bytes (``more=1``)."""
    parts: list[list[tuple[str, bool]]] = [[]]
    size = _HEADROOM + len(room.encode("utf-8")) * 2
    for name, op in members:
        item = 16 + len(escape(name).encode("utf-8"))  # ;KEY=NAME;opKEY=1
        if parts[-1] and size + item > limit:
            parts.append([])
            size = _HEADROOM + len(room.encode("utf-8")) * 2
        parts[-1].append((name, op))
        size += item
    frames = []
    for index, part in enumerate(parts):
        params = {"time": now.text, "room": room, "num": str(len(part))}
        for i, (name, op) in enumerate(part):
            params[str(i)] = name
            if op:
                params[f"op{i}"] = "1"
        if index < len(parts) - 1:
            params["more"] = "1"
        frames.append(Frame("MEMBERS", params, ""))
    return frames


def room_member(now: Stamp, room: str, user: str, change: str) -> Frame:
    """MEMBER: one change (join, leave, op, deop) to ``room``'s member list."""
    return Frame("MEMBER", {"time": now.text, "room": room, "user": user, "change": change}, "")


def public_rooms(now: Stamp, rooms: Sequence[tuple[str, int, str]]) -> Frame:
    """ROOMS: public rooms as (``#name``, members, topic)."""
    params = {"time": now.text, "num": str(len(rooms))}
    for i, (name, members, topic) in enumerate(rooms):
        params[str(i)] = name
        params[f"members{i}"] = str(members)
        params[f"topic{i}"] = topic
    return Frame("ROOMS", params, "")


def session(now: Stamp, token: str, expires_ms: int) -> Frame:
    """SESSION: a resume token (expires 0: good only for the grace after a connection drops)."""
    return Frame("SESSION", {"time": now.text, "token": token, "expires": str(expires_ms)}, "")


def confirm_with(now: Stamp, reason: str, text: str, **params: str) -> Frame:
    """A CONFIRM that names what it answers (``room=``, ``rec=``...)."""
    return Frame("CONFIRM", {"time": now.text, "reason": reason, **params}, text)


def err(now: Stamp, text: str, **params: str) -> Frame:
    return Frame("ERR", {"time": now.text, **params}, text)


def warn(now: Stamp, text: str, **params: str) -> Frame:
    return Frame("WARN", {"time": now.text, **params}, text)


def edited(now: Stamp, message_id: int, rec: str, sender: str, edited_ms: int, content: str,
           lines: str | None = None) -> Frame:
    """EDITED: message ``message_id`` now reads ``content`` (rooms=1 clients)."""
    params = {"time": now.text, "id": str(message_id), "rec": rec, "sender": sender, "edited": str(edited_ms)}
    if lines:
        params["lines"] = lines
    return Frame("EDITED", params, content)


def deleted(now: Stamp, message_id: int, rec: str) -> Frame:
    """DELETED: message ``message_id`` is gone (rooms=1 clients)."""
    return Frame("DELETED", {"time": now.text, "id": str(message_id), "rec": rec}, "")


def listing(now: Stamp, reason: str, entries: Sequence[dict[str, str]], keys: Sequence[str] = (),
            **head: str) -> Frame:
    """A list frame (BANS, REPORTS, ACCOUNTS, AUDIT): ``head`` parameters, then each entry's fields
    as ``KEYi`` (a field named ``""`` as ``i``). Entries are few and bounded by their callers."""
    params = {"time": now.text, "num": str(len(entries)), **head}
    for i, entry in enumerate(entries):
        for key in keys or entry.keys():
            params[f"{key}{i}"] = entry.get(key, "")
    return Frame(reason, params, "")


def pong(now: Stamp, content: str) -> Frame:
    return Frame("PONG", {"time": now.text}, content)


def user_list(now: Stamp, online: Sequence[str], admins: Sequence[str], serial: int | None = None,
              limit: int = MAX_SERVER_FRAME) -> list[Frame]:
    """The USER frames of a whole list: 0-based keys for online users, then every admin account.

    One frame, unless the names pass ``limit`` bytes. Then the names are split
    over several frames of at most ``limit`` bytes, each with its own 0-based
    keys and counts: a client that asked for changes (``serial`` given, sent as
    ``v``) is sent them all, each but the last marked ``more=1``; any other
    client only the first (a list cut short beats one it cannot read).
    """
    names = [("", nick) for nick in online] + [("admin", name) for name in admins]
    parts: list[list[tuple[str, str]]] = [[]]
    size = _HEADROOM
    for prefix, name in names:
        item = len(prefix) + 8 + len(escape(name).encode("utf-8"))  # ;KEY=NAME, KEY up to 6 digits
        if parts[-1] and size + item > limit:
            parts.append([])
            size = _HEADROOM
        parts[-1].append((prefix, name))
        size += item
    if serial is None:
        parts = parts[:1]
    frames = []
    for index, part in enumerate(parts):
        users = [name for prefix, name in part if not prefix]
        admin_names = [name for prefix, name in part if prefix]
        params = {"time": now.text, "num": str(len(users)), "admin": str(len(admin_names))}
        params.update((str(i), nick) for i, nick in enumerate(users))
        params.update((f"admin{i}", name) for i, name in enumerate(admin_names))
        if serial is not None:
            params["v"] = str(serial)  # extension: the serial of the next change (USERCHANGES)
            if index < len(parts) - 1:
                params["more"] = "1"  # extension: more of this list follows
        frames.append(Frame("USER", params, ""))
    return frames


@dataclass(frozen=True, slots=True)
class UserChange:
    """A change to the user list: a join (``old`` None), a leave (``new`` None) or a rename."""

    old: str | None
    new: str | None


def user_changes(now: Stamp, serial: int, changes: Sequence[UserChange], online: int,
                 admins: Sequence[str] | None, limit: int = MAX_SERVER_FRAME) -> list[Frame]:
    """USERCHANGES frames: ``changes`` in order, the first numbered ``serial``, leaving ``online`` users.

    ``admins``: the admin accounts, when they changed (None: they did not).
    Split, like a whole list, so that no frame passes ``limit`` bytes.
    """
    # Users online after each change: each frame's num is the count after its own last change.
    after = [online] * (len(changes) + 1)
    for i in range(len(changes) - 1, -1, -1):
        change = changes[i]
        after[i] = after[i + 1] - (change.old is None) + (change.new is None)
    frames: list[Frame] = []
    start = 0
    while start < len(changes) or not frames:
        params = {"time": now.text, "v": str(serial + start), "changes": "0", "num": "0"}
        size = _HEADROOM
        count = 0
        for change in changes[start:]:
            items = [(f"{kind}{count}", name) for kind, name in _change_items(change)]
            item = sum(len(key) + 2 + len(escape(name).encode("utf-8")) for key, name in items)
            if count and size + item > limit:
                break
            params.update(items)
            size += item
            count += 1
        params["changes"] = str(count)
        start += count
        params["num"] = str(after[start])
        frames.append(Frame("USERCHANGES", params, ""))
    if admins is not None:
        last = frames[-1]
        params = dict(last.params)
        params["admin"] = str(len(admins))
        params.update((f"admin{i}", name) for i, name in enumerate(admins))
        frames[-1] = Frame("USERCHANGES", params, "")
    return frames


def _change_items(change: UserChange) -> list[tuple[str, str]]:
    if change.old is None:
        return [("join", change.new or "")]
    if change.new is None:
        return [("leave", change.old)]
    return [("rename", change.old), ("to", change.new)]
