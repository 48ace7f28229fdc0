"""Property-based checks of the codec: round trips, and one error type for garbage."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from parley.protocol import Frame, RemoteProtocolError, escape, format_frame, parse_frame, unescape
from parley.protocol.framing import FrameDecoder

no_breaks = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)))
names = no_breaks.filter(bool)
reasons = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,31}", fullmatch=True)
frames = st.builds(
    Frame,
    reason=reasons,
    params=st.dictionaries(names, no_breaks, max_size=8),
    content=no_breaks,
)


@given(frames)
def test_format_then_parse_gives_the_same_frame(frame: Frame) -> None:
    assert parse_frame(format_frame(frame)) == frame


@given(no_breaks)
def test_escape_then_unescape_is_identity(text: str) -> None:
    assert unescape(escape(text)) == text


@given(st.text())
def test_any_text_parses_or_raises_the_remote_error(text: str) -> None:
    try:
        parse_frame(text)
    except RemoteProtocolError:
        pass


@settings(max_examples=200)
@given(st.binary(max_size=600), st.integers(1, 64))
def test_any_bytes_in_any_chunks_decode_to_events_without_raising(data: bytes, chunk: int) -> None:
    decoder = FrameDecoder(max_frame=256)
    for i in range(0, len(data), chunk):
        decoder.receive_data(data[i : i + chunk])
    decoder.receive_data(b"")


def test_adversarial_inputs_parse_in_bounded_time() -> None:
    cases = [
        "X," + "/" * 100_000 + ",c",
        "X," + ";" * 100_000 + ",c",
        "X," + ";".join(f"k{i}=v" for i in range(20_000)) + ",c",
        "X," + "a=" + "/;" * 50_000 + ",c",
        # Escapes of ordinary characters before a distant separator used to be quadratic.
        "X,a=" + "/x" * 250_000 + ";b=1,c",
    ]
    for text in cases:
        started = time.perf_counter()
        try:
            parse_frame(text)
        except RemoteProtocolError:
            pass
        assert time.perf_counter() - started < 2.0
