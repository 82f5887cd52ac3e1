"""The seed libraries' own examples, typed at the command line (R4, R5, R10, R12, R16, R17)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from tests.cli.conftest import ADD_PENDING, Cli

POLYU = ("--institution", "polyu")
LOGIN_WEB = ("--channel", "web")

DEFAULTS = {
    "polyu HKID (R10)": ((*POLYU, "--id-number", "Z123456(7)"), "Z12345", "id_prefix"),
    "polyu passport (R10)": ((*POLYU, "--id-number", "XY12345678"), "XY1234", "id_prefix"),
    "hkpl phone (R4)": (
        ("--institution", "hkpl", "--phone", "9123 4567"),
        "4567",
        "phone_last_digits",
    ),
    "hkct until 2018-07-31 (R16)": (
        ("--institution", "hkct", "--registered-on", "2018-07-31", "--id-number", "A123456(3)"),
        "A12345",
        "hkid_letter_digits",
    ),
    "hkct from 2018-08-01 (R16)": (
        ("--institution", "hkct", "--registered-on", "2018-08-01", "--student-number", "20181234"),
        "20181234",
        "student_number",
    ),
    "hkct staff from 2018-08-01 (R16)": (
        ("--institution", "hkct", "--category", "staff", "--staff-number", "S2019001"),
        "S2019001",
        "staff_number",
    ),
}


@pytest.mark.parametrize(("args", "default", "rule"), DEFAULTS.values(), ids=DEFAULTS)
def test_default_show_prints_the_seed_examples_and_stores_nothing(
    cli: Cli, args: tuple[str, ...], default: str, rule: str
) -> None:
    before = cli.state()
    assert cli.ok("default", "show", *args, shows_secret=True).out == f"{default}\n"
    body = cli.ok("default", "show", *args, "--json", shows_secret=True).json()
    assert body["default"] == default
    assert body["rule"] == rule
    assert cli.state() == before


def test_default_show_says_when_the_patron_sets_the_secret_up(cli: Cli) -> None:
    run = cli.ok("default", "show", "--institution", "hku")
    assert run.out == "no default: the patron sets it up (first-time set-up)\n"
    assert cli.ok("default", "show", "--institution", "hku", "--json").json()["default"] is None


def test_default_show_refuses_without_the_data_the_rule_needs(cli: Cli) -> None:
    assert cli.refused("default", "show", *POLYU).reasons == ["default.missing_id_number"]
    run = cli.refused(
        "default", "show", "--institution", "hkpl", "--credential", "pin", "--phone", "+1 234"
    )
    assert run.reasons == ["phone.invalid"]


@pytest.mark.parametrize(
    "args",
    [
        ("--institution", "hkpl", "--credential", "pin"),  # no phone
        ("--institution", "hkct", "--registered-on", "2016-07-04", "--id-number", "XY12345678"),
        ("--institution", "polyu", "--registered-on", "2013-05-31", "--id-number", "Z123456(7)"),
    ],
)
def test_default_show_says_when_the_data_give_no_default(cli: Cli, args: tuple[str, ...]) -> None:
    run = cli.ok("default", "show", *args)
    assert run.out == "no default: the patron sets it up (first-time set-up)\n"


def test_patron_add_refuses_a_wrong_hkid_check_digit_and_accepts_the_right_one(cli: Cli) -> None:
    add = ("patron", "add", *POLYU, "--barcode", "21012345A", "--name", "Wong Ka Yan")
    run = cli.refused(*add, "--id-number", "Z123456(7)")
    assert run.reasons == ["hkid.check_digit"]
    assert "check digit" in run.err
    assert cli.refused("patron", "show", "21012345A").reasons == ["patron.not_found"]
    assert cli.state()["patrons"] == []

    assert cli.ok(*add, "--id-number", "Z123456(1)").out == (
        "registered polyu patron (student, active)\n"
    )
    shown = cli.ok("patron", "show", "21012345A").out
    assert "identity document: hkid Z1******" in shown
    assert "Z123456" not in shown
    assert "credential: pin default (failures in a row: 0)" in shown


def _polyu(cli: Cli) -> None:
    cli.ok("patron", "add", *POLYU, "--barcode", "21012345A", "--id-number", "Z123456(1)")


def test_login_with_a_default_opens_only_the_change_step(cli_any: Cli) -> None:
    _polyu(cli_any)
    run = cli_any.ok("login", "21012345A", *LOGIN_WEB, stdin="Z12345\n")
    assert run.out == "ok must-change\n"
    assert run.err == "Signed in. You must choose a new PIN before going on.\n"
    cli_any.ok(
        "patron", "add", "--institution", "hkpl", "--barcode", "HKPL0002", "--phone", "61239876"
    )
    # HKPL accepts the default PIN at self-checkout (S5), never the default password online.
    assert cli_any.ok("login", "HKPL0002", "--channel", "sip2", stdin="9876\n").out == "ok\n"
    assert cli_any("login", "HKPL0002", *LOGIN_WEB, stdin="9876\n").out == "ok must-change\n"


def test_login_of_a_pending_registration_gives_the_library_contact(cli_any: Cli) -> None:
    cli_any.ok(*ADD_PENDING)
    run = cli_any("login", "S2019001", *LOGIN_WEB, stdin="S2019001\n")
    assert (run.code, run.out) == (1, "pending-registration\n")
    assert "registration is not complete" in run.err
    assert "2265 6918" in run.err
    assert "lib@hkct.edu.hk" in run.err

    assert (
        cli_any.ok("patron", "complete", "--reason", "at the counter", "S2019001").out
        == "registration complete: active\n"
    )
    assert cli_any.ok("login", "S2019001", *LOGIN_WEB, stdin="S2019001\n").out == "ok must-change\n"
    again = cli_any.refused("patron", "complete", "--reason", "at the counter", "S2019001")
    assert again.reasons == ["patron.not_pending"]


def test_the_sixth_attempt_within_a_minute_is_blocked_even_with_the_right_pin(
    cli_any: Cli,
) -> None:
    _polyu(cli_any)
    for _ in range(5):
        run = cli_any("login", "21012345A", *LOGIN_WEB, stdin="Q7x2m9\n")
        assert (run.code, run.out) == (1, "invalid\n")
        assert run.err == "The card number or the password or PIN is not correct.\n"
    run = cli_any("login", "21012345A", *LOGIN_WEB, stdin="Z12345\n")
    assert run.code == 1
    outcome, seconds = run.out.split()
    assert outcome == "blocked"
    assert 0 < int(seconds) <= 60
    assert "It is blocked" in run.err
    # Case, spaces and leading zeros of the barcode count as one (S3).
    assert cli_any("login", " 21012345a ", *LOGIN_WEB, stdin="Z12345\n").out.startswith("blocked ")
    body = cli_any("login", "21012345A", "--channel", "sip2", "--json", stdin="Z12345\n").json()
    assert body["outcome"] == "blocked"
    assert 0 < body["retry_after"] <= 60
    assert "blocked" in cli_any.ok("patron", "show", "21012345A").out

    assert cli_any.ok("unlock", "--reason", "at the counter", "21012345A").out == "unlocked\n"
    assert cli_any.ok("login", "21012345A", *LOGIN_WEB, stdin="Z12345\n").out == "ok must-change\n"
    outcomes = [e["outcome"] for e in cli_any.audit("21012345A") if e["action"] == "sign_in"]
    assert outcomes == ["ok must-change", "blocked", "blocked", "blocked"] + ["invalid"] * 5


def test_a_blocked_answer_does_not_reveal_whether_the_card_exists(cli_any: Cli) -> None:
    for _ in range(5):
        assert cli_any("login", "29999999Z", *LOGIN_WEB, stdin="Q7x2m9\n").out == "invalid\n"
    assert cli_any("login", "29999999Z", *LOGIN_WEB, stdin="Q7x2m9\n").out.startswith("blocked ")


@pytest.fixture
def relaxed_block(cli_any: Cli, tmp_path: Path) -> Cli:
    """PolyU's profile with the per-minute block relaxed by the deployer, so that the
    consecutive-failure cap (10 for PINs, which time does not reset) is reached first."""
    shipped = resources.files("patronauth.profiles").joinpath("polyu.toml").read_text("utf-8")
    assert "max_failures = 5\n" in shipped
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "polyu.toml").write_text(shipped.replace("max_failures = 5\n", "max_failures = 50\n"))
    cli_any.configure(PATRONAUTH_PROFILES_DIR=str(folder))
    return cli_any


def test_the_consecutive_cap_suspends_until_staff_unlock(relaxed_block: Cli) -> None:
    cli = relaxed_block
    _polyu(cli)
    for _ in range(10):
        assert cli("login", "21012345A", *LOGIN_WEB, stdin="Q7x2m9\n").out == "invalid\n"
    run = cli("login", "21012345A", *LOGIN_WEB, stdin="Z12345\n")
    assert (run.code, run.out) == (1, "suspended\n")
    assert "This PIN is suspended after too many wrong attempts" in run.err
    assert "Circulation Counter" in run.err  # the library's contact text
    assert cli("login", "21012345A", "--channel", "sip2", stdin="Z12345\n").out == "suspended\n"
    assert (
        "credential: pin suspended (failures in a row: 10)"
        in cli.ok("patron", "show", "21012345A").out
    )

    body = cli.ok("unlock", "--reason", "at the counter", "21012345A", "--json").json()
    assert body["unsuspended"] == ["pin"]
    assert cli.ok("login", "21012345A", *LOGIN_WEB, stdin="Z12345\n").out == "ok must-change\n"


def test_a_staff_reset_also_ends_a_suspension(relaxed_block: Cli) -> None:
    cli = relaxed_block
    _polyu(cli)
    for _ in range(10):
        cli("login", "21012345A", *LOGIN_WEB, stdin="Q7x2m9\n")
    assert cli("login", "21012345A", *LOGIN_WEB, stdin="Z12345\n").out == "suspended\n"
    cli.ok("credential", "reset", "--reason", "at the counter", "21012345A")
    assert cli.ok("login", "21012345A", *LOGIN_WEB, stdin="Z12345\n").out == "ok must-change\n"


def test_login_takes_only_the_credential_the_channel_is_mapped_to(cli_any: Cli) -> None:
    """R1: HKPL's web and app take the online password; HKCT has no telephone line."""
    cli_any.ok(
        "patron", "add", "--institution", "hkpl", "--barcode", "HKPL0002", "--phone", "61239876"
    )
    run = cli_any.refused("login", "HKPL0002", *LOGIN_WEB, "--credential", "pin", stdin="9876\n")
    assert run.reasons == ["credential.not_for_channel"]
    assert cli_any.ok("login", "HKPL0002", "--channel", "sip2", stdin="9876\n").out == "ok\n"
    cli_any.ok(
        "patron", "add", "--institution", "hkct", "--barcode", "20181234",
        "--student-number", "20181234", "--registered-on", "2019-09-02",
    )  # fmt: skip
    run = cli_any.refused("login", "20181234", "--channel", "telephone", stdin="20181234\n")
    assert run.reasons == ["channel.not_offered"]


def test_a_default_from_an_id_number_is_typed_in_either_case(cli_any: Cli) -> None:
    _polyu(cli_any)
    assert cli_any.ok("login", "21012345A", *LOGIN_WEB, stdin="z12345\n").out == "ok must-change\n"
    run = cli_any.refused("credential", "change", "21012345A", stdin="Z12345\nz12345\nz12345\n")
    assert run.reasons == ["pin.unchanged"]
