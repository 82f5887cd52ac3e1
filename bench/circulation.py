"""The account behind the login (R28): a patron with 50 loans lists them and renews them all.

PolyU staff may borrow 60 items and renew each 10 times, so a patron with 50 loans is
a real case there. Several such patrons share the catalogue; every renew-all round goes
to the patron whose loans have been renewed least, so that every renewal of every round
succeeds (a refused renewal costs less and would flatter the figure).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.apps import STAFF
from bench.feed import hkid
from patronauth.bootstrap import App
from patronauth.services.catalogue import add_item
from patronauth.services.loans import checkout, renew_all
from patronauth.services.lookup import require_patron
from patronauth.services.record import record
from patronauth.services.registration import Registration, add_patron

INSTITUTION = "polyu"
CATEGORY = "staff"
LOANS = 50
PATRONS = 10  # PolyU renews a loan 10 times: RENEWALS / PATRONS must stay within that
LISTINGS = 200
RENEWALS = 100


@dataclass
class Timings:
    samples: list[float]  # seconds
    planned: int
    seconds: float
    refused: int = 0  # renewals refused (none expected)

    def p99(self) -> float:
        ordered = sorted(self.samples)
        return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]

    def details(self) -> dict[str, Any]:
        ms = sorted(s * 1000 for s in self.samples)
        return {
            "runs": len(ms),
            "planned": self.planned,
            "finished": len(ms) == self.planned,
            "seconds": round(self.seconds, 2),
            "median_ms": round(statistics.median(ms), 3),
            "mean_ms": round(statistics.fmean(ms), 3),
            "p90_ms": round(ms[max(0, math.ceil(0.9 * len(ms)) - 1)], 3),
            "p99_ms": round(self.p99() * 1000, 3),
            "max_ms": round(ms[-1], 3),
            "renewals_refused": self.refused,
        }


def set_up(app: App, patrons: int) -> list[int]:
    """`patrons` PolyU staff members, each with LOANS loans of distinct titles, made at
    the counter through the real use cases; the patrons' ids."""
    ports = app.ports
    cards = [f"S{9_000_000 + n:07d}" for n in range(patrons)]
    for n, card in enumerate(cards):
        add_patron(
            ports,
            Registration(INSTITUTION, card, category=CATEGORY, id_number=hkid(700_000 + n)),
            staff=STAFF,
        )
    for title in range(LOANS):
        for copy in range(patrons):
            add_item(
                ports,
                INSTITUTION,
                barcode=f"C{title:03d}{copy:03d}",
                title=f"Bench title {title}",
                author="Bench author",
                staff=STAFF,
            )
    ids = []
    for copy, card in enumerate(cards):
        for title in range(LOANS):
            checkout(ports, card, f"C{title:03d}{copy:03d}", actor=STAFF, channel="staff")
        with ports.uow() as uow:
            ids.append(require_patron(uow, ports.profiles, card).patron.id)
    return ids


def _timed(run: Callable[[], object], count: int, limit_seconds: float) -> Timings:
    samples = []
    started = time.perf_counter()
    for _ in range(count):
        before = time.perf_counter()
        run()
        samples.append(time.perf_counter() - before)
        if time.perf_counter() - started > limit_seconds:
            break
    return Timings(samples, count, time.perf_counter() - started)


def listings(app: App, patron_ids: list[int], count: int, limit_seconds: float) -> Timings:
    """`record(ports, patron_id)` over and over, the patrons in turn."""
    turn = iter(range(10**9))

    def one() -> None:
        listed = record(app.ports, patron_ids[next(turn) % len(patron_ids)])
        if len(listed.loans) != LOANS:
            raise RuntimeError(f"{len(listed.loans)} loans listed, {LOANS} expected")

    return _timed(one, count, limit_seconds)


def renewals(app: App, patron_ids: list[int], count: int, limit_seconds: float) -> Timings:
    """`renew_all(ports, patron_id, channel="web")`, each round for the next patron; a
    patron comes round again only after the others, within PolyU's ten renewals."""
    turn = iter(range(10**9))
    refused = 0

    def one() -> None:
        nonlocal refused
        results = renew_all(app.ports, patron_ids[next(turn) % len(patron_ids)], channel="web")
        if len(results) != LOANS:
            raise RuntimeError(f"{len(results)} loans renewed, {LOANS} expected")
        refused += sum(1 for r in results if not r.ok)

    timings = _timed(one, count, limit_seconds)
    timings.refused = refused
    return timings
