"""SPEC 4.2: every command answers --help; bad usage exits 2 and stores nothing."""

from __future__ import annotations

import click
import pytest

from patronauth.cli.main import cli as patronauth
from tests.cli.conftest import Cli

GROUPS = [
    *[(), ("patron",), ("credential",), ("card",), ("migrate",), ("policy",), ("default",)],
    *[("item",), ("fines",), ("calendar",), ("request",), ("terminal",), ("directory",)],
    *[("client",), ("oidc",)],
    ("staff",),
]
COMMANDS = [
    ("init",),
    ("demo",),
    ("patron", "add"),
    ("patron", "import"),
    ("patron", "show"),
    ("patron", "complete"),
    ("patron", "bar"),
    ("patron", "unbar"),
    ("login",),
    ("credential", "change"),
    ("credential", "reset"),
    ("credential", "setup"),
    ("unlock",),
    ("card", "replace"),
    ("migrate", "force-change"),
    ("audit",),
    ("policy", "check"),
    ("default", "show"),
    ("item", "add"),
    ("checkout",),
    ("checkin",),
    ("fines", "pay"),
    ("fines", "show"),
    ("calendar", "close"),
    ("calendar", "resume"),
    ("calendar", "show"),
    ("request", "list"),
    ("request", "status"),
    ("terminal", "add"),
    ("terminal", "list"),
    ("terminal", "disable"),
    ("terminal", "enable"),
    ("terminal", "options"),
    ("terminal", "unlock"),
    ("directory", "check"),
    ("client", "add"),
    ("client", "list"),
    ("client", "disable"),
    ("client", "rotate-secret"),
    ("oidc", "rotate-key"),
    ("staff", "add"),
    ("staff", "list"),
    ("staff", "disable"),
    ("staff", "role"),
    ("serve",),
]


def _leaves(group: click.Group, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found |= _leaves(command, (*path, name))
        else:
            found.add((*path, name))
    return found


def test_the_tables_here_list_every_command() -> None:
    assert _leaves(patronauth) == set(COMMANDS)


@pytest.mark.parametrize("path", GROUPS + COMMANDS, ids=lambda p: " ".join(p) or "patronauth")
def test_every_command_and_group_answers_help(cli: Cli, path: tuple[str, ...]) -> None:
    for flag in ("--help", "-h"):
        run = cli.ok(*path, flag)
        assert run.out.startswith(f"Usage: {' '.join(('patronauth', *path))}")
        assert run.err == ""


@pytest.mark.parametrize("path", [c for c in COMMANDS if c != ("serve",)], ids=" ".join)
def test_every_command_that_prints_results_offers_json(cli: Cli, path: tuple[str, ...]) -> None:
    assert "--json" in cli.ok(*path, "--help").out


USAGE_ERRORS = {
    "missing required option": (["patron", "add", "--barcode", "HKPL0001"], None, "--institution"),
    "missing channel": (["login", "HKPL0001"], "4567\n", "--channel"),
    "missing argument": (
        ["card", "replace", "--reason", "at the counter", "HKPL0001"],
        None,
        "NEW",
    ),
    "unknown option": (["audit", "--bogus"], None, "No such option"),
    "unknown command": (["lgoin"], None, "No such command"),
    "bad choice": (["login", "HKPL0001", "--channel", "fax"], "4567\n", "--channel"),
    "bad --on": (
        ["policy", "check", "--institution", "hkpl", "--credential", "pin", "--on", "2024-13-01"],
        "4821\n",
        "YYYY-MM-DD",
    ),
    "bad --registered-on": (
        [
            "patron",
            "add",
            "--institution",
            "hkpl",
            "--barcode",
            "HKPL0002",
            "--registered-on",
            "01/02/2020",
        ],
        None,
        "YYYY-MM-DD",
    ),
    "impossible --registered-on": (
        ["default", "show", "--institution", "hkct", "--registered-on", "2018-02-30"],
        None,
        "YYYY-MM-DD",
    ),
    "bad --from": (
        [
            "migrate",
            "force-change",
            "--reason",
            "at the counter",
            "--institution",
            "hku",
            "--from",
            "next week",
        ],
        None,
        "YYYY-MM-DD",
    ),
    "blank option": (
        ["patron", "add", "--institution", "hkpl", "--barcode", "HKPL0002", "--phone", ""],
        None,
        "must not be empty",
    ),
    "blank repeated option": (
        [
            "migrate",
            "force-change",
            "--reason",
            "at the counter",
            "--institution",
            "hku",
            "--category",
            " ",
            "--from",
            "2020",
        ],
        None,
        "must not be empty",
    ),
    "no secret on stdin": (["login", "HKPL0001", "--channel", "web"], "", "expected 1 line"),
    "change given two lines": (
        ["credential", "change", "HKPL0001", "--credential", "pin"],
        "4567\n4821\n",
        "expected 3 line",
    ),
    "setup given one line": (["credential", "setup", "CU1234567"], "Stacks&Shelves42\n", "line"),
    "policy check given nothing": (
        ["policy", "check", "--institution", "hkpl", "--credential", "pin"],
        "",
        "expected 1 line",
    ),
    "limit out of range": (["audit", "--limit", "0"], None, "--limit"),
    "import of a missing file": (
        ["patron", "import", "no-such-feed.csv", "--institution", "hkpl"],
        None,
        "does not exist",
    ),
    "blank --title": (
        ["item", "add", "--institution", "hkpl", "--barcode", "BK1", "--title", " "],
        None,
        "must not be empty",
    ),
    "bad --isbn": (
        [
            "item",
            "add",
            "--institution",
            "hkpl",
            "--barcode",
            "BK1",
            "--title",
            "T",
            "--isbn",
            "12",
        ],
        None,
        "an ISBN has 10 or 13 digits",
    ),
    "checkout without the item": (["checkout", "HKPL0001"], None, "ITEM"),
    "checkin without --institution": (["checkin", "BK1"], None, "--institution"),
    "missing --amount": (
        ["fines", "pay", "--reason", "at the counter", "HKPL0001"],
        None,
        "--amount",
    ),
    "bad --amount": (
        ["fines", "pay", "--reason", "at the counter", "HKPL0001", "--amount", "12.555"],
        None,
        "such as 12.50",
    ),
    "zero --amount": (
        ["fines", "pay", "--reason", "at the counter", "HKPL0001", "--amount", "0.00"],
        None,
        "more than 0",
    ),
    "bad calendar --to": (
        ["calendar", "close", "--institution", "hkpl", "--from", "2021-01-01", "--to", "soon"],
        None,
        "YYYY-MM-DD",
    ),
    "calendar resume without --from": (
        ["calendar", "resume", "--institution", "hkpl"],
        None,
        "--from",
    ),
    "bad request number": (
        ["request", "status", "twelve", "--status", "fulfilled"],
        None,
        "a request number",
    ),
    "bad request status": (["request", "status", "1", "--status", "done"], None, "--status"),
    "terminal add without --login": (
        ["terminal", "add", "--reason", "at the counter", "--institution", "hkpl"],
        "kiosk-Secret-2026\n",
        "--login",
    ),
    "terminal add without a password": (
        [
            "terminal",
            "add",
            "--reason",
            "at the counter",
            "--login",
            "kiosk1",
            "--institution",
            "hkpl",
        ],
        "",
        "expected 1 line",
    ),
    "terminal add with a bad --encoding": (
        [
            "terminal",
            "add",
            "--reason",
            "at the counter",
            "--login",
            "k1",
            "--institution",
            "hkpl",
            "--encoding",
            "latin1",
        ],
        "kiosk-Secret-2026\n",
        "--encoding",
    ),
    "terminal disable without the login": (
        ["terminal", "disable", "--reason", "at the counter"],
        None,
        "LOGIN",
    ),
}


@pytest.mark.parametrize(("args", "stdin", "says"), USAGE_ERRORS.values(), ids=USAGE_ERRORS)
def test_bad_usage_exits_2_with_a_clear_error_and_stores_nothing(
    cli: Cli, args: list[str], stdin: str | None, says: str
) -> None:
    cli.ok("patron", "add", "--institution", "hkpl", "--barcode", "HKPL0001", "--phone", "91234567")
    cli.ok("patron", "add", "--institution", "hku", "--barcode", "CU1234567")
    before = cli.state()
    for extra in ([], ["--json"]):
        run = cli(*args, *extra, stdin=stdin)
        assert run.code == 2, str(run)
        assert "Error: " in run.err
        assert says in run.err
        assert run.out == ""
    assert cli.state() == before


def test_success_exits_0_and_a_refusal_exits_1(cli: Cli) -> None:
    cli.ok(
        "patron",
        "add",
        "--institution",
        "polyu",
        "--barcode",
        "21012345A",
        "--id-number",
        "Z123456(1)",
    )
    assert cli.refused("patron", "show", "21099999X").reasons == ["patron.not_found"]
    assert cli("login", "21012345A", "--channel", "web", stdin="Z12345\n").code == 0
    assert cli("login", "21012345A", "--channel", "web", stdin="Q7x2m9\n").code == 1


# Every staff action names its reason; the audit record of the action keeps it with
# who ran the command.
STAFF_ACTIONS = {
    ("patron", "complete"): ["S2019001"],
    ("patron", "bar"): ["HKPL0001"],
    ("patron", "unbar"): ["HKPL0001"],
    ("credential", "reset"): ["HKPL0001"],
    ("unlock",): ["HKPL0001"],
    ("card", "replace"): ["HKPL0001", "HKPL0002"],
    ("migrate", "force-change"): ["--institution", "hku", "--from", "2017-07-17"],
    ("fines", "pay"): ["HKPL0001", "--amount", "1"],
    ("terminal", "add"): ["--login", "kiosk-1", "--institution", "hkpl"],
    ("terminal", "disable"): ["kiosk-1"],
    ("terminal", "enable"): ["kiosk-1"],
    ("terminal", "unlock"): ["kiosk-1"],
    ("client", "add"): ["--name", "Primo", "--protocol", "cas", "--institution", "hkpl"],
    ("client", "disable"): ["abc"],
    ("client", "rotate-secret"): ["abc"],
    ("staff", "add"): ["--login", "amy", "--name", "Amy", "--role", "counter"],
    ("staff", "disable"): ["amy"],
    ("staff", "role"): ["amy", "admin"],
}


@pytest.mark.parametrize("path", STAFF_ACTIONS, ids=" ".join)
def test_every_staff_action_needs_a_reason(cli: Cli, path: tuple[str, ...]) -> None:
    before = cli.state()
    run = cli(*path, *STAFF_ACTIONS[path], stdin="a-terminal-password-1\n")
    assert run.code == 2
    assert "Missing option '--reason'" in run.err
    assert cli.state() == before
    help_text = " ".join(cli.ok(*path, "--help").out.split()).replace("- ", "-")
    assert "--reason TEXT Why (required)." in help_text
    assert "the operating-system user (as os:<user>)" in help_text
