"""The stream decoder: line framing, limits, and legacy detection, byte by byte."""

from __future__ import annotations

from parley.protocol import Frame
from parley.protocol.framing import (
    FrameDecoder,
    FrameReceived,
    FrameRejected,
    Mode,
    StreamEnded,
)

CON = b"CON,nickname=ann;password=;color=#FFFFFF,"


def frames(events: list) -> list[Frame]:
    return [e.frame for e in events if isinstance(e, FrameReceived)]


def test_whole_lines_give_frames_and_crlf_is_accepted() -> None:
    decoder = FrameDecoder()
    events = decoder.receive_data(CON + b"\r\nUSER,,\nREF,,\n")
    assert [f.reason for f in frames(events)] == ["CON", "USER", "REF"]
    assert decoder.mode is Mode.FRAMED
    assert not decoder.awaiting_grace


def test_one_byte_at_a_time_needs_more_data_until_the_newline() -> None:
    decoder = FrameDecoder(detect_legacy=False)
    data = "CHAT,rec=-ALL,héllo, world\n".encode()
    for i in range(len(data) - 1):
        assert decoder.receive_data(data[i : i + 1]) == []
    (event,) = decoder.receive_data(data[-1:])
    assert event == FrameReceived(Frame("CHAT", {"rec": "-ALL"}, "héllo, world"))


def test_trailing_partial_frame_stays_buffered() -> None:
    decoder = FrameDecoder()
    assert frames(decoder.receive_data(b"USER,,\nREF,")) == [Frame("USER")]
    assert frames(decoder.receive_data(b",\n")) == [Frame("REF")]


def test_empty_lines_are_ignored() -> None:
    assert frames(FrameDecoder().receive_data(b"\n\r\nUSER,,\n\n")) == [Frame("USER")]


def test_frame_over_the_limit_is_fatal_and_never_buffered() -> None:
    decoder = FrameDecoder(max_frame=16, detect_legacy=False)
    (event,) = decoder.receive_data(b"CHAT,rec=-ALL," + b"x" * 100)
    assert isinstance(event, FrameRejected) and event.fatal and event.error.code == "too-long"
    assert decoder.receive_data(b"more\n") == []


def test_a_frame_exactly_at_the_limit_is_accepted() -> None:
    line = b"CHAT,rec=-ALL," + b"x" * 2
    decoder = FrameDecoder(max_frame=len(line), detect_legacy=False)
    assert frames(decoder.receive_data(line + b"\r\n")) == [Frame("CHAT", {"rec": "-ALL"}, "xx")]


def test_long_line_split_across_reads_is_refused() -> None:
    decoder = FrameDecoder(max_frame=10, detect_legacy=False)
    assert decoder.receive_data(b"CHAT,,12") == []
    (event,) = decoder.receive_data(b"345\n")
    assert event.fatal


def test_bytes_that_are_not_utf8_are_refused_but_not_fatal() -> None:
    decoder = FrameDecoder()
    first, second = decoder.receive_data(b"CHAT,rec=-ALL,\xff\xfe\nUSER,,\n")
    assert isinstance(first, FrameRejected) and not first.fatal and first.error.code == "not-utf8"
    assert second == FrameReceived(Frame("USER"))


def test_end_of_stream_reports_unread_bytes() -> None:
    decoder = FrameDecoder()
    decoder.receive_data(b"CHAT,rec")
    assert decoder.receive_data(b"") == [StreamEnded(partial=8)]


def test_unterminated_con_waits_for_grace_then_is_legacy() -> None:
    decoder = FrameDecoder()
    assert decoder.receive_data(CON) == []
    assert decoder.awaiting_grace and decoder.mode is Mode.UNDECIDED
    (event,) = decoder.grace_expired()
    assert event.frame.reason == "CON"
    assert decoder.mode is Mode.LEGACY
    # From now on each read is one frame, terminator or not.
    assert frames(decoder.receive_data(b"CHAT,rec=-ALL,a,b")) == [Frame("CHAT", {"rec": "-ALL"}, "a,b")]
    assert frames(decoder.receive_data(b"USER,,\n")) == [Frame("USER")]


def test_con_completed_by_newline_is_framed_without_grace() -> None:
    decoder = FrameDecoder()
    decoder.receive_data(CON)
    assert decoder.awaiting_grace
    assert frames(decoder.receive_data(b"\n")) == [Frame("CON", {"nickname": "ann", "password": "", "color": "#FFFFFF"})]
    assert decoder.mode is Mode.FRAMED and not decoder.awaiting_grace
    assert decoder.grace_expired() == []


def test_partial_con_without_second_comma_is_not_taken_for_legacy() -> None:
    decoder = FrameDecoder()
    decoder.receive_data(b"CON,nickname=ann;password=;color=#FFF")
    assert not decoder.awaiting_grace


def test_legacy_read_over_the_limit_is_fatal() -> None:
    decoder = FrameDecoder(max_frame=len(CON))
    decoder.receive_data(CON)
    decoder.grace_expired()
    (event,) = decoder.receive_data(b"CHAT,rec=-ALL," + b"x" * 100)
    assert event.fatal
