"""PatronAuth deployments for the bench, built by the real composition root."""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from patronauth.adapters.config import Settings
from patronauth.adapters.registry_csv import parse_rows
from patronauth.bootstrap import App, build
from patronauth.domain.credentials import Channel
from patronauth.services.credentials import ChangeRequest, change_secret
from patronauth.services.registration import import_registry

STAFF = "bench"
PASSWORD = "Quiet!Stacks22"  # noqa: S105 (generated patrons' password; meets HKPL's rule)


def make_app(
    database_url: str,
    var_dir: Path,
    *,
    redis_url: str | None = None,
    argon2: tuple[int, int] | None = None,
) -> App:
    """`argon2` is (time cost, memory KiB); None keeps the configured default (OWASP)."""
    return build(Settings.from_env(environment(database_url, var_dir, redis_url, argon2)))


METRICS_TOKEN = secrets.token_urlsafe(32)  # the bench servers' /metrics
METRICS_HEADERS = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def environment(
    database_url: str,
    var_dir: Path,
    redis_url: str | None = None,
    argon2: tuple[int, int] | None = None,
) -> dict[str, str]:
    """The `PATRONAUTH_*` settings of a bench deployment (a server process gets them too)."""
    env = {
        "PATRONAUTH_DATABASE_URL": database_url,
        "PATRONAUTH_VAR_DIR": str(var_dir),
        "PATRONAUTH_PEPPER": f"b1 {secrets.token_hex(32)}",
        "PATRONAUTH_STAFF": STAFF,
        "PATRONAUTH_METRICS_TOKEN": METRICS_TOKEN,
    }
    if redis_url:
        env["PATRONAUTH_REDIS_URL"] = redis_url
    if argon2:
        env["PATRONAUTH_ARGON2_TIME_COST"] = str(argon2[0])
        env["PATRONAUTH_ARGON2_MEMORY_KIB"] = str(argon2[1])
    return env


def patrons_with_passwords(app: App, count: int, threads: int) -> list[str]:
    """`count` HKPL patrons, provisioned from a feed, each with PASSWORD chosen through
    the real change use case (so the stored hash has the app's argon2 parameters)."""
    prefix = f"P{secrets.token_hex(3).upper()}"
    barcodes = [f"{prefix}{n:05d}" for n in range(count)]
    lines = [b"barcode,phone"]
    lines += [f"{b},9{n:03d} {n % 10000:04d}".encode() for n, b in enumerate(barcodes, 1000)]
    feed = parse_rows(io.BytesIO(b"\n".join(lines) + b"\n"), "hkpl")
    report = import_registry(app.ports, "hkpl", feed, staff=STAFF, workers=0)
    if report.created != count:
        raise RuntimeError(f"bench patrons not provisioned: {report.errors[:3]}")

    def choose(index: int) -> None:
        default = f"{(index + 1000) % 10000:04d}"
        change_secret(
            app.ports,
            ChangeRequest(barcodes[index], default, PASSWORD, PASSWORD, Channel.WEB),
        )

    each(choose, range(count), threads)
    return barcodes


def each(fn: Callable[[int], None], items: Sequence[int] | range, threads: int) -> None:
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(fn, items):
            pass
