"""Preferences: the look, the original client's theme keys, and the remembered login.

One flat JSON file, ``preferences.json``, in the user's config directory
(``platformdirs.user_config_dir("parley")``, or ``$PARLEY_CONFIG_DIR``).
``"theme"`` picks the look: ``system`` (the default: light or dark as the
desktop is), ``light``, ``dark`` or ``classic`` (the original's navy and
neon). The original's theme keys (``text-font``, ``bg-color``,
``message-box``, ``send-button-bg``...) override single colors of any look,
so a user's old ``preferances.json`` can be copied in; only keys found in
the file are written back. ``message-color`` is the user's own chat color,
as in the original. The password is never written.

"Remember me" keeps a resume token in ``session.json`` beside it (mode
0600), never in the preferences file: the server it is for, the nickname,
the token and its expiry.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from parley.protocol.names import same_nickname

log = logging.getLogger("parley.desktop")

FILE_NAME = "preferences.json"
DEFAULT_PORT = 6666

# The original client's theme, key for key.
THEME_DEFAULTS: dict[str, str] = {
    "text-font": "Calibri 15",
    "login-page-bg": "#1F208D",
    "login-page-text": "#3CE312",
    "text-background": "#393a3b",
    "default-text-color": "#d9d9d9",
    "bg-color": "#25282b",
    "message-box": "#60606E",
    "send-button-bg": "#B673E8",
    "send-button-fg": "#000000",
    "other-button-bg": "#aaaac3",
    "other-button-fg": "#000000",
    "message-label-bg": "#161619",
    "message-label-fg": "#000000",
    "text-entry-bg": "#60606E",
    "text-entry-fg": "#FFFFFF",
    "dropdown-bg": "#00FF00",
    "active-dropdown-bg": "#00EE00",
    "dropdown-fg": "#000000",
    "message-color": "#D333FF",
    "custom-bg": "#1F208D",
    "custom-label-bg": "#1F208D",
    "custom-label-fg": "#3CE312",
    "custom-entry": "#FFFFFF",
}

FORBIDDEN_KEYS = ("password", "token")
THEME_NAMES = ("system", "light", "dark", "classic")
DEFAULT_COLOR = THEME_DEFAULTS["message-color"]
SESSION_FILE = "session.json"


def config_dir() -> Path:
    """Return the folder holding the preferences ($PARLEY_CONFIG_DIR wins)."""
    override = os.environ.get("PARLEY_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir("parley"))


def default_path() -> Path:
    """Return the preferences file's path."""
    return config_dir() / FILE_NAME


@dataclass
class Preferences:
    """The look, theme keys set in the file, and the remembered connection; no password."""

    theme: dict[str, str] = field(default_factory=dict)  # only the keys the file sets (and our color)
    theme_name: str = "system"
    remember: bool = False
    host: str = "localhost"
    port: int = DEFAULT_PORT
    tls: bool = False
    ca_file: str = ""
    nickname: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # keys we do not know, kept as found

    @property
    def color(self) -> str:
        """Return the user's own chat color (the original's ``message-color``)."""
        return self.theme.get("message-color", DEFAULT_COLOR)

    @color.setter
    def color(self, value: str) -> None:
        self.theme["message-color"] = value

    def to_json(self) -> dict[str, Any]:
        """Return the flat JSON object written to the file."""
        data: dict[str, Any] = {k: v for k, v in self.extra.items() if k not in FORBIDDEN_KEYS}
        data.update(self.theme)
        data.update({"theme": self.theme_name, "remember-me": self.remember, "server-address": self.host,
                     "server-port": self.port, "tls": self.tls, "ca-file": self.ca_file,
                     "nickname": self.nickname})
        return data


def from_json(data: Any) -> Preferences:
    """Return preferences from a parsed file; wrong or missing values get defaults."""
    prefs = Preferences()
    if not isinstance(data, dict):
        return prefs
    for key, value in data.items():
        if key in THEME_DEFAULTS:
            if isinstance(value, str) and value.strip():
                prefs.theme[key] = value
        elif key not in _CONNECTION_KEYS and key not in FORBIDDEN_KEYS:
            prefs.extra[key] = value
    prefs.host = _get(data, "server-address", str, prefs.host) or prefs.host
    port = _get(data, "server-port", int, prefs.port)
    prefs.port = port if 0 < port < 65536 else DEFAULT_PORT
    prefs.tls = _get(data, "tls", bool, prefs.tls)
    prefs.ca_file = _get(data, "ca-file", str, prefs.ca_file)
    prefs.nickname = _get(data, "nickname", str, prefs.nickname)
    name = _get(data, "theme", str, prefs.theme_name)
    prefs.theme_name = name if name in THEME_NAMES else "system"
    prefs.remember = _get(data, "remember-me", bool, prefs.remember)
    return prefs


_CONNECTION_KEYS = ("server-address", "server-port", "tls", "ca-file", "nickname", "theme", "remember-me")


def _get(data: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    value = data.get(key, default)
    if kind is int and isinstance(value, bool):
        return default
    return value if isinstance(value, kind) else default


def load(path: Path | None = None) -> Preferences:
    """Return the saved preferences, or the defaults when there are none or they are broken."""
    path = path or default_path()
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return Preferences()
    except OSError as error:
        log.warning("cannot read preferences %s: %s", path, error)
        return Preferences()
    try:
        return from_json(json.loads(text))
    except ValueError:
        log.warning("preferences %s are not valid JSON; using the defaults", path)
        return Preferences()


def save(prefs: Preferences, path: Path | None = None) -> None:
    """Write the preferences atomically. Raises OSError when that is impossible."""
    _write_private(path or default_path(), prefs.to_json())


@dataclass(frozen=True)
class RememberedSession:
    """A resume token for one nickname on one server ("Remember me")."""

    host: str
    port: int
    nickname: str
    token: str = field(repr=False)
    expires: int = 0  # epoch ms

    def is_for(self, host: str, port: int, nickname: str) -> bool:
        """Return True when the token is for this server and nickname."""
        return (self.host, self.port) == (host, port) and same_nickname(self.nickname, nickname)


def session_path(prefs_path: Path | None = None) -> Path:
    """Return the token file's path: beside the preferences file."""
    return (prefs_path or default_path()).with_name(SESSION_FILE)


def load_session(path: Path | None = None) -> RememberedSession | None:
    """Return the remembered token, or None when there is none (or it is unreadable)."""
    path = path or session_path()
    try:
        data = json.loads(path.read_text("utf-8"))
        session = RememberedSession(str(data["server-address"]), int(data["server-port"]),
                                    str(data["nickname"]), str(data["token"]), int(data.get("expires", 0)))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("cannot read the remembered session %s: %s", path, type(error).__name__)
        return None
    return session if session.token else None


def save_session(session: RememberedSession, path: Path | None = None) -> None:
    """Keep the token, readable by the user alone (0600). Raises OSError when impossible."""
    _write_private(path or session_path(), {
        "server-address": session.host, "server-port": session.port, "nickname": session.nickname,
        "token": session.token, "expires": session.expires})


def forget_session(path: Path | None = None) -> None:
    """Delete the remembered token (Leave, or the server said it has ended)."""
    try:
        (path or session_path()).unlink(missing_ok=True)
    except OSError as error:
        log.warning("cannot delete the remembered session: %s", error)


def _write_private(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON atomically; the file is created 0600 (mkstemp's mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, ensure_ascii=False)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
