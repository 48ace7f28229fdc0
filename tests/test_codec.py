"""The frame codec against the shared vectors, in memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parley.protocol import Frame, RemoteProtocolError, escape, format_frame, parse_frame, unescape
from parley.protocol.errors import LocalProtocolError

VECTORS = json.loads((Path(__file__).parent / "vectors" / "frames.json").read_text("utf-8"))


@pytest.mark.parametrize("case", VECTORS["frames"], ids=lambda c: c["name"])
def test_vector_frame_parses_and_formats(case: dict) -> None:
    frame = parse_frame(case["text"])
    assert (frame.reason, list(frame.params.items()), frame.content) == (
        case["reason"],
        [tuple(p) for p in case["params"]],
        case["content"],
    )
    canonical = case.get("canonical", case["text"])
    assert format_frame(frame) == canonical
    assert parse_frame(canonical) == frame


@pytest.mark.parametrize("case", VECTORS["malformed"], ids=lambda c: c["name"])
def test_vector_malformed_frame_is_refused_with_its_code(case: dict) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_frame(case["text"])
    assert info.value.code == case["code"]


@pytest.mark.parametrize("case", VECTORS["escape"], ids=lambda c: c["raw"] or "empty")
def test_vector_escape_round_trips(case: dict) -> None:
    assert escape(case["raw"]) == case["escaped"]
    assert unescape(case["escaped"]) == case["raw"]


@pytest.mark.parametrize("case", VECTORS["unescape"], ids=lambda c: c["escaped"])
def test_vector_unescape(case: dict) -> None:
    assert unescape(case["escaped"]) == case["raw"]


def test_frame_keeps_parameter_order_and_is_immutable() -> None:
    frame = Frame("USER", {"time": "t", "num": "0", "admin": "0"})
    assert list(frame.params) == ["time", "num", "admin"]
    with pytest.raises(TypeError):
        frame.params["x"] = "y"  # type: ignore[index]


@pytest.mark.parametrize(
    "reason, params, content",
    [
        ("BAD REASON", {}, ""),
        ("", {}, ""),
        ("CHAT", {"rec": "a\nb"}, ""),
        ("CHAT", {}, "two\nlines"),
        ("CHAT", {"": "x"}, ""),
    ],
)
def test_building_an_invalid_frame_is_a_local_error(reason: str, params: dict, content: str) -> None:
    with pytest.raises(LocalProtocolError):
        Frame(reason, params, content)


def test_formatting_escapes_every_special_character_in_names_and_values() -> None:
    frame = Frame("X", {"a,b": "c;d=e/f"}, "g,h/;")
    assert format_frame(frame) == "X,a/,b=c/;d/=e//f,g,h/;"
    assert parse_frame(format_frame(frame)) == frame
