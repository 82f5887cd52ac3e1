"""The connection state machine and the framing, with no sockets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patronauth.sip2.connection import (
    Close,
    Connection,
    FrameBuffer,
    FrameTooLong,
    Request,
    Send,
    State,
)
from patronauth.sip2.messages import BLANK_DATE, Message, encode

LOGIN = encode(Message("93", {"uid_algorithm": "0", "pwd_algorithm": "0"}, (("CN", "k1"),)))
STATUS = b"9900302.00AY1AZFCA5\r"
RESEND = b"96AZFEF6\r"


def logged_in() -> Connection:
    connection = Connection()
    [event] = connection.receive(LOGIN)
    assert isinstance(event, Request)
    connection.reply(Message("94", {"ok": "1"}))
    assert connection.state is State.READY
    return connection


def test_frames_split_on_cr_crlf_and_lf_across_reads() -> None:
    frames = FrameBuffer()
    assert frames.feed(b"99003") == []
    assert frames.pending == 5
    assert frames.feed(b"02.00\r\n23") == [b"9900302.00"]
    assert frames.feed(b"x\r9900302.00\n\r\n") == [b"23x", b"9900302.00"]
    assert frames.pending == 0


def test_an_oversized_frame_is_refused_even_before_its_end() -> None:
    frames = FrameBuffer(max_frame=10)
    with pytest.raises(FrameTooLong):
        frames.feed(b"x" * 11)
    with pytest.raises(FrameTooLong):
        FrameBuffer(max_frame=10).feed(b"x" * 11 + b"\r")
    assert FrameBuffer(max_frame=10).feed(b"x" * 10 + b"\r") == [b"x" * 10]


def test_login_first_then_everything() -> None:
    connection = Connection()
    [event] = connection.receive(LOGIN)
    assert isinstance(event, Request)
    assert event.message.text("CN") == "k1"
    assert connection.reply(Message("94", {"ok": "1"})) == b"941AZFEC7\r"
    [status] = connection.receive(STATUS)
    assert isinstance(status, Request)
    assert status.message.code == "99"
    assert status.trailer.sequence == "1"


def test_a_failed_login_may_be_retried() -> None:
    connection = Connection()
    connection.receive(LOGIN)
    connection.reply(Message("94", {"ok": "0"}))
    assert connection.state is State.LOGIN
    [event] = connection.receive(LOGIN)
    assert isinstance(event, Request)


@pytest.mark.parametrize(
    "frame", [STATUS, b"23001" + BLANK_DATE.encode() + b"AA1|\r", b"xyz\r", b"97AZFEF5\r", b"97\r"]
)
def test_any_other_message_before_login_closes(frame: bytes) -> None:
    connection = Connection()
    assert connection.receive(frame + LOGIN) == [
        Close(f"message {frame[:2].decode()!r} before login")
    ]
    assert connection.state is State.CLOSED
    assert connection.receive(LOGIN) == []


def test_bad_checksum_is_answered_with_96() -> None:
    connection = logged_in()
    [event] = connection.receive(b"9900302.00AY1AZFCA6\r")
    assert event == Send(RESEND, "bad checksum")
    assert connection.state is State.READY


def test_97_repeats_the_last_reply() -> None:
    connection = logged_in()
    connection.receive(STATUS)
    reply = connection.reply(Message("96"))
    assert connection.receive(b"97AZFEF5\r") == [Send(reply, "repeat of the last reply")]


def test_97_right_after_the_login_repeats_the_login_reply() -> None:
    connection = Connection()
    connection.receive(LOGIN)
    login_reply = connection.reply(Message("94", {"ok": "1"}))
    assert connection.receive(b"97AZFEF5\r") == [Send(login_reply, "repeat of the last reply")]


def test_97_after_a_refused_login_closes() -> None:
    connection = Connection()
    connection.receive(LOGIN)
    connection.reply(Message("94", {"ok": "0"}))
    assert connection.receive(b"97\r") == [Close("message '97' before login")]
    assert connection.state is State.CLOSED


def test_the_reply_echoes_the_sequence_number() -> None:
    connection = logged_in()
    connection.receive(b"9900302.00AY7\r")
    assert connection.reply(Message("96")).startswith(b"96AZ")
    connection.receive(b"9900302.00AY7\r")
    assert b"AY7AZ" in connection.reply(Message("94", {"ok": "1"}))


def test_a_terminal_with_crlf_and_cp850() -> None:
    connection = logged_in()
    connection.configure(encoding="cp850", crlf=True)
    name = "Zoë Müller"
    frame = encode(
        Message("23", {"language": "001", "date": BLANK_DATE}, (("AA", name),)), encoding="cp850"
    )
    [event] = connection.receive(frame.replace(b"\r", b"\r\n"))
    assert isinstance(event, Request)
    assert event.message.text("AA") == name
    data = connection.reply(
        Message("36", {"end_session": "Y", "date": BLANK_DATE}, (("AF", name),))
    )
    assert data.endswith(b"\r\n")
    assert name.encode("cp850") in data


def test_undecodable_bytes_after_login_get_96() -> None:
    connection = logged_in()
    [event] = connection.receive(b"23001" + BLANK_DATE.encode() + b"AA\xff\xfe|\r")
    assert isinstance(event, Send)
    assert event.data == RESEND


def test_unknown_or_short_messages_after_login_get_96() -> None:
    connection = logged_in()
    events = connection.receive(b"55abc\r2300\r")
    assert [e.reason for e in events if isinstance(e, Send)] == [
        "unsupported message '55'",
        "message 23: fixed field language is short",
    ]


def test_oversized_frame_closes() -> None:
    connection = logged_in()
    assert connection.receive(b"9" * 5000) == [Close("frame too long")]
    assert connection.state is State.CLOSED


@given(st.lists(st.binary(max_size=300), max_size=8))
def test_arbitrary_bytes_give_only_events(chunks: list[bytes]) -> None:
    for connection in (Connection(), logged_in()):
        for chunk in chunks:
            for event in connection.receive(chunk):
                assert isinstance(event, Request | Send | Close)
                if isinstance(event, Send):
                    assert event.data == RESEND or event.reason == "repeat of the last reply"
