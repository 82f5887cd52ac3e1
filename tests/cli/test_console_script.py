"""The installed `patronauth` console script, run as a real process, and setup faults."""

from __future__ import annotations

import json
import logging
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests import support
from tests.cli.conftest import Cli, clean_env

SCRIPT = Path(sys.executable).parent / "patronauth"


@pytest.fixture
def env(sqlite_url: str, tmp_path: Path) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PATRONAUTH_")}
    # Strict UTF-8 on the standard streams, as under a UTF-8 locale, so that anything
    # undecodable that reached the output would fail loudly.
    return {
        **inherited,
        **support.test_env(sqlite_url, tmp_path / "var"),
        "PYTHONIOENCODING": "utf-8",
    }


def patronauth(
    env: dict[str, str], *args: str | bytes, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    assert SCRIPT.exists(), f"the console script is not installed next to {sys.executable}"
    done = subprocess.run(
        [SCRIPT, *args], input=stdin, capture_output=True, env=env, timeout=60, check=False
    )
    assert b"Traceback" not in done.stderr, done.stderr.decode(errors="replace")
    return done


def test_the_console_script_answers_help_and_version(env: dict[str, str]) -> None:
    done = patronauth(env, "--help")
    assert done.returncode == 0
    assert done.stdout.startswith(b"Usage: patronauth [OPTIONS] COMMAND [ARGS]...")
    version = patronauth(env, "--version")
    assert version.returncode == 0
    assert version.stdout.startswith(b"patronauth, version ")


def test_the_console_script_exits_0_1_and_2(env: dict[str, str]) -> None:
    add = ("patron", "add", "--institution", "polyu", "--barcode", "21012345A", "--id-number")
    refused = patronauth(env, *add, "Z123456(7)")
    assert refused.returncode == 1
    assert refused.stderr.startswith(b"hkid.check_digit: ")
    assert patronauth(env, *add, "Z123456(1)").returncode == 0

    login = ("login", "21012345A", "--channel", "web")
    signed_in = patronauth(env, *login, stdin=b"Z12345\n")
    assert (signed_in.returncode, signed_in.stdout) == (0, b"ok must-change\n")
    wrong = patronauth(env, *login, "--json", stdin=b"Q7x2m9\n")
    assert wrong.returncode == 1
    assert json.loads(wrong.stdout)["error"] == "login.invalid"

    for usage in (
        patronauth(env, *login),  # nothing on standard input
        patronauth(env, "audit", "--bogus"),
    ):
        assert usage.returncode == 2
        assert b"Usage: patronauth" in usage.stderr


def test_at_a_terminal_a_missing_reason_is_asked_for(env: dict[str, str]) -> None:
    """Piped, `--reason` missing is a usage error; at a terminal it is asked for."""
    piped = patronauth(env, "unlock", "HKPL0404")
    assert piped.returncode == 2
    assert b"Missing option '--reason'" in piped.stderr
    pid, terminal = pty.fork()
    if pid == 0:  # pragma: no cover - the child becomes the command
        os.execve(SCRIPT, [str(SCRIPT), "unlock", "HKPL0404"], env)  # noqa: S606
    said = b""
    while b"Reason" not in said:
        assert select.select([terminal], [], [], 30)[0], said
        said += os.read(terminal, 1024)
    os.write(terminal, b"card stuck in the kiosk\n")
    while True:
        if not select.select([terminal], [], [], 30)[0]:
            break
        try:
            chunk = os.read(terminal, 1024)
        except OSError:  # the command ended and closed the terminal
            break
        if not chunk:
            break
        said += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, said
    assert b"unlocked" in said
    audit = json.loads(patronauth(env, "audit", "HKPL0404", "--json").stdout)["events"]
    assert audit[0]["action"] == "unlock"
    assert audit[0]["detail"]["reason"] == "card stuck in the kiosk"


def test_undecodable_bytes_in_arguments_and_on_stdin_are_refused(env: dict[str, str]) -> None:
    shown = patronauth(env, "patron", "show", "2101\xff".encode("latin-1"), "--json")
    assert shown.returncode == 1
    body = json.loads(shown.stdout.decode("utf-8"))
    assert body["error"] == "argument.not_utf8"
    assert body["message"] == "The value of IDENT is not UTF-8 text."

    added = patronauth(env, "patron", "add", "--institution", "hkpl", "--barcode", b"HK\xc3")
    assert added.returncode == 1
    assert added.stderr == b"argument.not_utf8: The value of --barcode is not UTF-8 text.\n"

    login = ("login", "HKPL0001", "--channel", "web")
    assert patronauth(env, *login, stdin=b"\xff\xfe\n").stderr.startswith(b"secret.not_utf8: ")
    big = patronauth(env, *login, stdin=b"a" * (10 * 1024 * 1024))
    assert big.returncode == 1
    assert big.stderr.startswith(b"secret.too_long: ")


def test_a_very_long_argument_gets_a_short_answer(env: dict[str, str]) -> None:
    done = patronauth(env, "default", "show", "--institution", "x" * 100_000)
    assert done.returncode == 1
    assert done.stderr.startswith(b"institution.unknown: Unknown library xxxx")
    assert len(done.stderr) < 300


def test_a_database_without_the_schema_asks_for_init(cli: Cli, tmp_path: Path) -> None:
    cli.configure(PATRONAUTH_DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")
    run = cli("patron", "show", "HKPL0001")
    assert run.code == 2
    assert run.err == "database: no PatronAuth tables; run `patronauth init` first\n"


@pytest.mark.postgres
def test_a_postgresql_database_without_the_schema_asks_for_init(
    postgres_url: str, tmp_path: Path
) -> None:
    elsewhere = make_url(postgres_url).update_query_dict(
        {"options": "-csearch_path=patronauth_no_such_schema"}
    )
    url = elsewhere.render_as_string(hide_password=False)
    run = Cli(clean_env(url, tmp_path / "var"), url)("patron", "show", "HKPL0001")
    assert run.code == 2
    assert "run `patronauth init` first" in run.err


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("PATRONAUTH_DATABASE_URL", "not a url", "PATRONAUTH_DATABASE_URL"),
        ("PATRONAUTH_DATABASE_URL", "nosuchdb://host/x", "PATRONAUTH_DATABASE_URL"),
        ("PATRONAUTH_PEPPER", "not-a-key", "PATRONAUTH_PEPPER"),
        ("PATRONAUTH_ARGON2_TIME_COST", "fast", "PATRONAUTH_ARGON2_TIME_COST"),
        ("PATRONAUTH_PROFILES_DIR", "{tmp}/no-such-folder", "not a folder of profiles"),
    ],
)
def test_a_configuration_fault_exits_2_and_names_the_setting(
    cli: Cli, tmp_path: Path, variable: str, value: str, says: str
) -> None:
    cli.configure(**{variable: value.replace("{tmp}", str(tmp_path))})
    run = cli("patron", "show", "HKPL0001")
    assert run.code == 2
    assert run.err.startswith("configuration: ")
    assert says in run.err


def test_an_unreachable_redis_is_answered_not_raised(
    cli: Cli, caplog: pytest.LogCaptureFixture
) -> None:
    cli.ok("patron", "add", "--institution", "hkpl", "--barcode", "HKPL0001", "--phone", "91234567")
    cli.configure(PATRONAUTH_COUNTER="redis", PATRONAUTH_REDIS_URL="redis://127.0.0.1:9/0")
    with caplog.at_level(logging.WARNING, logger="patronauth.redis"):
        run = cli("login", "HKPL0001", "--channel", "web", stdin="4567\n")
    assert (run.code, run.out) == (0, "ok must-change\n")
    # One warning per component for the whole outage, not one per Redis operation.
    warnings = sorted(r.getMessage() for r in caplog.records if r.name == "patronauth.redis")
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith("Redis unreachable: the counter works without it until")
    assert warnings[1].startswith("Redis unreachable: the throttle works without it until")


def test_with_redis_down_attempts_are_counted_in_the_database(cli: Cli) -> None:
    cli.ok("patron", "add", "--institution", "hkpl", "--barcode", "HKPL0001", "--phone", "91234567")
    cli.configure(PATRONAUTH_REDIS_URL="redis://127.0.0.1:9/0")
    for _ in range(5):
        assert cli("login", "HKPL0001", "--channel", "web", stdin="Q7x2m9\n").out == "invalid\n"
    assert cli("login", "HKPL0001", "--channel", "web", stdin="4567\n").out.startswith("blocked ")


def test_an_overlong_staff_name_is_a_configuration_error(cli_any: Cli) -> None:
    cli_any.configure(PATRONAUTH_STAFF="x" * 100)
    run = cli_any("unlock", "--reason", "at the counter", "HKPL0001")
    assert run.code == 2
    assert run.err.startswith("configuration: ")
