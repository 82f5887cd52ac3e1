"""R20 at the command line: `directory check`, `patron show` saying where the PIN lives,
`login` through the directory, and the change, reset and set-up commands refused."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Cli
from tests.ldap_server import (
    PASSWORD_VARIABLE,
    PEOPLE_ENTRIES,
    SERVICE_PASSWORD,
    PrivateSlapd,
    hku_profile,
)
from tests.servers import free_port

JCHAN_PIN = PEOPLE_ENTRIES["jchan"][2]
ITS = "https://its.example.org/portal-pin"


def _hku(cli: Cli, slapd: PrivateSlapd, tmp_path: Path, **overrides: str) -> None:
    profiles = hku_profile(slapd, tmp_path / "profiles", **overrides)
    cli.configure(PATRONAUTH_PROFILES_DIR=str(profiles), **{PASSWORD_VARIABLE: SERVICE_PASSWORD})
    cli.ok("init")
    cli.ok(
        "patron", "add", "--institution", "hku", "--barcode", "2000001234",
        "--category", "student", "--student-number", "3035000001",
    )  # fmt: skip


def test_directory_check_binds_and_searches(cli: Cli, slapd: PrivateSlapd, tmp_path: Path) -> None:
    _hku(cli, slapd, tmp_path)
    run = cli.ok("directory", "check", "--institution", "hku", "--uid", "jchan")
    assert f"{slapd.url}: ok" in run.out
    assert "found uid=jchan,ou=people,dc=example,dc=org" in run.out
    assert "directory of student, staff" in run.out
    body = cli.ok("directory", "check", "--institution", "hku", "--json").json()
    assert body["ok"] is True
    assert body["directories"][0]["urls"][0]["detail"] == "bound and searched the base DN"
    assert SERVICE_PASSWORD not in run.out + run.err


def test_directory_check_fails_on_a_dead_url_and_a_wrong_password(
    cli: Cli, slapd: PrivateSlapd, tmp_path: Path
) -> None:
    dead = f"ldap://127.0.0.1:{free_port()}"
    _hku(cli, slapd, tmp_path, urls=f'["{slapd.url}", "{dead}"]')
    run = cli("directory", "check", "--institution", "hku")
    assert run.code == 1
    assert f"{slapd.url}: ok" in run.out
    assert f"{dead}: FAILED" in run.out
    cli.configure(**{PASSWORD_VARIABLE: "not-the-password"})
    run = cli("directory", "check", "--institution", "hku", "--json")
    assert run.code == 1
    assert "the service account's bind was refused" in run.out
    assert "not-the-password" not in run.out
    refused = cli.refused("directory", "check", "--institution", "hkpl")
    assert refused.reasons == ["directory.none"]


def test_patron_show_says_where_the_pin_lives(
    cli: Cli, slapd: PrivateSlapd, tmp_path: Path
) -> None:
    _hku(cli, slapd, tmp_path)
    run = cli.ok("patron", "show", "2000001234")
    assert "credential: held by the campus directory HKU Portal" in run.out
    assert ITS in run.out
    assert "identifier: student_number 3035000001 (current)" in run.out
    body = cli.ok("patron", "show", "2000001234", "--json").json()
    assert body["credential_source"] == "directory"
    assert body["directory"]["urls"] == [slapd.url]
    cli.ok("patron", "add", "--institution", "hku", "--barcode", "CU1234567")
    assert cli.ok("patron", "show", "CU1234567", "--json").json()["credential_source"] == "local"


def test_login_and_the_refused_changes(cli: Cli, slapd: PrivateSlapd, tmp_path: Path) -> None:
    _hku(cli, slapd, tmp_path)
    assert cli.ok("login", "jchan", "--channel", "web", stdin=f"{JCHAN_PIN}\n").out == "ok\n"
    assert cli.ok("login", "2000001234", "--channel", "sip2", stdin=f"{JCHAN_PIN}\n").out == (
        "ok\n"
    )
    wrong = cli("login", "jchan", "--channel", "web", stdin="Wrong-PIN-123\n")
    assert (wrong.code, wrong.out) == (1, "invalid\n")
    newbie = cli("login", "newbie", "--channel", "app", stdin=f"{PEOPLE_ENTRIES['newbie'][2]}\n")
    assert (newbie.code, newbie.out) == (1, "not-provisioned\n")
    before = cli.state(attempts=False)
    for args, stdin in (
        (("credential", "change", "2000001234", "--credential", "pin"),
         f"{JCHAN_PIN}\nNew-Portal-PIN-1\nNew-Portal-PIN-1\n"),
        (("credential", "reset", "--reason", "at the counter",
          "2000001234", "--credential", "pin"), None),
        (("credential", "setup", "2000001234"), "New-Portal-PIN-1\nNew-Portal-PIN-1\n"),
    ):  # fmt: skip
        run = cli.refused(*args, stdin=stdin)
        assert run.reasons == ["credential.directory_managed"], run
        assert ITS in run.err
    assert cli.state(attempts=False) == before
    assert slapd.binds_as("jchan") == 3  # the two sign-ins and the wrong PIN; no change tried
