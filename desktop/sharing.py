"""The chat screen's shared files, on the Tk thread: attach, upload, open, save, thumbnails.

A part of the controller (desktop.app), kept apart to stay small (as
desktop.moderation). Sending a file is three steps (PROTOCOL.md, "Files"):
``UPLOAD,rec=R;name=N;size=S,`` asks first, so the server refuses a file
over a limit before any byte is sent; the grant's ticket goes with the
bytes, POSTed on a thread (desktop.files) while the status line shows the
progress; the receipt the upload returns is posted with
``CHAT,rec=R;file=RECEIPT,``. A refusal at any step (the ERR, the
gateway's JSON error) is an error line in the conversation.

Open downloads to a private temporary folder and hands the copy to the
system's opener; Save as... downloads to the path chosen. The dialogs only
pick paths: `attach_file` and `save_to` do the work (and are what tests call).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import webbrowser
from collections.abc import Callable
from pathlib import Path
from tkinter import filedialog
from typing import TYPE_CHECKING

from parley.protocol import texts
from parley.protocol.reading import FileInfo
from parley.protocol.sizes import human_size

from . import files
from .client import UploadGranted, UploadRefused, UploadRequest
from .files import TransferError, Transfers, Uploaded

if TYPE_CHECKING:
    from .app import ParleyApp

log = logging.getLogger("parley.desktop")

# Opened by the system as programs rather than documents: offered for saving only.
RUNNABLE = frozenset({
    ".desktop", ".sh", ".bash", ".run", ".bin", ".appimage", ".jar", ".py", ".pl", ".exe", ".msi", ".bat",
    ".cmd", ".com", ".scr", ".ps1", ".vbs", ".js", ".jse", ".wsf", ".hta", ".lnk", ".reg", ".app", ".command",
})


def system_open(path: Path) -> None:
    """Open ``path`` with the program the system chooses for it."""
    if sys.platform == "win32":
        os.startfile(path)
    elif sys.platform == "darwin":
        subprocess.Popen(["open", str(path)])
    elif shutil.which("xdg-open"):
        subprocess.Popen(["xdg-open", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        webbrowser.open(path.as_uri())


class Sharing:
    """Sends the files attached and fetches those shown (thumbnails, Open, Save as...)."""

    def __init__(self, app: ParleyApp) -> None:
        self.app = app
        self.transfers = Transfers()
        self.base = ""  # the files base URL (CONVER files=)
        self.open_path: Callable[[Path], object] = system_open
        self._folder: Path | None = None  # Open's downloads, private to this window
        self._shown: dict[str, str] = {}  # the status line's transfers, by what they move

    # ---- sending -------------------------------------------------------------------------------

    def attach(self) -> None:
        """Pick a file with the system's dialog and send it to the open conversation."""
        rec = self.app.opened().rec
        chosen = filedialog.askopenfilename(parent=self.app.root, title=f"Send a file to {self.app.opened().title}")
        if chosen:
            self.attach_file(Path(chosen), rec)

    def attach_file(self, path: Path, rec: str | None = None) -> bool:
        """Ask to send ``path`` to ``rec`` (the open conversation); False when refused here."""
        app = self.app
        rec = rec or app.opened().rec
        try:
            size = path.stat().st_size if path.is_file() else -1
        except OSError as error:
            size, reason = -1, error.strerror
        else:
            reason = "it is not a file"
        problem = None
        if size < 0:
            problem = f"Cannot read it: {reason}."
        elif size == 0:
            problem = texts.FILE_EMPTY
        elif app.connection is None or not app.online:
            problem = "Not connected."
        elif not app.rooms_server:
            problem = "This server does not take files."
        if problem is not None:
            self.refused(rec, path.name, problem)
            return False
        assert app.connection is not None
        app.connection.upload(UploadRequest(rec, path.name, size, str(path)))
        self._status(path.name, f"Asking to send {path.name}\u2026")
        return True

    def on_granted(self, event: UploadGranted) -> None:
        """The server took the UPLOAD: POST the bytes on a thread."""
        request, grant = event.request, event.grant
        if request is None:
            log.warning("an UPLOAD grant we did not ask for")
            return
        url = grant.url or (self.base + "files/upload" if self.base else "")
        if not url:
            self.refused(request.rec, request.name, "This server does not say where files go.")
            return
        ca_file = self._ca_file()
        self.transfers.start(
            lambda progress, stopped: files.upload(Path(request.source), request.size, url, grant.ticket,
                                                   progress, stopped, ca_file),
            lambda outcome: self._uploaded(request, outcome),
            lambda sent, total: self._status(request.name, f"Sending {request.name}: {_share(sent, total)}"))

    def _uploaded(self, request: UploadRequest, outcome: Uploaded | TransferError) -> None:
        app = self.app
        if isinstance(outcome, TransferError):
            self.refused(request.rec, request.name, str(outcome))
            return
        if app.connection is None or not app.online:
            self.refused(request.rec, request.name, "Not connected: attach it again once back.")
            return
        app.connection.send_file(request.rec, outcome.receipt)
        self._status(request.name, "")

    def on_refused(self, event: UploadRefused) -> None:
        """The server refused the UPLOAD (a limit, the recipient): nothing was sent."""
        self.refused(event.request.rec, event.request.name, event.text)

    def refused(self, rec: str, name: str, text: str) -> None:
        """Say in conversation ``rec`` (and under the log) that ``name`` was not sent, and why."""
        app = self.app
        self._status(name, "")
        line = f"{shortened(name)} was not sent: {text.removeprefix('Error: ')}"
        conversation = app.conversations.ensure(rec)
        note = conversation.note("error", line)
        if conversation is app.opened():
            app.chat_log.append_note(note)
        app.chat_view.warn(line)

    # ---- fetching ------------------------------------------------------------------------------

    def thumbnail(self, file: FileInfo) -> None:
        """Fetch an image's thumbnail on a thread; the log puts it in place when it comes."""
        log_ = self.app.chat_log
        if not self.base:
            log_.show_thumbnail(file.link, None)
            return
        url, ca_file = files.file_url(self.base, file.link, thumb=True), self._ca_file()
        self.transfers.fetch(lambda _progress, _stopped: files.fetch(url, ca_file=ca_file),
                             lambda outcome: log_.show_thumbnail(
                                 file.link, None if isinstance(outcome, TransferError) else outcome))

    def open_file(self, file: FileInfo) -> None:
        """Download ``file`` to a private temporary folder, then open it with the system's program."""
        if Path(file.name).suffix.lower() in RUNNABLE:
            self.app.chat_view.warn(f"{file.name} could be a program: save it, and open it yourself "
                                    "if you trust it.")
            return
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="parley-files-"))  # 0700: ours alone
        dest = self._folder / str(file.id) / file.name
        if dest.is_file() and dest.stat().st_size == file.size:
            self.open_path(dest)
            return
        dest.parent.mkdir(exist_ok=True)
        self.download(file, dest, self.open_path)

    def save_file(self, file: FileInfo) -> None:
        """Ask where to save ``file`` (the system's dialog), then download it there."""
        chosen = filedialog.asksaveasfilename(parent=self.app.root, initialfile=file.name,
                                              title=f"Save {file.name}")
        if chosen:
            self.save_to(file, Path(chosen))

    def save_to(self, file: FileInfo, dest: Path) -> None:
        """Download ``file`` to ``dest``."""
        self.download(file, dest, lambda path: self._status("saved", f"Saved {path}."))  # not an error

    def download(self, file: FileInfo, dest: Path, then: Callable[[Path], object]) -> None:
        """Download ``file`` to ``dest`` on a thread; ``then(dest)`` once it is whole."""
        if not self.base:
            self.app.chat_view.warn("This server does not say where its files are.")
            return
        url, ca_file = files.file_url(self.base, file.link), self._ca_file()
        key = f"{file.id}:{dest}"
        if key in self._shown:
            return  # already on its way

        def done(outcome: int | TransferError) -> None:
            self._status(key, "")
            if isinstance(outcome, TransferError):
                self.app.chat_view.warn(f"{shortened(file.name)} could not be fetched: {outcome}")
            else:
                then(dest)

        self.transfers.start(
            lambda progress, stopped: files.download(url, dest, file.size, progress, stopped, ca_file), done,
            lambda got, total: self._status(key, f"Fetching {file.name}: {_share(got, total)}"))

    # ---- the rest -------------------------------------------------------------------------------

    def _ca_file(self) -> str | None:
        login = self.app.login
        return login.ca_file or None if login is not None else None

    def _status(self, key: str, text: str) -> None:
        """Show what moves in the status line (empty: that one is over)."""
        if text:
            self._shown[key] = text
        else:
            self._shown.pop(key, None)
        self.app.chat_view.show_transfers("  \u2022  ".join(self._shown.values()))

    def poll(self) -> None:
        """Hand the transfers' progress and outcomes to their callbacks (on the Tk thread)."""
        self.transfers.poll()

    def close(self) -> None:
        """Stop every transfer (the window closes)."""
        self.transfers.close()


def _share(done: int, total: int) -> str:
    """Return ``45% (4.5 MB of 10 MB)``."""
    percent = 100 * done // total if total else 100
    return f"{percent}% ({human_size(done)} of {human_size(total)})"


def shortened(name: str, most: int = 60) -> str:
    """``name`` as a line about it shows it: at most ``most`` characters, its middle left out (the end
    holds the extension)."""
    if len(name) <= most:
        return name
    keep = (most - 1) // 2
    return f"{name[:keep]}…{name[-keep:]}"
