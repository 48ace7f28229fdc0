"""Frames: ``reason,parameters,content`` parsed and formatted, with no I/O.

The rules, from the seed document and the original program's behaviour:

* Parameters are ``name=value`` pairs separated by ``;``.
* In parameter names and values the characters ``, ; = /`` are escaped with a
  leading ``/``. "An escape character followed by a regular character will
  have no affect": ``/x`` reads as ``x``.
* A separator counts only when preceded by an even number of ``/``.
* "anything after the second non-escaped comma will be read as is, as the
  content": content is never escaped and may hold commas and slashes.
* The reason never holds special characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Iterable, Mapping

from .errors import LocalProtocolError, RemoteProtocolError

SPECIAL = ",;=/"
ESCAPE = "/"
_REASON_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}\Z")
_ESCAPE_RE = re.compile(r"([,;=/])")


def escape(text: str) -> str:
    """Return ``text`` with every ``, ; = /`` preceded by ``/``."""
    if "," in text or ";" in text or "=" in text or "/" in text:
        return _ESCAPE_RE.sub(r"/\1", text)
    return text  # most values need nothing, and four scans cost less than a regex call


def unescape(text: str) -> str:
    """Return ``text`` with each escape removed (``/x`` reads as ``x``).

    Raises RemoteProtocolError for a lone ``/`` at the very end.
    """
    if ESCAPE not in text:
        return text
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == ESCAPE:
            char = next(chars, "")
            if not char:
                raise RemoteProtocolError("dangling escape at end of parameter", "dangling-escape")
        out.append(char)
    return "".join(out)


@dataclass(frozen=True)
class Frame:
    """One protocol message. Validated when built: an invalid frame cannot exist."""

    reason: str
    params: Mapping[str, str] = field(default_factory=dict)
    content: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.reason, str) or not _REASON_RE.match(self.reason):
            raise LocalProtocolError(f"invalid reason {self.reason!r}")
        params = dict(self.params)
        for name, value in params.items():
            if not (name and isinstance(name, str) and isinstance(value, str)):
                raise LocalProtocolError(f"invalid parameter {name!r}={value!r}")
            if _has_line_break(name) or _has_line_break(value):
                raise LocalProtocolError(f"line break in parameter {name!r}")
        if not isinstance(self.content, str) or _has_line_break(self.content):
            raise LocalProtocolError("content must be text without line breaks")
        object.__setattr__(self, "params", MappingProxyType(params))

    def get(self, name: str, default: str | None = None) -> str | None:
        """Return parameter ``name``, or ``default`` when absent."""
        return self.params.get(name, default)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frame):
            return NotImplemented
        return (self.reason, dict(self.params), self.content) == (
            other.reason,
            dict(other.params),
            other.content,
        )

    def __hash__(self) -> int:
        return hash((self.reason, tuple(self.params.items()), self.content))

    def __repr__(self) -> str:
        return f"Frame({self.reason!r}, {dict(self.params)!r}, {self.content!r})"


def _has_line_break(text: str) -> bool:
    return "\n" in text or "\r" in text


def format_frame(frame: Frame) -> str:
    """Return the frame's wire text (no line terminator)."""
    params = ";".join(f"{escape(k)}={escape(v)}" for k, v in frame.params.items())
    return f"{frame.reason},{params},{frame.content}"


def make_frame(reason: str, params: Iterable[tuple[str, str]] | Mapping[str, str] = (), content: str = "") -> Frame:
    """Build a Frame from ``(name, value)`` pairs or a mapping, in order."""
    return Frame(reason, dict(params), content)


def _split_unescaped(text: str, separator: str, maxsplit: int = -1) -> list[str]:
    """Split ``text`` on ``separator`` where it is not escaped; keep escapes.

    Jumps between separators and escapes with ``str.find`` rather than
    stepping through characters: this runs for every frame received. Each
    character is looked at a bounded number of times, so a long run of
    escapes before a distant separator stays linear.
    """
    if ESCAPE not in text:
        return text.split(separator, maxsplit)
    parts: list[str] = []
    start = scan = 0
    found = -1
    while maxsplit != 0:
        if found < scan:  # only look again once an escape has swallowed the last one found
            found = text.find(separator, scan)
            if found < 0:
                break
        escape_at = text.find(ESCAPE, scan, found)
        if escape_at >= 0:
            scan = escape_at + 2  # skip the escape and the character it escapes
            continue
        parts.append(text[start:found])
        start = scan = found + 1
        maxsplit -= 1
    parts.append(text[start:])
    return parts


def _parse_params(section: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in _split_unescaped(section, ";"):
        if not item:
            continue  # "a=1;" and ";;" are tolerated: an empty item carries nothing
        pair = _split_unescaped(item, "=", maxsplit=1)
        if len(pair) != 2:
            raise RemoteProtocolError(f"parameter without '=': {item[:40]!r}", "param-without-equals")
        name, value = unescape(pair[0]), unescape(pair[1])
        if not name:
            raise RemoteProtocolError("parameter with an empty name", "empty-param-name")
        if name in params:
            raise RemoteProtocolError(f"duplicate parameter {name[:40]!r}", "duplicate-param")
        params[name] = value
    return params


def parse_frame(text: str) -> Frame:
    """Parse one frame's text (without its line terminator).

    ``REASON,params`` with no second comma is accepted as empty content.
    Raises RemoteProtocolError for anything else that is not a frame.
    """
    reason, sep, rest = text.partition(",")
    if not sep:
        raise RemoteProtocolError("frame has no ',' separator", "no-separator")
    if not _REASON_RE.match(reason):
        raise RemoteProtocolError(f"invalid reason {reason[:40]!r}", "bad-reason")
    if _has_line_break(text):
        raise RemoteProtocolError("frame contains a line break", "line-break")
    section_and_content = _split_unescaped(rest, ",", maxsplit=1)
    section = section_and_content[0]
    content = section_and_content[1] if len(section_and_content) == 2 else ""
    return Frame(reason, _parse_params(section), content)
