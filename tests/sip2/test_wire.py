"""Raw-socket tests of the SIP2 server on loopback: what neither client library covers."""

from __future__ import annotations

import socket
import time

import pysip2
import pytest

from patronauth.bootstrap import App
from patronauth.presentation.i18n import message
from patronauth.services.terminals import disable_terminal
from patronauth.sip2.answers import SUPPORTED
from patronauth.sip2.messages import BLANK_DATE, parse
from patronauth.sip2.server import Sip2Server
from tests.sip2.conftest import (
    ITEMS,
    NAME,
    PATRON,
    PIN,
    connect,
    login_frame,
    patron_status,
    request,
)
from tests.support import STAFF, register

RESEND = b"96AZFEF6\r"


def checked(frame: bytes, terminator: bytes = b"\r", encoding: str = "utf-8") -> dict[str, str]:
    """The fields of a reply after checking its terminator and its checksum by hand."""
    assert frame.endswith(terminator), frame
    body = frame[: -len(terminator)]
    assert body[-6:-4] == b"AZ", body
    assert (sum(body[:-4]) + int(body[-4:], 16)) & 0xFFFF == 0, body
    pysip2.decode_message(body + b"\r", encoding=encoding)  # a strict, independent check
    msg = parse(body.decode(encoding))
    return {"code": msg.code, **msg.fixed, **dict(msg.fields)}


def test_login_status_and_exactly_what_is_offered(server: Sip2Server) -> None:
    with connect(server, login=None) as t:
        assert t.ask(login_frame(seq="3")) == b"941AY3AZFDFA\r"
        reply = checked(
            t.ask(
                request("99", {"status": "0", "max_print_width": "040", "protocol_version": "2.00"})
            )
        )
    assert reply["code"] == "98"
    assert reply["online"] == "Y"
    assert reply["protocol_version"] == "2.00"
    assert reply["BX"] == SUPPORTED == "YYYNYYYYYNYNNNYY"
    assert reply["AN"] == "Central Library 2/F"


def test_a_failed_login_is_answered_940_and_may_be_retried(server: Sip2Server) -> None:
    with connect(server, login=None) as t:
        assert t.ask(login_frame(password="not-the-password")).startswith(b"940")
        assert t.ask(login_frame(login="nobody")).startswith(b"940")
        assert t.ask(login_frame()).startswith(b"941")
        assert checked(t.ask(patron_status()))["BL"] == "Y"


@pytest.mark.parametrize(
    "first",
    [
        patron_status(),
        request("99", {"status": "0", "max_print_width": "040", "protocol_version": "2.00"}),
        b"hello\r",
    ],
)
def test_any_other_message_before_login_closes_the_connection(
    server: Sip2Server, first: bytes
) -> None:
    with connect(server, login=None) as t:
        t.send(first + login_frame())
        assert t.closed()


def test_patron_status_answers_the_pin_question(server: Sip2Server) -> None:
    with connect(server) as t:
        right = checked(t.ask(patron_status()))
        wrong = checked(t.ask(patron_status(pin="9999")))
        unknown = checked(t.ask(patron_status(identifier="HKPL9999")))
        no_pin = checked(t.ask(patron_status(pin=None)))
        empty = checked(t.ask(patron_status(pin="")))
    assert (right["code"], right["BL"], right["CQ"], right["AE"]) == ("24", "Y", "Y", NAME)
    assert right["patron_status"] == " " * 14
    assert (wrong["BL"], wrong["CQ"]) == ("Y", "N")
    assert wrong["AF"] == message("sip2.pin_wrong")
    assert unknown["patron_status"] == "YYYY" + " " * 10
    assert (unknown["BL"], unknown["CQ"], unknown["AE"]) == ("N", "N", "")
    assert (no_pin["BL"], "CQ" in no_pin) == ("Y", False)
    # Without AD, a terminal not allowed to serve patrons without a PIN tells nothing.
    assert (no_pin["AE"], no_pin["AF"]) == ("", message("sip2.pin_required"))
    assert no_pin["patron_status"].startswith("YYYY")
    assert (empty["BL"], empty["CQ"]) == ("Y", "N")


def test_a_terminal_may_answer_a_wrong_pin_like_an_unknown_card(server: Sip2Server) -> None:
    with connect(server, login="kiosk-strict") as t:
        wrong = t.ask(patron_status(pin="9999"))
        unknown = t.ask(patron_status(identifier="HKPL9999", pin="9999"))
    strip = lambda frame: checked(frame) | {"AA": "", "date": ""}  # noqa: E731
    assert strip(wrong) == strip(unknown)
    assert checked(wrong)["BL"] == "N"


def test_crlf_input_split_and_merged_frames(server: Sip2Server) -> None:
    with connect(server, login=None) as t:
        data = login_frame().replace(b"\r", b"\r\n") + patron_status().replace(b"\r", b"\r\n")
        for index in range(0, len(data), 7):  # split anywhere, even inside the CRLF
            t.send(data[index : index + 7])
            time.sleep(0.001)
        assert t.frame().startswith(b"941")
        assert checked(t.frame())["CQ"] == "Y"
        t.send(patron_status() + patron_status(pin="9999") + patron_status(pin=None))
        assert [checked(t.frame()).get("CQ") for _ in range(3)] == ["Y", "N", None]


def test_blank_dates_eng_and_no_trailing_bar(server: Sip2Server) -> None:
    with connect(server) as t:
        # 23 in English as `eng`, without the last `|`, without checksum.
        text = f"23eng{BLANK_DATE}AOhkpl|AA{PATRON}|AD{PIN}\r".encode()
        status = checked(t.ask(text))
        checkout = checked(
            t.ask(
                request(
                    "11",
                    {
                        "renewal_policy": "N",
                        "no_block": "N",
                        "date": BLANK_DATE,
                        "nb_due_date": BLANK_DATE,
                    },
                    ("AO", "hkpl"),
                    ("AA", PATRON),
                    ("AB", ITEMS[0]),
                    ("AD", PIN),
                )
            )
        )
    assert (status["CQ"], status["language"]) == ("Y", "001")
    assert (checkout["code"], checkout["ok"], checkout["AB"]) == ("12", "1", ITEMS[0])
    assert checkout["AJ"] == f"Book {ITEMS[0]}"
    assert checkout["AH"].endswith("    235959")


def test_non_ascii_names_on_utf8_and_cp850_terminals(server: Sip2Server, library: App) -> None:
    register(library, "hkpl", "HKPL0002", name="Zoë Müller", phone="9876 5432")
    with connect(server) as t:
        utf8 = t.ask(patron_status(identifier="HKPL0002", pin="5432"))
    with connect(server, login="kiosk850") as t:
        cp850 = t.ask(patron_status(identifier="HKPL0002", pin="5432", encoding="cp850"))
        chinese = t.ask(patron_status(encoding="cp850"))
    assert "Zoë Müller".encode() in utf8
    assert checked(utf8)["AE"] == "Zoë Müller"
    assert "Zoë Müller".encode("cp850") in cp850
    assert checked(cp850, b"\r\n", "cp850")["AE"] == "Zoë Müller"
    # What cp850 cannot carry is replaced, and the checksum is over the bytes sent.
    assert checked(chinese, b"\r\n", "cp850")["AE"] == "??? Chan Tai Man"


def test_bad_checksum_gets_96_and_97_repeats_the_last_reply(server: Sip2Server) -> None:
    with connect(server) as t:
        good = patron_status()
        bad = good[:-5] + (b"0000" if good[-5:-1] != b"0000" else b"0001") + b"\r"
        assert t.ask(bad) == RESEND
        first = t.ask(good)
        assert t.ask(b"97AZFEF5\r") == first
        assert t.ask(b"97\r") == first


def test_an_oversized_frame_closes_the_connection(server: Sip2Server) -> None:
    with connect(server) as t:
        t.send(b"23001" + b"A" * 5000)
        assert t.closed()
    with connect(server) as t:
        assert checked(t.ask(patron_status()))["CQ"] == "Y"


def test_a_client_that_disconnects_mid_frame(server: Sip2Server) -> None:
    with connect(server) as t:
        t.send(patron_status()[:20])
        t.sock.shutdown(socket.SHUT_WR)
        assert t.closed()
    with connect(server) as t:
        assert checked(t.ask(patron_status()))["CQ"] == "Y"


def test_keep_alive_99_and_unknown_messages(server: Sip2Server) -> None:
    status = request("99", {"status": "0", "max_print_width": "040", "protocol_version": "2.00"})
    with connect(server) as t:
        for _ in range(3):
            assert checked(t.ask(status))["code"] == "98"
        assert t.ask(b"55whatever\r") == RESEND
        assert checked(t.ask(status))["code"] == "98"


def test_circulation_over_the_wire(server: Sip2Server) -> None:
    def lend(code: str, item: str) -> bytes:
        fixed = (
            {"renewal_policy": "N", "no_block": "N"}
            if code == "11"
            else {"third_party": "N", "no_block": "N"}
        )
        return request(
            code,
            {**fixed, "date": BLANK_DATE, "nb_due_date": BLANK_DATE},
            ("AO", "hkpl"),
            ("AA", PATRON),
            ("AB", item),
            ("AD", PIN),
        )

    with connect(server) as t:
        out = [checked(t.ask(lend("11", item))) for item in ITEMS[:2]]
        wrong_pin = checked(
            t.ask(
                request(
                    "11",
                    {
                        "renewal_policy": "N",
                        "no_block": "N",
                        "date": BLANK_DATE,
                        "nb_due_date": BLANK_DATE,
                    },
                    ("AO", "hkpl"),
                    ("AA", PATRON),
                    ("AB", ITEMS[2]),
                    ("AD", "9999"),
                )
            )
        )
        info_frame = t.ask(
            request(
                "63",
                {"language": "001", "date": BLANK_DATE, "summary": "  Y       "},
                ("AO", "hkpl"),
                ("AA", PATRON),
                ("AD", PIN),
            )
        )
        info = checked(info_frame)
        renewed = checked(t.ask(lend("29", ITEMS[0])))
        item = checked(t.ask(request("17", {"date": BLANK_DATE}, ("AO", "hkpl"), ("AB", ITEMS[0]))))
        back = checked(
            t.ask(
                request(
                    "09",
                    {"no_block": "N", "date": BLANK_DATE, "return_date": BLANK_DATE},
                    ("AP", "Central"),
                    ("AO", "hkpl"),
                    ("AB", ITEMS[0]),
                )
            )
        )
        again = checked(
            t.ask(
                request(
                    "09",
                    {"no_block": "N", "date": BLANK_DATE, "return_date": BLANK_DATE},
                    ("AO", "hkpl"),
                    ("AB", ITEMS[0]),
                )
            )
        )
        unknown_item = checked(t.ask(request("17", {"date": BLANK_DATE}, ("AB", "NOSUCH"))))
        all_ = checked(
            t.ask(request("65", {"date": BLANK_DATE}, ("AO", "hkpl"), ("AA", PATRON), ("AD", PIN)))
        )
        end = checked(t.ask(request("35", {"date": BLANK_DATE}, ("AO", "hkpl"), ("AA", PATRON))))
    assert [o["ok"] for o in out] == ["1", "1"]
    assert (wrong_pin["ok"], wrong_pin["AF"]) == ("0", message("sip2.pin_wrong"))
    assert info["code"] == "64"
    assert info["charged_count"] == "0002"
    assert parse(info_frame[:-1].decode()).all("AU") == list(ITEMS[:2])
    assert (renewed["code"], renewed["ok"], renewed["renewal_ok"]) == ("30", "1", "Y")
    assert (item["circulation_status"], item["AJ"]) == ("04", f"Book {ITEMS[0]}")
    assert (back["code"], back["ok"], back["AA"]) == ("10", "1", PATRON)
    assert again["ok"] == "0"
    assert (unknown_item["circulation_status"], unknown_item["AJ"]) == ("01", "")
    assert (all_["code"], all_["ok"], all_["renewed_count"], all_["BM"]) == (
        "66",
        "1",
        "0001",
        ITEMS[1],
    )
    assert (end["code"], end["end_session"]) == ("36", "Y")


def test_a_disabled_terminal_loses_its_connection(server: Sip2Server, library: App) -> None:
    with connect(server) as t:
        assert checked(t.ask(patron_status()))["CQ"] == "Y"
        disable_terminal(library.ports, "kiosk1", staff=STAFF)
        t.send(patron_status())
        assert t.closed()
    with connect(server, login=None) as t:
        assert t.ask(login_frame()).startswith(b"940")
