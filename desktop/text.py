"""Text helpers for display, with no Tk and no I/O: links, readable colors,
``/me`` actions and dates.

The page has the same helpers in ``web/text.js`` (``linkSegments``,
``readableColor``). The wire's line breaks and the mention rule are the
protocol's shared helpers (parley.protocol.lines, names.mentions),
re-exported here for the window.
"""

from __future__ import annotations

import datetime
import re
import urllib.parse
from dataclasses import dataclass

from parley.protocol.lines import decode_lines as decode_lines
from parley.protocol.lines import encode_lines as encode_lines
from parley.protocol.names import is_color
from parley.protocol.names import mentions as mentions

_URL_RE = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_TRAILING_RE = re.compile(r"[.,;:!?'\"*_]+$")
ACTION_PREFIX = "/me "


@dataclass(frozen=True)
class Segment:
    """A piece of a message: plain text, or a link (``href`` set)."""

    text: str
    href: str | None = None


def _trim_link(candidate: str) -> str:
    link = _TRAILING_RE.sub("", candidate)
    # A ')' closes the link only if the link opened one: "(see http://x/a_(b))".
    while link.endswith(")") and link.count("(") < link.count(")"):
        link = _TRAILING_RE.sub("", link[:-1])
    return link


def http_url(text: str) -> str | None:
    """Return ``text`` when it is an http or https URL with a host, else None."""
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        return None
    return text if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def link_segments(text: str) -> list[Segment]:
    """Return ``text`` split into plain pieces and http/https links, in order."""
    segments: list[Segment] = []
    last = 0
    for match in _URL_RE.finditer(text):
        link = _trim_link(match.group())
        href = http_url(link)
        if href is None:
            continue
        if match.start() > last:
            segments.append(Segment(text[last:match.start()]))
        segments.append(Segment(link, href))
        last = match.start() + len(link)
    if last < len(text) or not segments:
        segments.append(Segment(text[last:]))
    return segments


def _channels(color: str) -> tuple[float, float, float]:
    digits = color[1:]
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def luminance(rgb: tuple[float, float, float]) -> float:
    """Return the WCAG relative luminance of an (r, g, b) color, 0 to 255 each."""
    def linear(c: float) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    r, g, b = rgb
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def contrast(a: str, b: str) -> float:
    """Return the WCAG contrast ratio of two ``#RGB``/``#RRGGBB`` colors."""
    light, dark = sorted((luminance(_channels(a)), luminance(_channels(b))), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def readable_color(color: str | None, background: str) -> str:
    """Return ``color`` mixed toward black or white just enough to read on ``background`` (4.5:1).

    As the page's ``readableColor``: a user's ``#FFFFFF`` stays white on a
    dark background and turns dark on a light one. A missing or malformed
    color counts as mid grey.
    """
    base = _channels(color if color and is_color(color) else "#808080")
    bg = _channels(background if is_color(background) else "#ffffff")
    target = (0.0, 0.0, 0.0) if luminance(bg) > 0.18 else (255.0, 255.0, 255.0)
    bg_hex = "#" + "".join(f"{round(c):02x}" for c in bg)
    mixed: tuple[float, float, float] = base
    for step in range(21):
        if contrast("#" + "".join(f"{round(c):02x}" for c in mixed), bg_hex) >= 4.5:
            break
        t = step / 20
        mixed = (base[0] + (target[0] - base[0]) * t, base[1] + (target[1] - base[1]) * t,
                 base[2] + (target[2] - base[2]) * t)
    return "#" + "".join(f"{round(c):02x}" for c in mixed)


def is_action(text: str) -> bool:
    """Return True for a ``/me`` action ("content starting with ``/me ``")."""
    return text.startswith(ACTION_PREFIX)


def action_text(sender: str, text: str) -> str:
    """Return how an action reads: ``* alice waves``."""
    return f"* {sender} {text[len(ACTION_PREFIX):]}"


def day_of(ts: int | None) -> datetime.date | None:
    """Return the local date of an epoch-ms timestamp (None without one)."""
    if ts is None or ts <= 0:
        return None
    return datetime.datetime.fromtimestamp(ts / 1000).date()


def day_label(day: datetime.date, today: datetime.date) -> str:
    """Return a date separator's text: Today, Yesterday, or the date."""
    if day == today:
        return "Today"
    if day == today - datetime.timedelta(days=1):
        return "Yesterday"
    return f"{day:%A} {day.isoformat()}"


def clock(ts: int | None, time: str) -> str:
    """Return HH:MM of a message: from ``ts`` in local time, else from the server's ``time``."""
    if ts is not None and ts > 0:
        return datetime.datetime.fromtimestamp(ts / 1000).strftime("%H:%M")
    found = re.search(r"(\d\d:\d\d)(:\d\d)?$", time)
    return found.group(1) if found else time


_UTC_UNTIL = re.compile(r"until (\d{4}-\d\d-\d\d \d\d:\d\d) UTC")


def local_time(ms: int) -> str:
    """Return an epoch-ms time as ``YYYY-MM-DD HH:MM`` in local time."""
    return datetime.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M")


def localize_until(text: str, until: int | None = None) -> str:
    """Return ``text`` with its ``until YYYY-MM-DD HH:MM UTC`` in local time.

    From ``until=MS`` when the frame gives it, else from the text's own UTC
    time (an INFO may say until when without the parameter).
    """
    found = _UTC_UNTIL.search(text)
    if found is None:
        return text  # "for good", or no time at all
    if not until:
        utc = datetime.datetime.strptime(found.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=datetime.timezone.utc)
        until = int(utc.timestamp() * 1000)
    return text[:found.start()] + f"until {local_time(until)}" + text[found.end():]
