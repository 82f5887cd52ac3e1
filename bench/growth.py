"""P1's non-hash work per sign-in with many patrons on record (growth).

P1's own figures sign in 64 patrons of an otherwise empty database. Here the patrons
are picked at random among those a P3 import has just put on record (a hundred
thousand, a million), so that their cards, patron records and credentials sit in
tables of that size, and the figure is measured as P1's is: single-threaded
sign-ins with argon2id at a tiny cost, less the time of that cheap verification.

The deployment is the imported one (its database and pepper), with argon2id at the
tiny cost and, on PostgreSQL, the attempt counter in Redis as in P1's figure. Each
picked patron chooses a password through the change use case first (their default
opens only the change step, R5).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from bench import login
from bench.apps import PASSWORD, each
from patronauth.adapters.config import Settings
from patronauth.bootstrap import build
from patronauth.domain.credentials import Channel
from patronauth.services.credentials import ChangeRequest, change_secret

PICKED = 400  # patrons signed in, picked at random among those on record
CHEAP_ARGON2 = {"PATRONAUTH_ARGON2_TIME_COST": "1", "PATRONAUTH_ARGON2_MEMORY_KIB": "8"}


@dataclass
class OnRecord:
    patrons: int  # on record
    counter: str  # the attempt counter's store
    work: login.NonHashWork


def picked_patrons(feed: Path, rows: int, count: int, *, seed: int = 15) -> list[tuple[str, str]]:
    """(barcode, default password) of `count` active patrons of `feed`, at random: HKPL's
    default is the last four digits of the phone number (R4)."""
    rng = random.Random(seed)
    wanted = set(rng.sample(range(rows), min(rows, 2 * count)))  # pending ones are skipped
    picked: list[tuple[str, str]] = []
    with feed.open(encoding="utf-8") as lines:
        header = next(lines).rstrip("\n").split(",")
        barcode, phone, status = (header.index(name) for name in ("barcode", "phone", "status"))
        for number, line in enumerate(islice(lines, rows)):
            if number in wanted:
                fields = line.rstrip("\n").split(",")
                if fields[status] == "active":
                    picked.append((fields[barcode], fields[phone].replace(" ", "")[-4:]))
    rng.shuffle(picked)
    return picked[:count]


def sign_in_on_record(
    env: dict[str, str], feed: Path, rows: int, *, redis_url: str | None, seconds: float
) -> OnRecord:
    """The non-hash work of a sign-in by patrons picked among the `rows` that `feed`
    put on record in the deployment of `env`."""
    settings = {**env, **CHEAP_ARGON2}
    if redis_url:
        settings["PATRONAUTH_REDIS_URL"] = redis_url
    app = build(Settings.from_env(settings))
    try:
        patrons = picked_patrons(feed, rows, PICKED)
        barcodes = [barcode for barcode, _ in patrons]

        def choose(index: int) -> None:
            barcode, default = patrons[index]
            # Each from an address of its own, as the sign-ins below come: one address
            # would meet the per-source throttle.
            address = f"10.9.{index // 250}.{index % 250 + 1}"
            request = ChangeRequest(
                barcode, default, PASSWORD, PASSWORD, Channel.WEB, source=address
            )
            change_secret(app.ports, request)

        each(choose, range(len(patrons)), 2)
        work = login.non_hash_work(app, barcodes, warm=0.5, seconds=seconds, verify_seconds=1)
    finally:
        app.close()
    return OnRecord(rows, "redis" if redis_url else "sql", work)
