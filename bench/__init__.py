"""Parley's benchmark suite: ``python -m bench SCENARIO [options]`` or ``python -m bench all``.

Every scenario starts the systems it compares as child processes on
127.0.0.1 (Parley's server and gateway, the yardstick fan-out server,
websockify), drives them from load-generator processes (``worker.py``), runs
several rounds in alternating order, and prints one summary line; ``--json``
writes the full figures. See BENCHMARKS.md.
"""
