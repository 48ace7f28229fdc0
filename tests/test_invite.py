"""QR codes of the page's address: in `parley serve`'s terminal output, and the gateway's invite.svg and invite.

Every code is read back with zxing-cpp (tests/qrread.py). The page's Invite
dialog, in Chromium, is in test_browser_invite.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from qrread import decode_modules, terminal_modules
from serverproc import ServeProcess

from gateway.invite import qr_svg
from parley.addresses import lan_ipv4_addresses
from parley.qrcodes import terminal_qr

URLS = ["http://192.168.1.20:8080/", "https://chat.example.org/parley/", "http://10.0.0.5:65535/a-long-base-path/"]


@pytest.mark.parametrize("url", URLS)
def test_the_terminal_code_reads_back_as_its_address(url: str) -> None:
    plain = terminal_qr(url, color=False)
    assert not any("\x1b" in line for line in plain)
    assert decode_modules(terminal_modules(plain)) == [url]
    # On a terminal the same modules come in white on black, whatever the terminal's own colours.
    colored = terminal_qr(url, color=True)
    assert all(line.startswith("\x1b[97;40m") and line.endswith("\x1b[0m") for line in colored)
    assert terminal_modules(colored) == terminal_modules(plain)


def qr_blocks(output: list[str]) -> dict[str, list[str]]:
    """The QR lines printed under each address line of `parley serve`'s output."""
    blocks: dict[str, list[str]] = {}
    current = ""
    for line in output:
        text = line.rstrip("\n")
        if text.startswith("    http"):
            current = text.strip()
            blocks[current] = []
        elif current and text.startswith("    ") and set(text.strip()) <= set("\u2588\u2580\u2584 "):
            blocks[current].append(text)
        else:
            current = ""
    return blocks


def test_parley_serve_prints_a_code_under_each_lan_address_and_none_for_loopback(tmp_path: Path) -> None:
    serve = ServeProcess(tmp_path / "data", "--http-host", "0.0.0.0", source=True).start()
    try:
        loopback = f"http://127.0.0.1:{serve.http_port}/"
        assert serve.printed(loopback)
        blocks = qr_blocks(serve.output)
    finally:
        serve.stop()
    assert blocks[loopback] == []  # a phone cannot open this computer's own address
    lan = [f"http://{address}:{serve.http_port}/" for address in lan_ipv4_addresses()]
    assert sorted(blocks) == sorted([*lan, loopback])
    for url in lan:
        assert decode_modules(terminal_modules(blocks[url])) == [url]


def test_no_qr_prints_the_addresses_alone(tmp_path: Path) -> None:
    serve = ServeProcess(tmp_path / "data", "--http-host", "0.0.0.0", "--no-qr", source=True).start()
    try:
        assert serve.printed(f"http://127.0.0.1:{serve.http_port}/")
        output = "".join(serve.output)
    finally:
        serve.stop()
    assert "\u2588" not in output and "\u2584" not in output
    assert all(not block for block in qr_blocks(serve.output).values())


async def test_the_gateway_draws_a_link_as_svg_and_refuses_anything_else(tmp_path: Path) -> None:
    serve = ServeProcess(tmp_path / "data", "--http-host", "0.0.0.0", source=True).start()
    base = f"http://127.0.0.1:{serve.http_port}/"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "invite.svg", params={"url": "http://192.168.1.20:8080/"}) as answer:
                assert answer.status == 200 and answer.content_type == "image/svg+xml"
                svg = await answer.text()
            assert svg.startswith("<svg") and "<title>QR code of http://192.168.1.20:8080/</title>" in svg
            for url, why in [("", "give the link"), ("ftp://x/", "http:// or https://"),
                             ("javascript:alert(1)", "http:// or https://"), ("http://x/\n", "control character"), ("http://x/\x85", "control character"),
                             ("http://x/" + "a" * 512, "longer than 512 bytes"), ("http:///path", "http://")]:
                async with http.get(base + "invite.svg", params={"url": url}) as answer:
                    assert answer.status == 400 and why in await answer.text(), url
            async with http.get(base + "invite") as answer:
                assert answer.status == 200 and answer.headers["Cache-Control"] == "no-store"
                urls = json.loads(await answer.text())["urls"]
            assert urls == [f"http://{address}:{serve.http_port}/" for address in lan_ipv4_addresses()]
    finally:
        serve.stop()


def test_a_short_address_is_a_full_qr_code_not_a_micro_one() -> None:
    """segno.make draws a Micro QR for a dozen bytes, which phone cameras do not read."""
    url = "http://pi/"
    modules = terminal_modules(terminal_qr(url, color=False))
    assert decode_modules(modules) == [url]
    assert len(modules[0]) >= 21 + 2 * 2  # a QR code's smallest version (21 modules) and the border
    svg = qr_svg(url).decode()
    assert 'viewBox="0 0 29 29"' in svg  # 21 modules and the 4-module quiet zone each side


def test_an_output_without_block_characters_gets_the_addresses_alone(tmp_path: Path) -> None:
    serve = ServeProcess(tmp_path / "data", "--http-host", "0.0.0.0", source=True,
                         env={"PYTHONIOENCODING": "cp1252"}).start()
    try:
        assert serve.printed(f"http://127.0.0.1:{serve.http_port}/")
        assert serve.process is not None and serve.process.poll() is None
        output = "".join(serve.output)
    finally:
        assert serve.stop() == 0
    assert "\u2588" not in output and "\u2584" not in output
