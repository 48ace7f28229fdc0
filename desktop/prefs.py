"""Preferences: the original client's theme keys plus the remembered login.

One flat JSON file, ``preferences.json``, in the user's config directory
(``platformdirs.user_config_dir("parley")``, or ``$PARLEY_CONFIG_DIR``). The
theme keys are the original's (``text-font``, ``bg-color``, ``message-box``,
``send-button-bg``, ``message-color``...), so a user's old
``preferances.json`` can be copied in. ``message-color`` is the user's own
chat color, as in the original. The password is never written.
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

FORBIDDEN_KEYS = ("password",)


def config_dir() -> Path:
    """Return the folder holding the preferences ($PARLEY_CONFIG_DIR wins)."""
    override = os.environ.get("PARLEY_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir("parley"))


def default_path() -> Path:
    """Return the preferences file's path."""
    return config_dir() / FILE_NAME


@dataclass
class Preferences:
    """The theme (original keys) and the remembered connection; no password."""

    theme: dict[str, str] = field(default_factory=lambda: dict(THEME_DEFAULTS))
    host: str = "localhost"
    port: int = DEFAULT_PORT
    tls: bool = False
    ca_file: str = ""
    nickname: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # keys we do not know, kept as found

    @property
    def color(self) -> str:
        """Return the user's own chat color (the original's ``message-color``)."""
        return self.theme["message-color"]

    @color.setter
    def color(self, value: str) -> None:
        self.theme["message-color"] = value

    def to_json(self) -> dict[str, Any]:
        """Return the flat JSON object written to the file."""
        data: dict[str, Any] = {k: v for k, v in self.extra.items() if k not in FORBIDDEN_KEYS}
        data.update(self.theme)
        data.update({"server-address": self.host, "server-port": self.port, "tls": self.tls,
                     "ca-file": self.ca_file, "nickname": self.nickname})
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
    return prefs


_CONNECTION_KEYS = ("server-address", "server-port", "tls", "ca-file", "nickname")


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
    path = path or default_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(prefs.to_json(), indent=2, ensure_ascii=False)
    fd, temporary = tempfile.mkstemp(prefix=".preferences-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
