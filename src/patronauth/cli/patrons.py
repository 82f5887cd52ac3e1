"""`patronauth patron ...`: register, provision from a registry feed, look up, complete."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from patronauth.bootstrap import parse_rows
from patronauth.cli.common import (
    EXIT_REFUSED,
    command,
    ctx,
    emit,
    parse_date,
    reason_option,
    recorded_as,
    render,
)
from patronauth.domain.identifiers import IdType
from patronauth.domain.patrons import Patron
from patronauth.presentation import i18n
from patronauth.services.registration import Registration, add_patron, import_registry
from patronauth.services.staff import PatronView, bar, complete_registration, show_patron


@click.group()
def patron() -> None:
    """Register and look up patrons."""


def patron_data(p: Patron) -> dict[str, Any]:
    return {
        "institution": p.institution,
        "category": p.category,
        "status": p.status.value,
        "name": p.name,
        "email": p.email,
        "phone": p.phone_masked,
        "id_type": p.id_type.value if p.id_type else None,
        "id_number": p.id_masked,
        "registered_on": p.registered_on.isoformat(),
        "language": p.language,
    }


@patron.command("add")
@click.option("--institution", required=True, help="hkpl, polyu, hkct, hku, ...")
@click.option("--barcode", required=True, help="The card barcode (JULAC card number at HKU).")
@click.option("--category", help="Patron category (the profile's default when absent).")
@click.option("--name")
@click.option("--phone", help="Registered phone number.")
@click.option("--email", help="Registered e-mail address.")
@click.option("--id-number", help="HKID, passport or mainland ID number.")
@click.option("--id-type", type=click.Choice([t.value for t in IdType]), help="Default: guessed.")
@click.option("--student-number")
@click.option("--staff-number")
@click.option("--registered-on", help="YYYY-MM-DD (default: today).")
@click.option("--pending", is_flag=True, help="Registration not complete yet (R17).")
@click.option("--language", "patron_language", type=click.Choice(i18n.LANGUAGES), default="en")
@command
def add(
    institution: str,
    barcode: str,
    category: str | None,
    name: str | None,
    phone: str | None,
    email: str | None,
    id_number: str | None,
    id_type: str | None,
    student_number: str | None,
    staff_number: str | None,
    registered_on: str | None,
    pending: bool,
    patron_language: str,
) -> None:
    """Register a patron; defaults are derived now and kept only as keyed digests."""
    c = ctx()
    registration = Registration(
        institution=institution,
        barcode=barcode,
        category=category,
        name=name,
        phone=phone,
        email=email,
        id_number=id_number,
        id_type=IdType(id_type) if id_type else None,
        student_number=student_number,
        staff_number=staff_number,
        registered_on=parse_date(registered_on, "--registered-on"),
        pending=pending,
        language=patron_language,
    )
    added = add_patron(c.app.ports, registration, staff=c.staff)
    emit(
        {"barcode": barcode, **patron_data(added)},
        f"registered {added.institution} patron ({added.category}, {added.status.value})",
    )


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return max(0, sum(1 for _ in handle) - 1)


@patron.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--institution", required=True)
@command
def import_(file: Path, institution: str) -> None:
    """Create or update patrons from a registry CSV (docs/registry-feed.md).

    Idempotent: running the same file again updates, never duplicates. Bad rows are
    reported with their line numbers; the good rows land.
    """
    c = ctx()
    ports = c.app.ports
    ports.profiles.get(institution)
    total = _count_lines(file)
    console = Console(stderr=True)
    columns = (
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with (
        file.open("rb") as handle,
        Progress(*columns, console=console, disable=c.json or not console.is_terminal) as progress,
    ):
        task = progress.add_task("import", total=total)
        report = import_registry(
            ports,
            institution,
            parse_rows(handle, institution),
            staff=c.staff,
            source=file.name,
            progress=lambda n: progress.advance(task, n),
        )
    errors = [
        {"line": e.line, "code": e.refusal.code, "message": render(e.refusal.violations[0])}
        for e in sorted(report.errors, key=lambda e: e.line)
    ]
    emit(
        {
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "refused": errors,
        },
        f"created {report.created}, updated {report.updated}, "
        f"unchanged {report.unchanged}, refused {report.refused}",
    )
    if not c.json:
        for e in errors:
            click.echo(f"line {e['line']}: {e['code']}: {e['message']}", err=True)
    if errors:
        sys.exit(EXIT_REFUSED)


def _view_data(view: PatronView) -> dict[str, Any]:
    return {
        **patron_data(view.patron),
        "identifiers": [
            {"kind": i.kind.value, "value": i.value, "status": i.status.value}
            for i in view.identifiers
        ],
        "credentials": [
            {
                "kind": cv.kind.value,
                "state": cv.state.value,
                "set_at": cv.set_at.isoformat(timespec="seconds"),
                "expires_at": cv.expires_at.isoformat(timespec="seconds")
                if cv.expires_at
                else None,
                "consecutive_failures": cv.consecutive_failures,
            }
            for cv in view.credentials
        ],
        "blocked_seconds": view.blocked_for,
        "credential_source": "directory" if view.directory else "local",
        "directory": {
            "name": view.directory.name.get("en"),
            "urls": list(view.directory.urls),
            "base_dn": view.directory.base_dn,
            "pin_url": view.directory.pin_url,
        }
        if view.directory
        else None,
    }


@patron.command("show")
@click.argument("ident")
@click.option("--institution", help="Needed only when two libraries share the identifier.")
@command
def show(ident: str, institution: str | None) -> None:
    """Look a patron up (ID number and phone masked)."""
    c = ctx()
    data = _view_data(show_patron(c.app.ports, ident, institution=institution))
    lines = [
        f"institution: {data['institution']}  category: {data['category']}",
        f"status: {data['status']}",
        f"name: {data['name'] or '-'}",
        f"e-mail: {data['email'] or '-'}  phone: {data['phone'] or '-'}",
        f"identity document: {data['id_type'] or '-'} {data['id_number'] or ''}".rstrip(),
        f"registered on: {data['registered_on']}",
    ]
    lines += [f"identifier: {i['kind']} {i['value']} ({i['status']})" for i in data["identifiers"]]
    held = data["directory"]
    if held is not None:
        # R20: nothing of the PIN is here; say where it is checked and changed.
        where = ", ".join(held["urls"]) or "no URLs configured"
        lines.append(
            f"credential: held by the campus directory {held['name'] or ''} ({where}), "
            f"checked by a bind; changed at {held['pin_url'] or 'the university'}"
        )
    else:
        lines += [
            f"credential: {cr['kind']} {cr['state']} "
            f"(failures in a row: {cr['consecutive_failures']})"
            for cr in data["credentials"]
        ] or ["credential: none set up"]
    if data["blocked_seconds"]:
        lines.append(f"blocked: {data['blocked_seconds']} seconds left")
    emit(data, "\n".join(lines))


@patron.command("complete")
@click.argument("ident")
@click.option("--institution")
@reason_option
@command
def complete(ident: str, institution: str | None, reason: str) -> None:
    """Complete a pending registration (R17): the patron can sign in from now on."""
    c = ctx()
    done = complete_registration(
        c.app.ports, ident, staff=c.staff, institution=institution, reason=reason
    )
    recorded_as()
    emit(patron_data(done), f"registration complete: {done.status.value}")


@patron.command("bar")
@click.argument("ident")
@click.option("--institution")
@reason_option
@command
def bar_command(ident: str, institution: str | None, reason: str) -> None:
    """Bar a patron: every sign-in is refused and every open session ends at once."""
    c = ctx()
    done = bar(c.app.ports, ident, staff=c.staff, institution=institution, reason=reason)
    recorded_as()
    emit(patron_data(done), f"patron barred: {done.status.value}")


@patron.command("unbar")
@click.argument("ident")
@click.option("--institution")
@reason_option
@command
def unbar_command(ident: str, institution: str | None, reason: str) -> None:
    """Lift a bar: the patron is active again and can sign in."""
    c = ctx()
    done = bar(
        c.app.ports, ident, staff=c.staff, barred=False, institution=institution, reason=reason
    )
    recorded_as()
    emit(patron_data(done), f"bar lifted: {done.status.value}")
