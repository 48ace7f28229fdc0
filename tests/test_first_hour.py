"""The first hour with Parley, as a new user meets it: wrong flags, busy ports, unusable files.

Each mistake a user can make at start-up gets one line on standard error
naming the flag, the port, the folder or the file, and a non-zero exit
status: 2 for a usage error, 1 for the rest. Never a traceback. The installed
`parley` command runs in a child process, on real ports and real files.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import tomllib
from pathlib import Path
from typing import Iterator

import pytest

from certs import self_signed
from serverproc import PARLEY, REPO
from server.store import SCHEMA_VERSION, database_path

TIMEOUT = 30  # seconds: a parley that should refuse to start but listens instead fails here


def parley(*args: str, env: dict[str, str] | None = None, wrap: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run the installed `parley` with ``args`` (stdin closed) and wait for it to exit."""
    return subprocess.run([*wrap, PARLEY, *args], capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})


def on_loopback(command: str, data_dir: Path) -> list[str]:
    """Flags that start ``command`` (server, serve, gateway) on free loopback ports, data in ``data_dir``."""
    tcp = ["--host", "127.0.0.1", "--port", "0", "--data-dir", str(data_dir)]
    http = ["--http-host", "127.0.0.1", "--http-port", "0"]
    return {"server": tcp, "serve": tcp + http, "gateway": http}[command]


def one_line_error(result: subprocess.CompletedProcess[str], status: int, *fragments: str) -> str:
    """Check that ``result`` failed with ``status`` and one line on stderr holding ``fragments``; return it."""
    lines = result.stderr.splitlines()
    assert result.returncode == status and len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# Ports ------------------------------------------------------------------------


@pytest.mark.parametrize("command, args, flag, value", [
    ("serve", ["--port", "99999"], "--port", "99999"),  # used to listen on 34463 (99999 mod 65536)
    ("serve", ["--port", "65536"], "--port", "65536"),  # used to take a random port
    ("serve", ["--port", "0", "--http-port", "70000"], "--http-port", "70000"),  # used to listen on 4464
    ("serve", ["--http-port", "70000", "--loop", "asyncio"], "--http-port", "70000"),  # an OverflowError traceback
    ("serve", ["--port", "-5"], "--port", "-5"),  # "Servname not supported for ai_socktype"
    ("server", ["--port", "six"], "--port", "'six'"),
    ("gateway", ["--http-port", "65536"], "--http-port", "65536"),
    ("gateway", ["--upstream", "127.0.0.1:70000"], "--upstream", "70000"),
    ("gateway", ["--upstream", "127.0.0.1:0"], "--upstream", "0"),  # a server to connect to has a port
])
def test_a_port_out_of_range_is_refused_in_one_line(tmp_path: Path, command: str, args: list[str],
                                                    flag: str, value: str) -> None:
    result = parley(command, *on_loopback(command, tmp_path), *args)
    one_line_error(result, 2, f"parley {command}: error: argument {flag}: {value} is not a port number (")


def test_a_port_from_the_environment_is_checked_as_the_flag_is(tmp_path: Path) -> None:
    """PARLEY_PORT=99999 used to be taken as port 34463."""
    result = parley("serve", "--data-dir", str(tmp_path), env={"PARLEY_PORT": "99999"})
    one_line_error(result, 2, "parley serve: error: argument --port: 99999 is not a port number",
                   "from PARLEY_PORT")


@pytest.mark.parametrize("variable, value, expected", [
    ("PARLEY_HISTORY", "lots", "argument --history: 'lots' is not a whole number (from PARLEY_HISTORY)"),
    ("PARLEY_REGISTRATION", "maybe", "argument --registration: invalid choice: 'maybe'"),
    ("PARLEY_TRUSTED_PROXY", "10.0.0.1,proxy", "argument --trusted-proxy: 'proxy' is not an IP address"),
])
def test_any_wrong_variable_is_one_line_naming_it(tmp_path: Path, variable: str, value: str, expected: str) -> None:
    """These used to be a ValueError traceback, or (registration) taken without a check."""
    result = parley("server", "--data-dir", str(tmp_path), env={variable: value})
    one_line_error(result, 2, "parley server: error: " + expected, variable)


# Usage and help -----------------------------------------------------------------


def test_an_unknown_flag_of_a_subcommand_is_reported_by_that_subcommand() -> None:
    """`parley serve --prot 1234` used to print the top-level usage and "parley: error"."""
    result = parley("serve", "--prot", "1234")
    line = one_line_error(result, 2, "parley serve: error: unrecognized arguments: --prot 1234")
    assert "parley serve --help" in line
    one_line_error(parley("user", "add", "ann", "--admni"), 2, "parley user add: error: unrecognized arguments: --admni")


def test_parley_version_prints_the_installed_version() -> None:
    result = parley("--version")
    assert result.returncode == 0 and result.stdout == f"parley {importlib.metadata.version('parley')}\n"


def test_the_version_from_a_source_tree_is_pyproject_s(monkeypatch: pytest.MonkeyPatch) -> None:
    from parley import flags

    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    with open(REPO / "pyproject.toml", "rb") as file:
        assert flags.package_version() == tomllib.load(file)["project"]["version"]


def test_help_is_in_plain_words() -> None:
    """Help used to show reST backticks and the protocol's frame names."""
    top = parley("--help").stdout
    assert "``" not in top and "parley COMMAND --help" in top
    serve = parley("serve", "--help").stdout
    words = re.sub(r"--[\w-]+|PARLEY_\w+", "", serve)  # the explanations, without the flags' own names
    for jargon in ("``", "UPDATE", "REF", "CHAT", "frame", "PROXY"):
        assert jargon not in words, jargon
    flat = " ".join(serve.split())
    assert "0 picks a free port" in flat
    assert "guests cannot create accounts by setting a password" in flat
    assert "messages shown to a user when they join or refresh" in flat
    assert "messages a second one connection may send" in flat
    assert "PARLEY_MAX_FRAME" in flat


# Start-up failures ----------------------------------------------------------------


def unprivileged() -> tuple[str, ...]:
    """A prefix that runs a command without root's power to write anywhere.

    The tests run as root, whom permissions do not stop: setpriv (util-linux)
    drops the capabilities that override them. Not root: no prefix needed.
    """
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to test an unwritable folder as root"
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search", "--")


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder that exists and that ``unprivileged()`` commands cannot write in."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    probe = subprocess.run([*unprivileged(), "touch", str(folder / "probe")], capture_output=True)
    assert probe.returncode != 0, "the folder is writable after all: the test would prove nothing"
    yield folder
    folder.chmod(0o755)


@pytest.mark.parametrize("command", [
    ["serve", "--port", "0", "--http-port", "0", "--http-host", "127.0.0.1", "--host", "127.0.0.1"],
    ["server", "--port", "0", "--host", "127.0.0.1"],
    ["user", "add", "ann"],
    ["user", "list"],
])
def test_a_data_folder_that_cannot_be_written_is_named(read_only_folder: Path, command: list[str]) -> None:
    """Used to be a 26-line traceback ending in "unable to open database file", no path."""
    result = parley(*command, "--data-dir", str(read_only_folder), wrap=unprivileged())
    one_line_error(result, 1, f"parley: cannot open the database {database_path(read_only_folder)}: ",
                   f"no permission to write in the folder {read_only_folder}")
    assert not database_path(read_only_folder).exists()


def test_a_data_folder_that_is_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    result = parley("user", "list", "--data-dir", str(tmp_path / "data"))
    one_line_error(result, 1, f"parley: cannot use the data folder {tmp_path / 'data'}: it is not a folder")


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port some other program listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield int(other.getsockname()[1])


@pytest.mark.parametrize("command, flag", [
    ("server", "--port"),
    ("serve", "--port"),
    ("serve", "--http-port"),
    ("gateway", "--http-port"),
])
def test_a_port_in_use_is_named_with_its_address(tmp_path: Path, busy_port: int, command: str, flag: str) -> None:
    """Was "cannot start: [Errno 98] error while attempting to bind on address ..." (uvloop: a traceback)."""
    result = parley(command, *on_loopback(command, tmp_path), flag, str(busy_port))
    one_line_error(result, 1, f"parley: cannot listen on 127.0.0.1 port {busy_port}: the port is in use")


@pytest.mark.parametrize("command", ["serve", "server", "gateway"])
def test_a_certificate_that_cannot_be_read_is_named(tmp_path: Path, command: str) -> None:
    missing = tmp_path / "missing-cert.pem"
    result = parley(command, *on_loopback(command, tmp_path / "data"), "--tls-cert", str(missing))
    one_line_error(result, 1, f"parley: cannot read the TLS certificate {missing}: No such file or directory")


def test_a_certificate_and_key_that_are_not_a_pair_are_named(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not PEM\n")
    other = tmp_path / "other"
    other.mkdir()
    _, other_key = self_signed(other)
    for tls_cert, tls_key, expected in [
        (garbage, key, f"the TLS certificate {garbage} is not a PEM certificate"),
        (cert, garbage, f"the TLS key {garbage} is not a PEM private key"),
        (cert, other_key, f"the TLS key {other_key} is not the key of the certificate {cert}"),
    ]:
        result = parley("server", *on_loopback("server", tmp_path / "data"),
                        "--tls-cert", str(tls_cert), "--tls-key", str(tls_key))
        one_line_error(result, 1, f"parley: {expected}")
    assert not (tmp_path / "data").exists(), "a wrong certificate must stop Parley before the database"


def test_an_unreadable_ca_file_of_the_gateway_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "ca.pem"
    result = parley("gateway", *on_loopback("gateway", tmp_path), "--upstream-ca-file", str(missing))
    one_line_error(result, 1, f"parley: cannot use the CA file {missing}: ")


@pytest.mark.parametrize("command", [["server", "--port", "0"], ["user", "list"]])
def test_a_database_from_a_newer_parley_is_refused_and_left_as_it_was(tmp_path: Path, command: list[str]) -> None:
    """Used to open it and carry on, with a schema it does not know."""
    path = database_path(tmp_path)
    newer = SCHEMA_VERSION + 1
    db = sqlite3.connect(path)
    db.executescript(f"CREATE TABLE from_the_future (x); PRAGMA user_version = {newer};")
    db.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    result = parley(*command, "--data-dir", str(tmp_path))
    one_line_error(result, 1, f"parley: the database {path} is from a newer Parley",
                   f"schema version {newer}; this one knows versions up to {SCHEMA_VERSION}")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    # Nothing but the lock a server takes on its folder (parley.lock, empty of data) is added.
    assert {p.name for p in tmp_path.iterdir()} - {"parley.lock"} == {path.name}


def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    path = database_path(tmp_path)
    path.write_text("my notes\n" * 200)
    result = parley("user", "list", "--data-dir", str(tmp_path))
    one_line_error(result, 1, f"parley: cannot open the database {path}: file is not a database")
