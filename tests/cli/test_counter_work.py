"""Changing, resetting and setting up secrets, and the rest of the counter work (R13, R14,
R18, R23-R27), through the command line."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.cli.conftest import REASON_LINE, Cli

WEB = ("--channel", "web")


@pytest.fixture
def polyu(cli: Cli) -> Cli:
    cli.ok("patron", "add", "--institution", "polyu", "--barcode", "21012345A")
    return cli


@pytest.fixture
def polyu_patron(cli: Cli) -> Cli:
    add = "patron add --institution polyu --barcode 21012345A --id-number Z123456(1)"
    cli.ok(*add.split(), "--email", "ka-yan.wong@example.org")
    return cli


def test_credential_change_takes_current_new_and_new_again(polyu_patron: Cli) -> None:
    cli = polyu_patron
    change = ("credential", "change", "21012345A", *WEB)
    assert cli.ok(*change, stdin="Z12345\nq7x2m9\nq7x2m9\n").out == "changed\n"
    assert cli.ok("login", "21012345A", *WEB, stdin="q7x2m9\n").out == "ok\n"
    assert cli("login", "21012345A", *WEB, stdin="Z12345\n").out == "invalid\n"
    shown = cli.ok("patron", "show", "21012345A").out
    assert "credential: pin chosen (failures in a row: 1)" in shown


def _kept(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """kind, state, default digest, policy date, set at, expires at, suspended from."""
    return [tuple(row[i] for i in (2, 3, 5, 6, 7, 8, 10)) for row in rows]


REFUSED_CHANGES = {
    "wrong current PIN": ("Q7x2m9\nr8y3n4\nr8y3n4\n", ["login.invalid"]),
    "the two new entries differ": ("Z12345\nr8y3n4\nr8y3n5\n", ["secret.confirmation_mismatch"]),
    "trivial (R11)": ("Z12345\nabab12\nabab12\n", ["pin.trivial.repeated_group"]),
    "too long and not alphanumeric (R9)": (
        "Z12345\nq7x2m9#42\nq7x2m9#42\n",
        ["pin.too_long"],
    ),
    "too short and repeated (R9, R11)": (
        "Z12345\naaa1\naaa1\n",
        ["pin.too_short", "pin.trivial.repeated_char"],
    ),
    "unchanged": ("Z12345\nZ12345\nZ12345\n", ["pin.unchanged"]),
}


@pytest.mark.parametrize(("stdin", "reasons"), REFUSED_CHANGES.values(), ids=REFUSED_CHANGES)
def test_a_refused_change_says_why_and_keeps_the_old_pin(
    polyu_patron: Cli, stdin: str, reasons: list[str]
) -> None:
    cli = polyu_patron
    before = cli.state(attempts=False)
    run = cli.refused("credential", "change", "21012345A", *WEB, stdin=stdin)
    assert run.reasons == reasons
    assert run.out == ""
    # The state, the default and when the secret was set stay; the failure count may
    # move (a wrong current PIN is a failed sign-in) and a verified default is re-hashed.
    assert _kept(cli.state(attempts=False)["credentials"]) == _kept(before["credentials"])
    assert cli.ok("login", "21012345A", *WEB, stdin="Z12345\n").out == "ok must-change\n"


def test_credential_reset_reverts_to_the_default_r14(polyu_patron: Cli) -> None:
    cli = polyu_patron
    cli.ok("credential", "change", "21012345A", *WEB, stdin="Z12345\nq7x2m9\nq7x2m9\n")
    run = cli.ok("credential", "reset", "--reason", "at the counter", "21012345A")
    assert run.out == "pin reset to the default; the patron must change it online\n"
    assert cli("login", "21012345A", *WEB, stdin="q7x2m9\n").out == "invalid\n"
    assert cli.ok("login", "21012345A", *WEB, stdin="Z12345\n").out == "ok must-change\n"


@pytest.fixture
def julac(cli: Cli) -> Cli:
    cli.ok("patron", "add", "--institution", "hku", "--barcode", "CU1234567", "--name", "Yip Hoi")
    return cli


def test_credential_setup_for_a_julac_card_r21_r23(julac: Cli) -> None:
    cli = julac
    assert cli("login", "CU1234567", *WEB, stdin="Stacks&Shelves42\n").out == "invalid\n"
    setup = ("credential", "setup", "CU1234567")
    assert cli.ok(*setup, stdin="Stacks&Shelves42\nStacks&Shelves42\n").out == "pin set up\n"
    assert cli.ok("login", "CU1234567", *WEB, stdin="Stacks&Shelves42\n").out == "ok\n"
    again = cli.refused(*setup, stdin="Other&Shelves43\nOther&Shelves43\n")
    assert again.reasons == ["credential.already_set_up"]
    assert cli.ok("login", "CU1234567", *WEB, stdin="Stacks&Shelves42\n").out == "ok\n"


def test_credential_setup_refuses_a_weak_pin_r22(julac: Cli) -> None:
    run = julac.refused("credential", "setup", "CU1234567", stdin="libraryhku\nlibraryhku\n")
    assert run.reasons == ["pin.too_few_categories"]
    assert julac.state()["credentials"] == []


def test_credential_setup_is_not_offered_where_a_default_exists(polyu_patron: Cli) -> None:
    run = polyu_patron.refused("credential", "setup", "21012345A", stdin="q7x2m9\nq7x2m9\n")
    assert run.reasons == ["credential.setup_not_offered"]


def test_credential_reset_without_a_default_prints_a_temporary_pin_once(julac: Cli) -> None:
    cli = julac
    cli.ok("credential", "setup", "CU1234567", stdin="Stacks&Shelves42\nStacks&Shelves42\n")
    run = cli.ok(
        "credential", "reset", "--reason", "at the counter", "CU1234567", shows_secret=True
    )
    first, second = run.out.splitlines()
    match = re.fullmatch(r"temporary pin: (\S{10,20})", first)
    assert match, run.out
    temporary = match.group(1)
    assert second.startswith("expires at ")
    assert "must change it at the first sign-in" in second

    # Shown once: no other command prints it again, and a second reset makes a new one.
    assert temporary not in cli.ok("patron", "show", "CU1234567", "--json").out
    assert temporary not in cli.ok("audit", "CU1234567", "--json").out
    assert cli.ok("login", "CU1234567", *WEB, stdin=f"{temporary}\n").out == "ok must-change\n"
    change = f"{temporary}\nNew&Shelves44\nNew&Shelves44\n"
    cli.ok("credential", "change", "CU1234567", *WEB, stdin=change)
    assert cli.ok("login", "CU1234567", *WEB, stdin="New&Shelves44\n").out == "ok\n"
    assert cli("login", "CU1234567", *WEB, stdin=f"{temporary}\n").out == "invalid\n"


def test_hkpl_reset_asks_which_credential(cli: Cli) -> None:
    cli.ok("patron", "add", "--institution", "hkpl", "--barcode", "HKPL0001", "--phone", "91234567")
    run = cli.refused("credential", "reset", "--reason", "at the counter", "HKPL0001")
    assert run.reasons == ["credential.kind_required"]
    assert "password, pin" in run.err
    assert cli.ok(
        "credential", "reset", "--reason", "at the counter", "HKPL0001", "--credential", "pin"
    ).out.startswith("pin ")


def test_card_replace_moves_the_credentials_to_the_new_card_r25(cli: Cli) -> None:
    cli.ok("patron", "add", "--institution", "hkpl", "--barcode", "HKPL0001", "--phone", "91234567")
    assert cli.ok("card", "replace", "--reason", "at the counter", "HKPL0001", "HKPL0099").out == (
        "card replaced; current card: HKPL0099\n"
    )
    assert cli("login", "HKPL0001", *WEB, stdin="4567\n").out == "invalid\n"
    assert cli.ok("login", "HKPL0099", *WEB, stdin="4567\n").out == "ok must-change\n"
    assert cli.ok("login", "hkpl 0099", "--channel", "sip2", stdin="4567\n").out == "ok\n"
    shown = cli.ok("patron", "show", "HKPL0001").out
    assert "identifier: barcode HKPL0001 (replaced)" in shown
    assert "identifier: barcode HKPL0099 (current)" in shown

    assert cli.refused(
        "card", "replace", "--reason", "at the counter", "HKPL0099", "hkpl0099"
    ).reasons == ["card.same"]
    cli.ok("patron", "add", "--institution", "hkpl", "--barcode", "HKPL0002", "--phone", "61239876")
    assert cli.refused(
        "card", "replace", "--reason", "at the counter", "HKPL0099", "HKPL0002"
    ).reasons == ["identifier.taken"]


def test_migrate_force_change_makes_the_next_login_must_change_r26(cli: Cli) -> None:
    cli.ok("init", "--demo")
    secret = "Quiet!Stacks22\n"  # the demo HKU SPACE patron's PIN, set in 2024
    assert cli.ok("login", "SP7654321", *WEB, stdin=secret).out == "ok\n"
    today = datetime.now(ZoneInfo("Asia/Hong_Kong")).date()  # the library's day
    tomorrow = (today + timedelta(days=1)).isoformat()
    force = (
        "migrate",
        "force-change",
        "--reason",
        "at the counter",
        "--institution",
        "hku",
        "--category",
        "space",
    )
    assert cli.ok(*force, "--from", tomorrow).out == (
        f"hku: secrets set before {tomorrow} must be changed at the next sign-in"
        " (categories: space)\n"
    )
    assert cli.ok("login", "SP7654321", *WEB, stdin=secret).out == "ok\n"  # not live yet
    cli.ok(*force, "--from", today.isoformat())
    assert cli.ok("login", "SP7654321", *WEB, stdin=secret).out == "ok must-change\n"
    assert cli("login", "SP7654321", "--channel", "telephone", stdin=secret).out == (
        "change-required\n"
    )
    assert "credential: pin must_change" in cli.ok("patron", "show", "SP7654321").out
    unknown = cli.refused(*force[:-1], "visitors", "--from", today.isoformat())
    assert unknown.reasons == ["patron.unknown_category"]


def test_audit_shows_every_step_and_never_a_secret(polyu_patron: Cli) -> None:
    cli = polyu_patron
    typed = ["Z12345", "q7x2m9", "Wr0ng1"]
    cli("login", "21012345A", *WEB, stdin=f"{typed[2]}\n")
    cli.ok("credential", "change", "21012345A", *WEB, stdin=f"{typed[0]}\n{typed[1]}\n{typed[1]}\n")
    cli.ok("credential", "reset", "--reason", "at the counter", "21012345A")
    cli.ok("unlock", "--reason", "at the counter", "21012345A")
    cli.ok("card", "replace", "--reason", "at the counter", "21012345A", "21012345B")
    cli.ok("login", "21012345B", *WEB, stdin=f"{typed[0]}\n")

    events = cli.audit("21012345A")
    assert [(e["action"], e["outcome"]) for e in reversed(events)] == [
        ("patron.add", "ok"),
        ("sign_in", "invalid"),
        ("credential.verify", "ok must-change"),  # the current PIN of the change
        ("credential.change", "ok"),
        ("credential.reset", "default"),
        ("unlock", "ok"),
        ("card.replace", "ok"),
        ("sign_in", "ok must-change"),
    ]
    assert {e["actor"] for e in events} == {"patron", "staff:test"}
    text = cli.ok("audit", "21012345B").out
    assert len(text.splitlines()) == len(events)
    everything = cli.ok("audit").out + cli.ok("audit", "--json").out + text
    for secret in typed:
        assert secret not in everything
    assert "Z123456" not in everything  # the ID number is never logged (S9)
    assert cli.ok("audit", "29999999Z").out == "no events\n"


POLICY_CHECKS = {
    "hkpl password, current rule (R3)": (
        ("--institution", "hkpl", "--credential", "password"),
        "password",
        [
            "password.missing_digit",
            "password.missing_special",
            "password.missing_upper",
            "password.common",
        ],
    ),
    "hkpl password, 2021 rule (R3)": (
        ("--institution", "hkpl", "--credential", "password", "--on", "2021-06-01"),
        "Reading2021",
        [],
    ),
    "hkpl password, same one today (R3)": (
        ("--institution", "hkpl", "--credential", "password"),
        "Reading2021",
        ["password.missing_special"],
    ),
    "hkpl PIN (R2)": (
        ("--institution", "hkpl", "--credential", "pin"),
        "12a",
        ["pin.too_short", "pin.not_digits"],
    ),
    "polyu trivial PIN (R11)": (
        ("--institution", "polyu", "--credential", "pin"),
        "xyzxyz",
        ["pin.trivial.repeated_group"],
    ),
    "polyu seed example (R9)": (
        ("--institution", "polyu", "--credential", "pin"),
        "1234abcd",
        [],
    ),
    "hku PIN (R22)": (
        ("--institution", "hku", "--credential", "pin"),
        "shortpin",
        ["pin.too_short", "pin.too_few_categories"],
    ),
}


@pytest.mark.parametrize(("args", "secret", "reasons"), POLICY_CHECKS.values(), ids=POLICY_CHECKS)
def test_policy_check_prints_one_code_and_message_per_violation(
    cli: Cli, args: tuple[str, ...], secret: str, reasons: list[str]
) -> None:
    before = cli.state()
    run = cli("policy", "check", *args, stdin=f"{secret}\n")
    if not reasons:
        assert (run.code, run.out) == (0, "ok\n")
    else:
        assert run.code == 1
        lines = run.out.splitlines()
        assert [REASON_LINE.match(line).group(1) for line in lines] == reasons  # type: ignore[union-attr]
        assert all(": " in line and len(line.split(": ", 1)[1]) > 10 for line in lines)
    body = cli("policy", "check", *args, "--json", stdin=f"{secret}\n").json()
    assert body["ok"] is (not reasons)
    assert [v["code"] for v in body["violations"]] == reasons
    assert cli.state() == before


def test_hkcts_first_change_takes_the_e_mailed_code_as_a_fourth_line(
    cli: Cli, tmp_path: Path
) -> None:
    cli.ok(
        "patron", "add", "--institution", "hkct", "--barcode", "S2019001", "--category", "staff",
        "--staff-number", "S2019001", "--registered-on", "2019-09-02",
        "--email", "staff@example.org",
    )  # fmt: skip
    change = ("credential", "change", "S2019001", *WEB)
    asked = cli.refused(*change, stdin="S2019001\nLib#Reader2026\nLib#Reader2026\n")
    assert asked.reasons == ["change.code_sent"]
    (mail,) = sorted((tmp_path / "var" / "outbox").glob("*.eml"))
    code = re.search(rb"is: (\S+)", mail.read_bytes())
    assert code is not None
    stdin = f"S2019001\nLib#Reader2026\nLib#Reader2026\n{code.group(1).decode()}\n"
    cli.ok(*change, "--with-code", stdin=stdin)
    assert cli.ok("login", "S2019001", *WEB, stdin="Lib#Reader2026\n").out == "ok\n"
