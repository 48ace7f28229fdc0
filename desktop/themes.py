"""The looks: light and dark (the default follows the desktop), and the original's classic.

A look is a dict of the original's theme keys (prefs.THEME_DEFAULTS is the
classic one) plus a few of ours (links, mentions, muted text, selection).
`apply_styles` puts one on ttk's styles, so every ttk widget follows it;
the Text and Listbox widgets (no ttk kind) take its colors directly.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tkinter as tk
from tkinter import ttk

from .prefs import THEME_DEFAULTS

# Ours, beside the original's keys; the classic look gets values that suit its dark grey.
EXTRA_CLASSIC = {
    "link": "#8ab4ff", "muted": "#a8a8a8", "mention-bg": "#5a4a1a", "select-bg": "#4a4a8a",
    "select-fg": "#ffffff", "notice": "#ff6b6b", "unread": "#ffd24d", "online": "#9fe39f",
    "warning": "#ffb347", "error": "#ff5555", "divider": "#ff6b6b",
}

LIGHT: dict[str, str] = {
    "text-font": "TkTextFont 11", "login-page-bg": "#f4f5f7", "login-page-text": "#1d1f23",
    "text-background": "#ffffff", "default-text-color": "#1d1f23", "bg-color": "#eef0f3",
    "message-box": "#eef2ff", "send-button-bg": "#2f5fd0", "send-button-fg": "#ffffff",
    "other-button-bg": "#e2e5ea", "other-button-fg": "#1d1f23", "message-label-bg": "#eef0f3",
    "message-label-fg": "#1d1f23", "text-entry-bg": "#ffffff", "text-entry-fg": "#1d1f23",
    "dropdown-bg": "#ffffff", "active-dropdown-bg": "#e2e5ea", "dropdown-fg": "#1d1f23",
    "message-color": THEME_DEFAULTS["message-color"], "custom-bg": "#f4f5f7", "custom-label-bg": "#f4f5f7",
    "custom-label-fg": "#1d1f23", "custom-entry": "#ffffff",
    "link": "#1a56c4", "muted": "#5c6370", "mention-bg": "#fff3c4", "select-bg": "#cfdcff",
    "select-fg": "#1d1f23", "notice": "#b3261e", "unread": "#8a5a00", "online": "#1e7a34",
    "warning": "#8a5a00", "error": "#b3261e", "divider": "#b3261e",
}

DARK: dict[str, str] = {
    "text-font": "TkTextFont 11", "login-page-bg": "#1e2024", "login-page-text": "#e6e6e6",
    "text-background": "#16181b", "default-text-color": "#e6e6e6", "bg-color": "#23262b",
    "message-box": "#262b3a", "send-button-bg": "#5b8cff", "send-button-fg": "#0b0c0e",
    "other-button-bg": "#353a42", "other-button-fg": "#e6e6e6", "message-label-bg": "#23262b",
    "message-label-fg": "#e6e6e6", "text-entry-bg": "#16181b", "text-entry-fg": "#e6e6e6",
    "dropdown-bg": "#16181b", "active-dropdown-bg": "#353a42", "dropdown-fg": "#e6e6e6",
    "message-color": THEME_DEFAULTS["message-color"], "custom-bg": "#1e2024", "custom-label-bg": "#1e2024",
    "custom-label-fg": "#e6e6e6", "custom-entry": "#16181b",
    "link": "#8ab4ff", "muted": "#a0a6b0", "mention-bg": "#4a3d12", "select-bg": "#2f3f6a",
    "select-fg": "#ffffff", "notice": "#ff8a80", "unread": "#ffd24d", "online": "#7fd88f",
    "warning": "#ffcc66", "error": "#ff8a80", "divider": "#ff8a80",
}


def system_prefers_dark() -> bool:
    """Return True when the desktop asks for a dark look (GTK/GNOME, Windows, macOS), else False.

    Asked once at start; each probe is bounded (1 s) and its absence means light.
    """
    gtk = os.environ.get("GTK_THEME", "")
    if gtk:
        return gtk.lower().endswith(":dark") or gtk.lower().endswith("-dark")
    if sys.platform == "win32":
        return _windows_dark()
    if sys.platform == "darwin":
        return _ask(["defaults", "read", "-g", "AppleInterfaceStyle"]).strip() == "Dark"
    return "dark" in _ask(["gsettings", "get", "org.gnome.desktop.interface", "color-scheme"])


def _ask(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=1.0, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout if done.returncode == 0 else ""


def _windows_dark() -> bool:
    try:
        import winreg
        key = winreg.OpenKey(winreg.HKEY_CURRENT_USER,  # type: ignore[attr-defined, unused-ignore]
                             r"Software\Microsoft\Windows\CurrentVersion\Themes\Personalize")
        value, _ = winreg.QueryValueEx(key, "AppsUseLightTheme")  # type: ignore[attr-defined, unused-ignore]
        return bool(value == 0)
    except (OSError, ImportError):
        return False


def resolve(name: str) -> str:
    """Return the look to use for a preference: ``system`` becomes ``light`` or ``dark``."""
    if name == "system":
        return "dark" if system_prefers_dark() else "light"
    return name if name in ("light", "dark", "classic") else "light"


def palette(look: str, overrides: dict[str, str]) -> dict[str, str]:
    """Return every color of ``look`` with the file's keys put over it."""
    base = {"light": LIGHT, "dark": DARK}.get(look) or {**THEME_DEFAULTS, **EXTRA_CLASSIC}
    return {**base, **overrides}


def apply_styles(root: tk.Misc, theme: dict[str, str], look: str) -> ttk.Style:
    """Configure ttk's styles for ``theme``; return the Style."""
    style = ttk.Style(root)
    if root.tk.call("tk", "windowingsystem") == "x11" or look in ("classic", "dark"):
        style.theme_use("clam")  # X11's default ttk theme takes no colors; clam does
    bg, fg = theme["bg-color"], theme["default-text-color"]
    field, field_fg = theme["text-entry-bg"], theme["text-entry-fg"]
    style.configure(".", background=bg, foreground=fg, fieldbackground=field, insertcolor=field_fg,
                    selectbackground=theme["select-bg"], selectforeground=theme["select-fg"],
                    bordercolor=theme["other-button-bg"], lightcolor=bg, darkcolor=bg, troughcolor=bg)
    style.configure("TEntry", foreground=field_fg, fieldbackground=field)
    style.configure("TCombobox", foreground=theme["dropdown-fg"], fieldbackground=theme["dropdown-bg"],
                    background=theme["active-dropdown-bg"], arrowcolor=theme["dropdown-fg"])
    style.map("TCombobox", fieldbackground=[("readonly", theme["dropdown-bg"])],
              foreground=[("readonly", theme["dropdown-fg"])])
    style.configure("TButton", background=theme["other-button-bg"], foreground=theme["other-button-fg"],
                    padding=(8, 3))
    style.map("TButton", background=[("active", theme["active-dropdown-bg"]), ("disabled", bg)])
    style.configure("Send.TButton", background=theme["send-button-bg"], foreground=theme["send-button-fg"])
    style.map("Send.TButton", background=[("active", theme["send-button-bg"])])
    style.configure("Danger.TButton", background="#d9534f", foreground="#000000")
    for name, area_bg, area_fg in (("Login", theme["login-page-bg"], theme["login-page-text"]),
                                   ("Custom", theme["custom-bg"], theme["custom-label-fg"])):
        style.configure(f"{name}.TFrame", background=area_bg)
        style.configure(f"{name}.TLabel", background=area_bg, foreground=area_fg)
        style.configure(f"{name}.TCheckbutton", background=area_bg, foreground=area_fg)
        style.map(f"{name}.TCheckbutton", background=[("active", area_bg)])
    style.configure("Heading.TLabel", font="TkHeadingFont 12")
    style.configure("Muted.TLabel", foreground=theme["muted"])
    style.configure("Unread.TLabel", foreground=theme["unread"])
    style.configure("Error.TLabel", foreground=theme["error"])
    style.configure("Topic.TLabel", foreground=fg, font="TkDefaultFont 10 italic")
    style.configure("Status.TLabel", foreground=theme["muted"], padding=(8, 2))
    style.configure("Treeview", background=theme["text-background"], fieldbackground=theme["text-background"],
                    foreground=fg, borderwidth=0, rowheight=22, indent=4)
    style.map("Treeview", background=[("selected", theme["select-bg"])],
              foreground=[("selected", theme["select-fg"])])
    return style
