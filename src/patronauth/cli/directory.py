"""`patronauth directory check`: can PatronAuth reach and use the campus directory (R20)?"""

from __future__ import annotations

import sys

import click

from patronauth.cli.common import EXIT_REFUSED, command, ctx, emit
from patronauth.services.directory import check_directories


@click.group()
def directory() -> None:
    """The campus directories that hold some categories' PINs (HKU Portal)."""


@directory.command("check")
@click.option("--institution", required=True, help="The institution whose directory to check.")
@click.option("--uid", help="Also search for this UID (no PIN is ever asked for or sent).")
@command
def check(institution: str, uid: str | None) -> None:
    """Connect to every configured URL, secure it (StartTLS or LDAPS, the CA checked),
    bind with the service account and search. Exit status 1 when any URL fails."""
    reports = check_directories(ctx().app.ports, institution, uid)
    lines = []
    for report in reports:
        config = report.config
        lines.append(
            f"directory of {', '.join(report.categories)}: base {config.base_dn}, "
            f"{config.tls.value}, service account {config.bind_dn}"
        )
        if not config.configured:
            lines.append("  not configured: no URLs in the profile's [directory]")
        for probe in report.probes:
            state = "ok" if probe.ok else "FAILED"
            lines.append(f"  {probe.url}: {state} in {probe.seconds:.3f} s: {probe.detail}")
    data = {
        "institution": institution,
        "ok": all(r.ok for r in reports),
        "directories": [
            {
                "categories": list(r.categories),
                "base_dn": r.config.base_dn,
                "tls": r.config.tls.value,
                "ok": r.ok,
                "urls": [
                    {"url": p.url, "ok": p.ok, "detail": p.detail, "seconds": p.seconds}
                    for p in r.probes
                ],
            }
            for r in reports
        ],
    }
    emit(data, "\n".join(lines))
    if not data["ok"]:
        sys.exit(EXIT_REFUSED)
