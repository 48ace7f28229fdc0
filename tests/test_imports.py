"""Imports run one way: the shared base (parley.protocol, parley.net) <- server, gateway, desktop <- the command.

Every first-party ``import`` in the project is read from the source (module
level and inside functions alike) and checked against the layers below; a
wrong import fails here, naming the file and line.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from serverproc import REPO, free_port

FIRST_PARTY = ("parley", "server", "gateway", "desktop", "bench")

# What each package may import of ours, besides its own modules.
ALLOWED: dict[str, tuple[str, ...]] = {
    "parley.protocol": (),
    "parley.net": (),
    "parley.paths": (),
    "parley.addresses": (),
    "parley.loops": (),
    "parley.startup": ("parley.net",),  # StartupError: what a user can fix, in one line
    "parley.flags": ("parley.loops", "parley.net", "parley.paths"),  # the command's arguments: nothing it runs
    "parley.files": (),
    "server": ("parley.protocol", "parley.net", "parley.paths", "parley.startup", "parley.files"),
    "gateway": ("parley.net", "parley.paths", "parley.startup", "parley.files", "parley.protocol.texts",
                "parley.addresses"),  # the page's LAN addresses, for its Invite dialog
    # The codec, the one TLS context builder (which knows nothing of chat), and how servers are named on a LAN.
    "desktop": ("parley.protocol", "parley.net.tls", "parley.net.dnssd"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, first-party module imported, at module level) for every import in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top_level = set(map(id, tree.body))
    found: list[tuple[int, str, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names]  # a name may be a submodule
        else:
            continue
        for name in names:
            if name.split(".")[0] in FIRST_PARTY:
                found.append((node.lineno, name, id(node) in top_level))
    return found


def _layer(module: str) -> str | None:
    for layer in sorted(ALLOWED, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def _inside(name: str, layers: tuple[str, ...]) -> bool:
    return any(name == layer or name.startswith(layer + ".") for layer in layers)


def _sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (REPO / folder).rglob("*.py"))


def test_each_layer_imports_only_the_layers_below_it() -> None:
    wrong = []
    for path in _sources("parley", "server", "gateway", "desktop"):
        module = _module_name(path)
        layer = _layer(module)
        if layer is None:
            continue  # parley.cli and parley.__main__: the command, which assembles the rest
        for line, name, _ in _imports(path):
            if not _inside(name, (layer, *ALLOWED[layer])):
                wrong.append(f"{path.relative_to(REPO)}:{line}: {module} imports {name}")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


# The chat core and what it builds on: rules and values, no I/O.
CORE_MAY_USE = ("server.core", "server.records", "server.config", "server.limits", "parley.protocol", "parley.net.proxy",
                "parley.net.groups",
                "parley.paths", "parley.files.links")  # links: pure signing (hmac), no I/O
IO_MODULES = ("asyncio", "socket", "ssl", "sqlite3", "time", "threading", "concurrent", "selectors", "subprocess",
              "uvloop", "aiohttp")


def _all_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.append((node.lineno, node.module))
    return found


def test_the_chat_core_does_no_io_and_knows_nothing_of_its_adapter() -> None:
    wrong = []
    for path in _sources("server/core"):
        for line, name, _ in _imports(path):
            if not _inside(name, CORE_MAY_USE):
                wrong.append(f"{path.relative_to(REPO)}:{line}: imports {name}")
        for line, name in _all_imports(path):
            if name.split(".")[0] in IO_MODULES:
                wrong.append(f"{path.relative_to(REPO)}:{line}: imports {name}")
    assert not wrong, "the core must stay free of I/O:\n" + "\n".join(wrong)
    for module in ("server/config.py", "server/limits.py", "server/records.py"):
        assert not [name for _, name in _all_imports(REPO / module) if name.split(".")[0] in IO_MODULES], module


def test_the_command_loads_server_gateway_and_desktop_only_when_it_runs_them() -> None:
    eager = [
        f"parley/cli.py:{line}: {name}"
        for line, name, top in _imports(REPO / "parley" / "cli.py")
        if top and name.split(".")[0] in ("server", "gateway", "desktop")
    ]
    assert not eager, "parley/cli.py imports these at module level:\n" + "\n".join(eager)


def test_the_checker_sees_a_wrong_import(tmp_path: Path) -> None:
    """The scan itself: a gateway module importing the server is caught, relative or absolute."""
    fake = REPO / "gateway" / "_layering_probe.py"
    fake.write_text("from server.app import ChatServer\nfrom .relay import Upstream\n")
    try:
        found = _imports(fake)
    finally:
        fake.unlink()
    assert [(name, top) for _, name, top in found] == [("server.app.ChatServer", True), ("gateway.relay.Upstream", True)]


def test_parley_gateway_loads_neither_the_chat_server_nor_sqlite(tmp_path: Path) -> None:
    """`parley gateway` runs until SIGTERM; then the modules it loaded are listed."""
    port = free_port()
    script = textwrap.dedent(f"""
        import os, signal, socket, sys, threading, time
        from parley.cli import main

        def stop_when_listening():
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", {port}), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=stop_when_listening, daemon=True).start()
        code = main(["gateway", "--http-host", "127.0.0.1", "--http-port", "{port}",
                     "--upstream", "127.0.0.1:1"])
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("server", "sqlite3", "_sqlite3", "desktop",
                                                                      "tkinter"))
        print("EXIT", code, "LOADED", ",".join(loaded))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert "EXIT 0 LOADED \n" in result.stdout, result.stdout + result.stderr
