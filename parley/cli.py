"""The parley command: run the chat server and the web gateway, manage accounts and bans.

Its arguments are in flags.py. A failure a user can cause (a wrong flag, a
port in use, an unusable folder or certificate) is told in one line on
standard error, with exit status 2 for a usage error and 1 for the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import logging.handlers
import signal
import socket
import sys
import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Coroutine, Sequence
from urllib.parse import urlsplit

from .addresses import connect_hints
from .flags import build_parser
from .logsafe import SafeFormatter
from .loops import loop_factory
from .net.dnssd import loopback_only
from .net.proxy import parse_networks
from .paths import files_dir
from .startup import StartupError

# Each command imports what it runs, when it runs: `parley gateway` never loads
# the chat server (nor sqlite3), `parley desktop` never loads either.
if TYPE_CHECKING:
    from gateway.config import GatewayConfig
    from server.app import ChatServer
    from server.config import ServerConfig
    from server.records import Account, Session
    from server.store import Store


log = logging.getLogger("parley")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
Started = Callable[[], None]  # called once a command is listening
Command = Callable[[argparse.Namespace, Started], Coroutine[Any, Any, None]]


def gateway_config(args: argparse.Namespace, upstream: tuple[str, int]) -> "GatewayConfig":
    """The gateway's settings from the parsed flags, for the chat server at ``upstream``."""
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
        http_header_timeout=args.http_header_timeout,
        http_keepalive_timeout=args.http_keepalive_timeout,
        max_connections_per_address=args.max_web_connections_per_address,
        ipv6_prefix=args.ipv6_prefix,
        upload_stall_timeout=args.upload_stall_timeout,
        upload_rate=args.upload_rate,
        max_image_pixels=args.max_image_pixels,
    )
    if args.trusted_proxy:
        config.trusted_proxies = parse_networks(args.trusted_proxy)
    # parley serve's data folder, or parley gateway's --data: files are shared only with one.
    data = getattr(args, "data_dir", None) or getattr(args, "data", None)
    if data is not None and not getattr(args, "no_files", False):
        config.files_root = getattr(args, "files_dir", None) or files_dir(data)
    return config


def server_config(args: argparse.Namespace) -> "ServerConfig":
    """The chat server's settings from the parsed flags."""
    from parley.protocol.names import RESERVED_NICKNAMES
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
        request_rate=args.request_rate,
        request_burst=args.request_burst,
        address_request_rate=args.address_request_rate,
        address_request_burst=args.address_request_burst,
        max_connections_per_address=args.max_connections_per_address,
        admin_reserve=args.admin_reserve,
        max_outbuf=args.max_outbuf,
        drain_timeout=args.drain_timeout,
        resume_grace=args.resume_grace,
        session_days=args.session_days,
        rooms_per_address=args.rooms_per_address,
        edit_window=args.edit_window,
        restrictions_refresh=args.restrictions_refresh,
        reserved_nicknames=(args.reserved_nicknames if args.reserved_nicknames is not None
                            else list(RESERVED_NICKNAMES)),
        login_failures_per_address=args.login_failures_per_address,
        login_failures_per_nickname=args.login_failures_per_nickname,
        login_failures_per_account=args.login_failures_per_account,
        hash_threads=args.hash_threads,
        max_hashing_per_address=args.max_hashing_per_address,
        accounts_per_address=args.accounts_per_address,
        durable=args.fsync == "on",
        ipv6_prefix=args.ipv6_prefix,
        files_enabled=not args.no_files,
        max_file_size=args.max_file_size,
        account_quota=args.account_quota,
        guest_quota=args.guest_quota,
        files_total=args.files_total,
        files_url=_base_url(args.public_url) if args.public_url else "",
        files_dir=args.files_dir,
        database=args.database if args.database not in (None, "", "sqlite") else None,
        redis=args.redis or None,
        node_name=args.node_name,
        node_timeout=args.node_timeout,
    )
    if args.trusted_proxy:
        config.trusted_proxies = parse_networks(args.trusted_proxy)
    return config


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``parley`` command; return its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["desktop"]:
        from desktop.cli import (
            main as desktop_main,  # Tk is loaded only for the desktop
        )

        return desktop_main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command in ("user", "ban", "audit", "db"):
        try:
            if args.command == "db":
                from .cli_db import run_db_command

                return run_db_command(args)
            return run_user_command(args) if args.command == "user" else run_moderation_command(args)
        except StartupError as error:
            print(f"parley: {error}", file=sys.stderr)
            return 1
    commands: dict[str, Command] = {"server": run_server, "serve": run_serve, "gateway": run_gateway}
    return _run(args, commands[args.command])


class _HeldLogs:
    """Log records held back until the command is listening.

    A start that fails then prints only its one-line reason, not the records
    of what started and was stopped again before it.
    """

    def __init__(self, level: str) -> None:
        self._out = logging.StreamHandler()
        self._out.setFormatter(SafeFormatter(LOG_FORMAT))  # user text in logs is escaped
        self._held = logging.handlers.MemoryHandler(
            capacity=100_000, flushLevel=logging.CRITICAL + 1, target=self._out, flushOnClose=False)
        root = logging.getLogger()
        root.setLevel(level)
        root.addHandler(self._held)

    def release(self) -> None:
        """Write the records held so far; later records go straight out."""
        root = logging.getLogger()
        if self._held in root.handlers:
            root.removeHandler(self._held)
            self._held.flush()
            root.addHandler(self._out)

    def drop(self) -> None:
        """Forget the records held so far (the start failed and says why itself)."""
        logging.getLogger().removeHandler(self._held)
        self._held.close()


def _run(args: argparse.Namespace, command: Command) -> int:
    """Run a long-lived command on the chosen event loop until it is stopped; return the exit status."""
    logs = _HeldLogs(args.log_level)
    try:
        factory, name = loop_factory(args.loop)
    except RuntimeError as error:
        logs.drop()
        print(f"parley: {error}", file=sys.stderr)
        return 2

    def started() -> None:
        logs.release()
        log.info("event loop: %s", name)

    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(command(args, started))
    except StartupError as error:
        logs.drop()
        print(f"parley: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # refused by the system in a way not foreseen above
        print(f"parley: cannot start: {error}", file=sys.stderr)
        return 1
    finally:
        logs.release()
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


def _print_gateway_ready(config: "GatewayConfig", port: int, qr: bool = True) -> None:
    """The page's addresses, each LAN one (not loopback: a phone cannot open it) with a QR code under it."""
    scheme = "https://" if config.tls_cert else "http://"
    print(f"Web chat is running (HTTP port {port}). Open in a browser:", flush=True)
    for hint in connect_hints(config.http_host, port, scheme):
        url = f"{hint}{config.base_path}"
        print(f"    {url}", flush=True)
        if qr and not loopback_only(urlsplit(url).hostname or ""):
            from .qrcodes import can_draw_on, terminal_qr

            if not can_draw_on(sys.stdout.encoding):  # e.g. a Windows code page: the addresses alone
                continue

            for line in terminal_qr(url, color=sys.stdout.isatty()):
                print(f"    {line}", flush=True)


@asynccontextmanager
async def _announce(args: argparse.Namespace, tls: bool, chat: tuple[str, int],
                    web: tuple[str, int, str] | None = None) -> AsyncIterator[None]:
    """While the body runs, announce this server on the LAN (the chat port, and the page's if ``web``), in the
    background: a slow LAN never holds up the start, and a failure is one logged line."""
    from .net import dnssd

    if args.no_announce or all(dnssd.loopback_only(host) for host in [chat[0], *([web[0]] if web else [])]):
        if not args.no_announce:
            log.info("not announced on the LAN: listening on loopback only")
        yield
        return
    from .addresses import lan_ipv4_addresses
    from .flags import package_version
    from .net.announce import keep_announced

    name = args.name or dnssd.default_server_name(socket.gethostname())
    version = package_version()

    def services_now() -> list[dnssd.Service]:
        return dnssd.lan_services(name, tls=tls, version=version, lan=lan_ipv4_addresses(), chat=chat, web=web)

    task = asyncio.create_task(keep_announced(services_now))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _base_url(url: str) -> str:
    """``url`` ending with one ``/``, so that ``files/...`` joins it."""
    return url.rstrip("/") + "/"


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


async def run_server(args: argparse.Namespace, started: Started) -> None:
    """The chat server alone."""
    from server.app import ChatServer

    config = server_config(args)
    server = ChatServer(config)
    await server.start()
    try:
        started()
        _print_server_ready(config)(server)
        async with _announce(args, config.tls_cert is not None, (config.host, server.port)):
            await _until_stopped()
    finally:
        await server.close()


async def run_serve(args: argparse.Namespace, started: Started) -> None:
    """The chat server and the web gateway in one process and one event loop."""
    from gateway.app import start_gateway
    from server.app import ChatServer

    from .net.budget import descriptor_limit, plan_budget

    server_settings = server_config(args)
    # One budget for both ports: the web port cannot take the chat port's share.
    budget = plan_budget(descriptor_limit(), chat_port=True, web_port=True,
                         max_web_connections=args.max_web_connections, admin_reserve=args.admin_reserve)
    server_settings.budget = budget
    upstream = _local_address(server_settings.host)
    # The gateway's connections are in-process pipes, whose PROXY headers the
    # server believes: the TCP port trusts only --trusted-proxy.
    server = ChatServer(server_settings)
    await server.start()
    try:
        config = gateway_config(args, (upstream, server.port))
        config.budget = budget
        config.upstream_tls = server_settings.tls_cert is not None
        config.upstream_verify = False  # our own server, over this machine's own address
        collector = None
        if server.cluster is not None:
            from server.cluster.metrics import ClusterCollector

            collector = ClusterCollector(server.cluster)
        # Browsers reach this process's server over in-process pipes, not loopback TCP; /healthz
        # also asks it whether PostgreSQL and Redis answer, and /metrics shows its cluster figures.
        runner, port = await start_gateway(config, connect_local=server.connect_local, services=server.health,
                                           collector=collector)
    except BaseException:
        await server.close()
        raise
    if not server_settings.files_url:
        # The first address printed for browsers: where file links point and the desktop client uploads.
        scheme = "https://" if config.tls_cert else "http://"
        hints = connect_hints(config.http_host, port, scheme)
        if hints:
            server_settings.files_url = _base_url(f"{hints[0]}{config.base_path}")
    try:
        started()
        _print_server_ready(server_settings)(server)
        _print_gateway_ready(config, port, qr=not args.no_qr)
        # Inside the server's life: goodbye is said before the server closes.
        async with _announce(args, server_settings.tls_cert is not None, (server_settings.host, server.port),
                             (config.http_host, port, config.base_path)):
            await _until_stopped()
    finally:
        # The server first: its WARN reaches browsers through the gateway.
        await server.close()
        await runner.cleanup()


async def run_gateway(args: argparse.Namespace, started: Started) -> None:
    """The web gateway alone, in front of the chat server at ``--upstream``."""
    from gateway.app import start_gateway

    from .net.budget import descriptor_limit, plan_budget

    config = gateway_config(args, args.upstream)
    config.upstream_tls = args.upstream_tls or args.upstream_ca_file is not None
    config.upstream_ca_file = args.upstream_ca_file
    # Each WebSocket also holds a TCP connection to the chat server.
    config.budget = plan_budget(descriptor_limit(), chat_port=False, web_port=True,
                                max_web_connections=args.max_web_connections, web_cost=2)
    runner, port = await start_gateway(config)
    try:
        started()
        _print_gateway_ready(config, port, qr=not args.no_qr)
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
    from server.datafolder import permission_warnings
    from server.passwords import hash_password
    from server.records import AccountExists
    from server.store import Store, database_path

    # No folder lock: SQLite serialises these writes with a running server's.
    store = Store(database_path(args.data_dir))
    for warning in permission_warnings(store.path):
        print(f"parley: warning: {warning}", file=sys.stderr)
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
            lookalike = store.find_lookalike(args.name)
            if lookalike is not None:
                print(f"parley: {args.name} looks like the account {lookalike}", file=sys.stderr)
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
        elif args.user_command == "sessions":
            return _print_sessions(account.name, store.list_sessions(account.id))
        elif args.user_command == "revoke":
            return _revoke(store, account, args.id)
        return 0
    finally:
        store.close()


def run_moderation_command(args: argparse.Namespace) -> int:
    """``parley ban ...`` and ``parley audit``, on the data folder's database (beside a running server too)."""
    from server.datafolder import permission_warnings
    from server.store import Store, database_path

    from .cli_moderation import run_audit_command, run_ban_command

    store = Store(database_path(args.data_dir))
    for warning in permission_warnings(store.path):
        print(f"parley: warning: {warning}", file=sys.stderr)
    try:
        return run_ban_command(args, store) if args.command == "ban" else run_audit_command(args, store)
    finally:
        store.close()


def _local_time(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000))


def _print_sessions(name: str, sessions: list[Session]) -> int:
    """``parley user sessions NAME``: one row a remembered login, times in this machine's time zone."""
    if not sessions:
        print(f"no sessions for {name}", file=sys.stderr)
        return 0
    rows = [("id", "created", "last used", "expires", "address")]
    rows += [(str(s.id), _local_time(s.created_ms), _local_time(s.last_used_ms), _local_time(s.expires_ms), s.address)
             for s in sessions]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for row in rows:
        print("  ".join([cell.ljust(width) for cell, width in zip(row, widths)] + [row[4]]))
    return 0


def _revoke(store: Store, account: Account, session_id: int | None) -> int:
    """``parley user revoke NAME (ID | --all)``: the token of each such session no longer logs in."""
    if session_id is None:
        count = store.revoke_sessions(account.id)
        print(f"revoked {count} session{'' if count == 1 else 's'} of {account.name}")
        return 0
    if not store.revoke_session(account.id, session_id):
        print(f"parley: {account.name} has no session {session_id}", file=sys.stderr)
        return 1
    print(f"revoked session {session_id} of {account.name}")
    return 0
