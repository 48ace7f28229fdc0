"""`parley ban list|add|lift` and `parley audit`: bans and the moderation log from the command line."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import add_account
from serverproc import REPO
from wire import TIMEOUT

from server.records import Restriction
from server.store import Store, database_path

HOUR_MS = 3_600_000


def parley(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run this tree's ``python -m parley ARGS`` on ``data_dir``."""
    return subprocess.run([sys.executable, "-m", "parley", *args, "--data-dir", str(data_dir)], check=False,
                          cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT * 6, stdin=subprocess.DEVNULL)


def in_force(data_dir: Path) -> list[Restriction]:
    store = Store(database_path(data_dir))
    try:
        return store.active_restrictions(int(time.time() * 1000))
    finally:
        store.close()


def test_ban_add_bans_an_account_a_nickname_and_a_network_and_list_shows_them(data_dir: Path) -> None:
    add_account(data_dir, "Bob", "password1")
    before = int(time.time() * 1000)
    account = parley(data_dir, "ban", "add", "--user", "bob", "--for", "2h", "--reason", "spam, and more spam")
    assert account.returncode == 0, account.stderr
    assert account.stdout.startswith("banned Bob until ") and account.stdout.endswith(" UTC (ban 1)\n")
    guest = parley(data_dir, "ban", "add", "--user", "Guesty")
    network = parley(data_dir, "ban", "add", "--address", "2001:db8:1:2::7/48", "--for", "forever")
    assert (guest.stdout, network.stdout) == ("banned Guesty for good (ban 2)\n",
                                              "banned 2001:db8:1::/48 for good (ban 3)\n")
    network_ban, guest_ban, account_ban = in_force(data_dir)
    assert account_ban == Restriction(1, "user", "Bob", "bob", "a:1", None, "", "spam, and more spam",
                                      "(command line)", account_ban.created_ms, account_ban.created_ms + 2 * HOUR_MS)
    assert before <= account_ban.created_ms <= int(time.time() * 1000)
    assert (guest_ban.kind, guest_ban.target_key, guest_ban.ident, guest_ban.until_ms) == ("user", "guesty", None, 0)
    assert (network_ban.kind, network_ban.target, network_ban.target_key) == ("address", "2001:db8:1::/48",
                                                                              "2001:db8:1::/48")
    listing = parley(data_dir, "ban", "list")
    lines = listing.stdout.splitlines()
    assert listing.returncode == 0 and lines[0].split() == ["id", "kind", "target", "room", "until", "by", "since",
                                                            "reason"]
    assert [line.split()[:3] for line in lines[1:]] == [["3", "address", "2001:db8:1::/48"], ["2", "user", "Guesty"],
                                                        ["1", "user", "Bob"]]
    assert lines[3].endswith("spam, and more spam") and "(command line)" in lines[3] and "for good" in lines[2]


def test_ban_lift_lifts_once_and_both_are_in_the_audit_log(data_dir: Path) -> None:
    assert parley(data_dir, "ban", "add", "--address", "198.51.100.7", "--reason", "flood").returncode == 0
    lifted = parley(data_dir, "ban", "lift", "1")
    assert (lifted.returncode, lifted.stdout) == (0, "lifted ban 1 (address 198.51.100.7/32)\n")
    assert in_force(data_dir) == []
    again = parley(data_dir, "ban", "lift", "1")
    assert (again.returncode, again.stderr) == (1, "parley: no ban 1 is in force\n")
    log = parley(data_dir, "audit")
    lines = log.stdout.splitlines()
    assert log.returncode == 0 and lines[0].split() == ["time", "(UTC)", "actor", "action", "target", "room", "reason"]
    assert [line.split()[2:6] for line in lines[1:]] == [["(command", "line)", "unban", "198.51.100.7/32"],
                                                         ["(command", "line)", "ban", "198.51.100.7/32"]]
    assert lines[2].endswith("flood")
    newest = parley(data_dir, "audit", "--limit", "1")
    assert len(newest.stdout.splitlines()) == 2 and "unban" in newest.stdout and "--limit 1" in newest.stderr


def test_empty_lists_say_so(data_dir: Path) -> None:
    assert (parley(data_dir, "ban", "list").stderr, parley(data_dir, "audit").stderr) == (
        "no bans in force\n", "the moderation log is empty\n")


@pytest.mark.parametrize(("args", "error"), [
    (["--address", "not-an-address"], "bad address 'not-an-address'"),
    (["--address", "10.0.0.0/7"], "the range 10.0.0.0/7 is too wide (at least /8 for IPv4)"),
    (["--address", "2001:db8::/31"], "the range 2001:db8::/31 is too wide (at least /32 for IPv6)"),
    (["--address", "10.1.2.3", "--for", "3 weeks"], "bad duration '3 weeks'"),
    (["--address", "10.1.2.3", "--for", "3651d"], "bad duration '3651d'"),
    (["--address", "10.1.2.3", "--for", "0m"], "bad duration '0m'"),
    (["--address", "10.1.2.3", "--reason", "x" * 301], "a reason is at most 300 characters"),
    (["--address", "10.1.2.3", "--reason", "two\nlines"], "a reason is one line of text"),
    (["--user", "9lives"], "Username must start with a letter"),
])
def test_a_bad_value_is_one_line_exit_2_and_nothing_is_banned(data_dir: Path, args: list[str], error: str) -> None:
    result = parley(data_dir, "ban", "add", *args)
    assert result.returncode == 2 and result.stderr.startswith(f"parley: {error}") and result.stderr.count("\n") == 1
    assert in_force(data_dir) == [] and "ban" not in parley(data_dir, "audit").stdout


def test_user_or_address_is_required_and_not_both(data_dir: Path) -> None:
    neither = parley(data_dir, "ban", "add", "--reason", "x")
    assert neither.returncode == 2 and "one of the arguments --user --address is required" in neither.stderr
    both = parley(data_dir, "ban", "add", "--user", "Bob", "--address", "10.1.2.3")
    assert both.returncode == 2 and "not allowed with argument" in both.stderr


def test_an_admin_cannot_be_banned(data_dir: Path) -> None:
    add_account(data_dir, "Zoe", "password1", role="admin")
    result = parley(data_dir, "ban", "add", "--user", "zoe")
    assert (result.returncode, result.stderr) == (1, "parley: Zoe is an admin and cannot be banned\n")
    assert in_force(data_dir) == []


def test_a_mute_lifted_from_the_command_line_is_audited_as_unmute(data_dir: Path) -> None:
    store = Store(database_path(data_dir))
    try:
        room = store.create_room("#general", "", False, "a:1", "Ann", 0)
        mute = store.add_restriction("mute", "Bob", "bob", None, room.id, "loud", "Ann", 0, 0)
    finally:
        store.close()
    assert "(mute Bob)" in parley(data_dir, "ban", "lift", str(mute.id)).stdout
    assert parley(data_dir, "audit").stdout.splitlines()[1].split()[4:7] == ["unmute", "Bob", "#general"]
