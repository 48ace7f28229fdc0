"""Where Parley keeps its data unless told otherwise."""

from __future__ import annotations

from pathlib import Path

import platformdirs


def default_data_dir() -> Path:
    """The per-user data folder (``~/.local/share/parley`` on Linux)."""
    return Path(platformdirs.user_data_dir("parley", appauthor=False))


def files_dir(data_dir: Path) -> Path:
    """The shared files' folder of a data directory (parley/files/store.py says what it holds)."""
    return data_dir / "files"
