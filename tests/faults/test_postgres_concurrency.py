"""SPEC 7 on PostgreSQL with real processes: two concurrent changes of one secret
through two nodes leave exactly one; a process killed between storing the new hash and
the commit leaves the old secret valid."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from patronauth.adapters.config import Settings
from patronauth.adapters.storage import tables as t
from patronauth.bootstrap import App, build
from patronauth.domain.credentials import Channel, CredentialKind, Outcome
from patronauth.services.credentials import ChangeRequest, change_secret
from tests.faults.crash_child import STORED
from tests.nodes import Node, node_env, running
from tests.servers import PrivateRedis
from tests.support import attempt, hasher_of, register

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parent.parent.parent
ROUNDS = 4


@pytest.fixture
def deployment(
    postgres_url: str, private_redis: PrivateRedis, tmp_path: Path
) -> Iterator[tuple[dict[str, str], App]]:
    env, _ = node_env(postgres_url, private_redis.url, tmp_path)
    app = build(Settings.from_env(env))
    yield env, app
    app.close()


def patron(app: App, password: str) -> str:
    barcode = f"C{secrets.token_hex(4).upper()}"
    register(app, "hkpl", barcode, name="Chan Tai Man", phone="9123 4567")
    change_secret(app.ports, ChangeRequest(barcode, "4567", password, password, Channel.WEB))
    return barcode


def stored_hash(app: App, barcode: str) -> str:
    with app.engine.connect() as conn:
        return str(
            conn.execute(
                select(t.credentials.c.secret_hash)
                .join(t.identifiers, t.identifiers.c.patron_id == t.credentials.c.patron_id)
                .where(
                    t.identifiers.c.value == barcode,
                    t.credentials.c.kind == CredentialKind.PASSWORD.value,
                )
            ).scalar_one()
        )


def token(node: Node, barcode: str, password: str) -> str:
    answer = httpx.post(
        f"{node.url}/api/v1/sessions", json={"identifier": barcode, "secret": password}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def race(
    nodes: list[Node], tokens: list[str], old: str, news: list[str]
) -> dict[int, httpx.Response]:
    """Both nodes asked at the same moment to change `old` to their own new password."""
    answers: dict[int, httpx.Response] = {}
    start = threading.Barrier(2)

    def put(side: int) -> None:
        start.wait()
        answers[side] = httpx.put(
            f"{nodes[side].url}/api/v1/me/password",
            headers={"Authorization": f"Bearer {tokens[side]}"},
            json={"current": old, "new": news[side], "confirm": news[side]},
            timeout=30,
        )

    threads = [threading.Thread(target=put, args=(side,)) for side in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_two_concurrent_changes_through_two_nodes_leave_exactly_one(
    deployment: tuple[dict[str, str], App], tmp_path: Path
) -> None:
    env, app = deployment
    with running(env, tmp_path) as nodes:
        for round_ in range(ROUNDS):
            old = f"Old#{secrets.token_hex(4)}"
            barcode = patron(app, old)
            news = [f"New#{round_}{side}{secrets.token_hex(4)}" for side in "ab"]
            tokens = [token(node, barcode, old) for node in nodes]
            answers = race(nodes, tokens, old, news)
            statuses = sorted(a.status_code for a in answers.values())
            # One wins; the other raced it to the store (409) or came after it and its
            # "current" password was no longer current (401); or the winner's change
            # ended the loser's session first (401 too).
            assert statuses[0] == 204, statuses
            assert statuses[1] in {401, 409}, statuses
            loser = next(a for a in answers.values() if a.status_code != 204)
            assert loser.json()["error"] in {
                "changed_concurrently", "invalid_credentials", "signed_out", "session_invalid",
            }  # fmt: skip
            winner = next(s for s, a in answers.items() if a.status_code == 204)
            stored = stored_hash(app, barcode)
            matches = [n for n in [*news, old] if hasher_of(app).verify(stored, n).ok]
            assert matches == [news[winner]]


def test_a_process_killed_between_storing_and_committing_leaves_the_old_secret(
    deployment: tuple[dict[str, str], App],
) -> None:
    env, app = deployment
    old, new = "Old#Secret2026", "New#Secret2027"
    barcode = patron(app, old)
    before = stored_hash(app, barcode)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PATRONAUTH_")}
    with subprocess.Popen(
        [sys.executable, "-m", "tests.faults.crash_child", barcode],
        env=inherited | env,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            assert child.stdin is not None
            assert child.stdout is not None
            child.stdin.write(f"{old}\n{new}\n")
            child.stdin.close()
            line = child.stdout.readline().strip()
            assert line == STORED, child.stderr.read() if child.stderr else line
            # The new hash is computed and written in the open transaction: kill it now.
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert child.returncode == -signal.SIGKILL
    assert stored_hash(app, barcode) == before
    assert attempt(app, barcode, old).outcome is Outcome.OK
    assert attempt(app, barcode, new).outcome is Outcome.INVALID
    # The dead transaction held the row; PostgreSQL let it go: a change goes through.
    change_secret(app.ports, ChangeRequest(barcode, old, new, new, Channel.WEB))
    assert attempt(app, barcode, new).outcome is Outcome.OK
