"""Password hashing with Argon2id (argon2-cffi). CPU- and memory-heavy: call off the event loop.

The parameters are OWASP's Password Storage Cheat Sheet's first choice:
Argon2id with 19 MiB of memory, 2 passes, 1 lane. Measured here (2 cores,
``python -m bench.hashing``, medians of three runs on a shared machine):
20 ms and 21 MiB a hash, where the scrypt hashes of Parley 0.1 (N=2^14, r=8,
p=1: 8x below OWASP's minimum for scrypt) took 44 ms and 16 MiB, and scrypt
at OWASP's N=2^17 454 ms and 128 MiB: as strong by OWASP's measure, Argon2id
costs a login 20x less time and 6x less memory than scrypt would.

Hashes written by older Parleys (``scrypt$N$r$p$salt$hash``) and Argon2
hashes with weaker parameters still verify; ``check_password`` then returns
a new hash for the caller to store, so every account is upgraded at its
owner's next successful login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import argon2

TIME_COST, MEMORY_KIB, LANES = 2, 19 * 1024, 1
_HASHER = argon2.PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=LANES)
# The largest scrypt hash an old database may hold: N=2^17 with r=8 needs 128 MiB.
_SCRYPT_MAXMEM = 256 * 1024 * 1024


def hash_password(password: str) -> str:
    """Return an Argon2id hash (PHC string, ``$argon2id$v=19$m=...``) of ``password``, with a fresh salt."""
    return _HASHER.hash(password)


def verify_password(password: str, stored: str) -> bool:
    """Return True when ``password`` matches the stored hash; False for any mismatch or unknown hash."""
    return check_password(password, stored)[0]


def check_password(password: str, stored: str) -> tuple[bool, str | None]:
    """Return (whether ``password`` matches ``stored``, a stronger hash to store instead or None).

    The new hash is only given for a matching password whose stored hash is
    an old scheme or weaker than today's parameters.
    """
    if stored.startswith("scrypt$"):
        if not _verify_scrypt(password, stored):
            return False, None
        return True, hash_password(password)
    try:
        _HASHER.verify(stored, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False, None
    return True, hash_password(password) if _HASHER.check_needs_rehash(stored) else None


def needs_upgrade(stored: str) -> bool:
    """Whether ``stored`` is an old scheme or weaker than today's parameters."""
    if stored.startswith("scrypt$"):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except argon2.exceptions.InvalidHashError:
        return True


def _verify_scrypt(password: str, stored: str) -> bool:
    """Check a Parley 0.1 hash, ``scrypt$N$r$p$salt$hash``."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r),
                                p=int(p), dklen=len(expected), maxmem=_SCRYPT_MAXMEM)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def legacy_scrypt_hash(password: str, n: int = 2**14) -> str:
    """A hash in Parley 0.1's format (for tests of the upgrade; never used to store a new password)."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=8, p=1, dklen=32)
    return f"scrypt${n}$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def default_threads(cpus: int | None = None) -> int:
    """Hashing threads for a machine with ``cpus`` cores: half of them, at least one.

    A hash holds a core for its whole time (20 ms measured) and 21 MiB; half
    the cores leave the event loop and the database their own even when every
    hashing thread is busy.
    """
    cores = cpus if cpus is not None else (os.cpu_count() or 1)
    return max(1, cores // 2)
