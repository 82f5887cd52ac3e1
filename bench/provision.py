"""P3: provisioning a generated registry feed through the real import use case."""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.apps import STAFF
from patronauth.adapters.registry_csv import parse_rows
from patronauth.adapters.storage import tables as t
from patronauth.bootstrap import App
from patronauth.services.registration import import_registry


class OutOfTime(Exception):
    pass


@dataclass
class Provisioned:
    rows: int  # feed lines handled
    seconds: float
    finished: bool
    created: int = 0
    refused: int = 0
    updated: int = 0
    unchanged: int = 0
    stored: tuple[int, int, int] = (0, 0, 0)  # patrons, identifiers, credentials
    cpu_seconds: float = 0.0  # the bench process and its workers, not the database server

    def details(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "seconds": round(self.seconds, 2),
            "cpu_seconds": round(self.cpu_seconds, 2),
            "finished": self.finished,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "refused": self.refused,
            "stored_patrons_identifiers_credentials": list(self.stored),
            "rows_per_second": round(self.rows / self.seconds) if self.seconds else None,
        }


def stored_counts(app: App) -> tuple[int, int, int]:
    with app.engine.connect() as conn:
        counts = [
            conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (t.patrons, t.identifiers, t.credentials)
        ]
    return counts[0], counts[1], counts[2]


def provision(app: App, feed: Path, *, limit_seconds: float) -> Provisioned:
    """Import `feed` for HKPL (a first import or a re-import); stops (and says so)
    after `limit_seconds`."""
    done = 0
    started = time.perf_counter()

    def progress(lines: int) -> None:
        nonlocal done
        done += lines
        if time.perf_counter() - started > limit_seconds:
            raise OutOfTime

    cpu = _cpu_seconds()
    try:
        with feed.open("rb") as handle:
            report = import_registry(
                app.ports, "hkpl", parse_rows(handle, "hkpl"), staff=STAFF, progress=progress
            )
    except OutOfTime:
        return Provisioned(
            done,
            time.perf_counter() - started,
            False,
            stored=stored_counts(app),
            cpu_seconds=_cpu_seconds() - cpu,
        )
    seconds = time.perf_counter() - started
    return Provisioned(
        done,
        seconds,
        True,
        report.created,
        report.refused,
        report.updated,
        report.unchanged,
        stored=stored_counts(app),
        cpu_seconds=_cpu_seconds() - cpu,
    )


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the import's workers):
    on a shared machine it says what the import cost when wall-clock time cannot."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
