"""`patronauth staff ...`: adding console accounts (a one-time enrolment link),
listing, roles, disabling; every change audited under who ran the command, and under
the operating-system user, said so, when PATRONAUTH_STAFF is not set."""

from __future__ import annotations

import getpass
import re

from tests.cli.conftest import Cli


def _staff_events(cli: Cli) -> list[tuple[str, str, dict[str, str]]]:
    return [
        (e["action"], e["actor"], e["detail"])
        for e in cli.audit()
        if e["action"].startswith("staff.")
    ]


def test_add_list_role_disable(cli: Cli) -> None:
    added = cli.ok(
        "staff", "add", "--reason", "at the counter",
        "--login", "amy", "--name", "Amy Chan", "--role", "counter",
        "--institution", "hkpl", "--institution", "hku",
    )  # fmt: skip
    link = re.search(r"enrolment link \(shown once, valid 24 hours\): (\S+)", added.out)
    assert link is not None
    assert re.fullmatch(r"http://127\.0\.0\.1:8000/staff/enrol/[A-Za-z0-9_-]{20,}", link.group(1))
    assert "recorded as staff:test" in added.out
    listed = cli.ok("staff", "list", "--json").json()["staff"]
    assert listed == [
        {
            "login": "amy", "name": "Amy Chan", "role": "counter",
            "institutions": ["hkpl", "hku"], "status": "enrolling", "totp": False,
            "security_keys": 0,
        }
    ]  # fmt: skip
    assert (
        cli.ok("staff", "role", "--reason", "promoted", "amy", "supervisor", "--json").json()[
            "role"
        ]
        == "supervisor"
    )
    assert (
        cli.ok("staff", "disable", "--reason", "role review", "amy", "--json").json()["status"]
        == "disabled"
    )
    assert _staff_events(cli) == [
        ("staff.disable", "staff:test",
         {"member": "amy", "sessions_ended": "0", "staff": "test", "reason": "role review"}),
        ("staff.role", "staff:test",
         {"member": "amy", "from": "counter", "to": "supervisor", "staff": "test",
          "reason": "promoted"}),
        ("staff.add", "staff:test",
         {"member": "amy", "role": "counter", "institutions": "hkpl hku", "staff": "test",
          "reason": "at the counter"}),
    ]  # fmt: skip


def test_refusals_have_reason_codes_and_store_nothing(cli: Cli) -> None:
    cli.ok(
        "staff",
        "add",
        "--reason",
        "at the counter",
        "--login",
        "amy",
        "--name",
        "Amy",
        "--role",
        "admin",
    )
    before = cli.state()
    assert cli.refused(
        "staff",
        "add",
        "--reason",
        "at the counter",
        "--login",
        "amy",
        "--name",
        "Again",
        "--role",
        "admin",
    ).reasons == ["staff.login_taken"]
    assert cli.refused(
        "staff",
        "add",
        "--reason",
        "at the counter",
        "--login",
        "A my",
        "--name",
        "Amy",
        "--role",
        "admin",
    ).reasons == ["staff.login_invalid"]
    assert cli.refused(
        "staff", "add", "--reason", "at the counter",
        "--login", "ben", "--name", "Ben", "--role", "admin",
        "--institution", "mars",
    ).reasons == ["institution.unknown"]  # fmt: skip
    assert cli.refused(
        "staff", "role", "--reason", "at the counter", "nobody", "admin"
    ).reasons == ["staff.unknown"]
    assert cli.state() == before


def test_without_patronauth_staff_the_operating_system_user_is_recorded_as_such(
    cli: Cli,
) -> None:
    cli.configure(PATRONAUTH_STAFF=None)
    added = cli.ok(
        "staff",
        "add",
        "--reason",
        "at the counter",
        "--login",
        "amy",
        "--name",
        "Amy",
        "--role",
        "counter",
    )
    user = getpass.getuser()
    assert f"recorded as os:{user}" in added.out
    unlocked = cli.ok("unlock", "HKPL0404", "--reason", "card stuck")
    assert f"recorded as os:{user}, with the reason given" in unlocked.err
    assert _staff_events(cli) == [
        ("staff.add", f"os:{user}",
         {"member": "amy", "role": "counter", "institutions": "hkct hkpl hku polyu",
          "staff": f"os:{user}", "reason": "at the counter"}),
    ]  # fmt: skip


def test_counter_commands_record_their_reason_with_who_ran_them(cli: Cli) -> None:
    cli.ok("patron", "add", "--institution", "hkpl", "--barcode", "HKPL0001", "--phone", "91234567")
    cli.ok("unlock", "HKPL0001", "--reason", "patron at the counter")
    cli.ok("credential", "reset", "HKPL0001", "--credential", "pin", "--reason", "forgot PIN")
    cli.ok("card", "replace", "HKPL0001", "HKPL0002", "--reason", "card lost")
    before = cli.state()
    too_long = cli.refused("unlock", "HKPL0002", "--reason", "x" * 201)
    assert too_long.reasons == ["staff.reason_invalid"]
    assert cli.state() == before  # a bad reason: nothing done, nothing recorded
    # The reason is in the action's own record, beside who did it.
    notes = [
        (e["action"], e["actor"], e["identifier"], e["detail"])
        for e in cli.audit()
        if e["detail"].get("reason")
    ]
    assert notes == [
        ("card.replace", "staff:test", "HKPL0001",
         {"new": "HKPL0002", "staff": "test", "reason": "card lost"}),
        ("credential.reset", "staff:test", "HKPL0001",
         {"credential": "pin", "staff": "test", "reason": "forgot PIN"}),
        ("unlock", "staff:test", "HKPL0001",
         {"unsuspended": "", "staff": "test", "reason": "patron at the counter"}),
    ]  # fmt: skip
    assert not [e for e in cli.audit() if e["action"] == "staff.action"]


def test_every_staff_command_keeps_its_reason_in_the_action_s_own_record(cli: Cli) -> None:
    cli.ok("patron", "add", "--institution", "hkpl", "--barcode", "HKPL0001", "--phone", "91234567")
    cli.ok("patron", "add", "--institution", "hkpl", "--barcode", "HKPL0003", "--pending")
    steps = [
        (("patron", "complete", "HKPL0003"), "patron.complete"),
        (("patron", "bar", "HKPL0001"), "patron.bar"),
        (("patron", "unbar", "HKPL0001"), "patron.unbar"),
        (("migrate", "force-change", "--institution", "hkpl", "--from", "2026-01-01"),
         "migrate.force_change"),
        (("terminal", "add", "--login", "kiosk-1", "--institution", "hkpl"), "terminal.add"),
        (("terminal", "disable", "kiosk-1"), "terminal.disable"),
        (("terminal", "enable", "kiosk-1"), "terminal.enable"),
        (("terminal", "unlock", "kiosk-1"), "terminal.unlock"),
        (("client", "add", "--name", "Discovery", "--protocol", "oidc", "--institution", "hkpl",
          "--redirect-uri", "https://discovery.example.org/cb"), "client.add"),
        (("staff", "add", "--login", "amy", "--name", "Amy", "--role", "counter"), "staff.add"),
        (("staff", "role", "amy", "admin"), "staff.role"),
        (("staff", "disable", "amy"), "staff.disable"),
    ]  # fmt: skip
    for n, (args, _) in enumerate(steps):
        stdin = "a-kiosk-password-1\n" if args[:2] == ("terminal", "add") else None
        run = cli.ok(*args, "--reason", f"step {n}", stdin=stdin, shows_secret=args[0] == "client")
        assert "recorded as staff:test" in run.out + run.err, args
    client_id = next(e for e in cli.audit() if e["action"] == "client.add")["detail"]["client_id"]
    cli.ok("client", "rotate-secret", client_id, "--reason", "rotated", shows_secret=True)
    cli.ok("client", "disable", client_id, "--reason", "retired")
    found = {
        e["action"]: (e["actor"], e["detail"].get("staff"), e["detail"].get("reason"))
        for e in reversed(cli.audit())
    }
    for n, (_, action) in enumerate(steps):
        assert found[action] == ("staff:test", "test", f"step {n}"), action
    assert found["client.rotate_secret"] == ("staff:test", "test", "rotated")
    assert found["client.disable"] == ("staff:test", "test", "retired")
