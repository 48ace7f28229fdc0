"""What clients read of file messages (issue 15): parley/protocol/reading.py and sizes.py.

The vectors (tests/vectors/files.json) are run here against the Python
readers and by tests/js/files_vectors.test.mjs against web/protocol.js; a
differential test sends thousands of random file frames, sizes and links
through both in one Node process. A malformed file message is read as no
file (the client shows its legacy line), never as an exception, and a link
a client accepts always stays under the page's base path. Last, a real
server and gateway (as `parley serve` runs them) are driven with the readers
alone: UPLOAD, the grant, the POST, CHAT file=, the CHATR, the link.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urljoin

import pytest
import test_files
from hypothesis import given
from hypothesis import strategies as st
from test_files import png
from test_rooms import rooms_login

from parley.files.links import file_link, safe_name
from parley.protocol import format_frame, make_frame, parse_frame, texts
from parley.protocol.reading import (
    FileInfo,
    file_chat_frame,
    human_size,
    is_file_link,
    read_file,
    read_files_base,
    read_upload,
    upload_frame,
)
from parley.protocol.sizes import UNITS

HERE = Path(__file__).parent
VECTORS = json.loads((HERE / "vectors" / "files.json").read_text("utf-8"))
BASE = "https://chat.example/parley/"
serve = test_files.serve  # the fixture: a chat server and its gateway in this process, as `parley serve` runs them
FILE_PARAMS = ("file", "fname", "fsize", "ftype", "flink", "fw", "fh")


def file_as_vector(file: FileInfo | None) -> dict[str, Any] | None:
    if file is None:
        return None
    return {"id": file.id, "name": file.name, "size": file.size, "type": file.type, "link": file.link,
            "width": file.width, "height": file.height, "is_image": file.is_image, "thumb": file.thumb_link}


def named(cases: list[dict[str, Any]]) -> Any:
    return pytest.mark.parametrize("case", cases, ids=[case["name"] for case in cases])


@named(VECTORS["files"])
def test_a_message_s_file_is_read_as_the_vector_says(case: dict[str, Any]) -> None:
    assert file_as_vector(read_file(parse_frame(case["frame"]))) == case["expect"]


@named([case for case in VECTORS["files"] if case["expect"] is not None])
def test_an_accepted_link_and_its_thumbnail_stay_under_the_page_s_base_path(case: dict[str, Any]) -> None:
    for link in filter(None, (case["expect"]["link"], case["expect"]["thumb"])):
        assert urljoin(BASE, link).startswith(BASE)


@named(VECTORS["uploads"])
def test_an_upload_grant_is_read_as_the_vector_says(case: dict[str, Any]) -> None:
    grant = read_upload(parse_frame(case["frame"]))
    assert vars(grant) == case["expect"]


@pytest.mark.parametrize("rec, name, size, wire", VECTORS["upload_frames"], ids=ascii)
def test_an_upload_is_built_as_the_vector_says(rec: str, name: str, size: int, wire: str) -> None:
    frame = upload_frame(rec, name, size)
    assert format_frame(frame) == wire
    assert parse_frame(wire) == frame


@pytest.mark.parametrize("rec, receipt, wire", VECTORS["file_chat_frames"], ids=ascii)
def test_a_file_s_chat_is_built_as_the_vector_says(rec: str, receipt: str, wire: str) -> None:
    assert format_frame(file_chat_frame(rec, receipt)) == wire


@pytest.mark.parametrize("wire, base", VECTORS["files_base"], ids=ascii)
def test_the_files_base_url_is_read_as_the_vector_says(wire: str, base: str) -> None:
    assert read_files_base(parse_frame(wire)) == base


@pytest.mark.parametrize("size, text", VECTORS["sizes"], ids=ascii)
def test_a_size_is_written_as_the_vector_says(size: int, text: str) -> None:
    assert human_size(size) == text


def test_a_negative_size_is_a_local_error() -> None:
    with pytest.raises(ValueError):
        human_size(-1)
    with pytest.raises(ValueError):
        upload_frame("-ALL", "a.txt", -1)


def decimal_size(size: int) -> str:
    """human_size's rule written with Decimal, as an independent oracle."""
    if size < 1000:
        return f"{size} B"
    for power, unit in enumerate(UNITS, start=1):
        value = Decimal(size) / Decimal(1000) ** power
        tenths = value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        if tenths < 10:
            return f"{tenths} {unit}"
        whole = value.quantize(Decimal(1), rounding=ROUND_HALF_UP)
        if whole < 1000 or unit == UNITS[-1]:
            return f"{whole} {unit}"
    raise AssertionError(size)


@given(st.integers(min_value=0, max_value=10**18) | st.sampled_from([10**k * m - d for k in range(3, 16)
                                                                      for m in (1, 10, 100) for d in (0, 1, 50, 51)]))
def test_a_size_has_one_decimal_below_10_and_none_above(size: int) -> None:
    text = human_size(size)
    assert text == decimal_size(size)
    number, unit = text.split(" ")
    assert unit == "B" or ("." in number) == (float(number) < 10)
    assert float(number) < 1000 or unit == UNITS[-1]


LINK_ALPHABET = st.sampled_from(list("ab./\\%:2eE?# @\t\u00e9") + ["%2e", "%2E", "..", "//", "files/", "http:"])
PARAM_TEXT = st.one_of(st.none(), st.text(max_size=12), st.from_regex(r"-?[0-9]{0,17}", fullmatch=True),
                       st.lists(LINK_ALPHABET, max_size=10).map("".join))


@given(st.fixed_dictionaries({name: PARAM_TEXT for name in FILE_PARAMS}))
def test_any_file_params_read_as_a_file_or_none_never_an_error(params: dict[str, str | None]) -> None:
    safe = {name: value.replace("\n", "").replace("\r", "") for name, value in params.items() if value is not None}
    file = read_file(make_frame("CHATR", safe, "[file] x"))
    if file is not None:
        assert file.id > 0 and file.size >= 0 and file.name and file.type
        assert urljoin(BASE, file.link).startswith(BASE) and not file.link.startswith(("/", "\\"))
        assert (file.width > 0) == (file.height > 0) == file.is_image


@given(st.lists(LINK_ALPHABET, min_size=1, max_size=12).map("".join))
def test_a_link_accepted_as_relative_never_leaves_the_base_path(link: str) -> None:
    if is_file_link(link):
        assert urljoin(BASE, link).startswith(BASE)
        assert all(unquote(segment) != ".." for segment in link.split("/"))  # a browser decodes %2e in a path


def random_inputs(seed: int, count: int) -> dict[str, list[Any]]:
    """File frames mutated from the vectors' (a param's value replaced or cut), sizes near unit edges, links."""
    rng = random.Random(seed)
    seeds = [parse_frame(case["frame"]) for case in VECTORS["files"]]
    pieces = list("ab./\\%:2eE?# @\u00e9-_~0") + ["%2e", "%2E", "..", "//", "files/", "http:", "%41", "%zz"]
    frames, sizes, links = [], [], []
    for _ in range(count):
        params = dict(rng.choice(seeds).params)
        for _ in range(rng.randrange(1, 4)):
            name = rng.choice(FILE_PARAMS)
            choice = rng.random()
            if choice < 0.2:
                params.pop(name, None)
            elif choice < 0.6:
                params[name] = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 8)))
            else:
                params[name] = str(rng.choice([0, 1, -1, 10**15, 10**16, rng.randrange(0, 10**6)]))
        frames.append(format_frame(make_frame("CHATR", params, "x")))
        scale = 10 ** rng.randrange(0, 13)  # sizes below 10**15: what a frame can say (15 digits), exact in JS
        sizes.append(max(0, rng.choice([1, 10, 100, 999, 9995, 99950, 999500]) * scale // 1000 + rng.randrange(-2, 3)))
        links.append("".join(rng.choice(pieces) for _ in range(rng.randrange(0, 10))))
    return {"frames": frames, "sizes": sizes, "links": links}


def test_the_python_and_javascript_readers_agree_on_random_file_frames_sizes_and_links() -> None:
    node = shutil.which("node")
    assert node, "node is not installed (Node 20 or newer is needed for the JavaScript tests)"
    inputs = random_inputs(seed=15, count=3000)
    rng = random.Random(15)
    made = [file_link(b"k" * 32, i + 1, "cd" * 32, safe_name("".join(chr(rng.choice([rng.randrange(1, 0xD800), rng.randrange(0xE000, 0x2FFFF)]))
                                             for _ in range(12))))
            for i in range(300)]  # links as the server makes them, for names of any code points
    inputs["links"] += made
    result = subprocess.run([node, str(HERE / "js" / "files_batch.mjs")], input=json.dumps(inputs),
                            capture_output=True, text=True, timeout=60, check=True)
    js = json.loads(result.stdout)
    python = {
        "frames": [file_as_vector(read_file(parse_frame(text))) for text in inputs["frames"]],
        "sizes": [human_size(size) for size in inputs["sizes"]],
        "links": [is_file_link(link) for link in inputs["links"]],
    }
    for key, answers in python.items():
        differ = [(given, py, j) for given, py, j in zip(inputs[key], answers, js[key]) if py != j]
        assert not differ, f"{key}: {differ[:5]}"
    assert all(python["links"][-len(made):])
    accepted = sum(file is not None for file in python["frames"])
    assert 100 < accepted < len(inputs["frames"]) - 100, "the random frames should test both outcomes"


@given(st.text(max_size=200), st.integers(min_value=1, max_value=10**15 - 1))  # ids: 1 to 15 digits
def test_every_link_the_server_makes_is_read_as_relative_and_names_its_file(name: str, file_id: int) -> None:
    """Whatever a file is called, the readers accept the link parley/files makes for it, and it leads back to the name."""
    kept = safe_name(name)
    link = file_link(b"k" * 32, file_id, "ab" * 32, kept)
    frame = make_frame("CHATR", {"file": str(file_id), "fname": kept, "fsize": "1", "flink": link}, "[file]")
    file = read_file(parse_frame(format_frame(frame)))
    assert file is not None and file.link == link and file.name == kept
    assert urljoin(BASE, link).startswith(BASE + f"files/{file_id}/")
    assert unquote(link.rsplit("/", 1)[1]) == kept


async def test_the_readers_read_what_a_real_server_sends_for_an_image_and_a_document(serve) -> None:
    """A real server and gateway: each step of sharing a file is read and built with the readers, as clients do."""
    served = await serve()
    ann, ann_frames = await rooms_login(served.server.port, "ann")
    bob, bob_frames = await rooms_login(served.server.port, "bob")
    try:
        assert read_files_base(ann_frames[0]) == read_files_base(bob_frames[0]) == served.base
        for name, body, kind, size in (("../holiday.png", png(), "image/png", (64, 48)),
                                       ("notes.txt", b"meeting at noon\n" * 100, "text/plain", (0, 0))):
            await ann.send(format_frame(upload_frame("-ALL", name, len(body))))
            grant = read_upload(await ann.next("UPLOAD"))
            assert (grant.rec, grant.name, grant.size) == ("-ALL", name.rsplit("/")[-1], len(body))
            assert grant.url == served.base + "files/upload" and grant.ticket
            status, answer = await served.post(f"{grant.url}?ticket={quote(grant.ticket, safe='')}", body)
            assert status == 200, answer
            await ann.send(format_frame(file_chat_frame(grant.rec, answer["receipt"])))
            frame = await bob.next("CHATR")
            file = read_file(frame)
            assert file is not None and (file.name, file.size, file.type) == (grant.name, len(body), kind)
            assert (file.width, file.height) == size and file.is_image == (kind == "image/png")
            assert frame.content == f"[file] {file.name} ({human_size(file.size)}) {served.base}{file.link}"
            assert (await served.get(file.link))[:2] == (200, body)
            if file.thumb_link:
                status, thumb, headers = await served.get(file.thumb_link)
                assert status == 200 and headers["Content-Type"] == "image/png" and thumb.startswith(b"\x89PNG")
        await ann.send(format_frame(upload_frame("-ALL", "empty.txt", 0)))
        assert (await ann.next("ERR")).content == texts.FILE_EMPTY
    finally:
        for client in (ann, bob):
            await client.close()
