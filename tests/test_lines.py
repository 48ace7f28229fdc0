"""Multi-line messages (parley/protocol/lines.py) against the shared vectors tests/vectors/lines.json.

The same file is run by tests/js/lines.test.mjs against web/text.js: a text
one client sends is the text the other shows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.protocol.lines import MAX_LINE_BREAKS, check_lines, decode_lines, encode_lines

VECTORS = json.loads((Path(__file__).parent / "vectors" / "lines.json").read_text("utf-8"))


@pytest.mark.parametrize("text, content, lines", VECTORS["encode"], ids=ascii)
def test_a_text_is_encoded_as_the_vector_says(text: str, content: str, lines: str | None) -> None:
    assert encode_lines(text) == (content, lines)


@pytest.mark.parametrize("content, lines, text", VECTORS["decode"], ids=ascii)
def test_a_content_and_its_lines_decode_as_the_vector_says(content: str, lines: str | None, text: str) -> None:
    assert decode_lines(content, lines) == text
    assert check_lines(content, lines)


@pytest.mark.parametrize("content, lines, why", VECTORS["bad"], ids=lambda value: ascii(value)[:40])
def test_a_bad_lines_parameter_is_refused(content: str, lines: str, why: str) -> None:
    with pytest.raises(ValueError):
        decode_lines(content, lines)
    assert not check_lines(content, lines)


def test_every_encoded_vector_decodes_back_to_its_text_with_breaks_as_newlines() -> None:
    for text, content, lines in VECTORS["encode"]:
        expected = text.replace("\r\n", "\n").replace("\r", "\n")
        if expected.count("\n") > MAX_LINE_BREAKS:
            continue  # breaks past the limit stay spaces
        assert decode_lines(content, lines) == expected


@given(st.lists(st.text(st.characters(codec="utf-8")) | st.sampled_from(["\n", "\r", "\r\n", " "])).map("".join))
def test_any_text_round_trips_and_its_wire_form_is_one_line(text: str) -> None:
    content, lines = encode_lines(text)
    assert "\n" not in content and "\r" not in content
    assert len(content) == len(text.replace("\r\n", "\n"))
    assert check_lines(content, lines)
    assert decode_lines(content, lines) == text.replace("\r\n", "\n").replace("\r", "\n")


def test_a_content_without_lines_is_shown_as_sent() -> None:
    assert decode_lines("a b", None) == "a b"
    assert check_lines("a b", None)
