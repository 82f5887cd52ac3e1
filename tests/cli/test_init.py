"""`patronauth init`: the schema, the pepper key file (S1), the demo patrons and their
loans."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from patronauth.adapters.storage.engine import make_engine
from patronauth.adapters.storage.tables import metadata
from patronauth.cli.demo import DEMO
from patronauth.cli.demo_lending import LENDING
from patronauth.services.loans import renew_all
from patronauth.services.lookup import require_patron
from patronauth.services.record import record
from tests.cli.conftest import Cli, clean_env


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Cli]:
    """A deployment with no database file and no pepper configured yet."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = clean_env(url, tmp_path / "var")
    env["PATRONAUTH_PEPPER"] = None
    cli = Cli(env, url)
    yield cli
    cli.assert_no_secret_echoed()


def test_init_creates_the_schema_and_a_pepper_key_file_readable_only_by_its_owner(
    fresh: Cli, tmp_path: Path
) -> None:
    cli = fresh
    key = tmp_path / "var" / "pepper.key"
    run = cli.ok("init")
    assert run.out.splitlines() == [
        f"pepper key created at {key} (mode 0600)",
        f"signing keys created at {tmp_path / 'var' / 'oidc-keys.json'} (mode 0600)",
        "schema is current",
    ]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    key_id, key_hex = key.read_text().splitlines()[-1].split()
    assert len(bytes.fromhex(key_hex)) >= 32
    engine = make_engine(cli.database_url)
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()
    cli.ok("patron", "add", "--institution", "hkpl", "--barcode", "HKPL0001", "--phone", "91234567")

    content = key.read_bytes()
    again = cli.ok("init", "--json").json()
    assert again == {
        "pepper_created": False,
        "signing_keys_created": False,
        "schema": "current",
        "demo_patrons_added": 0,
        "demo_lending_added": {"copies": 0, "loans": 0, "reservations": 0, "requests": 0},
    }
    assert key.read_bytes() == content, "init must never replace an existing key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    # The defaults stored under the first key still verify: the key is the same.
    assert cli("login", "HKPL0001", "--channel", "web", stdin="4567\n").out == "ok must-change\n"
    assert key_id in key.read_text()


def test_init_leaves_the_key_alone_when_a_pepper_is_configured(fresh: Cli, tmp_path: Path) -> None:
    cli = fresh
    cli.configure(PATRONAUTH_PEPPER="k1 " + "ab" * 32)
    assert cli.ok("init", "--json").json()["pepper_created"] is False
    assert not (tmp_path / "var" / "pepper.key").exists()


def test_commands_other_than_init_refuse_to_run_without_a_pepper(fresh: Cli) -> None:
    run = fresh("patron", "show", "HKPL0001")
    assert run.code == 2
    assert "run `patronauth init` first" in run.err


def test_init_demo_is_idempotent(cli_any: Cli) -> None:
    first = cli_any.ok("init", "--demo")
    copies = sum(len(title.copies) for lending in LENDING for title in lending.titles)
    loans = sum(len(lending.loans) for lending in LENDING)
    holds = sum(len(lending.reservations) for lending in LENDING)
    requests = sum(len(lending.requests) for lending in LENDING)
    assert first.out.splitlines()[-2:] == [
        f"demo patrons added: {len(DEMO)}",
        f"demo lending added: {copies} copies, {loans} loans, {holds} reservations, "
        f"{requests} requests",
    ]
    stored = cli_any.state(attempts=False)
    second = cli_any.ok("init", "--demo", "--json").json()
    assert second["demo_patrons_added"] == 0
    assert second["demo_lending_added"] == {
        "copies": 0,
        "loans": 0,
        "reservations": 0,
        "requests": 0,
    }
    assert cli_any.state(attempts=False) == stored
    assert len(stored["patrons"]) == len(DEMO)
    assert (len(stored["items"]), len(stored["loans"])) == (copies, loans)
    assert (len(stored["holds"]), len(stored["patron_requests"])) == (holds, requests)
    assert len(stored["titles"]) == sum(len(lending.titles) for lending in LENDING)
    login = ("login", "HKPL0001", "--channel", "web")
    assert cli_any(*login, stdin="4567\n").out == "ok must-change\n"


OVERDUE = {"BK10004", "BK10005", "BK20005", "BK30004", "BK40005"}
RESERVED = {"BK10003", "BK10005", "BK20003", "BK30003", "BK40001"}


def test_the_demo_lends_renews_refuses_and_fines_as_its_table_says(cli_any: Cli) -> None:
    cli = cli_any
    cli.ok("init", "--demo")
    cards = {loan.card for lending in LENDING for loan in lending.loans}
    shown = {card: cli.ok("fines", "show", card, "--json").json() for card in cards}
    out = {loan["item"]: loan for record in shown.values() for loan in record["loans"]}
    assert {item for item, loan in out.items() if loan["overdue"]} == OVERDUE
    assert all(out[item]["fine_so_far_cents"] > 0 for item in OVERDUE)
    hkpl0001 = shown["HKPL0001"]
    assert [(f["amount_cents"], f["reason"]) for f in hkpl0001["fines"]] == [(1350, "overdue")]
    assert [p["amount_cents"] for p in hkpl0001["payments"]] == [500]

    renewed: dict[str, str] = {}
    with cli.app() as app:
        for card in ("HKPL0002", "21012345A", "20181234", "SP7654321", "19054321B"):
            with app.ports.uow() as uow:
                patron = require_patron(uow, app.ports.profiles, card).patron.id
            items = {v.loan.id: v.item_barcode for v in record(app.ports, patron).loans}
            for result in renew_all(app.ports, patron, channel="web"):
                renewed[items[result.loan_id]] = result.refusal.code if result.refusal else "ok"
    assert renewed == {
        "BK10001": "ok",
        "BK10003": "renewal.reserved",
        "BK10004": "ok",  # overdue, but HKPL does not stop renewals for that
        "BK20001": "ok",
        "BK20003": "renewal.reserved",
        "BK20005": "renewal.overdue_block",
        "BK30001": "ok",
        "BK30003": "renewal.reserved",
        "BK40001": "renewal.reserved",
        "BK40002": "ok",
    }
    assert RESERVED - set(renewed) == {"BK10005"}  # HKPL0001's loan, returned below

    back = cli.ok("checkin", "BK10005", "--institution", "hkpl", "--json").json()
    assert back["fine_cents"] == out["BK10005"]["fine_so_far_cents"]
    assert back["reservation"]["patron"] == "HKPL0002"
    requests = cli.ok("request", "list", "21012345A", "--json").json()["requests"]
    assert {r["kind"] for r in requests} == {"recommendation", "interlibrary_loan"}
    calendar = cli.ok("calendar", "show", "--institution", "hkpl", "--json").json()
    assert calendar["closures"] == [{"from": "2020-12-02", "to": "2021-03-04"}]


def test_demo_lists_how_to_try_each_demo_patron(cli: Cli) -> None:
    shown = cli.ok("demo", "--json", shows_secret=True).json()
    rows = shown["patrons"]
    assert shown["url"] == "http://127.0.0.1:8000"
    assert {r["barcode"] for r in rows} == {d.registration.barcode for d in DEMO}
    assert set(rows[0]) == {"institution", "barcode", "channel", "secret", "expect", "note", "page"}
    assert rows[0]["page"] == "http://127.0.0.1:8000/hkpl/sign-in"
    lending = shown["lending"]
    assert set(lending[0]) == {"institution", "card", "where", "try", "expect"}
    cards = {d.registration.barcode for d in DEMO} | {"-"}
    assert {row["card"] for row in lending} <= cards
    assert {row["institution"] for row in lending} == {d.institution for d in LENDING}
    assert any("renewal.reserved" in row["expect"] for row in lending)
    text = cli.ok("demo", shows_secret=True).out
    assert "HKPL0001" in text
    assert "renewal.reserved" in text
    assert "--language zh_Hant" in text
