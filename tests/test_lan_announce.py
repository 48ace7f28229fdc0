"""`parley serve` and `parley server` announce themselves on a LAN with mDNS/DNS-SD.

Each test makes its own LAN of network namespaces (tests/lan.py): the
servers run on one host, a plain python-zeroconf browser (tests/mdns_browse.py)
on another, so what is checked is what any DNS-SD browser on the LAN hears, and
no multicast leaves the machine.
"""

from __future__ import annotations

import json
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

pytestmark = pytest.mark.skipif(lan_available() is not None, reason=f"no private LAN: {lan_available()}")

ANNOUNCING = {"PARLEY_NO_ANNOUNCE": "0"}  # conftest keeps every other test's servers quiet
CHAT, WEB = "_parley._tcp.local.", "_http._tcp.local."
HEARD_WITHIN = 15.0  # seconds; probing and announcing take about 2 s, more on a loaded machine


class Browser:
    """tests/mdns_browse.py on one host of the LAN, its lines read as they come."""

    def __init__(self, lan: Lan, host: int, seconds: float = 60) -> None:
        self.process = lan.run(host, [sys.executable, str(REPO / "tests" / "mdns_browse.py"), str(seconds)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        self.heard: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        assert self.wait_for(lambda line: line["change"] == "browsing", 10), self.stderr()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.heard.append(json.loads(line))

    def wait_for(self, wanted: Callable[[dict[str, Any]], bool], timeout: float = HEARD_WITHIN) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.heard):
                if wanted(line):
                    return line
            time.sleep(0.05)
        return None

    def records(self, service: str, name: str) -> list[dict[str, Any]]:
        full = f"{name}.{service}"
        return [line for line in self.heard if line.get("type") == service and line.get("name") == full]

    def resolved(self, service: str, name: str) -> dict[str, Any]:
        line = self.wait_for(lambda line: line.get("type") == service and line.get("name") == f"{name}.{service}"
                             and line.get("resolved") is True)
        assert line is not None, f"{name}.{service} not heard: {self.heard} {self.stderr()}"
        return line

    def stderr(self) -> str:
        if self.process.poll() is None:
            return ""
        assert self.process.stderr is not None
        return self.process.stderr.read()


@pytest.fixture
def lan() -> Iterator[Lan]:
    with Lan(hosts=3) as made:
        yield made


def run_parley(lan: Lan, host: int, tmp_path: Path, command: str, *flags: str,
               bind: str = "0.0.0.0") -> ParleyProcess:
    """`parley COMMAND` on ``host`` of the LAN, announcing (unless its flags say not to)."""
    data = tmp_path / f"data-{time.monotonic_ns()}"
    web = ["--http-host", bind, "--http-port", "0"] if command == "serve" else []
    process = ParleyProcess(tmp_path, command, "--host", bind, "--port", "0", *web, "--data-dir", str(data),
                            *flags, env=ANNOUNCING, prefix=lan.prefix(host))
    return process.start(timeout=30)


def logged(process: ParleyProcess, text: str, timeout: float = HEARD_WITHIN) -> bool:
    """Whether ``process`` logs ``text`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while text not in process.log.read_text():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def fetch(lan: Lan, host: int, url: str) -> str:
    """GET ``url`` from ``host`` of the LAN; its body (an https URL is fetched without checking the certificate)."""
    code = ("import ssl, sys, urllib.request; "
            "print(urllib.request.urlopen(sys.argv[1], timeout=10, context=ssl._create_unverified_context())"
            ".read().decode())")
    process = lan.run(host, [sys.executable, "-c", code, url], stdout=subprocess.PIPE, text=True)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, f"fetching {url} from host {host} failed"
    return str(out)


def test_serve_announces_its_chat_port_and_its_page_and_says_goodbye_when_it_stops(
        lan: Lan, tmp_path: Path) -> None:
    browser = Browser(lan, 1)
    serve = run_parley(lan, 0, tmp_path, "serve", "--name", "Café Parley")
    try:
        chat = browser.resolved(CHAT, "Café Parley")
        assert chat["addresses"] == [lan.address(0)] and chat["port"] == serve.port
        assert chat["properties"]["tls"] == "0" and chat["properties"]["version"]
        web = browser.resolved(WEB, "Café Parley")
        assert web["addresses"] == [lan.address(0)] and web["port"] == serve.http_port
        assert web["properties"] == {"path": "/", "tls": "0"}
        # What is announced is where the page really is, for another machine on the LAN.
        page = fetch(lan, 1, f"http://{web['addresses'][0]}:{web['port']}{web['properties']['path']}")
        assert "<title>Parley</title>" in page
        assert logged(serve, "INFO parley.lan: announced on the LAN: 'Café Parley' (_parley._tcp port")
    finally:
        assert serve.stop() == 0
    # A clean stop says goodbye: other machines drop both at once, not when the records expire.
    for service in (CHAT, WEB):
        assert browser.wait_for(lambda line: line["change"] == "removed"
                                and line.get("name") == f"Café Parley.{service}", 10), browser.heard


def test_tls_is_announced_and_parley_server_announces_only_its_chat_port(lan: Lan, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    browser = Browser(lan, 1)
    alone = run_parley(lan, 0, tmp_path, "server", "--name", "tls-alone", "--tls-cert", str(cert),
                       "--tls-key", str(key))
    both = run_parley(lan, 2, tmp_path, "serve", "--name", "tls-both", "--tls-cert", str(cert),
                      "--tls-key", str(key), "--base-path", "/chat")
    try:
        assert browser.resolved(CHAT, "tls-alone")["properties"]["tls"] == "1"
        assert browser.resolved(CHAT, "tls-both")["properties"]["tls"] == "1"
        web = browser.resolved(WEB, "tls-both")
        assert web["properties"] == {"path": "/chat/", "tls": "1"} and web["addresses"] == [lan.address(2)]
        assert "<title>Parley</title>" in fetch(lan, 1, f"https://{lan.address(2)}:{web['port']}/chat/")
        time.sleep(1.0)  # the lone server's names were probed together: a page record would be here by now
        assert browser.records(WEB, "tls-alone") == []
    finally:
        alone.stop()
        both.stop()


def test_no_announce_and_loopback_only_servers_stay_quiet_and_a_clash_of_names_is_resolved(
        lan: Lan, tmp_path: Path) -> None:
    browser = Browser(lan, 1)
    quiet = run_parley(lan, 0, tmp_path, "serve", "--name", "quiet", "--no-announce")
    local = run_parley(lan, 0, tmp_path, "serve", "--name", "local", bind="127.0.0.1")
    first = run_parley(lan, 0, tmp_path, "serve", "--name", "same")
    second = run_parley(lan, 2, tmp_path, "server", "--name", "same")
    try:
        names = {browser.resolved(CHAT, "same")["port"]}
        renamed = browser.resolved(CHAT, "same-2")  # python-zeroconf renames the second after a clash
        names.add(renamed["port"])
        assert names == {first.port, second.port}
        time.sleep(2.0)  # the quiet ones started before the loud ones, which were heard: nothing more is coming
        for name in ("quiet", "local"):
            assert browser.records(CHAT, name) == [] and browser.records(WEB, name) == [], browser.heard
        assert "announced" not in quiet.log.read_text()
        assert "not announced on the LAN: listening on loopback only" in local.log.read_text()
    finally:
        for process in (quiet, local, first, second):
            process.stop()


def test_an_announcement_that_fails_logs_one_line_and_the_server_carries_on(lan: Lan, tmp_path: Path) -> None:
    # Another mDNS program holds port 5353 without sharing it (as Avahi can be set to).
    holder = lan.run(0, [sys.executable, "-c", "import socket, time; s = socket.socket(socket.AF_INET, "
                         "socket.SOCK_DGRAM); s.bind(('0.0.0.0', 5353)); print('held', flush=True); time.sleep(120)"],
                     stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    serve = run_parley(lan, 0, tmp_path, "serve", "--name", "blocked")
    try:
        assert logged(serve, "not announced")
        lines = [line for line in serve.log.read_text().splitlines()
                 if "LAN" in line or "zeroconf" in line or " ERROR " in line]
        assert len(lines) == 1 and "WARNING parley.lan: not announced on the LAN: the mDNS port 5353 is taken" \
            in lines[0], lines
        assert "ok" in fetch(lan, 1, f"http://{lan.address(0)}:{serve.http_port}/healthz")
    finally:
        assert serve.stop() == 0


def test_a_new_address_is_announced_in_place_of_the_old(lan: Lan, tmp_path: Path) -> None:
    """The machine's address changes (a new DHCP lease, another network): the announcement follows it."""
    browser = Browser(lan, 1)
    serve = run_parley(lan, 0, tmp_path, "serve", "--name", "laptop")
    try:
        assert browser.resolved(CHAT, "laptop")["addresses"] == [lan.address(0)]
        moved = "10.77.0.11"
        # (In this order: deleting an interface's first address deletes the others of its network.)
        subprocess.run([*lan.prefix(0), "ip", "addr", "del", f"{lan.address(0)}/24", "dev", "eth0"], check=True)
        subprocess.run([*lan.prefix(0), "ip", "addr", "add", f"{moved}/24", "dev", "eth0"], check=True)
        for service, port in ((CHAT, serve.port), (WEB, serve.http_port)):
            heard = browser.wait_for(lambda line: line.get("name") == f"laptop.{service}"
                                     and line.get("addresses") == [moved], HEARD_WITHIN + 5)
            assert heard is not None and heard["port"] == port, browser.heard
        assert "<title>Parley</title>" in fetch(lan, 1, f"http://{moved}:{serve.http_port}/")
    finally:
        serve.stop()


def test_a_machine_with_no_lan_address_says_so_once_and_serves(lan: Lan, tmp_path: Path) -> None:
    """A container without a LAN: nothing to announce, one line saying why, the server as ever."""
    subprocess.run([*lan.prefix(0), "ip", "addr", "flush", "dev", "eth0"], check=True)
    serve = run_parley(lan, 0, tmp_path, "serve", "--name", "boxed")
    try:
        assert logged(serve, "INFO parley.lan: not announced on the LAN: this machine has no LAN address")
        time.sleep(6)  # past the next look at the addresses: still one line
        assert serve.log.read_text().count("parley.lan") == 1
        assert serve.process is not None and serve.process.poll() is None
    finally:
        assert serve.stop() == 0
