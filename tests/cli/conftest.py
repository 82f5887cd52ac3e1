"""Running `patronauth` in-process against a real database, and watching what it prints.

Every run is checked for Python tracebacks; every line typed on standard input is a
secret, and at the end of each test no output of any command may contain one.
"""

from __future__ import annotations

import json
import os
import re
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from patronauth.adapters.clock import ManualClock
from patronauth.adapters.config import Settings
from patronauth.adapters.storage.engine import make_engine
from patronauth.adapters.storage.tables import metadata
from patronauth.bootstrap import App, build
from patronauth.cli.main import cli as patronauth
from tests.support import test_env

REASON_LINE = re.compile(r"^([a-z_]+(?:\.[a-z0-9_]+)+): \S", re.MULTILINE)
# Tables that hold patrons, their secrets and their lending; the audit trail and the
# attempt counters record attempts by design and are checked separately where it matters.
STATE_TABLES = (
    *("patrons", "identifiers", "credentials", "temporary_secrets", "forced_changes"),
    *("titles", "items", "loans", "holds", "fines", "payments", "closures", "patron_requests"),
    "terminals",
)
# HKCT staff member whose application is not complete (R17); the default is the staff number.
ADD_PENDING = [
    "patron",
    "add",
    "--institution",
    "hkct",
    "--barcode",
    "S2019001",
    "--category",
    "staff",
    "--staff-number",
    "S2019001",
    "--registered-on",
    "2019-09-02",
    "--pending",
]
_SHORTEST_TRACKED_SECRET = 4
_LONGEST_TRACKED_SECRET = 1000


def clean_env(database_url: str, var_dir: Path, **extra: str) -> dict[str, str | None]:
    """The test deployment's environment, with any PATRONAUTH_* of the caller's shell unset."""
    inherited: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PATRONAUTH_")}
    return {**inherited, **test_env(database_url, var_dir, **extra)}


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    code: int
    out: str
    err: str

    @property
    def reasons(self) -> list[str]:
        """Reason codes of a refusal: `code: message` lines (on standard output only for
        `policy check`, whose result they are)."""
        return REASON_LINE.findall(self.err + self.out)

    def json(self) -> Any:
        return json.loads(self.out)

    def __str__(self) -> str:
        return f"patronauth {' '.join(self.args)[:200]} -> {self.code}\n{self.out}{self.err}"


class Cli:
    """`patronauth` with one environment; remembers secrets typed and outputs seen."""

    def __init__(self, env: Mapping[str, str | None], database_url: str) -> None:
        self.env = dict(env)
        self.database_url = database_url
        self.runner = CliRunner(env=self.env)
        self.typed: set[str] = set()
        self.public: set[str] = set()
        self.outputs: list[str] = []

    def __call__(
        self, *args: str, stdin: str | bytes | None = None, shows_secret: bool = False
    ) -> Run:
        """Run one command; `shows_secret` for the few that print one by design
        (a staff reset's temporary secret, `default show`, `demo`)."""
        result = self.runner.invoke(patronauth, list(args), input=stdin, prog_name="patronauth")
        run = Run(tuple(args), result.exit_code, result.stdout, result.stderr)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            trace = "".join(traceback.format_exception(result.exception))
            pytest.fail(f"{run}\nraised instead of answering:\n{trace}")
        assert "Traceback" not in run.out + run.err, str(run)
        self.public.update(args)
        self._remember(stdin)
        if not shows_secret:
            self.outputs.append(run.out + run.err)
        return run

    def ok(self, *args: str, stdin: str | bytes | None = None, **kwargs: bool) -> Run:
        run = self(*args, stdin=stdin, **kwargs)
        assert run.code == 0, str(run)
        return run

    def refused(self, *args: str, stdin: str | bytes | None = None) -> Run:
        """A refusal: exit status 1 with at least one reason code."""
        run = self(*args, stdin=stdin)
        assert run.code == 1, str(run)
        if "--json" in args:
            body = run.json()
            assert body["error"] == body["violations"][0]["code"], str(run)
        else:
            assert run.reasons, str(run)
        return run

    def _remember(self, stdin: str | bytes | None) -> None:
        if stdin is None:
            return
        text = stdin.decode("utf-8", "ignore") if isinstance(stdin, bytes) else stdin
        for line in text.split("\n"):  # the CLI's own line breaks, not str.splitlines()
            secret = line.removesuffix("\r")
            if _SHORTEST_TRACKED_SECRET <= len(secret) <= _LONGEST_TRACKED_SECRET:
                self.typed.add(secret)

    def assert_no_secret_echoed(self) -> None:
        # A secret that was also typed as an argument (a default equal to the card
        # number, say) is public anyway.
        for secret in self.typed - self.public:
            for output in self.outputs:
                assert secret not in output, f"the secret {secret!r} was printed:\n{output}"

    def configure(self, **env: str | None) -> None:
        """Change the deployment's environment for the runs that follow."""
        self.env.update(env)
        self.runner = CliRunner(env=self.env)

    def state(self, *, attempts: bool = True) -> dict[str, list[tuple[Any, ...]]]:
        """Every stored row, to show that nothing changed.

        With `attempts=False` the audit trail and the attempt counters are left out: a
        sign-in that succeeds on the way to a refused change is recorded by design.
        """
        names = STATE_TABLES + (("audit_events", "attempt_counters") if attempts else ())
        engine = make_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return {
                    name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
                    for name, table in metadata.tables.items()
                    if name in names
                }
        finally:
            engine.dispose()

    @contextmanager
    def app(self, now: datetime | None = None) -> Iterator[App]:
        """The deployment behind these commands, for what the command line does not do
        itself (a loan made weeks ago, a reservation); `now` stops its clock there."""
        env = {name: value for name, value in self.env.items() if value is not None}
        built = build(Settings.from_env(env))
        if now is not None:
            built = replace(built, ports=replace(built.ports, clock=ManualClock(now)))
        try:
            yield built
        finally:
            built.close()

    def audit(self, ident: str | None = None) -> list[dict[str, Any]]:
        args = ["audit", "--json", "--limit", "10000"] + ([ident] if ident else [])
        events: list[dict[str, Any]] = self.ok(*args).json()["events"]
        return events


def _cli(database_url: str, tmp_path: Path) -> Iterator[Cli]:
    runner = Cli(clean_env(database_url, tmp_path / "var"), database_url)
    yield runner
    runner.assert_no_secret_echoed()


@pytest.fixture
def cli(sqlite_url: str, tmp_path: Path) -> Iterator[Cli]:
    """The command line over SQLite."""
    yield from _cli(sqlite_url, tmp_path)


@pytest.fixture
def cli_any(database_url: str, tmp_path: Path) -> Iterator[Cli]:
    """The command line over SQLite and, when reachable, PostgreSQL."""
    yield from _cli(database_url, tmp_path)
