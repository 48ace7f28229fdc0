"""``parley desktop`` / ``python -m desktop``: open the desktop chat client.

    parley desktop [HOST[:PORT]] [--port N] [--tls] [--ca-file PATH] [--nickname N] [--color #RRGGBB]
                   [--no-discovery]

Values given here fill the connect screen (and are remembered once used);
the rest come from the preferences file in the user's config directory
(``$PARLEY_CONFIG_DIR`` overrides where that is). The connect screen lists
the Parley servers it finds on the LAN, unless ``--no-discovery``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING, Callable

from . import prefs as prefs_module
from .client import is_color, parse_address
from .prefs import Preferences

if TYPE_CHECKING:
    import tkinter


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``parley desktop``."""
    parser = argparse.ArgumentParser(prog="parley desktop", description="The Parley desktop chat client.")
    parser.add_argument("server", nargs="?", metavar="HOST[:PORT]",
                        help="server to show on the connect screen (default: the last one used)")
    parser.add_argument("--port", type=int, help="TCP port (default: 6666, or the last one used)")
    parser.add_argument("--tls", action=argparse.BooleanOptionalAction, default=None,
                        help="connect over TLS, verifying the server's certificate")
    parser.add_argument("--ca-file", metavar="PATH",
                        help="also trust the certificate(s) in PATH (a self-signed server's "
                             "certificate on a LAN); implies --tls")
    parser.add_argument("--nickname", help="nickname to show on the connect screen")
    parser.add_argument("--color", help="your chat color, #RRGGBB")
    parser.add_argument("--no-discovery", action="store_true",
                        default=os.environ.get("PARLEY_NO_DISCOVERY", "").lower() in ("1", "true", "yes", "on"),
                        help="do not look for Parley servers on the LAN (mDNS); also PARLEY_NO_DISCOVERY=1")
    parser.add_argument("--log-level", default="WARNING", type=str.upper,
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="logging level (default: %(default)s)")
    return parser


def apply_arguments(prefs: Preferences, args: argparse.Namespace) -> Preferences:
    """Return ``prefs`` with the command line's values put over them.

    Raises ValueError for an unusable address, port or color.
    """
    if args.server:
        host, port = parse_address(args.server)
        if host:
            prefs.host = host
        if port:
            prefs.port = port
    if args.port is not None:
        if not 0 < args.port < 65536:
            raise ValueError(f"not a port: {args.port}")
        prefs.port = args.port
    if args.tls is not None:
        prefs.tls = args.tls
    if args.ca_file:
        prefs.ca_file, prefs.tls = args.ca_file, True
    if args.nickname:
        prefs.nickname = args.nickname
    if args.color:
        if not is_color(args.color):
            raise ValueError(f"not a color: {args.color!r} (use #RRGGBB)")
        prefs.color = args.color
    return prefs


def main(argv: list[str] | None = None) -> int:
    """Run the desktop client until its window closes; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        prefs = apply_arguments(prefs_module.load(), args)
    except ValueError as error:
        parser.error(str(error))
    import tkinter as tk  # here, so that --help works without Tk installed

    from .app import ParleyApp
    from .discovery import Discovery

    try:
        root = tk.Tk(className="Parley")
    except tk.TclError as error:
        print(f"parley desktop needs a graphical display: {error}", file=sys.stderr)
        return 1
    app = ParleyApp(root, prefs, discovery_factory=None if args.no_discovery else Discovery)
    _close_on_signals(root, app.close)
    root.mainloop()
    return 0


def _close_on_signals(root: "tkinter.Tk", close: Callable[[], None]) -> None:
    """Ctrl+C or SIGTERM close the window as its close button does (DISCON first)."""
    def handler(_signum: int, _frame: object) -> None:
        root.after(0, close)  # on the Tk thread, between events, never mid-callback

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
