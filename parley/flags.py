"""The ``parley`` command's arguments: its subcommands, their flags and the checks on their values.

Every flag of ``server``, ``serve`` and ``gateway`` can also be set with a
PARLEY_* environment variable (``--max-frame`` is PARLEY_MAX_FRAME); a flag on
the command line wins. A variable's value is checked exactly as the flag's
would be, and a wrong one is reported in the same one line.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import ipaddress
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Callable, NoReturn, Sequence

from .loops import CHOICES
from .net.dnssd import server_name_error
from .net.groups import DEFAULT_IPV6_PREFIX
from .net.listen import port_error, port_range
from .paths import default_data_dir

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
ENVIRONMENT = (
    "Every flag can also be set with an environment variable: --max-frame is PARLEY_MAX_FRAME."
    " A flag given here wins."
)


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, naming the (sub)command."""

    def error(self, message: str) -> NoReturn:
        # An error about a flag's value names the flag; others (an unknown flag,
        # a missing argument) point to the help, which replaces argparse's usage.
        hint = "" if message.startswith("argument ") else f"; see {self.prog} --help"
        self.exit(2, f"{self.prog}: error: {message}{hint}\n")


class SubcommandParser(Parser):
    """A subcommand's parser: it reports what it does not know itself.

    argparse hands a subcommand's unknown arguments back to the top-level
    parser, which then reports them under its own name and usage; a user who
    mistyped a flag of ``parley serve`` should hear it from ``parley serve``.
    """

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def package_version() -> str:
    """Parley's version: the installed package's, else the source tree's pyproject.toml's."""
    try:
        return importlib.metadata.version("parley")
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        with open(Path(__file__).resolve().parent.parent / "pyproject.toml", "rb") as file:
            return str(tomllib.load(file)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


# Value checks -----------------------------------------------------------------


def _port(text: str, *, allow_any: bool) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number ({port_range(allow_any)})") from None
    error = port_error(port, allow_any=allow_any)
    if error:
        raise argparse.ArgumentTypeError(error)
    return port


def listen_port(text: str) -> int:
    """A port to listen on: 1 to 65535, or 0 for any free port. Raises ArgumentTypeError."""
    return _port(text, allow_any=True)


def upstream(text: str) -> tuple[str, int]:
    """HOST:PORT of a chat server (``[::1]:6666`` for IPv6). Raises ArgumentTypeError."""
    host, sep, port = text.rpartition(":")
    if not sep or not host.strip("[]") or not port:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), _port(port, allow_any=False)


def network(text: str) -> str:
    """An IP address or network (``10.0.0.5``, ``10.0.0.0/24``), as given. Raises ArgumentTypeError."""
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an IP address or network (such as 10.0.0.5 or 10.0.0.0/24)") from None
    return text


def _number(kind: type[int] | type[float], least: float, *, above: bool = False) -> Callable[[str], Any]:
    """A check for numbers of ``kind`` from ``least`` up (or strictly above it)."""
    words = "a whole number" if kind is int else "a number"
    bound = f"above {least:g}" if above else f"{least:g} or more"

    def check(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {words}") from None
        if value < least or (above and value == least):
            raise argparse.ArgumentTypeError(f"{text} is too small: use {bound}")
        return value

    return check


positive_int = _number(int, 1)

UPLOAD_RATE = 40 * 1024**2  # --upload-rate's default (BENCHMARKS.md, "Files": chat p99 beside uploads)
_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def byte_size(text: str) -> int:
    """Bytes, as ``1048576``, ``512K``, ``10M``, ``2G`` (or ``10MiB``, ``10MB``: powers of 1024). Raises ArgumentTypeError."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)(?:I?B)?\s*", text.upper())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (such as 10M, 512K or 2G)")
    return int(match[1]) * _SIZE_UNITS[match[2]]


def ipv6_prefix(text: str) -> int:
    """An IPv6 prefix length, 1 to 128. Raises ArgumentTypeError."""
    bits = positive_int(text)
    if bits > 128:
        raise argparse.ArgumentTypeError(f"{text} is too large: an IPv6 prefix is 1 to 128 bits")
    return int(bits)

count = _number(int, 0)  # 0 usually means "no limit"
non_negative = _number(float, 0)
positive_number = _number(float, 0, above=True)


# PARLEY_* variables -----------------------------------------------------------


class _FromEnvironment(str):
    """A flag's default taken from its PARLEY_* variable; argparse checks it with the flag's type."""

    variable: str

    def __new__(cls, text: str, variable: str) -> "_FromEnvironment":
        value = super().__new__(cls, text)
        value.variable = variable
        return value


def _variable(flag: str) -> str:
    return "PARLEY_" + flag.lstrip("-").replace("-", "_").upper()


def _checked(convert: Callable[[str], Any], choices: Sequence[Any] | None, many: bool) -> Callable[[str], Any]:
    """``convert`` for the command line; for a variable's value also the choices, and a list if ``many``.

    argparse converts a string default with the flag's type, which is how a
    variable's value gets the flag's checks, but it skips ``choices`` there.
    """
    def check(text: str) -> Any:
        if not isinstance(text, _FromEnvironment):
            return convert(text)
        parts = [part for part in text.split(",") if part] if many else [text]
        try:
            values = [_one(convert, choices, part) for part in parts]
        except (ValueError, argparse.ArgumentTypeError) as error:
            raise argparse.ArgumentTypeError(f"{_message(convert, text, error)} (from {text.variable})") from None
        return values if many else values[0]

    check.__name__ = getattr(convert, "__name__", "value")  # argparse names the type in its errors
    return check


def _one(convert: Callable[[str], Any], choices: Sequence[Any] | None, text: str) -> Any:
    value = convert(text)
    if choices is not None and value not in choices:
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {', '.join(map(repr, choices))})")
    return value


def _message(convert: Callable[[str], Any], text: str, error: Exception) -> str:
    if isinstance(error, argparse.ArgumentTypeError):
        return str(error)
    return f"invalid {getattr(convert, '__name__', 'value')} value: {text!r}"


class _Append(argparse.Action):
    """``action="append"`` whose command-line values replace the variable's instead of adding to them."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        current = getattr(namespace, self.dest, None)
        setattr(namespace, self.dest, [*(current if isinstance(current, list) else []), values])


def _name_list(text: str) -> list[str]:
    """``a,b,c`` as a list of names (empty items dropped)."""
    return [name.strip() for name in text.split(",") if name.strip()]


def add_flag(parser: argparse.ArgumentParser, flag: str, *, type: Callable[[str], Any] = str,
             default: Any = None, help: str, **kwargs: Any) -> None:
    """Add a flag whose default is its PARLEY_* variable's value, then ``default``."""
    variable = _variable(flag)
    from_env = os.environ.get(variable)
    if kwargs.get("action") == "store_true":
        on = from_env is not None and from_env.lower() in ("1", "true", "yes", "on")
        parser.add_argument(flag, default=on, help=help, **kwargs)
        return
    many = kwargs.pop("action", None) == "append"
    if from_env is not None:
        default = _FromEnvironment(from_env, variable)
    parser.add_argument(flag, type=_checked(type, kwargs.get("choices"), many), default=default, help=help,
                        action=_Append if many else "store", **kwargs)


# The commands -----------------------------------------------------------------


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    add_flag(parser, "--data-dir", metavar="FOLDER", type=Path, default=default_data_dir(),
             help="folder for Parley's data: accounts and message history (default: %(default)s)")


def _add_server_flags(parser: argparse.ArgumentParser) -> None:
    add_flag(parser, "--host", metavar="ADDRESS", default="0.0.0.0",
             help="address to listen on for chat clients; 0.0.0.0 is every address of this machine "
                  "(default: %(default)s)")
    add_flag(parser, "--port", metavar="PORT", type=listen_port, default=6666,
             help="TCP port for desktop and original clients; 0 picks a free port (default: %(default)s)")
    _add_data_dir(parser)
    add_flag(parser, "--history", metavar="N", type=positive_int, default=100,
             help="messages shown to a user when they join or refresh (default: %(default)s)")
    add_flag(parser, "--max-frame", metavar="BYTES", type=positive_int, default=8192,
             help="longest message or command a client may send, in bytes (default: %(default)s)")
    add_flag(parser, "--registration", default="open", choices=["open", "closed"],
             help="open: a guest may create an account by setting a password; closed: guests cannot "
                  "create accounts by setting a password (default: %(default)s)")
    add_flag(parser, "--tls-cert", metavar="FILE", type=Path, help="certificate file (PEM): connections are encrypted with TLS")
    add_flag(parser, "--tls-key", metavar="FILE", type=Path,
             help="private key file (PEM) of --tls-cert (default: read from the certificate file)")
    add_flag(parser, "--login-timeout", metavar="SECONDS", type=positive_number, default=30.0,
             help="seconds a new connection has to log in (default: %(default)s)")
    add_flag(parser, "--trusted-proxy", metavar="ADDRESS", type=network, action="append",
             help="address or network of a proxy or separate gateway allowed to pass on its clients' addresses "
                  "(repeatable; default: none; parley serve's own web page needs none)")
    add_flag(parser, "--ipv6-prefix", metavar="BITS", type=ipv6_prefix, default=DEFAULT_IPV6_PREFIX,
             help="per-address limits count IPv6 addresses sharing this many leading bits as one address; "
                  "128: each alone (default: %(default)s, one subscriber's network)")
    add_flag(parser, "--chat-rate", metavar="N", type=non_negative, default=5.0,
             help="messages a second one connection may send, on average; 0: no limit (default: %(default)s)")
    add_flag(parser, "--chat-burst", metavar="N", type=positive_int, default=20,
             help="messages one connection may send at once before --chat-rate applies (default: %(default)s)")
    add_flag(parser, "--request-rate", metavar="BYTES", type=non_negative, default=64 * 1024,
             help="work one connection may cause a second, on average, counted in bytes: what its requests "
                  "make the server send (user lists, history) plus a little for each; 0: no limit "
                  "(default: %(default)s)")
    add_flag(parser, "--request-burst", metavar="BYTES", type=positive_int,
             help="work one connection may cause at once before --request-rate applies (default: 1048576, or one "
                  "whole history replay, --history x (--max-frame + 128), if that is more)")
    add_flag(parser, "--address-request-rate", metavar="BYTES", type=non_negative, default=256 * 1024,
             help="work all connections from one address (an IPv6 address by its --ipv6-prefix) may cause a second, as --request-rate; "
                  "0: no limit (default: %(default)s)")
    add_flag(parser, "--address-request-burst", metavar="BYTES", type=positive_int,
             help="work all connections from one address may cause at once (default: 4194304, or one whole "
                  "history replay if that is more)")
    add_flag(parser, "--max-connections-per-address", metavar="N", type=count, default=32,
             help="connections one address may hold at once; 0: no limit (default: %(default)s)")
    add_flag(parser, "--admin-reserve", metavar="N", type=count, default=8,
             help="chat connections kept for admins when the server is full: past the chat port's share "
                  "of the file descriptor limit, only an admin may log in (default: %(default)s)")
    add_flag(parser, "--fsync", default="on", choices=["on", "off"],
             help="off: do not wait for the disk at each save, for throwaway test data only; a crash may "
                  "then lose messages people saw (default: %(default)s)")
    add_flag(parser, "--max-outbuf", metavar="BYTES", type=positive_int, default=2 * 1024 * 1024,
             help="bytes waiting to be sent to one slow client before it is disconnected (default: %(default)s)")
    add_flag(parser, "--drain-timeout", metavar="SECONDS", type=positive_number, default=60.0,
             help="seconds a client may take to read each part of the past messages sent to it before it is "
                  "disconnected (default: %(default)s)")
    add_flag(parser, "--resume-grace", metavar="SECONDS", type=non_negative, default=30.0,
             help="seconds a user whose page or client dropped stays online, so that a reload resumes without "
                  "anyone seeing it leave and join; 0: none (default: %(default)s)")
    add_flag(parser, "--session-days", metavar="DAYS", type=positive_number, default=30.0,
             help="days a remembered sign-in (a resume token) lasts (default: %(default)s)")
    add_flag(parser, "--rooms-per-address", metavar="N", type=count, default=10,
             help="rooms one address may create an hour; 0: no limit (default: %(default)s)")
    add_flag(parser, "--restrictions-refresh", metavar="SECONDS", type=non_negative, default=5.0,
             help="seconds between reloads of the bans and mutes in force, so that a ban made with "
                  "parley ban add takes effect on a running server; 0: only at start (default: %(default)s)")
    add_flag(parser, "--edit-window", metavar="SECONDS", type=non_negative, default=900.0,
             help="seconds after sending a message during which its author may edit it (default: %(default)s)")
    add_flag(parser, "--max-file-size", metavar="SIZE", type=byte_size, default=10 * 1024**2,
             help="largest file one may share, e.g. 10M (default: 10M)")
    add_flag(parser, "--account-quota", metavar="SIZE", type=byte_size, default=100 * 1024**2,
             help="bytes of files each account may have shared (default: 100M)")
    add_flag(parser, "--guest-quota", metavar="SIZE", type=byte_size, default=20 * 1024**2,
             help="bytes of files each guest may have shared (default: 20M)")
    add_flag(parser, "--files-total", metavar="SIZE", type=byte_size, default=2 * 1024**3,
             help="bytes of files the server keeps in all, each stored once (default: 2G)")
    add_flag(parser, "--no-files", action="store_true",
             help="switch file sharing off")
    add_flag(parser, "--files-dir", metavar="FOLDER", type=Path,
             help="folder for shared files (default: files/ in --data-dir); several nodes give one shared folder")
    add_flag(parser, "--database", metavar="URL",
             help="sqlite: the data folder's own database (the default); postgresql://USER@HOST:PORT/DB: a "
                  "PostgreSQL database, which several nodes can share")
    add_flag(parser, "--redis", metavar="URL",
             help="redis://HOST:PORT/0: run as one of several nodes, which hear of each other's messages "
                  "through this Redis (needs a PostgreSQL --database)")
    add_flag(parser, "--node-name", metavar="NAME", default="",
             help="this node's name among several (default: HOSTNAME-PID)")
    add_flag(parser, "--node-timeout", metavar="SECONDS", type=positive_number, default=15.0,
             help="seconds a node may go without a heartbeat before its users leave every other node's lists "
                  "(default: %(default)s)")
    add_flag(parser, "--public-url", metavar="URL",
             help="where browsers reach the page, e.g. https://chat.example.org/ : the links to shared files "
                  "in the lines of clients without file support, and where the desktop client uploads "
                  "(default for parley serve: the first address it prints)")
    add_flag(parser, "--reserved-nicknames", metavar="NAMES", type=_name_list,
             help="comma-separated nicknames no guest may take or rename to, nor one that looks like them "
                  "(accounts already so named still log in); empty: none (default: admin, administrator, root, "
                  "moderator, mod, operator, sysop, system, server, parley, support, staff, owner, help)")
    _add_lan_flags(parser)
    _add_password_flags(parser)
    _add_log_flags(parser)


def server_name(text: str) -> str:
    """A server's name on the LAN (``--name``). Raises ArgumentTypeError."""
    error = server_name_error(text)
    if error:
        raise argparse.ArgumentTypeError(f"{error}: {text!r}")
    return text


def _add_lan_flags(parser: argparse.ArgumentParser) -> None:
    """How the server announces itself on the LAN (mDNS/DNS-SD)."""
    add_flag(parser, "--name", metavar="NAME", type=server_name,
             help="this server's name on the LAN, shown by desktop clients that find it (default: the host "
                  "name's first part)")
    add_flag(parser, "--no-announce", action="store_true",
             help="do not announce this server on the LAN with mDNS (it is never announced when listening "
                  "only on loopback)")


def _add_password_flags(parser: argparse.ArgumentParser) -> None:
    """Limits on password guessing, hashing and account creation (RELIABILITY.md)."""
    add_flag(parser, "--login-failures-per-address", metavar="N", type=count, default=20,
             help="wrong passwords a minute from one address (an IPv6 address by its --ipv6-prefix) before it may "
                  "try no account; 0: no limit "
                  "(default: %(default)s)")
    add_flag(parser, "--login-failures-per-nickname", metavar="N", type=count, default=10,
             help="wrong passwords a minute from one address on one account before it may not try that "
                  "account; 0: no limit (default: %(default)s)")
    add_flag(parser, "--login-failures-per-account", metavar="N", type=count, default=10,
             help="wrong passwords a minute on one account, from anywhere, after which only addresses "
                  "that have not failed may try it; 0: no limit (default: %(default)s)")
    add_flag(parser, "--hash-threads", metavar="N", type=count, default=0,
             help="threads hashing passwords; 0: half the cores, at least one (default: %(default)s)")
    add_flag(parser, "--max-hashing-per-address", metavar="N", type=count, default=2,
             help="password changes and registrations one address may have hashing at once; 0: no limit "
                  "(default: %(default)s)")
    add_flag(parser, "--accounts-per-address", metavar="N", type=count, default=3,
             help="accounts guests of one address may create in an hour by setting a password; 0: no limit "
                  "(default: %(default)s)")


def _add_log_flags(parser: argparse.ArgumentParser) -> None:
    add_flag(parser, "--log-level", metavar="LEVEL", type=str.upper, default="INFO", choices=LOG_LEVELS,
             help="how much to log on standard error: DEBUG, INFO, WARNING or ERROR (default: %(default)s)")
    add_flag(parser, "--loop", default="auto", choices=list(CHOICES),
             help="event loop: uvloop (faster; installed with Parley where it builds), asyncio (Python's "
                  "own), or auto: uvloop when installed (default: %(default)s)")


def _add_web_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of the web gateway (``parley serve`` and ``parley gateway``)."""
    add_flag(parser, "--http-host", metavar="ADDRESS", default="0.0.0.0",
             help="address the web page listens on; 0.0.0.0 is every address of this machine "
                  "(default: %(default)s)")
    add_flag(parser, "--http-port", metavar="PORT", type=listen_port, default=8080,
             help="port of the web page; 0 picks a free port (default: %(default)s)")
    add_flag(parser, "--base-path", metavar="PATH", default="/",
             help="URL prefix of the page, e.g. /chat serves it at /chat/ (default: %(default)s)")
    add_flag(parser, "--allowed-origin", metavar="ORIGIN", action="append",
             help="another website whose pages may connect to this chat, e.g. https://example.org (repeatable)")
    add_flag(parser, "--ping-interval", metavar="SECONDS", type=non_negative, default=25.0,
             help="seconds between pings to each browser, so proxies keep quiet chats open; 0: none "
                  "(default: %(default)s)")
    add_flag(parser, "--http-header-timeout", metavar="SECONDS", type=positive_number, default=10.0,
             help="seconds a new web connection has to send its request's headers (default: %(default)s)")
    add_flag(parser, "--http-keepalive-timeout", metavar="SECONDS", type=positive_number, default=30.0,
             help="seconds an idle web connection is kept open between requests (default: %(default)s)")
    add_flag(parser, "--max-web-connections-per-address", metavar="N", type=count, default=64,
             help="web connections (page requests and WebSockets) one address may hold at once; "
                  "0: no limit (default: %(default)s)")
    add_flag(parser, "--upload-stall-timeout", metavar="SECONDS", type=positive_number, default=30.0,
             help="seconds a file upload may send nothing before it is refused and its part removed "
                  "(default: %(default)s)")
    add_flag(parser, "--upload-rate", metavar="SIZE", type=byte_size, default=UPLOAD_RATE,
             help="bytes a second all file uploads together may send, e.g. 40M, so that they leave the chat "
                  "its share of the machine; 0: no limit (default: 40M)")
    add_flag(parser, "--max-image-pixels", metavar="N", type=positive_int, default=50_000_000,
             help="an uploaded image with more pixels gets no thumbnail and is never shown inline: "
                  "a decompression bomb (default: %(default)s)")
    add_flag(parser, "--no-qr", action="store_true",
             help="print the page's addresses without a QR code under each")
    add_flag(parser, "--max-web-connections", metavar="N", type=count, default=0,
             help="web connections the page may hold at once; 0: what the process's file descriptor "
                  "limit allows, less a margin (in parley serve half of it: the rest is the chat port's) "
                  "(default: %(default)s)")


def _add_standalone_gateway_flags(parser: argparse.ArgumentParser) -> None:
    add_flag(parser, "--upstream", metavar="HOST:PORT", type=upstream, default=("127.0.0.1", 6666),
             help="the chat server browsers are connected to, HOST:PORT (default: 127.0.0.1:6666)")
    add_flag(parser, "--upstream-tls", action="store_true", help="the chat server uses TLS")
    add_flag(parser, "--upstream-ca-file", metavar="FILE", type=Path,
             help="certificate to trust for the chat server's TLS, e.g. its self-signed one (implies --upstream-tls)")
    add_flag(parser, "--data", metavar="FOLDER", type=Path,
             help="the chat server's data folder, shared with it: the gateway keeps and serves its files/ "
                  "(default: none, file sharing is off)")
    _add_web_flags(parser)
    add_flag(parser, "--trusted-proxy", metavar="ADDRESS", type=network, action="append",
             help="address or network of a reverse proxy whose X-Forwarded-For and Forwarded headers are "
                  "believed, e.g. 127.0.0.1 behind nginx or Caddy on this machine (repeatable; default: none)")
    add_flag(parser, "--ipv6-prefix", metavar="BITS", type=ipv6_prefix, default=DEFAULT_IPV6_PREFIX,
             help="the per-address cap counts IPv6 addresses sharing this many leading bits as one address; "
                  "128: each alone (default: %(default)s, one subscriber's network)")
    add_flag(parser, "--max-frame", metavar="BYTES", type=positive_int, default=8192,
             help="longest message a browser may send, in bytes (default: %(default)s)")
    add_flag(parser, "--tls-cert", metavar="FILE", type=Path, help="certificate file (PEM): the page is served over HTTPS")
    add_flag(parser, "--tls-key", metavar="FILE", type=Path,
             help="private key file (PEM) of --tls-cert (default: read from the certificate file)")
    _add_log_flags(parser)


def _add_user_commands(commands: Any) -> None:
    user = commands.add_parser("user", help="manage accounts", description="Manage accounts.")
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_commands.add_parser("add", help="create an account (its password is asked for)",
                                   description="Create an account; its password is asked for.")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="make it an admin, who may kick (default: a member)")
    passwd = user_commands.add_parser("passwd", help="change an account's password",
                                      description="Change an account's password; the new one is asked for.")
    passwd.add_argument("name")
    remove = user_commands.add_parser("remove", help="delete an account", description="Delete an account.")
    remove.add_argument("name")
    listing = user_commands.add_parser("list", help="list accounts and their roles",
                                       description="List accounts and their roles.")
    sessions = user_commands.add_parser(
        "sessions", help="list an account's remembered logins",
        description="List an account's remembered logins (\"remember me\"): id, created, last used, expires, address.")
    sessions.add_argument("name")
    revoke = user_commands.add_parser(
        "revoke", help="end remembered logins of an account",
        description="End one remembered login of an account (its id from 'parley user sessions'), or all of them."
                    " Its browser or desktop must log in again with the password.")
    revoke.add_argument("name")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", type=int, help="the session's id, from 'parley user sessions'")
    which.add_argument("--all", action="store_true", help="every remembered login of the account")
    for sub in (add, passwd, remove, listing, sessions, revoke):
        _add_data_dir(sub)


def _add_db_commands(commands: Any) -> None:
    """``parley db migrate`` and ``parley db copy`` (parley/cli_db.py)."""
    db = commands.add_parser("db", help="create or upgrade a PostgreSQL database, copy a data folder into it",
                             description="Create or upgrade the PostgreSQL database several nodes share, or copy a "
                                         "data folder's SQLite database into it.")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    migrate = db_commands.add_parser("migrate", help="create or upgrade the PostgreSQL schema",
                                     description="Create or upgrade the PostgreSQL schema (parley serve does it too).")
    copy = db_commands.add_parser(
        "copy", help="copy a data folder's database into an empty PostgreSQL database",
        description="Copy a data folder's SQLite database (accounts, messages and files' records, rooms, read "
                    "markers, sessions, bans, audit log, reports) into an empty PostgreSQL database, then compare "
                    "the rows of each table; exit status 1 if they differ or the target was not empty.")
    for sub in (migrate, copy):
        add_flag(sub, "--database", metavar="URL", help="the PostgreSQL database: postgresql://USER@HOST:PORT/DB")
    _add_data_dir(copy)
    copy.add_argument("--data", dest="data_dir", type=Path, help=argparse.SUPPRESS)  # as the issue spells it


def _add_moderation_commands(commands: Any) -> None:
    """``parley ban ...`` and ``parley audit``; their values are checked in parley/cli_moderation.py."""
    ban = commands.add_parser("ban", help="list, add and lift bans",
                              description="List, add and lift server-wide bans. A running server applies them "
                                          "within a few seconds.")
    ban_commands = ban.add_subparsers(dest="ban_command", required=True, metavar="ACTION")
    listing = ban_commands.add_parser("list", help="list the bans and mutes in force",
                                      description="List the bans and mutes in force, newest first (times in UTC).")
    add = ban_commands.add_parser(
        "add", help="ban an account or nickname, or an address or network",
        description="Ban an account or a guest's nickname, or an address or network (CIDR), for a while or for good.")
    which = add.add_mutually_exclusive_group(required=True)
    which.add_argument("--user", metavar="NICK", help="the account or the guest's nickname")
    which.add_argument("--address", metavar="ADDR", help="an IPv4 or IPv6 address, or a network such as 198.51.100.0/24")
    add.add_argument("--for", dest="duration", metavar="TIME", default="forever",
                     help="how long: 30m, 2h, 7d, or forever (default: %(default)s)")
    add.add_argument("--reason", default="", help="why (shown to the banned user; at most 300 characters)")
    lift = ban_commands.add_parser("lift", help="lift a ban or a mute",
                                   description="Lift a ban or a mute (its id from 'parley ban list').")
    lift.add_argument("id", type=int, help="the ban's id, from 'parley ban list'")
    audit = commands.add_parser("audit", help="show the moderation log",
                                description="Show the moderation log (who did what, to whom, when, why), "
                                            "newest first, times in UTC.")
    audit.add_argument("--limit", metavar="N", type=positive_int, default=100,
                       help="show the newest N entries (default: %(default)s)")
    for sub in (listing, add, lift, audit):
        _add_data_dir(sub)


def build_parser() -> argparse.ArgumentParser:
    """The ``parley`` command's parser (``parley desktop`` has its own, in desktop/cli.py)."""
    parser = Parser(prog="parley", description="Parley chat: run the chat server and its web page, manage accounts.",
                    epilog="Run 'parley COMMAND --help' for a command's flags.")
    parser.add_argument("--version", action="version", version=f"parley {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=SubcommandParser)
    serve = commands.add_parser("serve", help="run Parley: the chat server and its web page (start here)",
                                description="Run the chat server and its web page in one process.",
                                epilog=ENVIRONMENT)
    _add_server_flags(serve)
    _add_web_flags(serve)
    server = commands.add_parser("server", help="run the chat server alone, without the web page",
                                 description="Run the chat server alone.", epilog=ENVIRONMENT)
    _add_server_flags(server)
    gateway = commands.add_parser("gateway", help="run the web page alone, in front of a chat server",
                                  description="Run the web page alone, in front of a chat server.",
                                  epilog=ENVIRONMENT)
    _add_standalone_gateway_flags(gateway)
    commands.add_parser("desktop", help="open the desktop client (see parley desktop --help)", add_help=False)
    _add_user_commands(commands)
    _add_moderation_commands(commands)
    _add_db_commands(commands)
    return parser
