"""The desktop client's connect screen lists the Parley servers on the LAN, live, and fills in the one chosen.

Two servers (one with TLS) run on one host of a private LAN (tests/lan.py),
the desktop client on another, drawn on Xvfb and clicked with xdotool: real
announcements, real discovery, real input, and a real connection to the
address found.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from certs import self_signed
from lan import Lan, lan_available
from serverproc import REPO, ParleyProcess
from xdisplay import Xvfb, screenshot

pytestmark = pytest.mark.skipif(lan_available() is not None, reason=f"no private LAN: {lan_available()}")

ARTIFACTS = REPO / "test-artifacts"
TIMEOUT = 30.0


class DesktopOnLan:
    """tests/desktop_lan_probe.py on one host: the real desktop client, its connect screen read as it changes."""

    def __init__(self, lan: Lan, host: int, config: Path) -> None:
        env = {**os.environ, "PARLEY_CONFIG_DIR": str(config), "PYTHONPATH": str(REPO)}
        env.pop("PARLEY_NO_DISCOVERY", None)  # conftest keeps every other desktop quiet
        self.process = lan.run(host, [sys.executable, str(REPO / "tests" / "desktop_lan_probe.py"), "120"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
        self.states: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.states.append(json.loads(line))

    @property
    def state(self) -> dict[str, Any]:
        return self.states[-1] if self.states else {}

    def until(self, wanted: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.state and wanted(self.state):
                return self.state
            if self.process.poll() is not None:
                assert self.process.stderr is not None
                raise AssertionError(f"the desktop client ended: {self.process.stderr.read()}")
            time.sleep(0.05)
        raise AssertionError(f"{what}: the connect screen shows {self.state}")


def xdotool(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, capture_output=True, timeout=TIMEOUT)


def click(at: list[int]) -> None:
    xdotool("mousemove", "--sync", str(at[0]), str(at[1]), "click", "1")


@pytest.fixture
def lan() -> Iterator[Lan]:
    with Lan(hosts=2) as made:
        yield made


def test_the_connect_screen_lists_lan_servers_live_and_connects_to_the_one_chosen(
        lan: Lan, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)

    def serve(name: str, *flags: str) -> ParleyProcess:
        return ParleyProcess(tmp_path, "serve", "--host", "0.0.0.0", "--port", "0", "--http-host", "0.0.0.0",
                             "--http-port", "0", "--data-dir", str(tmp_path / name), "--name", name, *flags,
                             env={"PARLEY_NO_ANNOUNCE": "0"}, prefix=lan.prefix(0)).start(timeout=TIMEOUT)

    office = serve("Office chat")
    secure = serve("Secure chat", "--tls-cert", str(cert), "--tls-key", str(key))
    with Xvfb():
        desktop = DesktopOnLan(lan, 1, tmp_path / "config")
        address = lan.address(0)
        both = [f"Office chat \u2014 {address}:{office.port}", f"Secure chat \u2014 {address}:{secure.port} (TLS)"]
        shown = desktop.until(lambda state: state["servers"] == both, "both servers listed, sorted")
        assert shown["status"] == "Choose one to fill in its address; double-click to connect."
        assert shown["connect_in_view"], "the list pushed Connect out of the smallest window"
        screenshot(ARTIFACTS / "desktop-lan-servers.png")

        # A click on the TLS server fills its address and port and ticks TLS; one on the other unticks it.
        click(shown["entries_at"][1])
        desktop.until(lambda state: (state["host"], state["port"], state["tls"]) == (address, str(secure.port), True),
                      "the TLS server's address, port and TLS filled in")
        click(shown["entries_at"][0])
        filled = desktop.until(lambda state: (state["host"], state["port"], state["tls"])
                               == (address, str(office.port), False), "the other server's filled in")

        # Then only a nickname is typed, and the desktop connects to the server found.
        click(filled["nickname_at"])
        xdotool("type", "--delay", "5", "lanuser")
        xdotool("key", "Return")
        desktop.until(lambda state: state["screen"] == "chat" and state["online"] and "lanuser" in state["title"],
                      "connected to the server chosen")
        assert "lanuser" in office.log.read_text()

        # Live: a server that stops says goodbye and leaves the list at once.
        assert secure.stop() == 0
        desktop.until(lambda state: state["servers"] == both[:1], "the stopped server gone from the list")
        office.stop()
        desktop.until(lambda state: state["servers"] == [], "no server left")
