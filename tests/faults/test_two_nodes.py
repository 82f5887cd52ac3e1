"""Two nodes (SPEC 5): two `patronauth serve` processes on two ports, configured like
`deploy/`, sharing one PostgreSQL database and one Redis on loopback."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from patronauth.adapters.config import Settings
from patronauth.bootstrap import App, build
from patronauth.domain.credentials import Channel
from patronauth.services.credentials import ChangeRequest, change_secret
from tests.nodes import Node, node_env
from tests.servers import PrivateRedis, missing
from tests.support import METRICS_HEADERS, register

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

PASSWORD = "Lib#Reader2026"
SESSIONS = "/api/v1/sessions"


@dataclass
class Cluster:
    a: Node
    b: Node
    app: App  # the same deployment, in this process, to provision patrons

    def patron(self) -> str:
        """A new HKPL patron (a card no other test uses) with PASSWORD chosen."""
        barcode = f"N{secrets.token_hex(4).upper()}"
        register(self.app, "hkpl", barcode, name="Chan Tai Man", phone="9123 4567")
        change_secret(
            self.app.ports, ChangeRequest(barcode, "4567", PASSWORD, PASSWORD, Channel.WEB)
        )
        return barcode


@pytest.fixture(scope="module")
def cluster(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server")
    assert binary is not None
    redis = PrivateRedis(binary)
    redis.start()
    var = tmp_path_factory.mktemp("nodes")
    env, _ = node_env(postgres_url, redis.url, var)
    app = build(Settings.from_env(env))
    nodes = [Node(env, var / f"node-{n}.log") for n in "ab"]
    try:
        for node in nodes:
            node.wait_ready()
        yield Cluster(nodes[0], nodes[1], app)
    finally:
        for node in nodes:
            node.stop()
        app.close()
        redis.close()


def sign_in(node: Node, barcode: str, secret: str) -> httpx.Response:
    return httpx.post(f"{node.url}{SESSIONS}", json={"identifier": barcode, "secret": secret})


def me(node: Node, token: str) -> httpx.Response:
    return httpx.get(f"{node.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def test_failures_alternated_between_the_nodes_block_the_sixth_attempt(cluster: Cluster) -> None:
    barcode = cluster.patron()
    answers = [
        sign_in(n, barcode, "Wrong#Guess99") for n in [cluster.a, cluster.b] * 2 + [cluster.a]
    ]
    assert [a.status_code for a in answers] == [401] * 5
    assert {a.json()["error"] for a in answers} == {"invalid_credentials"}
    for node in (cluster.b, cluster.a):  # the right password, on either node
        blocked = sign_in(node, barcode, PASSWORD)
        assert blocked.status_code == 429
        assert blocked.json()["error"] == "too_many_attempts"
        assert int(blocked.headers["Retry-After"]) > 0
    other = cluster.patron()  # a block is of one card, not of the node
    assert sign_in(cluster.b, other, PASSWORD).status_code == 201


def hashes(node: Node) -> float:
    """argon2 computations this node has made (its /metrics)."""
    text = httpx.get(f"{node.url}/metrics", headers=METRICS_HEADERS).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "patronauth_hash_seconds_count"
    )


def test_attempts_on_a_blocked_card_from_many_addresses_cost_no_hash(cluster: Cluster) -> None:
    """P2's claim without a clock: behind the trusted proxy every attempt comes from a
    new address, so no per-address throttle helps; the block alone refuses them."""
    barcode = cluster.patron()
    start = sum(hashes(node) for node in (cluster.a, cluster.b))
    for n in range(5):
        assert sign_in([cluster.a, cluster.b][n % 2], barcode, "Wrong#Guess99").status_code == 401
    before = [hashes(node) for node in (cluster.a, cluster.b)]
    assert sum(before) - start == 5  # each failure cost one hash, counted by the nodes
    for n in range(40):
        answer = httpx.post(
            f"{[cluster.a, cluster.b][n % 2].url}{SESSIONS}",
            json={"identifier": barcode, "secret": "Wrong#Guess99" if n % 3 else PASSWORD},
            headers={"X-Forwarded-For": f"10.9.{n}.{n + 1}"},
        )
        assert answer.status_code == 429
        assert answer.json()["error"] == "too_many_attempts"
    assert [hashes(node) for node in (cluster.a, cluster.b)] == before


def test_a_session_opened_on_one_node_is_valid_on_the_other_and_ends_on_both(
    cluster: Cluster,
) -> None:
    barcode = cluster.patron()
    opened = sign_in(cluster.a, barcode, PASSWORD)
    assert opened.status_code == 201
    token = opened.json()["token"]
    for node in (cluster.a, cluster.b):
        answer = me(node, token)
        assert answer.status_code == 200
        assert answer.json()["card_number"] == barcode
    out = httpx.delete(
        f"{cluster.b.url}{SESSIONS}/current", headers={"Authorization": f"Bearer {token}"}
    )
    assert out.status_code == 204
    for node in (cluster.a, cluster.b):
        answer = me(node, token)
        assert answer.status_code == 401
        assert answer.json()["error"] == "signed_out"


def test_a_change_on_one_node_ends_the_patrons_other_sessions_on_both(cluster: Cluster) -> None:
    barcode = cluster.patron()
    on_a = sign_in(cluster.a, barcode, PASSWORD).json()["token"]
    on_b = sign_in(cluster.b, barcode, PASSWORD).json()["token"]
    changed = httpx.put(
        f"{cluster.b.url}/api/v1/me/password",
        headers={"Authorization": f"Bearer {on_b}"},
        json={"current": PASSWORD, "new": "Quiet#Stacks2027", "confirm": "Quiet#Stacks2027"},
    )
    assert changed.status_code == 204, changed.text
    assert me(cluster.a, on_a).status_code == 401  # ended on the other node too
    assert me(cluster.a, on_b).status_code == 200  # the app keeps its own token
    assert sign_in(cluster.a, barcode, "Quiet#Stacks2027").status_code == 201
