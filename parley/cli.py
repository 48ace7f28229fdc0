"""The ``parley`` command: run the server and the web gateway, manage accounts.

Every server flag can also be set with a ``PARLEY_*`` environment variable
(``--max-frame`` is ``PARLEY_MAX_FRAME``); a flag wins over the variable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import ipaddress
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .addresses import connect_hints
from .loops import CHOICES, loop_factory
from .net.proxy import parse_networks
from .paths import default_data_dir

# Each command imports what it runs, when it runs: `parley gateway` never loads
# the chat server (nor sqlite3), `parley desktop` never loads either.
if TYPE_CHECKING:
    from gateway.config import GatewayConfig
    from server.app import ChatServer
    from server.config import ServerConfig


def _env(flag: str) -> str | None:
    return os.environ.get("PARLEY_" + flag.lstrip("-").replace("-", "_").upper())


def _add(parser: argparse.ArgumentParser, flag: str, *, type: Callable[[str], Any] = str,
         default: Any = None, help: str, **kwargs: Any) -> None:
    """Add a flag whose default comes from its PARLEY_* variable, then ``default``."""
    from_env = _env(flag)
    if kwargs.get("action") == "store_true":
        default = from_env is not None and from_env.lower() in ("1", "true", "yes", "on")
        parser.add_argument(flag, default=default, help=help, **kwargs)
        return
    if from_env is not None and kwargs.get("action") != "append":
        default = type(from_env)
    elif from_env is not None:
        default = [type(v) for v in from_env.split(",") if v]
    parser.add_argument(flag, type=type, default=default, help=help, **kwargs)


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number: {text}")
    return value


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    _add(parser, "--data-dir", type=Path, default=default_data_dir(),
         help="folder holding the SQLite database (default: %(default)s)")


def _add_server_flags(parser: argparse.ArgumentParser) -> None:
    _add(parser, "--host", default="0.0.0.0", help="TCP address to listen on (default: %(default)s)")
    _add(parser, "--port", type=int, default=6666, help="TCP port (default: %(default)s)")
    _add_data_dir(parser)
    _add(parser, "--history", type=_positive_int, default=100,
         help="messages REF replays to a user (default: %(default)s)")
    _add(parser, "--max-frame", type=_positive_int, default=8192,
         help="longest frame accepted, in bytes (default: %(default)s)")
    _add(parser, "--registration", default="open", choices=["open", "closed"],
         help="whether guests may register with UPDATE password= (default: %(default)s)")
    _add(parser, "--tls-cert", type=Path, help="PEM certificate: serve TCP clients over TLS")
    _add(parser, "--tls-key", type=Path, help="PEM private key for --tls-cert")
    _add(parser, "--login-timeout", type=float, default=30.0,
         help="seconds a connection may take to log in (default: %(default)s)")
    _add(parser, "--trusted-proxy", action="append",
         help="address or network allowed to send a PROXY header (repeatable; default: loopback)")
    _add(parser, "--chat-rate", type=float, default=5.0,
         help="CHAT frames a second per connection, sustained; 0 = unlimited (default: %(default)s)")
    _add(parser, "--chat-burst", type=int, default=20,
         help="CHAT frames allowed at once per connection (default: %(default)s)")
    _add(parser, "--max-connections-per-address", type=int, default=32,
         help="simultaneous connections from one address; 0 = unlimited (default: %(default)s)")
    _add(parser, "--fsync", default="on", choices=["on", "off"],
         help="off: skip fsync on commits, for throwaway benchmark data only; a crash may lose "
              "messages clients saw (default: %(default)s)")
    _add(parser, "--max-outbuf", type=_positive_int, default=2 * 1024 * 1024,
         help="unsent bytes allowed per connection before it is cut off (default: %(default)s)")
    _add_log_level(parser)


def _add_log_level(parser: argparse.ArgumentParser) -> None:
    _add(parser, "--log-level", default="INFO", help="DEBUG, INFO, WARNING... (default: %(default)s)")
    _add(parser, "--loop", default="auto", choices=list(CHOICES),
         help="event loop: uvloop when installed (auto), or asyncio's own (default: %(default)s)")


def _upstream(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def _add_gateway_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of the web gateway (``parley serve`` and ``parley gateway``)."""
    _add(parser, "--http-host", default="0.0.0.0", help="HTTP address to listen on (default: %(default)s)")
    _add(parser, "--http-port", type=int, default=8080, help="HTTP port (default: %(default)s)")
    _add(parser, "--base-path", default="/",
         help="URL prefix the page and its WebSocket live under, e.g. /chat (default: %(default)s)")
    _add(parser, "--allowed-origin", action="append",
         help="another origin whose pages may open the chat WebSocket, e.g. https://example.org (repeatable)")
    _add(parser, "--ping-interval", type=float, default=25.0,
         help="seconds between WebSocket pings; 0 = none (default: %(default)s)")


def _add_standalone_gateway_flags(parser: argparse.ArgumentParser) -> None:
    _add(parser, "--upstream", type=_upstream, default=("127.0.0.1", 6666),
         help="the chat server, HOST:PORT (default: 127.0.0.1:6666)")
    _add(parser, "--upstream-tls", action="store_true", help="the chat server speaks TLS")
    _add(parser, "--upstream-ca-file", type=Path,
         help="CA or self-signed certificate to trust for the chat server's TLS")
    _add_gateway_flags(parser)
    _add(parser, "--trusted-proxy", action="append",
         help="proxy address or network whose X-Forwarded-*/Forwarded headers count (repeatable; default: loopback)")
    _add(parser, "--max-frame", type=_positive_int, default=8192,
         help="longest frame a browser may send, in bytes (default: %(default)s)")
    _add(parser, "--tls-cert", type=Path, help="PEM certificate: serve HTTPS")
    _add(parser, "--tls-key", type=Path, help="PEM private key for --tls-cert")
    _add_log_level(parser)


def gateway_config(args: argparse.Namespace, upstream: tuple[str, int]) -> "GatewayConfig":
    from gateway.app import normalize_base_path
    from gateway.config import GatewayConfig

    config = GatewayConfig(
        upstream_host=upstream[0],
        upstream_port=upstream[1],
        http_host=args.http_host,
        http_port=args.http_port,
        base_path=normalize_base_path(args.base_path),
        max_frame=args.max_frame,
        ping_interval=args.ping_interval,
        allowed_origins=list(args.allowed_origin or []),
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )
    if args.trusted_proxy:
        config.trusted_proxies = parse_networks(args.trusted_proxy)
    return config


def server_config(args: argparse.Namespace) -> "ServerConfig":
    from server.config import ServerConfig

    config = ServerConfig(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        history=args.history,
        max_frame=args.max_frame,
        registration=args.registration,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        login_timeout=args.login_timeout,
        chat_rate=args.chat_rate,
        chat_burst=args.chat_burst,
        max_connections_per_address=args.max_connections_per_address,
        max_outbuf=args.max_outbuf,
        durable=args.fsync == "on",
    )
    if args.trusted_proxy:
        config.trusted_proxies = parse_networks(args.trusted_proxy)
    return config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parley", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    server = commands.add_parser("server", help="run the TCP chat server alone")
    _add_server_flags(server)
    serve_cmd = commands.add_parser("serve", help="run Parley: the chat server and the web gateway (what a new user runs)")
    _add_server_flags(serve_cmd)
    _add_gateway_flags(serve_cmd)
    gateway = commands.add_parser("gateway", help="run the web gateway alone, in front of a chat server")
    _add_standalone_gateway_flags(gateway)
    commands.add_parser("desktop", help="open the desktop client ([HOST[:PORT]], see parley desktop --help)",
                        add_help=False)

    user = commands.add_parser("user", help="manage accounts")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser("add", help="create an account (password asked for)")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="make it an admin (default: member)")
    passwd = user_commands.add_parser("passwd", help="change an account's password")
    passwd.add_argument("name")
    remove = user_commands.add_parser("remove", help="delete an account")
    remove.add_argument("name")
    listing = user_commands.add_parser("list", help="list accounts and roles")
    for sub in (add, passwd, remove, listing):
        _add_data_dir(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["desktop"]:
        from desktop.cli import (
            main as desktop_main,  # Tk is loaded only for the desktop
        )

        return desktop_main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "server":
        from server.app import serve

        config = server_config(args)
        return _run(args, lambda: serve(config, _print_server_ready(config)))
    if args.command == "serve":
        return _run(args, lambda: run_serve(args))
    if args.command == "gateway":
        return _run(args, lambda: run_gateway(gateway_config(args, args.upstream), args))
    return run_user_command(args)


def _run(args: argparse.Namespace, main_coroutine: Callable[[], Any]) -> int:
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        factory, name = loop_factory(args.loop)
    except RuntimeError as error:
        print(f"parley: {error}", file=sys.stderr)
        return 2
    logging.getLogger("parley").info("event loop: %s", name)
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(main_coroutine())
    except OSError as error:
        print(f"parley: cannot start: {error}", file=sys.stderr)
        return 1
    return 0


def _print_server_ready(config: "ServerConfig") -> Callable[["ChatServer"], None]:
    from server.store import database_path

    def ready(server: "ChatServer") -> None:
        scheme = "TLS " if config.tls_cert else ""
        print(f"Parley chat server is running ({scheme}TCP port {server.port}).", flush=True)
        print("Desktop and original clients connect to:", flush=True)
        for hint in connect_hints(config.host, server.port):
            print(f"    {hint}", flush=True)
        print(f"Data: {database_path(config.data_dir)}. Press Ctrl+C to stop.", flush=True)

    return ready


def _print_gateway_ready(config: "GatewayConfig", port: int) -> None:
    scheme = "https://" if config.tls_cert else "http://"
    print(f"Web chat is running (HTTP port {port}). Open in a browser:", flush=True)
    for hint in connect_hints(config.http_host, port, scheme):
        print(f"    {hint}{config.base_path}", flush=True)


async def _until_stopped() -> None:
    """Wait for SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def _local_address(host: str) -> str:
    """Where a process on this machine reaches a server listening on ``host``."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


async def run_serve(args: argparse.Namespace) -> None:
    """The chat server and the web gateway in one process and one event loop."""
    from gateway.app import start_gateway
    from server.app import ChatServer

    server_settings = server_config(args)
    upstream = _local_address(server_settings.host)
    with contextlib.suppress(ValueError):
        # The gateway's own connections carry the browsers' addresses in PROXY
        # headers, whatever else is trusted.
        server_settings.trusted_proxies.append(ipaddress.ip_network(upstream))
    server = ChatServer(server_settings)
    await server.start()
    try:
        config = gateway_config(args, (upstream, server.port))
        config.upstream_tls = server_settings.tls_cert is not None
        config.upstream_verify = False  # our own server, over this machine's own address
        # Browsers reach this process's server over in-process pipes, not loopback TCP.
        runner, port = await start_gateway(config, connect_local=server.connect_local)
    except BaseException:
        await server.close()
        raise
    try:
        _print_server_ready(server_settings)(server)
        _print_gateway_ready(config, port)
        await _until_stopped()
    finally:
        # The server first: its WARN reaches browsers through the gateway.
        await server.close()
        await runner.cleanup()


async def run_gateway(config: "GatewayConfig", args: argparse.Namespace) -> None:
    from gateway.app import start_gateway

    config.upstream_tls = args.upstream_tls or args.upstream_ca_file is not None
    config.upstream_ca_file = args.upstream_ca_file
    runner, port = await start_gateway(config)
    try:
        _print_gateway_ready(config, port)
        print(f"Chat server: {config.upstream_host}:{config.upstream_port}. Press Ctrl+C to stop.", flush=True)
        await _until_stopped()
    finally:
        await runner.cleanup()


def _read_password(prompt: str) -> str:
    """Read a password from the terminal (asked twice) or one line of stdin."""
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("Repeat it: ") != first:
            raise SystemExit("parley: the passwords do not match")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _new_password(name: str) -> str:
    from server.config import ServerConfig

    password = _read_password(f"Password for {name}: ")
    minimum = ServerConfig.min_password
    if len(password) < minimum:
        raise SystemExit(f"parley: a password needs at least {minimum} characters")
    return password


def run_user_command(args: argparse.Namespace) -> int:
    from parley.protocol import names
    from server.passwords import hash_password
    from server.records import AccountExists
    from server.store import Store, database_path

    store = Store(database_path(args.data_dir))
    try:
        if args.user_command == "list":
            accounts = store.list_accounts()
            for listed in accounts:
                print(f"{listed.name}\t{listed.role}")
            if not accounts:
                print("no accounts", file=sys.stderr)
            return 0
        if args.user_command == "add":
            error = names.nickname_error(args.name)
            if error:
                print(f"parley: {error.removeprefix('Error: ')}", file=sys.stderr)
                return 2
            if store.get_account(args.name):
                print(f"parley: an account named {args.name} exists", file=sys.stderr)
                return 1
            role = "admin" if args.admin else "member"
            try:
                store.add_account(args.name, role, hash_password(_new_password(args.name)))
            except AccountExists:
                print(f"parley: an account named {args.name} exists", file=sys.stderr)
                return 1
            print(f"added {args.name} ({role})")
            return 0
        account = store.get_account(args.name)
        if account is None:
            print(f"parley: no account named {args.name}", file=sys.stderr)
            return 1
        if args.user_command == "passwd":
            store.set_password(account.id, hash_password(_new_password(account.name)))
            print(f"password changed for {account.name}")
        elif args.user_command == "remove":
            store.remove_account(account.name)
            print(f"removed {account.name}")
        return 0
    finally:
        store.close()
