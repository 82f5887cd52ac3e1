"""The production mode measured through HTTP on two nodes (SPEC 5, 6): two
`patronauth serve` processes sharing one PostgreSQL database and one Redis on loopback.

- P1 on 2 nodes: sign-ins through `POST /api/v1/sessions`, the client alternating the
  nodes;
- P2: a flood of attempts against blocked identifiers from many client addresses (a
  separate client process, `X-Forwarded-For` from a trusted proxy) while legitimate
  patrons sign in: the refusal rate against the hash limit, the hashes computed during
  the flood (from the nodes' `/metrics`), and the legitimate p99 against the quiet p99;
- the soak: a bounded mixed load (sign-ins, wrong secrets, account reads, sign-outs) for
  a fixed time, reporting the growth of the nodes' resident memory.

Every run is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench import apps, hashing
from bench.apps import PASSWORD
from bench.http import Server
from bench.report import Figure
from bench.wrk import drive
from patronauth.adapters.config import Settings, sharing_cores
from patronauth.bootstrap import build

P1_RATIO = 0.9
P2_REFUSALS = 20.0  # refusals per second >= 20 x the hash limit
P2_P99 = 2.0  # legitimate p99 under the flood <= 2 x the quiet p99
SOAK_GROWTH_MB = 50.0
WRONG = "Not#TheirPassword1"
SIGN_IN = "/api/v1/sessions"
FLOOD_CONNECTIONS = 16  # attempts in flight on each node


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def p99(samples: list[float]) -> float:
    ordered = sorted(samples) or [0.0]
    return ordered[max(0, int(0.99 * len(ordered) + 0.5) - 1)]


def node_environment(database_url: str, redis_url: str, var: Path) -> dict[str, str]:
    """The deployment's settings: Redis counts, nginx-like trust of loopback."""
    env = apps.environment(database_url, var, redis_url)
    env["PATRONAUTH_TRUSTED_PROXIES"] = "127.0.0.1"
    return env


@contextmanager
def two_nodes(env: dict[str, str], var: Path, workers: int = 1) -> Iterator[list[Server]]:
    # Two nodes on one machine: each may use half its cores, as a node is given the
    # cores it may use in a deployment (deploy/README.md, PATRONAUTH_HASH_WORKERS).
    node = sharing_cores(env, 2)
    servers = [Server(node, workers, var / f"node-{n}.log") for n in (1, 2)]
    try:
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()


def hashes(servers: list[Server]) -> float:
    """argon2 computations so far, summed over the nodes (`patronauth_hash_seconds`)."""
    return _summed(servers, "patronauth_hash_seconds_count")


def signed_in(servers: list[Server]) -> float:
    """Successful sign-ins so far, summed over the nodes (`patronauth_attempts`)."""
    return _summed(servers, "patronauth_attempts_total", outcome="ok")


def settled(servers: list[Server]) -> tuple[float, float]:
    """The hashes and sign-ins once the requests still in flight when the load stopped
    are answered (two reads in a row agree)."""
    last = (hashes(servers), signed_in(servers))
    for _ in range(20):
        time.sleep(0.25)
        now = (hashes(servers), signed_in(servers))
        if now == last:
            break
        last = now
    return last


def _summed(servers: list[Server], name: str, **labels: str) -> float:
    total = 0.0
    for server in servers:
        text = httpx.get(f"{server.url}/metrics", headers=apps.METRICS_HEADERS, timeout=10).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and labels.items() <= sample.labels.items():
                    total += sample.value
    return total


@dataclass
class Run:
    elapsed: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    def rate(self, status: int) -> float:
        return self.statuses[status] / self.elapsed if self.elapsed else 0.0

    def details(self) -> dict[str, Any]:
        ordered = sorted(self.latencies) or [0.0]
        return {
            "seconds": round(self.elapsed, 2),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "latency_p50_ms": round(statistics.median(ordered) * 1000, 2),
            "latency_p99_ms": round(p99(ordered) * 1000, 2),
        }


async def _sign_ins(
    urls: list[str],
    barcodes: list[str],
    *,
    concurrency: int,
    seconds: float,
    max_logins: int,
    secret: str = PASSWORD,
) -> Run:
    """Sign-ins from `concurrency` clients, each request to the next node in turn."""
    run = Run()
    issued = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=2 * concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one_client() -> None:
            nonlocal issued
            while time.perf_counter() < stop and issued < max_logins:
                issued += 1
                url = urls[issued % len(urls)]
                body = {"identifier": barcodes[issued % len(barcodes)], "secret": secret}
                began = time.perf_counter()
                answer = await client.post(url + SIGN_IN, json=body)
                run.latencies.append(time.perf_counter() - began)
                run.statuses[answer.status_code] += 1

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        run.elapsed = time.perf_counter() - started
    return run


def sign_ins(urls: list[str], barcodes: list[str], **kwargs: Any) -> Run:
    return asyncio.run(_sign_ins(urls, barcodes, **kwargs))


def p1_two_nodes(
    database_url: str, redis_url: str, var: Path, *, limit: float, seconds: float
) -> Figure:
    env = node_environment(database_url, redis_url, var / "p1-nodes")
    setup = build(Settings.from_env(env))
    try:
        say("P1 2 nodes: setting up patrons")
        barcodes = apps.patrons_with_passwords(setup, 64, os.cpu_count() or 1)
        alone = hashing.alone_just_before(setup.ports.hasher, threads=os.cpu_count() or 1)
    finally:
        setup.close()
    env |= {
        "PATRONAUTH_THROTTLE_PER_SOURCE": "1000000 per minute",
        "PATRONAUTH_THROTTLE_OVERALL": "1000000 per second",
    }
    with two_nodes(env, var) as servers:
        urls = [s.url for s in servers]
        connections = 2 * (os.cpu_count() or 1)  # per node
        sign_ins(urls, barcodes, concurrency=8, seconds=1, max_logins=50)  # warm up
        say(f"P1 2 nodes: {connections} connections on each node for {seconds:.0f} s")
        run = drive(urls, barcodes, PASSWORD, seconds=seconds, connections=connections)
    if set(run.statuses) != {201}:
        raise RuntimeError(f"P1 2 nodes: not every sign-in succeeded: {dict(run.statuses)}")
    ratio = run.rate(201) / limit
    return Figure(
        "p1_http_2_nodes",
        "P1 logins via POST /api/v1/sessions (2 nodes, PostgreSQL + Redis)",
        run.rate(201),
        "logins/s",
        target=f">= {P1_RATIO:.2f} x hash limit",
        ratio=ratio,
        ratio_means="throughput / hash limit (higher is better)",
        met=ratio >= P1_RATIO,
        method="two `patronauth serve` processes (one worker each) sharing one PostgreSQL "
        "database and one Redis; wrk (on the same cores) signs in on both at once; chosen "
        "passwords at the configured argon2id; every answer a 201 with a new session",
        details={**run.details(), **hashing.over_alone(run.rate(201), alone)},
    )


def p2_flood(
    database_url: str, redis_url: str, var: Path, *, limit: float, seconds: float
) -> list[Figure]:
    env = node_environment(database_url, redis_url, var / "p2")
    # Legitimate patrons come from many addresses too: here they share the bench's, so
    # the per-address throttle is lifted; the blocks alone refuse the flood.
    env["PATRONAUTH_THROTTLE_PER_SOURCE"] = "1000000 per minute"
    setup = build(Settings.from_env(env))
    try:
        say("P2: setting up patrons")
        legit = apps.patrons_with_passwords(setup, 16, os.cpu_count() or 1)
        blocked = apps.patrons_with_passwords(setup, 32, os.cpu_count() or 1)
    finally:
        setup.close()
    with two_nodes(env, var) as servers:
        urls = [s.url for s in servers]
        sign_ins(urls, legit, concurrency=2, seconds=1, max_logins=20)  # warm up
        say(f"P2: quiet sign-ins for {seconds:.0f} s")
        quiet = drive(urls, legit, PASSWORD, seconds=seconds, connections=1)
        say(f"P2: blocking {len(blocked)} cards")
        block = sign_ins(
            urls, blocked, concurrency=4, seconds=30, max_logins=6 * len(blocked), secret=WRONG
        )
        if block.statuses[429] < len(blocked):
            raise RuntimeError(f"P2: the cards were not all blocked: {dict(block.statuses)}")
        say(f"P2: flood from many addresses for {seconds:.0f} s, legitimate sign-ins alongside")
        before, ok_before = hashes(servers), signed_in(servers)
        with ThreadPoolExecutor(1) as pool:
            flooding = pool.submit(
                drive, urls, blocked, WRONG, seconds=seconds, connections=FLOOD_CONNECTIONS
            )
            loud = drive(urls, legit, PASSWORD, seconds=seconds, connections=1)
            flood = flooding.result()
        after, ok_after = settled(servers)
    for name, run in (("quiet", quiet), ("legitimate under the flood", loud)):
        if set(run.statuses) != {201}:
            raise RuntimeError(f"P2 {name} sign-ins did not all succeed: {dict(run.statuses)}")
    if set(flood.statuses) - {429}:
        raise RuntimeError(f"P2: flood answers other than 429: {dict(flood.statuses)}")
    # Every successful sign-in meanwhile hashed once: the legitimate ones wrk counted,
    # and those still in flight when it stopped (the nodes count those too).
    flood_hashes = after - before - (ok_after - ok_before)
    refusals = flood.rate(429)
    quiet_p99, loud_p99 = quiet.p99, loud.p99
    common = "two nodes on PostgreSQL + Redis; 32 cards blocked first (5 wrong secrets each)"
    return [
        Figure(
            "p2_refusals",
            "P2 refusals of blocked cards, 2 nodes",
            refusals,
            "refusals/s",
            target=f">= {P2_REFUSALS:g} x hash limit",
            ratio=refusals / limit / P2_REFUSALS,
            ratio_means="(refusals/s / hash limit) / 20 (>= 1 meets it)",
            met=refusals >= P2_REFUSALS * limit,
            method=f"{common}; wrk floods them ({FLOOD_CONNECTIONS} attempts in flight on "
            "each node, each attempt from a new address in X-Forwarded-For, trusted from "
            "loopback) while 2 legitimate clients sign in; every flood answer a 429 "
            "too_many_attempts, counted by wrk's script",
            details={**flood.details(), "refusals_per_hash_limit": round(refusals / limit, 2)},
        ),
        Figure(
            "p2_flood_hashes",
            "P2 argon2 computations caused by the flood",
            flood_hashes,
            "hashes",
            target="0",
            met=flood_hashes == 0,
            method="the nodes' patronauth_hash_seconds_count before and after the flood, "
            "less one per successful sign-in the nodes counted meanwhile (patronauth_attempts, "
            "outcome ok: the legitimate patrons')",
            details={
                "hashes_during_flood": after - before,
                "sign_ins_counted_by_the_nodes": ok_after - ok_before,
                "legit_sign_ins_counted_by_wrk": loud.statuses[201],
            },
        ),
        Figure(
            "p2_legit_p99",
            "P2 legitimate sign-in p99 under the flood",
            loud_p99 * 1000,
            "ms",
            target=f"<= {P2_P99:g} x quiet p99 ({quiet_p99 * 1000:.1f} ms)",
            ratio=(P2_P99 * quiet_p99) / loud_p99 if loud_p99 else None,
            ratio_means="(2 x quiet p99) / p99 under the flood (>= 1 meets it)",
            met=loud_p99 <= P2_P99 * quiet_p99,
            method=f"{common}; a patron signing in on each node at a time (wrk, one "
            f"connection per node) with chosen passwords, {seconds:.0f} s quiet then "
            f"{seconds:.0f} s beside the flood; the p99 of the slower node; the flood's wrk "
            "runs on the same cores",
            details={"quiet": quiet.details(), "under_flood": loud.details()},
        ),
    ]


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and its descendants (Linux /proc)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(c) for c in children)
        except (OSError, ValueError):
            continue
    return total


async def _mixed(
    urls: list[str], barcodes: list[str], seconds: float, counts: Counter[str]
) -> None:
    """Sign in, read the account, sometimes a wrong secret, sign out; clients in turn."""
    stop = time.perf_counter() + seconds
    rng = random.Random()
    async with httpx.AsyncClient(timeout=30) as client:

        async def one_client(n: int) -> None:
            turn = n
            while time.perf_counter() < stop:
                turn += 1
                url = urls[turn % len(urls)]
                card = barcodes[rng.randrange(len(barcodes))]
                if turn % 10 == 0:  # a wrong secret now and then, on a card nobody holds
                    unknown = f"X{secrets.token_hex(6).upper()}"  # a new lockout key each time
                    answer = await client.post(
                        url + SIGN_IN, json={"identifier": unknown, "secret": WRONG}
                    )
                    counts[f"wrong {answer.status_code}"] += 1
                    continue
                answer = await client.post(
                    url + SIGN_IN, json={"identifier": card, "secret": PASSWORD}
                )
                counts[f"sign-in {answer.status_code}"] += 1
                if answer.status_code != 201:
                    continue
                auth = {"Authorization": f"Bearer {answer.json()['token']}"}
                other = urls[(turn + 1) % len(urls)]
                counts[
                    f"me {(await client.get(other + '/api/v1/me', headers=auth)).status_code}"
                ] += 1
                out = await client.delete(url + SIGN_IN + "/current", headers=auth)
                counts[f"sign-out {out.status_code}"] += 1

        await asyncio.gather(*(one_client(n) for n in range(4)))


def soak(database_url: str, redis_url: str, var: Path, *, seconds: float) -> Figure:
    env = node_environment(database_url, redis_url, var / "soak")
    setup = build(Settings.from_env(env))
    try:
        say("soak: setting up patrons")
        barcodes = apps.patrons_with_passwords(setup, 64, os.cpu_count() or 1)
    finally:
        setup.close()
    env |= {"PATRONAUTH_THROTTLE_PER_SOURCE": "1000000 per minute"}
    counts: Counter[str] = Counter()
    samples: list[tuple[float, int]] = []
    warm_up = min(30.0, seconds / 6)
    with two_nodes(env, var) as servers:
        pids = [s.pid for s in servers]
        say(f"soak: mixed load on 2 nodes for {seconds:.0f} s ({warm_up:.0f} s of warm-up)")
        asyncio.run(_mixed([s.url for s in servers], barcodes, warm_up, counts))
        started = time.perf_counter()
        samples.append((0.0, sum(rss_bytes(p) for p in pids)))
        step = max(1.0, (seconds - warm_up) / 12)
        while (elapsed := time.perf_counter() - started) < seconds - warm_up:
            asyncio.run(
                _mixed(
                    [s.url for s in servers],
                    barcodes,
                    min(step, seconds - warm_up - elapsed),
                    counts,
                )
            )
            samples.append((time.perf_counter() - started, sum(rss_bytes(p) for p in pids)))
    failed = {k: v for k, v in counts.items() if not k.endswith(("201", "200", "204", "401"))}
    if failed:
        raise RuntimeError(f"soak: unexpected answers {failed}")
    first, last = samples[0][1], samples[-1][1]
    growth = (last - first) / 2**20
    return Figure(
        "soak_rss_growth",
        f"soak: RSS growth of 2 nodes in {seconds:.0f} s",
        growth,
        "MB",
        target=f"< {SOAK_GROWTH_MB:g} MB",
        ratio=SOAK_GROWTH_MB / growth if growth > 0 else None,
        ratio_means="target / growth (higher is better)",
        met=growth < SOAK_GROWTH_MB,
        method="two nodes on PostgreSQL + Redis under a bounded mixed load (4 clients: "
        "sign-in, account read on the other node, sign-out; a wrong secret every tenth "
        "turn); resident memory of both node processes after the warm-up and at the end",
        details={
            "seconds": seconds,
            "warm_up_seconds": warm_up,
            "rss_after_warm_up_mb": round(first / 2**20, 1),
            "rss_at_end_mb": round(last / 2**20, 1),
            "rss_series_mb": [(round(t, 1), round(b / 2**20, 1)) for t, b in samples],
            "requests": dict(sorted(counts.items())),
        },
    )


def node_figures(
    database_url: str,
    redis_url: str,
    var: Path,
    *,
    limit: float,
    seconds: float,
    soak_seconds: float,
    soak_only: bool = False,
) -> list[Figure]:
    """P1 on 2 nodes, P2 and the soak (or the soak alone), on one database."""
    figures = []
    if not soak_only:
        figures.append(p1_two_nodes(database_url, redis_url, var, limit=limit, seconds=seconds))
        figures += p2_flood(database_url, redis_url, var, limit=limit, seconds=seconds)
    if soak_seconds > 0:
        figures.append(soak(database_url, redis_url, var, seconds=soak_seconds))
    return figures
