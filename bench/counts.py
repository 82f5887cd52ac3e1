"""`python -m bench.counts`: what one sign-in costs besides its hash, in counts.

Wall-clock figures need a quiet machine (`make bench`); counts do not. For successful
sign-ins through `POST /api/v1/sessions` (the whole ASGI application, in process),
this prints per sign-in: SQL statements, transactions and commits, Redis round trips
(with `--redis`), threads started, hand-overs to the event loop's worker threads
("thread hops"), and the functions with the highest cumulative cost under cProfile
(argon2id at a tiny cost here, so the profile shows the rest of the path).
`--whole` profiles the whole application in every thread, `--production-argon2`
keeps the configured argon2id cost, `--refusals` counts refusals of a blocked card.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import psycopg
from redis.connection import AbstractConnection as Connection
from sqlalchemy import event

from bench.apps import PASSWORD, environment
from patronauth.adapters.config import Settings
from patronauth.adapters.storage import migrate
from patronauth.asgi import create
from patronauth.bootstrap import App, build
from patronauth.domain.credentials import Channel
from patronauth.domain.sessions import SessionChannel
from patronauth.services.authenticate import Attempt
from patronauth.services.credentials import ChangeRequest, change_secret
from patronauth.services.registration import Registration, add_patron
from patronauth.services.signin import sign_in

BARCODE = "HKPL0001"


class Tally:
    def __init__(self) -> None:
        # Named from the start, so that a count of none is printed as 0.
        names = (
            "sql statements",
            "sql transactions",
            "sql commits",
            "thread hops",
            "redis round trips",
        )
        self.counts: Counter[str] = Counter(dict.fromkeys(names, 0))

    def per(self, sign_ins: int) -> dict[str, float]:
        return {name: count / sign_ins for name, count in sorted(self.counts.items())}


@contextmanager
def counting(app: App, tally: Tally) -> Iterator[None]:
    engine = app.engine

    def statement(*_: Any) -> None:
        tally.counts["sql statements"] += 1

    def begun(_: Any) -> None:
        tally.counts["sql transactions"] += 1

    def committed(_: Any) -> None:
        tally.counts["sql commits"] += 1

    listeners = [
        ("before_cursor_execute", statement),
        ("begin", begun),
        ("commit", committed),
    ]
    for name, listener in listeners:
        event.listen(engine, name, listener)
    original = Connection.send_packed_command

    def command(self: Connection, *args: Any, **options: Any) -> Any:
        tally.counts["redis round trips"] += 1  # a pipeline is sent at once
        return original(self, *args, **options)  # type: ignore[no-untyped-call]

    started = threading.Thread.start

    def start(self: threading.Thread) -> None:
        tally.counts["threads started"] += 1
        started(self)

    hopped = anyio.to_thread.run_sync

    async def hop(*args: Any, **options: Any) -> Any:
        # Starlette and FastAPI run every sync callable (a route, a dependency, a
        # response's validation) through this: each is a hand-over to a worker thread
        # and a wake-up of the event loop when it is done.
        tally.counts["thread hops"] += 1
        return await hopped(*args, **options)

    # PostgreSQL round trips as the driver sends them: statements, and what SQLAlchemy
    # does not show (a pool's ping, BEGIN, COMMIT, ROLLBACK).
    executed, commanded = psycopg.Cursor.execute, psycopg.Connection._exec_command

    def execute(self: psycopg.Cursor[Any], *args: Any, **options: Any) -> Any:
        tally.counts["postgresql round trips"] += 1
        return executed(self, *args, **options)

    def exec_command(self: psycopg.Connection[Any], *args: Any, **options: Any) -> Any:
        tally.counts["postgresql round trips"] += 1
        return commanded(self, *args, **options)

    Connection.send_packed_command = command  # type: ignore[method-assign]
    threading.Thread.start = start  # type: ignore[method-assign]
    anyio.to_thread.run_sync = hop  # type: ignore[assignment]
    psycopg.Cursor.execute = execute  # type: ignore[method-assign]
    psycopg.Connection._exec_command = exec_command  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        Connection.send_packed_command = original  # type: ignore[method-assign]
        threading.Thread.start = started  # type: ignore[method-assign]
        anyio.to_thread.run_sync = hopped
        psycopg.Cursor.execute = executed  # type: ignore[method-assign]
        psycopg.Connection._exec_command = commanded  # type: ignore[method-assign]
        for name, listener in listeners:
            event.remove(engine, name, listener)


def prepared(
    database_url: str,
    var_dir: Path,
    redis_url: str | None,
    argon2: tuple[int, int] | None = (1, 1024),
) -> App:
    env = environment(database_url, var_dir, redis_url, argon2)
    env["PATRONAUTH_COUNTER"] = "redis" if redis_url else "sql"
    env["PATRONAUTH_THROTTLE_PER_SOURCE"] = "1000000 per second"
    env["PATRONAUTH_THROTTLE_OVERALL"] = "1000000 per second"
    app = build(Settings.from_env(env))
    if database_url.startswith("sqlite"):
        migrate.upgrade(app.engine)
    add_patron(
        app.ports,
        Registration("hkpl", BARCODE, name="Bench Reader", phone="9123 4567"),
        staff="bench",
    )
    change_secret(
        app.ports,
        ChangeRequest(BARCODE, "4567", PASSWORD, PASSWORD, Channel.WEB, source="127.0.0.1"),
    )
    return app


async def sign_ins(asgi: Any, count: int) -> None:
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://library.test") as c:
        for _ in range(count):
            answer = await c.post(
                "/api/v1/sessions", json={"identifier": BARCODE, "secret": PASSWORD}
            )
            assert answer.status_code == 201, answer.text


class EveryThread:
    """cProfile in the calling thread and in every thread started meanwhile (the event
    loop's worker threads, where the routes and the middleware's checks run)."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self._lock = threading.Lock()

    def _start(self, *_: Any) -> None:
        profile = cProfile.Profile()
        with self._lock:
            self.profiles.append(profile)
        profile.enable()  # replaces this hook in the new thread

    def __enter__(self) -> EveryThread:
        threading.setprofile(self._start)
        self._start()
        return self

    def __exit__(self, *_: object) -> None:
        threading.setprofile(None)
        for profile in self.profiles:
            profile.disable()  # the calling thread's; the others stop with their threads

    def stats(self) -> pstats.Stats:
        stats = pstats.Stats(self.profiles[0])
        for profile in self.profiles[1:]:
            stats.add(profile)
        return stats


HASHING = ("argon2", "hash_secret", "verify_secret", "_ffi")
# Waiting, not work: the event loop idle while a worker thread hashes, a thread
# waiting for another. (A coroutine's every resumption counts as a call.)
WAITING = ("'poll' of", "'acquire' of '_thread.lock'", "threading.py", "queue.py", "selectors.py")
# The client's side of the in-process transport (httpx probes for trio by importing it
# on every request), not the application's.
CLIENT = ("httpx/", "importlib", "_distutils_hack", "posix.stat")
# The cumulative list: the application's frames, not the event loop's or the client's.
APPLICATION = ("patronauth/", "fastapi/", "starlette/", "pydantic", "json/")


def top_entries(stats: pstats.Stats, count: int, top: int, *, own: bool) -> None:
    """The entries with the highest cumulative (or own) time per sign-in, the hash left out."""
    entries = []
    for (path, line, name), (_, calls, own_time, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = path.split("src/", 1)[-1].split("site-packages/", 1)[-1]
        label = f"{where}:{line} {name}"
        if any(word in label for word in HASHING + WAITING + CLIENT):
            continue
        if not own and not any(word in label for word in APPLICATION):
            continue
        entries.append(((own_time if own else cumulative) / count, calls / count, label))
    for seconds, calls, label in sorted(entries, reverse=True)[:top]:
        print(f"  {seconds * 1000:8.3f} ms  {calls:6.1f} calls  {label}")


async def refusals(asgi: Any, count: int) -> None:
    """`count` attempts on the card, which the first five (wrong) attempts block."""
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://library.test") as c:
        for _ in range(count):
            answer = await c.post(
                "/api/v1/sessions", json={"identifier": BARCODE, "secret": "Wrong#Secret9"}
            )
            assert answer.status_code in {401, 429}, answer.text


def measure_refusals(app: App, count: int, top: int) -> None:
    """P2: a blocked card's refusals through `POST /api/v1/sessions`, answered before
    routing; counts per refusal, and the whole application's profile."""
    asgi = create(app)
    asyncio.run(refusals(asgi, 8))  # five failures block the card; three refusals warm
    tally = Tally()
    with counting(app, tally):
        asyncio.run(refusals(asgi, count))
    for name, value in tally.per(count).items():
        print(f"{name:>20}: {value:.2f} per refusal")
    with EveryThread() as profiled:
        asyncio.run(refusals(asgi, count))
    stats = profiled.stats()
    print(f"\nrefusals, all threads, own ms per refusal (top {top}):")
    top_entries(stats, count, top, own=True)
    print(f"\nrefusals, all threads, cumulative ms per refusal (top {top}):")
    top_entries(stats, count, top, own=False)


def measure(app: App, count: int, top: int, *, whole: bool = False) -> None:
    asgi = create(app)
    asyncio.run(sign_ins(asgi, 3))  # warm: first requests build caches
    tally = Tally()
    with counting(app, tally):
        asyncio.run(sign_ins(asgi, count))
    for name, value in tally.per(count).items():
        print(f"{name:>20}: {value:.2f} per sign-in")
    if whole:
        # The whole application: middleware, routing, validation, the use case in its
        # worker thread, the answer; every thread's profile added up.
        with EveryThread() as profiled:
            asyncio.run(sign_ins(asgi, count))
        stats = profiled.stats()
        print(f"\nPOST /api/v1/sessions, all threads, own ms per sign-in (top {top}):")
        top_entries(stats, count, top, own=True)
        print(f"\nPOST /api/v1/sessions, all threads, cumulative ms per sign-in (top {top}):")
        top_entries(stats, count, top, own=False)
        return
    # The route runs in a worker thread, out of cProfile's sight: the use case behind
    # it is profiled here, in this thread, with the same attempt.
    attempt = Attempt(BARCODE, PASSWORD, Channel.APP, source="127.0.0.1")
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(count):
        assert sign_in(app.ports, attempt, session=SessionChannel.APP).opened is not None
    profile.disable()
    stats = pstats.Stats(profile)
    entries = []
    for (path, line, name), (_, calls, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        if "site-packages" in path and "sqlalchemy" not in path and "redis" not in path:
            continue
        where = path.split("src/", 1)[-1].split("site-packages/", 1)[-1]
        entries.append((cumulative / count, calls / count, f"{where}:{line} {name}"))
    print(f"\nsign_in (the use case), by cumulative ms per sign-in (top {top}):")
    for cumulative, calls, where in sorted(entries, reverse=True)[:top]:
        print(f"  {cumulative * 1000:8.3f} ms  {calls:6.1f} calls  {where}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.counts", description=__doc__)
    parser.add_argument("--database", help="a database URL (default: a new SQLite file)")
    parser.add_argument("--redis", help="a Redis URL: counter, throttle and sessions there")
    parser.add_argument("--sign-ins", type=int, default=50)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument(
        "--whole",
        action="store_true",
        help="profile the whole ASGI application in every thread instead of the use case",
    )
    parser.add_argument(
        "--refusals",
        action="store_true",
        help="P2: refusals of a blocked card instead of sign-ins (the whole application)",
    )
    parser.add_argument(
        "--production-argon2",
        action="store_true",
        help="the configured argon2id cost instead of a tiny one (the hash left out of the lists)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite:///{folder}/bench.db"
        argon2 = None if args.production_argon2 else (1, 1024)
        app = prepared(url, Path(folder) / "var", args.redis, argon2)
        try:
            if args.refusals:
                measure_refusals(app, args.sign_ins, args.top)
            else:
                measure(app, args.sign_ins, args.top, whole=args.whole)
        finally:
            app.close()


if __name__ == "__main__":
    main()
