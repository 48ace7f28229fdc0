"""The desktop client, looking for servers on the LAN, telling a test what its connect screen shows.

    python tests/desktop_lan_probe.py SECONDS

Run by tests/test_lan_desktop.py on one host of a private LAN (tests/lan.py)
with $DISPLAY on the test's Xvfb and $PARLEY_CONFIG_DIR in a temporary folder.
It opens the real ParleyApp with its real Discovery and prints, whenever it
changes, one JSON line: the servers listed, the status under the list, the
address, port and TLS fields, the screen shown, the window title, and where
(on the screen) the list's entries and the nickname field are, so that the
test can click them with xdotool, and whether Connect is in view in the
smallest window (640x480), which it opens at. It closes the window after SECONDS.
"""

from __future__ import annotations

import json
import sys
import tkinter as tk

from desktop import prefs as prefs_module
from desktop.app import ParleyApp
from desktop.discovery import Discovery


def main(seconds: float) -> None:
    root = tk.Tk(className="Parley")
    app = ParleyApp(root, prefs_module.load(), discovery_factory=Discovery)
    root.geometry("640x480")  # the smallest window: everything must still be in view
    view = app.connect_view
    last = ""

    def centre(widget: tk.Misc, box: tuple[int, int, int, int] | None = None) -> list[int]:
        x, y, width, height = box or (0, 0, widget.winfo_width(), widget.winfo_height())
        return [widget.winfo_rootx() + x + width // 2, widget.winfo_rooty() + y + height // 2]

    def report() -> None:
        nonlocal last
        if app.closed:
            return
        entries = list(view.lan_list.get(0, "end"))
        state = {
            "servers": entries, "status": str(view.lan_status.cget("text")),
            "host": view.host.get(), "port": view.port.get(), "tls": bool(view.tls.get()),
            "screen": "connect" if app.current is view else "chat" if app.current is app.chat_view else "other",
            "title": root.title(), "online": app.online,
            "entries_at": [centre(view.lan_list, view.lan_list.bbox(i)) for i in range(len(entries))]
            if app.current is view else [],
            "nickname_at": centre(view.nick_entry) if app.current is view else None,
            "connect_in_view": view.connect_button.winfo_rooty() + view.connect_button.winfo_height()
            <= root.winfo_rooty() + root.winfo_height(),
        }
        line = json.dumps(state)
        if line != last:
            print(line, flush=True)
            last = line
        root.after(100, report)

    root.after(100, report)
    root.after(int(seconds * 1000), app.close)
    root.mainloop()


if __name__ == "__main__":
    main(float(sys.argv[1]))
