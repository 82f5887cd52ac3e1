"""The SIP2 message core: checksums (known-good vectors), parsing, formatting, dates."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patronauth.sip2.messages import (
    BLANK_DATE,
    FIXED,
    Message,
    ParseError,
    check_frame,
    checksum,
    encode,
    format_body,
    language_code,
    language_of,
    message,
    parse,
    parse_date,
    sip_date,
)

HONG_KONG = ZoneInfo("Asia/Hong_Kong")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"97AZ", "FEF5"),
        (b"96AZ", "FEF6"),
        (b"941AY0AZ", "FDFD"),
        (
            b"09N20160419    12200820160419    122008APReading Room 1|AO830|"
            b"AB830$28170815|AC|AY2AZ",
            "EB80",
        ),
    ],
)
def test_checksum_vectors(data: bytes, expected: str) -> None:
    assert checksum(data) == expected
    assert check_frame(data + expected.encode(), "utf-8").valid


def test_encode_appends_sequence_checksum_and_terminator() -> None:
    assert encode(Message("94", {"ok": "1"}), sequence="0") == b"941AY0AZFDFD\r"
    assert encode(Message("96")) == b"96AZFEF6\r"
    # 96 and 97 never carry a sequence number.
    assert encode(Message("96"), sequence="3", terminator=b"\r\n") == b"96AZFEF6\r\n"


def test_checksum_is_over_the_encoded_bytes() -> None:
    msg = message(
        "24",
        {"patron_status": " " * 14, "language": "001", "date": BLANK_DATE},
        ("AE", "Chan Tai Man 陳大文"),
    )
    utf8 = encode(msg, encoding="utf-8")
    cp850 = encode(
        Message("36", {"end_session": "Y", "date": BLANK_DATE}, (("AF", "Müller"),)),
        encoding="cp850",
    )
    for frame, encoding in ((utf8, "utf-8"), (cp850, "cp850")):
        body = frame[:-1]
        assert (sum(body[:-4]) + int(body[-4:], 16)) & 0xFFFF == 0
        assert check_frame(body, encoding).valid
    assert "陳大文".encode() in utf8
    assert "Müller".encode("cp850") in cp850


@pytest.mark.parametrize(
    ("frame", "valid", "lenient", "sequence"),
    [
        (b"9900302.00AY1AZFCA5", True, None, "1"),
        (b"9900302.00AY1AZFCA6", False, None, "1"),
        (b"9900302.00", True, None, None),
        (b"9900302.00AY4", True, None, "4"),
        (b"9900302.00AY1AZXYZ", False, None, None),
        # A value that ends in AZ, without the last `|` and without error detection.
        (b"9300CNk1|COsecretAZ", True, None, None),
    ],
)
def test_check_frame(frame: bytes, valid: bool, lenient: str | None, sequence: str | None) -> None:
    trailer = check_frame(frame, "utf-8")
    assert (trailer.valid, trailer.lenient, trailer.sequence) == (valid, lenient, sequence)


def test_a_sum_of_code_points_is_accepted_and_named() -> None:
    text = "23001" + BLANK_DATE + "AOHKPL|AA陳|AY1AZ"
    points = (-sum(ord(c) for c in text)) & 0xFFFF
    loose = check_frame(text.encode() + f"{points:04X}".encode(), "utf-8")
    assert (loose.valid, loose.lenient) == (True, "code points")


def test_a_three_digit_checksum_written_by_a_client() -> None:
    # A 99 whose checksum is below 0x1000 once its sum is large enough.
    body = b"9900302.00AOHKPL|AY1AZ"
    for pad in range(1000):
        candidate = body.replace(b"|AY1AZ", b"~" * pad + b"|AY1AZ")
        value = (-sum(candidate)) & 0xFFFF
        if value < 0x1000:
            break
    else:
        pytest.fail("no candidate found")
    trailer = check_frame(candidate + f"{value:X}".encode(), "utf-8")
    assert (trailer.valid, trailer.lenient, trailer.sequence) == (True, "3-digit", "1")


def test_parse_reads_fixed_fields_by_width_and_variable_fields_in_any_order() -> None:
    msg = parse("2300120240101    120000AAbarcode|AOHKPL|ADsecret|XXunknown|AY3AZ1234")
    assert msg.code == "23"
    assert msg.fixed == {"language": "001", "date": "20240101    120000"}
    assert msg.text("AA") == "barcode"
    assert msg.text("AO") == "HKPL"
    assert msg.text("AD") == "secret"
    assert msg.get("AC") is None
    assert msg.has("XX")


def test_parse_without_trailing_bar_and_with_repeated_fields() -> None:
    msg = parse("9300CNkiosk1|COpassword|CPLevel 2")
    assert msg.fixed == {"uid_algorithm": "0", "pwd_algorithm": "0"}
    assert msg.text("CP") == "Level 2"
    reply = parse("36Y" + BLANK_DATE + "AOHKPL|AFone|AFtwo|AY0AZ0000")
    assert reply.all("AF") == ["one", "two"]


def test_parse_keeps_an_empty_pin() -> None:
    msg = parse("23eng" + BLANK_DATE + "AOHKPL|AA123|AD|")
    assert msg.has("AD")
    assert msg.text("AD") == ""
    assert msg.fixed["language"] == "eng"


@pytest.mark.parametrize(
    "text",
    ["", "9", "XX", "2300", "63001" + BLANK_DATE + "YYY", "23001" + BLANK_DATE + "AA" + "1" * 256],
)
def test_parse_errors(text: str) -> None:
    with pytest.raises(ParseError):
        parse(text)


def test_value_of_255_characters_is_accepted() -> None:
    assert parse("23001" + BLANK_DATE + "AA" + "1" * 255).text("AA") == "1" * 255


@given(st.binary(max_size=600))
def test_parser_raises_only_its_own_error(data: bytes) -> None:
    for encoding in ("utf-8", "cp850"):
        check_frame(data, encoding)
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        with contextlib.suppress(ParseError):
            parse(text)


@given(st.sampled_from(sorted(FIXED)), st.text(max_size=300))
def test_parser_on_every_code_with_arbitrary_text(code: str, rest: str) -> None:
    try:
        msg = parse(code + rest)
    except ParseError:
        return
    assert msg.code == code


def test_format_is_strict_about_widths_and_cleans_values() -> None:
    with pytest.raises(ValueError, match="must be 1 wide"):
        format_body(Message("94", {"ok": "10"}))
    text = format_body(
        message(
            "36",
            {"end_session": "Y", "date": BLANK_DATE},
            ("AF", "a|b\rc"),
            ("AG", None),
            ("AO", "x" * 300),
        )
    )
    assert text == "36Y" + BLANK_DATE + "AFa b c|AO" + "x" * 255 + "|"


def test_every_response_round_trips() -> None:
    for code, layout in FIXED.items():
        fixed = {
            name: "20260102    110405" if name.endswith("date") else "Y" * width
            for name, width in layout
        }
        msg = message(code, fixed, ("AO", "HKPL"), ("AF", "hello"))
        frame = encode(msg, sequence="5")
        assert check_frame(frame[:-1], "utf-8").valid
        assert parse(frame[:-1].decode()) == msg


def test_dates_in_local_time_and_blank() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert sip_date(moment, HONG_KONG) == "20260102    110405"
    assert sip_date(None, HONG_KONG) == BLANK_DATE
    assert parse_date(BLANK_DATE, HONG_KONG) is None
    assert parse_date("20260102    110405", HONG_KONG) == moment
    assert parse_date("20260102   Z030405", HONG_KONG) == moment
    assert parse_date("not a date at all!", HONG_KONG) is None


@pytest.mark.parametrize(
    ("code", "language"),
    [("eng", "en"), ("ENG", "en"), ("001", "en"), ("019", "zh_Hant"), ("000", None), ("xyz", None)],
)
def test_languages(code: str, language: str | None) -> None:
    assert language_of(code) == language


def test_language_codes() -> None:
    assert language_code("en") == "001"
    assert language_code("zh_Hant") == "019"
    assert language_code(None) == "000"


def test_a_request_whose_only_fixed_field_is_its_date_may_leave_it_out() -> None:
    msg = parse("65AOhkpl|AAHKPL0001|AD4567|BON|AY6AZ1234")
    assert msg.fixed == {"date": BLANK_DATE}
    assert (msg.text("AO"), msg.text("AA"), msg.text("AD")) == ("hkpl", "HKPL0001", "4567")
    dated = parse("6520260102    110405AOhkpl|AAHKPL0001|")
    assert (dated.fixed["date"], dated.text("AA")) == ("20260102    110405", "HKPL0001")
    with pytest.raises(ParseError):
        parse("65short")
