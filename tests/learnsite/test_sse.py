"""The server-sent events wire format (learnsite/streaming.py), as a browser's EventSource reads
it back."""

from learnsite.streaming import sse_event


def data_read(frame: str) -> str:
    """The data an EventSource hands its listener for one frame: its data lines joined."""
    lines = frame.removesuffix("\n\n").split("\n")
    return "\n".join(line.removeprefix("data: ") for line in lines if line.startswith("data: "))


def test_each_line_of_the_data_is_a_data_line_of_its_own():
    frame = sse_event("runs", "<p>\n  one\n</p>\n", event_id="1700000000000-0")
    assert frame == "id: 1700000000000-0\nevent: runs\ndata: <p>\ndata:   one\ndata: </p>\n\n"


def test_cr_and_crlf_end_lines_and_other_separators_stay_in_the_data():
    # The wire's lines end at CR LF, LF or CR only: a line separator (U+2028) is text.
    frame = sse_event("received", "a\r\nb\rc\u2028d")
    assert frame == "event: received\ndata: a\ndata: b\ndata: c\u2028d\n\n"
    assert data_read(frame) == "a\nb\nc\u2028d"


def test_empty_data_is_one_empty_data_line():
    assert sse_event("reload", "") == "event: reload\ndata: \n\n"
