"""The cost of one password hash: median time and peak memory, per scheme, each in a fresh process.

``python -m bench.hashing`` prints one line per scheme; server/passwords.py
quotes its figures and sizes the hashing pool from them.
"""

from __future__ import annotations

import hashlib
import os
import resource
import statistics
import subprocess
import sys
import time

SCHEMES = ("scrypt:16384", "scrypt:131072", "argon2id:2:19456:1", "argon2id:3:65536:4")


def measure(scheme: str, rounds: int = 9) -> str:
    """One line: ``scheme``'s median hash time and the growth of this process's peak RSS."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times: list[float] = []
    kind, *numbers = scheme.split(":")
    if kind == "argon2id":
        import argon2

        time_cost, memory, lanes = map(int, numbers)
        hasher = argon2.PasswordHasher(time_cost=time_cost, memory_cost=memory, parallelism=lanes)
        for _ in range(rounds):
            start = time.perf_counter()
            hasher.hash("correct horse battery")
            times.append(time.perf_counter() - start)
    else:
        n = int(numbers[0])
        for _ in range(rounds):
            start = time.perf_counter()
            hashlib.scrypt(b"correct horse battery", salt=os.urandom(16), n=n, r=8, p=1, dklen=32,
                           maxmem=256 * 1024 * 1024)
            times.append(time.perf_counter() - start)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    return f"{scheme:20s} median {statistics.median(times) * 1000:7.1f} ms   peak RSS +{grown:6.1f} MiB"


def main(argv: list[str]) -> None:
    if argv:
        print(measure(argv[0]), flush=True)
        return
    print(f"{os.cpu_count()} cores", flush=True)
    for scheme in SCHEMES:
        subprocess.run([sys.executable, "-m", "bench.hashing", scheme], check=True)


if __name__ == "__main__":
    main(sys.argv[1:])
