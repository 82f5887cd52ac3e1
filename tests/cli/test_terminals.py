"""`patronauth terminal ...` (SPEC 4.5): adding terminals with the password on standard
input, listing them (text and JSON), disabling, enabling, options; bad input refused
with reason codes and nothing stored; the password never printed."""

from __future__ import annotations

import pytest

from patronauth.services.terminals import terminal_login
from tests.cli.conftest import Cli
from tests.cli.test_bad_input import BAD, assert_clear_answer

PASSWORD = "kiosk-Secret-2026"
ADD = (
    "terminal",
    "add",
    "--reason",
    "at the counter",
    "--login",
    "cen-sc-01",
    "--institution",
    "hkpl",
)


def test_add_then_list_as_text_and_json(cli_any: Cli) -> None:
    cli = cli_any
    run = cli.ok(*ADD, "--location", "Central Library 1/F", "--crlf", stdin=f"{PASSWORD}\n")
    assert run.out.startswith("terminal added: cen-sc-01  hkpl (Central Library 1/F)  enabled")
    cli.ok(
        "terminal", "add", "--reason", "at the counter",
        "--login", "old-kiosk", "--institution", "hku", "--encoding", "cp850",
        "--allow-pinless", "--wrong-pin-as-unknown", stdin=f"{PASSWORD}\n",
    )  # fmt: skip
    listed = cli.ok("terminal", "list", "--json").json()["terminals"]
    assert listed == [
        {
            "login": "cen-sc-01",
            "institution": "hkpl",
            "location": "Central Library 1/F",
            "enabled": True,
            "encoding": "utf-8",
            "crlf": True,
            "allow_pinless": False,
            "wrong_pin_as_unknown": False,
            "channel": "sip2",
        },
        {
            "login": "old-kiosk",
            "institution": "hku",
            "location": "",
            "enabled": True,
            "encoding": "cp850",
            "crlf": False,
            "allow_pinless": True,
            "wrong_pin_as_unknown": True,
            "channel": "sip2",
        },
    ]
    text = cli.ok("terminal", "list", "--institution", "hku").out
    assert text == (
        "old-kiosk  hku  enabled, cp850, CR, PIN-less allowed, wrong PIN answered as unknown\n"
    )
    with cli.app() as app:
        assert terminal_login(app.ports, "cen-sc-01", PASSWORD, source="test") is not None
    assert PASSWORD not in str(cli.state())


def test_no_terminals(cli: Cli) -> None:
    assert cli.ok("terminal", "list").out == "no terminals\n"
    assert cli.ok("terminal", "list", "--json").json() == {"terminals": []}


def test_disable_and_enable(cli: Cli) -> None:
    cli.ok(*ADD, stdin=f"{PASSWORD}\n")
    assert (
        cli.ok("terminal", "disable", "--reason", "at the counter", "cen-sc-01").out
        == "terminal disabled: cen-sc-01\n"
    )
    with cli.app() as app:
        assert terminal_login(app.ports, "cen-sc-01", PASSWORD, source="test") is None
    assert cli.refused(
        "terminal", "disable", "--reason", "at the counter", "cen-sc-01"
    ).reasons == ["terminal.already_disabled"]
    assert (
        cli.ok("terminal", "enable", "--reason", "at the counter", "cen-sc-01", "--json").json()[
            "enabled"
        ]
        is True
    )
    with cli.app() as app:
        assert terminal_login(app.ports, "cen-sc-01", PASSWORD, source="test") is not None
    actions = [e["action"] for e in cli.audit()]
    assert {"terminal.add", "terminal.disable", "terminal.enable", "terminal.login"} <= set(actions)


def test_options(cli: Cli) -> None:
    cli.ok(*ADD, stdin=f"{PASSWORD}\n")
    data = cli.ok("terminal", "options", "cen-sc-01", "--crlf", "--allow-pinless", "--json").json()
    assert (data["crlf"], data["allow_pinless"], data["wrong_pin_as_unknown"]) == (
        True,
        True,
        False,
    )
    data = cli.ok("terminal", "options", "cen-sc-01", "--require-pin", "--json").json()
    assert (data["crlf"], data["allow_pinless"]) == (True, False)


def test_a_telephone_box_speaking_sip2_counts_as_the_telephone_channel(cli: Cli) -> None:
    added = cli.ok(*ADD, "--channel", "telephone", "--json", stdin=f"{PASSWORD}\n").json()
    assert added["channel"] == "telephone"
    assert cli.ok("terminal", "list").out == (
        "cen-sc-01  hkpl  enabled, utf-8, CR, counts as telephone\n"
    )
    data = cli.ok("terminal", "options", "cen-sc-01", "--channel", "sip2", "--json").json()
    assert data["channel"] == "sip2"
    details = {e["action"]: e["detail"]["channel"] for e in cli.audit() if "detail" in e}
    assert (details["terminal.add"], details["terminal.options"]) == ("telephone", "sip2")
    wrong = cli("terminal", "options", "cen-sc-01", "--channel", "web")
    assert wrong.code == 2  # a usage error: sip2 or telephone only
    assert "'web' is not one of 'sip2', 'telephone'" in wrong.err


REFUSED = {
    "unknown terminal": (
        ("terminal", "disable", "--reason", "at the counter", "nobody"),
        None,
        "terminal.not_found",
    ),
    "unknown terminal options": (
        ("terminal", "options", "nobody", "--crlf"),
        None,
        "terminal.not_found",
    ),
    "short password": ((*ADD,), "kiosk-12\n", "terminal.password_too_short"),
    "empty password": ((*ADD,), "\n", "terminal.password_too_short"),
    "password with a separator": ((*ADD,), "kiosk|Secret-2026\n", "terminal.password_separator"),
    "password with NUL": ((*ADD,), "kiosk\x00Secret-2026\n", "terminal.password_control_character"),
    "password with a line separator": (
        (*ADD,),
        "kiosk\u2028Secret-2026\n",
        "terminal.password_control_character",
    ),
    "password cp850 cannot carry": (
        (*ADD, "--encoding", "cp850"),
        "自助借書機-kiosk-2026\n",
        "terminal.password_not_encodable",
    ),
    "password not UTF-8": ((*ADD,), b"kiosk\xffSecret-2026\n", "secret.not_utf8"),
    "password of 10 MB": ((*ADD,), "a" * (10 * 1024 * 1024), "secret.too_long"),
    "markup in --location": (
        (*ADD, "--location", "<b>Central</b>"),
        f"{PASSWORD}\n",
        "terminal.location_invalid",
    ),
    "control character in --location": (
        (*ADD, "--location", "Central\x1b[2J"),
        f"{PASSWORD}\n",
        "terminal.location_invalid",
    ),
}


@pytest.mark.parametrize(("args", "stdin", "code"), REFUSED.values(), ids=REFUSED)
def test_refusals_have_reason_codes_and_store_nothing(
    cli: Cli, args: tuple[str, ...], stdin: str | bytes | None, code: str
) -> None:
    before = cli.state()
    for extra in ((), ("--json",)):
        run = cli.refused(*args, *extra, stdin=stdin)
        if extra:
            assert run.json()["error"] == code
        else:
            assert run.reasons == [code]
    assert cli.state() == before


def test_a_login_is_taken_once(cli: Cli) -> None:
    cli.ok(*ADD, stdin=f"{PASSWORD}\n")
    before = cli.state()
    run = cli.refused(*ADD, stdin="another-Secret-2026\n")
    assert run.reasons == ["terminal.login_taken"]
    assert cli.state() == before


LOCATION_CODES = {
    "overlong": "terminal.location_invalid",
    "NUL byte": "terminal.location_invalid",
    "control characters": "terminal.location_invalid",
    "not UTF-8": "argument.not_utf8",
    "HTML": "terminal.location_invalid",
}


def test_a_location_is_free_text_without_markup_separators_or_control_characters(
    cli: Cli,
) -> None:
    """SQL in a location is just characters, stored as typed; the rest is refused."""
    for kind, text in BAD.items():
        login = f"k{len(kind)}{kind[:3].replace(' ', '-')}"
        before = cli.state()
        run = cli(*ADD[:3], login, *ADD[4:], "--location", text, stdin=f"{PASSWORD}\n")
        assert_clear_answer(run)
        if kind == "SQL":
            assert run.code == 0, str(run)
            assert cli.ok("terminal", "list", "--json").json()["terminals"][0]["location"] == text
            continue
        assert cli.state() == before, f"{kind}: something was stored\n{run}"
        if kind == "empty":
            assert (run.code, "must not be empty" in run.err) == (2, True), str(run)
        else:
            assert (run.code, run.reasons[:1]) == (1, [LOCATION_CODES[kind]]), f"{kind}: {run}"


def test_unlock_lifts_a_terminal_logins_block(cli: Cli) -> None:
    cli.ok(*ADD, stdin=f"{PASSWORD}\n")
    with cli.app() as app:
        for _ in range(5):
            assert terminal_login(app.ports, "cen-sc-01", "not-the-password", source="t") is None
        assert terminal_login(app.ports, "cen-sc-01", PASSWORD, source="t") is None  # blocked
    assert (
        cli.ok("terminal", "unlock", "--reason", "at the counter", "cen-sc-01").out
        == "terminal unlocked: cen-sc-01\n"
    )
    with cli.app() as app:
        assert terminal_login(app.ports, "cen-sc-01", PASSWORD, source="t") is not None
    assert (
        "terminal.not_found"
        in cli.refused("terminal", "unlock", "--reason", "at the counter", "no-such-kiosk").reasons
    )
