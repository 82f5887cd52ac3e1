"""--json on every command that prints results, refusals included; messages in Chinese."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from patronauth.domain.circulation import RequestKind
from patronauth.services.loans import checkout
from patronauth.services.lookup import require_patron
from patronauth.services.requests import submit_request
from tests.cli.conftest import ADD_PENDING, Cli

PATRON_FIELDS = {
    "institution",
    "category",
    "status",
    "name",
    "email",
    "phone",
    "id_type",
    "id_number",
    "registered_on",
    "language",
}
AUDIT_FIELDS = {
    "id",
    "at",
    "action",
    "outcome",
    "actor",
    "channel",
    "source",
    "institution",
    "identifier",
    "detail",
}
REFUSAL_FIELDS = {"error", "message", "violations"}


@pytest.fixture
def counter(cli: Cli, tmp_path: Path) -> Cli:
    """A few patrons in a state where every command has something to answer."""
    add = "patron add --institution polyu --barcode 21012345A --id-number Z123456(1)"
    cli.ok(*add.split(), "--name", "Wong Ka Yan")
    cli.ok("patron", "add", "--institution", "hku", "--barcode", "CU1234567")
    cli.ok(*ADD_PENDING)
    feed = tmp_path / "feed.csv"
    feed.write_text("barcode,phone\nHKPL0001,9123 4567\nHKPL0002,6123 9876\n", encoding="utf-8")
    return cli


def _one_json_line(cli: Cli, *args: str, stdin: str | None = None, code: int = 0) -> Any:
    run = cli(*args, "--json", stdin=stdin, shows_secret=args[0] in {"demo", "default"})
    assert run.code == code, str(run)
    assert run.err == ""
    assert run.out.count("\n") == 1
    return run.json()


def test_every_command_prints_json_with_its_fields(counter: Cli, tmp_path: Path) -> None:
    cli = counter
    j = _one_json_line
    assert set(j(cli, "init")) == {
        "pepper_created",
        "signing_keys_created",
        "schema",
        "demo_patrons_added",
        "demo_lending_added",
    }
    assert set(j(cli, "demo")) == {"url", "patrons", "lending"}
    added = j(cli, "patron", "add", "--institution", "hku", "--barcode", "PU21012345")
    assert set(added) == PATRON_FIELDS | {"barcode"}
    assert added["barcode"] == "PU21012345"
    assert j(cli, "patron", "import", str(tmp_path / "feed.csv"), "--institution", "hkpl") == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "refused": [],
    }
    shown = j(cli, "patron", "show", "21012345A")
    assert set(shown) == PATRON_FIELDS | {
        *("identifiers", "credentials", "blocked_seconds", "credential_source", "directory")
    }
    assert (shown["credential_source"], shown["directory"]) == ("local", None)
    assert shown["id_number"] == "Z1******"
    assert shown["name"] == "Wong Ka Yan"
    assert shown["identifiers"] == [{"kind": "barcode", "value": "21012345A", "status": "current"}]
    assert set(shown["credentials"][0]) == {
        "kind",
        "state",
        "set_at",
        "expires_at",
        "consecutive_failures",
    }
    assert (
        j(cli, "patron", "complete", "--reason", "at the counter", "S2019001")["status"] == "active"
    )
    login = j(cli, "login", "21012345A", "--channel", "web", stdin="Z12345\n")
    assert login == {
        "outcome": "ok must-change",
        "retry_after": 0,
        "credential": "pin",
        "message": "Signed in. You must choose a new PIN before going on.",
    }
    changed = j(
        cli,
        "credential",
        "change",
        "21012345A",
        "--channel",
        "app",
        stdin="Z12345\nq7x2m9\nq7x2m9\n",
    )
    assert changed == {"changed": True, "signed_in_as": "ok must-change"}
    setup = j(cli, "credential", "setup", "CU1234567", stdin="Stacks&Shelves42\nStacks&Shelves42\n")
    assert setup == {"credential": "pin", "state": "chosen"}
    reset = j(cli, "credential", "reset", "--reason", "at the counter", "21012345A")
    assert reset == {"credential": "pin", "state": "default", "temporary": None, "expires_at": None}
    assert j(cli, "unlock", "--reason", "at the counter", "21012345A") == {
        "unblocked": ["21012345A"],
        "unsuspended": [],
    }
    assert j(cli, "card", "replace", "--reason", "at the counter", "21012345A", "21012345B") == {
        "current": "21012345B"
    }
    forced = j(
        cli,
        "migrate",
        "force-change",
        "--reason",
        "at the counter",
        "--institution",
        "hku",
        "--from",
        "2017-07-17",
    )
    assert forced == {"institution": "hku", "categories": None, "from": "2017-07-17"}
    events = j(cli, "audit", "21012345B")["events"]
    assert events
    assert all(set(e) == AUDIT_FIELDS for e in events)
    check = j(
        cli, "policy", "check", "--institution", "polyu", "--credential", "pin", stdin="1234abcd\n"
    )
    assert check == {"ok": True, "violations": []}
    default = j(cli, "default", "show", "--institution", "hkpl", "--phone", "91234567")
    assert default == {"credential": "password", "rule": "phone_last_digits", "default": "4567"}
    circulation_prints_json(cli)


def circulation_prints_json(cli: Cli) -> None:
    j = _one_json_line
    hkpl = ("--institution", "hkpl")
    item = j(cli, "item", "add", *hkpl, "--barcode", "BK1", "--title", "Water Margin")
    assert set(item) == {"institution", "barcode", "title_id", "library", "status"}
    with cli.app(datetime.now(UTC) - timedelta(days=30)) as app:
        checkout(app.ports, "HKPL0001", "BK1", actor="staff:test", channel="staff")
    back = j(cli, "checkin", "BK1", *hkpl)
    assert back == {
        "item": "BK1",
        "title": "Water Margin",
        "status": "available",
        "fine_cents": 1350,
        "currency": "HK$",
        "reservation": None,
    }
    lent = j(cli, "checkout", "HKPL0001", "BK1")
    assert set(lent) == {"loan_id", "item", "title", "due_on", "reservation_collected"}
    paid = j(cli, "fines", "pay", "--reason", "at the counter", "HKPL0001", "--amount", "3.50")
    assert paid == {"paid_cents": 350, "balance_cents": 1000, "currency": "HK$"}
    shown = j(cli, "fines", "show", "HKPL0001")
    assert set(shown) == {
        "institution", "today", "currency", "loans", "fines", "payments",
        "recorded_cents", "accruing_cents", "paid_cents", "balance_cents",
    }  # fmt: skip
    closed = j(cli, "calendar", "close", *hkpl, "--from", "2020-12-02")
    assert closed == {"institution": "hkpl", "closures": [{"from": "2020-12-02", "to": None}]}
    resumed = j(cli, "calendar", "resume", *hkpl, "--from", "2021-03-05")
    assert resumed["closures"] == [{"from": "2020-12-02", "to": "2021-03-04"}]
    assert j(cli, "calendar", "show", *hkpl) == resumed
    assert j(cli, "request", "list", "21012345B") == {"requests": []}
    with cli.app() as app, app.ports.uow() as uow:
        patron = require_patron(uow, app.ports.profiles, "21012345B").patron.id
    with cli.app() as app:
        made = submit_request(
            app.ports, patron, RequestKind.RECOMMENDATION, title="Deep Learning", channel="web"
        )
    status = j(cli, "request", "status", str(made.id), "--status", "rejected")
    assert (status["id"], status["status"]) == (made.id, "rejected")
    assert j(cli, "request", "list", "21012345B") == {"requests": [status]}


REFUSALS = {
    "patron add": (
        [
            "patron",
            "add",
            "--institution",
            "polyu",
            "--barcode",
            "21099999B",
            "--id-number",
            "Z123456(7)",
        ],
        None,
        "hkid.check_digit",
    ),
    "patron show": (["patron", "show", "29999999Z"], None, "patron.not_found"),
    "patron complete": (
        ["patron", "complete", "--reason", "at the counter", "21012345A"],
        None,
        "patron.not_pending",
    ),
    "patron bar": (
        ["patron", "bar", "--reason", "at the counter", "29999999Z"],
        None,
        "patron.not_found",
    ),
    "patron unbar": (
        ["patron", "unbar", "--reason", "at the counter", "21012345A"],
        None,
        "patron.not_barred",
    ),
    "patron import": (["patron", "import", "{bad_feed}", "--institution", "hkpl"], None, None),
    "login": (["login", "21012345A", "--channel", "web"], "Q7x2m9\n", "login.invalid"),
    "credential change": (
        ["credential", "change", "21012345A"],
        "Z12345\nq7x2m9\nq7x2m8\n",
        "secret.confirmation_mismatch",
    ),
    "credential reset": (
        ["credential", "reset", "--reason", "at the counter", "29999999Z"],
        None,
        "patron.not_found",
    ),
    "credential setup": (
        ["credential", "setup", "CU1234567"],
        "Q7x2\nQ7x2\n",
        "pin.too_short",
    ),
    "unlock": (
        ["unlock", "--reason", "at the counter", "<script>"],
        None,
        "identifier.invalid_characters",
    ),
    "card replace": (
        ["card", "replace", "--reason", "at the counter", "21012345A", "21012345A"],
        None,
        "card.same",
    ),
    "migrate force-change": (
        [
            "migrate",
            "force-change",
            "--reason",
            "at the counter",
            "--institution",
            "hku",
            "--category",
            "visitors",
            "--from",
            "2017-07-17",
        ],
        None,
        "patron.unknown_category",
    ),
    "audit": (["audit", "'; DROP TABLE patrons; --"], None, "identifier.invalid_characters"),
    "policy check": (
        ["policy", "check", "--institution", "polyu", "--credential", "pin"],
        "abc\n",
        "pin.too_short",
    ),
    "default show": (
        ["default", "show", "--institution", "polyu"],
        None,
        "default.missing_id_number",
    ),
    "item add": (
        ["item", "add", "--institution", "hkpl", "--barcode", "BK1", "--title", "<b>T</b>"],
        None,
        "request.invalid_characters",
    ),
    "checkout": (["checkout", "21012345A", "BK404"], None, "item.not_found"),
    "checkin": (["checkin", "BK404", "--institution", "polyu"], None, "item.not_found"),
    "fines pay": (
        ["fines", "pay", "--reason", "at the counter", "21012345A", "--amount", "1"],
        None,
        "fines.nothing_owed",
    ),
    "fines show": (["fines", "show", "29999999Z"], None, "patron.not_found"),
    "calendar close": (
        [
            "calendar",
            "close",
            "--institution",
            "hkpl",
            "--from",
            "2024-06-03",
            "--to",
            "2024-06-01",
        ],
        None,
        "calendar.bad_period",
    ),
    "calendar resume": (
        ["calendar", "resume", "--institution", "hkpl", "--from", "2024-06-03"],
        None,
        "calendar.nothing_to_resume",
    ),
    "calendar show": (
        ["calendar", "show", "--institution", "nowhere"],
        None,
        "institution.unknown",
    ),
    "request list": (["request", "list", "29999999Z"], None, "patron.not_found"),
    "request status": (
        ["request", "status", "404", "--status", "rejected"],
        None,
        "patron_request.not_found",
    ),
    "not UTF-8": (["patron", "show", "2101\udcff"], None, "argument.not_utf8"),
    "unknown library": (["audit", "--institution", "nowhere"], None, "institution.unknown"),
}


@pytest.mark.parametrize(("args", "stdin", "code"), REFUSALS.values(), ids=REFUSALS)
def test_a_refusal_in_json_has_error_message_and_violations(
    counter: Cli, tmp_path: Path, args: list[str], stdin: str | None, code: str | None
) -> None:
    cli = counter
    bad_feed = tmp_path / "bad.csv"
    bad_feed.write_text("barcode,phone\n<b>,9123 4567\n", encoding="utf-8")
    args = [a.replace("{bad_feed}", str(bad_feed)) for a in args]
    before = cli.state(attempts=False)
    body = _one_json_line(cli, *args, stdin=stdin, code=1)
    if code is None:  # an import reports each refused row with its line number instead
        assert body["refused"] == [
            {
                "line": 2,
                "code": "identifier.invalid_characters",
                "message": "A card number contains only letters, digits and the signs . _ @ -",
            }
        ]
    else:
        assert set(body) >= REFUSAL_FIELDS
        assert body["error"] == code
        first = body["violations"][0]
        assert (first["code"], first["message"]) == (code, body["message"])
        # `field` names the option or input at fault, where there is one.
        assert all(set(v) - {"field"} == {"code", "message"} for v in body["violations"])
        assert body["message"]
        assert body["message"] != code
    if args[0] not in {"login", "credential"}:
        assert cli.state(attempts=False) == before


def test_a_registration_names_every_wrong_field_at_once(cli: Cli) -> None:
    before = cli.state(attempts=False)
    add = ("patron", "add", "--institution", "polyu", "--barcode", "21099999B")
    wrong = ("--id-number", "Z123456(7)", "--email", "not-an-address", "--phone", "12")
    body = cli(*add, *wrong, "--json").json()
    assert body["error"] == "email.invalid"  # the first, in the order of the form
    assert [(v["field"], v["code"]) for v in body["violations"]] == [
        ("email", "email.invalid"),
        ("phone", "phone.invalid"),
        ("id_number", "hkid.check_digit"),
    ]
    run = cli(*add, *wrong)
    assert (run.code, len(run.err.splitlines())) == (1, 3)
    assert cli.state(attempts=False) == before


def test_a_blocked_login_in_json_is_a_refusal_with_the_seconds(cli: Cli) -> None:
    for _ in range(5):
        body = _one_json_line(
            cli, "login", "29999999Z", "--channel", "app", stdin="Q7x2m9\n", code=1
        )
        assert body["error"] == "login.invalid"
    body = _one_json_line(cli, "login", "29999999Z", "--channel", "app", stdin="Q7x2m9\n", code=1)
    assert body["outcome"] == "blocked"
    assert body["error"] == "login.blocked"
    assert body["violations"] == [{"code": "login.blocked", "message": body["message"]}]
    assert f"try again in {body['retry_after']} seconds" in body["message"]


ZH = ("--language", "zh_Hant")


def test_messages_in_traditional_chinese(cli: Cli) -> None:
    for _ in range(5):
        cli(*ZH, "login", "21099999B", "--channel", "web", stdin="Q7x2m9\n")
    run = cli(*ZH, "login", "21099999B", "--channel", "web", stdin="Q7x2m9\n")
    seconds = run.out.split()[1]
    assert run.out.startswith("blocked ")  # the outcome word is a stable code
    assert run.err == f"此圖書證號碼嘗試登入次數過多，已被封鎖；請於 {seconds} 秒後再試。\n"

    check = ("policy", "check", "--institution", "hkpl", "--credential", "pin")
    run = cli(*ZH, *check, stdin="12ab\n")
    assert run.out == "pin.not_digits: 個人密碼只可包含數字。\n"
    body = cli(*ZH, *check, "--json", stdin="12ab\n").json()
    assert body["violations"] == [{"code": "pin.not_digits", "message": "個人密碼只可包含數字。"}]

    add = ("patron", "add", "--institution", "polyu", "--barcode", "21012345A")
    cli.ok(*add, "--id-number", "Z123456(1)")
    run = cli(*ZH, "fines", "pay", "--reason", "at the counter", "21012345A", "--amount", "1")
    assert (run.code, run.err) == (1, "fines.nothing_owed: 沒有欠款。\n")
    run = cli(*ZH, "checkin", "BK404", "--institution", "polyu", "--json")
    assert run.json()["violations"] == [
        {"code": "item.not_found", "message": "沒有使用此條碼的資料。"}
    ]

    refused = cli(*ZH, "patron", "show", "21099999B", "--json").json()
    assert refused["error"] == "patron.not_found"
    assert refused["message"] != "No patron has this card number."
    assert all(ord(ch) < 128 for ch in refused["error"])


def test_the_language_can_come_from_the_environment(cli: Cli) -> None:
    cli.configure(PATRONAUTH_LANGUAGE="zh_Hant")
    cli.ok(*ADD_PENDING)
    run = cli("login", "S2019001", "--channel", "web", stdin="S2019001\n")
    assert run.out == "pending-registration\n"
    assert run.err.startswith("你的圖書館帳戶尚未可用")
    assert "電話 2265 6918" in run.err
    english = cli("--language", "en", "login", "S2019001", "--channel", "web", stdin="S2019001\n")
    assert "registration is not complete" in english.err


def test_undecodable_bytes_are_refused_in_chinese_too(cli: Cli) -> None:
    run = cli(*ZH, "login", "21099999B", "--channel", "web", stdin=b"\xff\xfe\n")
    assert run.code == 1
    assert run.err == "secret.not_utf8: 密碼或個人密碼並非 UTF-8 文字。\n"
