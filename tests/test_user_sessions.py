"""`parley user sessions` and `parley user revoke`: an admin sees and ends an account's remembered logins."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import add_account
from serverproc import REPO
from wire import TIMEOUT

from server.store import Store, database_path

DAY_MS = 86_400_000
T0 = 1_800_000_000_000  # 2027-01-15 08:00 UTC


def parley(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run this tree's ``python -m parley user ARGS`` on ``data_dir``, in UTC."""
    return subprocess.run([sys.executable, "-m", "parley", "user", *args, "--data-dir", str(data_dir)], check=False,
                          cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT * 6, stdin=subprocess.DEVNULL,
                          env={**os.environ, "TZ": "UTC"})


def remembered(data_dir: Path, name: str, *tokens: tuple[str, str]) -> list[int]:
    """Store remembered sessions for ``name`` as the server does at a login with remember=1: (token hash, address)."""
    store = Store(database_path(data_dir))
    try:
        account = store.get_account(name)
        assert account is not None
        return [store.add_session(account.id, token_hash, T0 + n * DAY_MS, T0 + (n + 30) * DAY_MS, address)
                for n, (token_hash, address) in enumerate(tokens)]
    finally:
        store.close()


def still_valid(data_dir: Path, *token_hashes: str) -> list[str]:
    store = Store(database_path(data_dir))
    try:
        return [h for h in token_hashes if store.find_session(h, T0) is not None]
    finally:
        store.close()


def test_sessions_lists_an_accounts_remembered_logins_with_local_dates(data_dir: Path) -> None:
    add_account(data_dir, "Ann", "ann-secret")
    add_account(data_dir, "Bob", "bob-secret")
    first, second = remembered(data_dir, "Ann", ("h1", "192.0.2.7"), ("h2", "2001:db8::1"))
    remembered(data_dir, "Bob", ("h3", "198.51.100.1"))
    listed = parley(data_dir, "sessions", "ann")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        "id  created           last used         expires           address",
        f"{first}   2027-01-15 08:00  2027-01-15 08:00  2027-02-14 08:00  192.0.2.7",
        f"{second}   2027-01-16 08:00  2027-01-16 08:00  2027-02-15 08:00  2001:db8::1",
    ]
    none = parley(data_dir, "sessions", "nobody")
    assert none.returncode == 1 and none.stderr == "parley: no account named nobody\n"


def test_an_account_without_sessions_says_so(data_dir: Path) -> None:
    add_account(data_dir, "Ann", "ann-secret")
    listed = parley(data_dir, "sessions", "Ann")
    assert (listed.returncode, listed.stdout, listed.stderr) == (0, "", "no sessions for Ann\n")


def test_revoke_ends_one_session_or_all_of_an_accounts_and_no_other(data_dir: Path) -> None:
    add_account(data_dir, "Ann", "ann-secret")
    add_account(data_dir, "Bob", "bob-secret")
    first, _, _ = remembered(data_dir, "Ann", ("h1", "::1"), ("h2", "::1"), ("h3", "::1"))
    (bobs,) = remembered(data_dir, "Bob", ("b1", "::1"))
    one = parley(data_dir, "revoke", "Ann", str(first))
    assert (one.returncode, one.stdout) == (0, f"revoked session {first} of Ann\n"), one.stderr
    assert still_valid(data_dir, "h1", "h2", "h3", "b1") == ["h2", "h3", "b1"]
    not_hers = parley(data_dir, "revoke", "Ann", str(bobs))
    assert (not_hers.returncode, not_hers.stderr) == (1, f"parley: Ann has no session {bobs}\n")
    every = parley(data_dir, "revoke", "ANN", "--all")
    assert (every.returncode, every.stdout) == (0, "revoked 2 sessions of Ann\n"), every.stderr
    assert still_valid(data_dir, "h1", "h2", "h3", "b1") == ["b1"]


def test_revoke_needs_an_id_or_all_but_not_both(data_dir: Path) -> None:
    add_account(data_dir, "Ann", "ann-secret")
    neither = parley(data_dir, "revoke", "Ann")
    assert neither.returncode == 2 and "one of the arguments id --all is required" in neither.stderr
    both = parley(data_dir, "revoke", "Ann", "1", "--all")
    assert both.returncode == 2 and "not allowed with argument id" in both.stderr
