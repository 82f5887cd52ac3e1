"""`patronauth init`: the schema, the pepper key file (S1) and the demo patrons."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from patronauth.adapters.storage.engine import make_engine
from patronauth.adapters.storage.tables import metadata
from patronauth.cli.demo import DEMO
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
    assert again == {"pepper_created": False, "schema": "current", "demo_patrons_added": 0}
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
    assert first.out.splitlines()[-1] == f"demo patrons added: {len(DEMO)}"
    stored = cli_any.state(attempts=False)
    second = cli_any.ok("init", "--demo", "--json").json()
    assert second["demo_patrons_added"] == 0
    assert cli_any.state(attempts=False) == stored
    assert len(stored["patrons"]) == len(DEMO)
    login = ("login", "HKPL0001", "--channel", "web")
    assert cli_any(*login, stdin="4567\n").out == "ok must-change\n"


def test_demo_lists_how_to_try_each_demo_patron(cli: Cli) -> None:
    shown = cli.ok("demo", "--json", shows_secret=True).json()
    rows = shown["patrons"]
    assert shown["url"] == "http://127.0.0.1:8000"
    assert {r["barcode"] for r in rows} == {d.registration.barcode for d in DEMO}
    assert set(rows[0]) == {"institution", "barcode", "channel", "secret", "expect", "note", "page"}
    assert rows[0]["page"] == "http://127.0.0.1:8000/hkpl/sign-in"
    text = cli.ok("demo", shows_secret=True).out
    assert "HKPL0001" in text
    assert "--language zh_Hant" in text
