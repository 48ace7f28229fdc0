"""Server settings, with the defaults a new user gets."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from parley.net.budget import ConnectionBudget
from parley.net.groups import DEFAULT_IPV6_PREFIX
from parley.net.proxy import Network
from parley.paths import default_data_dir
from parley.protocol.names import RESERVED_NICKNAMES


@dataclass
class ServerConfig:
    host: str = "0.0.0.0"
    port: int = 6666
    data_dir: Path = field(default_factory=default_data_dir)
    history: int = 100  # messages replayed by REF
    max_frame: int = 8192  # bytes, terminator excluded
    registration: str = "open"  # or "closed": guests cannot register with UPDATE password=
    tls_cert: Path | None = None
    tls_key: Path | None = None
    login_timeout: float = 30.0  # seconds a connection may take to log in
    legacy_grace: float = 0.15  # seconds to wait after an unterminated first CON
    legacy_pace: float = 0.05  # seconds between frames sent to a legacy client
    max_outbuf: int = 2 * 1024 * 1024  # unsent bytes allowed per connection
    drain_timeout: float = 60.0  # seconds a client may take to read a part of a REF before it is cut off
    min_password: int = 8  # characters (NIST SP 800-63B's minimum)
    edit_window: float = 900.0  # seconds after sending during which its author may edit a message
    # Nicknames nobody may take as a guest or rename to (nor a look-alike); accounts already named so still log in.
    reserved_nicknames: list[str] = field(default_factory=lambda: list(RESERVED_NICKNAMES))
    # Shared files (UPLOAD): the bytes in data_dir/files/, their metadata in the database.
    files_enabled: bool = True
    max_file_size: int = 10 * 1024 * 1024  # bytes of one file
    account_quota: int = 100 * 1024 * 1024  # bytes of files an account may have shared
    guest_quota: int = 20 * 1024 * 1024  # bytes of files a guest may have shared
    files_total: int = 2 * 1024 * 1024 * 1024  # bytes of files the server keeps (each blob once)
    # Where browsers reach the gateway ("http://192.168.1.20:8080/"), for file links in the original client's
    # lines and the desktop's uploads; empty: not known (the page needs none).
    files_url: str = ""
    files_dir: Path | None = None  # where the shared files live (None: data_dir/files); one folder for every node
    # Several nodes: the store in PostgreSQL (None: SQLite in data_dir), the bus in Redis (None: one process).
    database: str | None = None
    redis: str | None = None
    node_name: str = ""  # this node's name in the cluster ("": <hostname>-<pid>)
    node_timeout: float = 15.0  # seconds without a heartbeat before a node's users leave everywhere
    catch_up: float = 2.0  # seconds between polls of the database for messages the bus did not bring
    clustered: bool = False  # one of several nodes: resume tokens and per-address counts are shared
    restrictions_refresh: float = 5.0  # seconds between reloads of the bans and mutes in force (the command line's)
    resume_grace: float = 30.0  # seconds a user whose connection dropped stays online, for its page to resume
    session_days: float = 30.0  # days a remembered resume token (CON remember=1) lasts
    rooms_per_address: int = 10  # rooms created an hour, per address
    user_list_delay: float = 0.05  # seconds: user-list changes within it share one USER frame
    # Peers whose PROXY header is believed: none by default (parley serve's gateway uses in-process pipes).
    trusted_proxies: list[Network] = field(default_factory=list)
    ipv6_prefix: int = DEFAULT_IPV6_PREFIX  # per-address limits count an IPv6 address by this prefix
    durable: bool = True  # fsync every commit (off only for throwaway benchmarks)
    # Hostile conditions (RELIABILITY.md). 0 switches a limit off.
    chat_rate: float = 5.0  # CHAT frames a second, sustained, per connection
    chat_burst: int = 20  # CHAT frames allowed at once
    flood_strikes: int = 10  # refused frames (refilling at 1/s) before a flooder is cut off
    # Work a connection, and all connections of one address, may cause: bytes a
    # second and at once (core/admission.py). A join's history and user list fit.
    request_rate: float = 64 * 1024
    request_burst: int | None = None  # None: 1 MiB, or one whole history replay if that is more
    address_request_rate: float = 256 * 1024
    address_request_burst: int | None = None  # None: 4 MiB, or one whole history replay if that is more
    max_connections_per_address: int = 32
    admin_reserve: int = 8  # connections past the chat port's share on which only an admin may log in
    # The chat port's share of the process's connections (None: planned from the descriptor limit at start).
    budget: ConnectionBudget | None = None
    # Password guessing (server/limits.py LoginGuard): wrong passwords a minute,
    login_failures_per_address: int = 20  # from one address, on any accounts, before it is refused on all;
    login_failures_per_nickname: int = 10  # from one address on one account, before it is refused on that one;
    login_failures_per_account: int = 10  # on one account from anywhere: then addresses that failed are refused
    hash_threads: int = 0  # threads hashing passwords; 0: half the cores, at least one
    max_hashing_per_address: int = 2  # password changes and registrations hashing at once, per address
    accounts_per_address: int = 3  # accounts created by guests' UPDATE password= an hour, per address
    frame_timeout: float = 60.0  # seconds a started frame may take to end
    keepalive_idle: int = 60  # TCP keepalive: a silent peer is probed after this many seconds,
    keepalive_interval: int = 15  # then every this many,
    keepalive_count: int = 4  # and dropped after this many unanswered probes

    @property
    def work_bursts(self) -> tuple[int, int]:
        """The work budget's bursts (per connection, per address). Unless set, each is at least
        one whole history replay, so that the REF a client sends at each join is paid for at once."""
        replay = self.history * (self.max_frame + 128)
        own = self.request_burst if self.request_burst is not None else max(1024 * 1024, replay)
        shared = self.address_request_burst if self.address_request_burst is not None else max(4 * 1024 * 1024, replay)
        return own, shared
