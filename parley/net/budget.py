"""How many connections a process may hold, and from one address. Pure, but for reading the limit.

Every connection costs a file descriptor, and a process that runs out of
them can accept nothing at all: new chat logins get EOF, new HTTP requests an
empty reply, and nothing says why. So connections are admitted against a
budget below the process's descriptor limit (``RLIMIT_NOFILE``), with a
margin for the database, logs and files, and refused clearly before it runs
out. When ``parley serve`` runs both ports in one process they share one
budget: the web port has its own share and cannot take the chat port's, and
a small reserve past the chat port's share is kept for admins.

Per-address caps count addresses by ``groups.limit_key`` (an IPv6 /64 as one).
"""

from __future__ import annotations

import enum
import resource
from dataclasses import dataclass, field

# Descriptors kept back from the budget: the database and its journal, the
# listening sockets, log files, the page's files being sent, the executors'.
MIN_MARGIN = 32
MARGIN_FRACTION = 0.05


def descriptor_limit() -> int:
    """The process's descriptor limit, after raising the soft limit to the hard one where allowed.

    Many systems start a service with a soft limit of 1024 and a far higher
    hard one; a server is meant to use what it is allowed.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def usable(descriptors: int) -> int:
    """Connections that fit below ``descriptors`` once the margin is kept back (at least 1)."""
    margin = max(MIN_MARGIN, int(descriptors * MARGIN_FRACTION))
    return max(1, descriptors - margin)


class Admission(enum.Enum):
    """What a new chat-port connection may do."""

    NORMAL = "normal"
    ADMIN_ONLY = "admin only"  # within the admins' reserve: only an admin may log in
    FULL = "full"


@dataclass
class ConnectionBudget:
    """The connections one process admits, by port. Counts only; the caller opens and closes.

    ``web``: connections the web port may hold; ``chat``: the chat port's;
    ``admin_reserve``: chat-port connections past ``chat`` that may only log in
    as an admin. A limit of 0 admits nothing on that port.
    """

    web: int
    chat: int
    admin_reserve: int = 0
    web_open: int = 0
    chat_open: int = 0

    def open_web(self) -> bool:
        """Count a new web connection; False (and nothing counted) when the web share is used up."""
        if self.web_open >= self.web:
            return False
        self.web_open += 1
        return True

    def close_web(self) -> None:
        self.web_open = max(0, self.web_open - 1)

    def open_chat(self) -> Admission:
        """Count a new chat-port connection, unless the port is full; say what it may do."""
        if self.chat_open >= self.chat + self.admin_reserve:
            return Admission.FULL
        self.chat_open += 1
        return Admission.NORMAL if self.chat_open <= self.chat else Admission.ADMIN_ONLY

    def close_chat(self) -> None:
        self.chat_open = max(0, self.chat_open - 1)


def plan_budget(descriptors: int, *, chat_port: bool, web_port: bool, max_connections: int = 0,
                max_web_connections: int = 0, admin_reserve: int = 0, web_cost: int = 1) -> ConnectionBudget:
    """Share the connections ``descriptors`` allow between the ports a process runs.

    ``max_connections``: the whole budget (0: all that fit below the limit,
    never more). ``max_web_connections``: the web port's share (0: half of
    what the chat port's admin reserve leaves, or all of it with no chat
    port). ``web_cost``: descriptors one web connection may use (2 in the
    standalone gateway, whose WebSockets each hold a TCP connection upstream).
    """
    total = usable(descriptors)
    if max_connections:
        total = min(total, max_connections)
    reserve = min(admin_reserve, total // 4) if chat_port else 0
    shared = total - reserve
    if not web_port:
        return ConnectionBudget(web=0, chat=shared, admin_reserve=reserve)
    if not chat_port:
        return ConnectionBudget(web=max(1, shared // web_cost), chat=0)
    web_slots = max_web_connections or shared // 2
    web_slots = max(1, min(web_slots, shared - 1))
    return ConnectionBudget(web=max(1, web_slots // web_cost), chat=shared - web_slots, admin_reserve=reserve)


@dataclass
class PerAddress:
    """Open connections per address key, with a cap (0: none)."""

    limit: int
    counts: dict[str, int] = field(default_factory=dict)

    def open(self, key: str) -> bool:
        """Count one more for ``key``; False (and nothing counted) when it is at the cap."""
        held = self.counts.get(key, 0)
        if self.limit and held >= self.limit:
            return False
        self.counts[key] = held + 1
        return True

    def close(self, key: str) -> None:
        held = self.counts.get(key, 0) - 1
        if held > 0:
            self.counts[key] = held
        else:
            self.counts.pop(key, None)


@dataclass
class LogThrottle:
    """Lets one log record of a kind through per ``interval`` seconds, counting the ones held back.

    A flood of refusals must not flood the log; the next record says how many were not logged.
    """

    interval: float = 10.0
    _next: dict[str, float] = field(default_factory=dict)
    _held: dict[str, int] = field(default_factory=dict)

    def allow(self, kind: str, now: float) -> int | None:
        """None: hold this one back. Else log it, with the returned number of records held back before it."""
        if now < self._next.get(kind, float("-inf")):
            self._held[kind] = self._held.get(kind, 0) + 1
            return None
        self._next[kind] = now + self.interval
        return self._held.pop(kind, 0)
