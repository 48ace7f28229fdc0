"""``parley ban list|add|lift`` and ``parley audit``: bans and the moderation log, from the command line.

They write the database only; a running server reads the bans in force
again every few seconds. Each ban and lift is written to the audit log with
the actor ``(command line)``. Times are shown in UTC, as the chat's texts
write them. A value a user got wrong is told in one line, exit status 2.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from server.records import Restriction
    from server.store import Store

ACTOR = "(command line)"
MAX_REASON = 300  # "Reasons: at most 300 characters"
MAX_DURATION = 315_360_000  # seconds: "1 to 315360000 (10 years)"
NARROWEST_PREFIX = {4: 8, 6: 32}  # "That range is too wide" (IPv4 prefix < 8, IPv6 < 32)
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION = re.compile(r"([0-9]{1,12})([smhd])")


class UsageError(Exception):
    """A value on the command line that cannot be used: its message is the one line to print."""


def duration_seconds(text: str) -> int:
    """Seconds of a ``--for`` value (``30m``, ``2h``, ``7d``, ``90s``); 0 for ``forever``. Raises UsageError."""
    if text.strip().lower() == "forever":
        return 0
    match = DURATION.fullmatch(text.strip().lower())
    seconds = int(match[1]) * UNITS[match[2]] if match else 0
    if not 1 <= seconds <= MAX_DURATION:
        raise UsageError(f"bad duration {text!r}: give 30m, 2h, 7d (at most 3650d) or forever")
    return seconds


def network_text(text: str) -> str:
    """The network an address or CIDR stands for, as text (``198.51.100.7/32``). Raises UsageError."""
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise UsageError(f"bad address {text!r}: give an IPv4 or IPv6 address or network (CIDR)") from None
    if network.prefixlen < NARROWEST_PREFIX[network.version]:
        raise UsageError(f"the range {network} is too wide (at least /{NARROWEST_PREFIX[network.version]}"
                         f" for IPv{network.version})")
    return str(network)


def checked_reason(text: str) -> str:
    """A ``--reason`` as it is kept. Raises UsageError for one too long or of more than one line."""
    if len(text) > MAX_REASON:
        raise UsageError(f"a reason is at most {MAX_REASON} characters")
    if not text.isprintable():
        raise UsageError("a reason is one line of text")
    return text


def utc(ms: int) -> str:
    """``ms`` (epoch milliseconds) as ``YYYY-MM-DD HH:MM UTC``, the chat's texts' way."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000))


def until_text(until_ms: int) -> str:
    """The UNTIL text: ``until 2026-11-25 10:00 UTC`` or ``for good``."""
    return f"until {utc(until_ms)}" if until_ms else "for good"


def _shown(text: str) -> str:
    """``text`` safe to print in a table: no control characters (they could steer the terminal)."""
    return "".join(c if c.isprintable() else "?" for c in text)


def print_table(rows: Sequence[Sequence[str]]) -> None:
    """Rows (the first one the headings) in aligned columns; the last column unpadded."""
    shown = [[_shown(cell) for cell in row] for row in rows]
    widths = [max(len(row[column]) for row in shown) for column in range(len(shown[0]) - 1)]
    for row in shown:
        print("  ".join([cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]).rstrip())


def run_ban_command(args: argparse.Namespace, store: Store) -> int:
    """``parley ban list|add|lift``; return the exit status."""
    try:
        if args.ban_command == "list":
            return _list_bans(store)
        if args.ban_command == "add":
            return _add_ban(store, args)
        return _lift(store, args.id)
    except UsageError as error:
        print(f"parley: {error}", file=sys.stderr)
        return 2


def _list_bans(store: Store) -> int:
    restrictions = store.active_restrictions(int(time.time() * 1000))
    if not restrictions:
        print("no bans in force", file=sys.stderr)
        return 0
    rows = [("id", "kind", "target", "room", "until", "by", "since", "reason")]
    rows += [(str(r.id), r.kind, r.target, r.room, utc(r.until_ms) if r.until_ms else "for good", r.by,
              utc(r.created_ms), r.reason) for r in restrictions]
    print_table(rows)
    return 0


def _add_ban(store: Store, args: argparse.Namespace) -> int:
    from parley.protocol import names

    seconds = duration_seconds(args.duration)
    reason = checked_reason(args.reason)
    now = int(time.time() * 1000)
    until = now + seconds * 1000 if seconds else 0
    if args.address is not None:
        target = network_text(args.address)
        restriction = store.add_restriction("address", target, target, None, None, reason, ACTOR, now, until)
    else:
        error = names.nickname_error(args.user)
        if error:
            raise UsageError(error.removeprefix("Error: ").rstrip(" ."))
        account = store.get_account(args.user)
        if account is not None and account.is_admin:
            print(f"parley: {account.name} is an admin and cannot be banned", file=sys.stderr)
            return 1
        target = account.name if account else args.user
        restriction = store.add_restriction("user", target, names.name_key(target),
                                            account.ident if account else None, None, reason, ACTOR, now, until)
    store.add_audit(now, ACTOR, "ban", restriction.target, "", reason,
                    f"{restriction.kind} ban {restriction.id} {until_text(until)}")
    print(f"banned {restriction.target} {until_text(until)} (ban {restriction.id})")
    return 0


def _lift(store: Store, restriction_id: int) -> int:
    now = int(time.time() * 1000)
    lifted: Restriction | None = store.lift_restriction(restriction_id, ACTOR, now)
    if lifted is None:
        print(f"parley: no ban {restriction_id} is in force", file=sys.stderr)
        return 1
    action = "unmute" if lifted.kind == "mute" else "unban"
    store.add_audit(now, ACTOR, action, lifted.target, lifted.room, "", f"{lifted.kind} ban {lifted.id}")
    print(f"lifted ban {lifted.id} ({lifted.kind} {lifted.target})")
    return 0


def run_audit_command(args: argparse.Namespace, store: Store) -> int:
    """``parley audit [--limit N]``: the newest entries of the moderation log; return the exit status."""
    entries, more = store.audit_log(None, args.limit)
    if not entries:
        print("the moderation log is empty", file=sys.stderr)
        return 0
    rows = [("time (UTC)", "actor", "action", "target", "room", "reason")]
    rows += [(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e.at_ms / 1000)), e.actor, e.action, e.target,
              e.room, e.reason) for e in entries]
    print_table(rows)
    if more:
        print(f"(older entries not shown: --limit {args.limit})", file=sys.stderr)
    return 0
