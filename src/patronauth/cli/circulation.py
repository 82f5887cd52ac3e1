"""Lending at the counter (R28): copies, check-out and check-in, fines and payments, the
fine calendar, and PolyU's recommendations and interlibrary-loan requests.

Amounts are typed in the library's currency with at most two decimals (`12.50`) and
kept in cents; JSON gives them in cents (`..._cents`) beside the `currency`.
"""

from __future__ import annotations

import re
from typing import Any

import click

from patronauth.cli.common import command, ctx, emit, parse_date, reason_option, recorded_as
from patronauth.domain.circulation import (
    FineCalendar,
    HoldStatus,
    PatronRequest,
    RequestStatus,
)
from patronauth.domain.identifiers import base_form
from patronauth.services import catalogue, loans
from patronauth.services.fines import close_calendar, fine_calendar, pay_fines, resume_calendar
from patronauth.services.interfaces import Ports
from patronauth.services.lookup import Found, current_card, require_patron
from patronauth.services.record import record
from patronauth.services.requests import requests_of, set_request_status

INSTITUTION_HELP = "Needed only when two libraries share the identifier."
_AMOUNT = re.compile(r"[0-9]{1,7}(?:\.[0-9]{1,2})?")
_ISBN = re.compile(r"[0-9]{9}[0-9X]|[0-9]{13}")
_REQUEST_ID = re.compile(r"[0-9]{1,18}")


def money(cents: int, currency: str) -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{currency}{whole:,}.{part:02d}"


def parse_amount(value: str, option: str) -> int:
    """An amount typed in the currency's units (`12.50`, `12.5`, `12`) as cents."""
    if not _AMOUNT.fullmatch(value):
        raise click.BadParameter(
            "write the amount in the currency's units with at most 2 decimals, such as 12.50",
            param_hint=option,
        )
    units, _, decimals = value.partition(".")
    cents = int(units) * 100 + int(decimals.ljust(2, "0") or "0")
    if cents <= 0:
        raise click.BadParameter("the amount must be more than 0, such as 12.50", param_hint=option)
    return cents


def parse_isbn(value: str | None, option: str) -> str | None:
    """An ISBN-10 or ISBN-13 as digits only, so that hyphenated and plain forms agree."""
    if value is None:
        return None
    compact = re.sub(r"[\s-]", "", value).upper()
    if not _ISBN.fullmatch(compact):
        raise click.BadParameter(
            "an ISBN has 10 or 13 digits (hyphens allowed; an ISBN-10 may end in X)",
            param_hint=option,
        )
    return compact


def parse_request_id(value: str, name: str) -> int:
    if not _REQUEST_ID.fullmatch(value):
        raise click.BadParameter(
            "a request number, such as 12 (`patronauth request list` shows them)",
            param_hint=name,
        )
    return int(value)


def _patron(ports: Ports, ident: str, institution: str | None) -> Found:
    with ports.uow() as uow:
        return require_patron(uow, ports.profiles, ident, institution=institution)


def _card(ports: Ports, patron_id: int) -> str | None:
    with ports.uow() as uow:
        card = current_card(uow, patron_id)
    return card.value if card else None


# --- the catalogue ---------------------------------------------------------------------


@click.group()
def item() -> None:
    """The copies a library lends."""


@item.command("add")
@click.option("--institution", required=True, help="hkpl, polyu, hkct, hku, ...")
@click.option("--barcode", required=True, help="The copy's barcode.")
@click.option("--title", required=True)
@click.option("--author")
@click.option("--isbn", help="ISBN-10 or ISBN-13; copies with one ISBN share a title.")
@click.option("--library", help="The copy's home library code (default: the profile's first).")
@command
def add_item(
    institution: str,
    barcode: str,
    title: str,
    author: str | None,
    isbn: str | None,
    library: str | None,
) -> None:
    """Add a copy to the catalogue, under an existing title when one matches (same ISBN,
    or same title and author), else under a new one."""
    c = ctx()
    copy = catalogue.add_item(
        c.app.ports,
        institution,
        barcode=barcode,
        title=title,
        author=author or "",
        isbn=parse_isbn(isbn, "--isbn"),
        home_library=library,
        staff=c.staff,
    )
    emit(
        {
            "institution": copy.institution,
            "barcode": copy.barcode,
            "title_id": copy.title_id,
            "library": copy.home_library,
            "status": copy.status.value,
        },
        f"added {copy.barcode} at {copy.home_library} (title {copy.title_id})",
    )


# --- lending at the counter ----------------------------------------------------------------


@click.command()
@click.argument("ident")
@click.argument("barcode", metavar="ITEM")
@click.option("--institution", help=INSTITUTION_HELP)
@command
def checkout(ident: str, barcode: str, institution: str | None) -> None:
    """Lend the copy ITEM to the patron IDENT; prints the due date.

    A copy on the hold shelf goes only to the patron whose reservation it fills.
    """
    c = ctx()
    lent = loans.checkout(
        c.app.ports, ident, barcode, actor=c.staff, channel="staff", institution=institution
    )
    due = lent.loan.due_on.isoformat()
    emit(
        {
            "loan_id": lent.loan.id,
            "item": base_form(barcode),
            "title": lent.title.title,
            "due_on": due,
            "reservation_collected": lent.collected_hold,
        },
        f"due {due}: {lent.title.title}"
        + ("; the patron's reservation is collected" if lent.collected_hold else ""),
    )


@click.command()
@click.argument("barcode", metavar="ITEM")
@click.option("--institution", required=True, help="The library the copy belongs to.")
@command
def checkin(barcode: str, institution: str) -> None:
    """Take the copy ITEM back: prints the overdue fine charged (on the fine calendar) and
    whether a reservation now waits for the copy on the hold shelf."""
    c = ctx()
    ports = c.app.ports
    back = loans.checkin(ports, barcode, institution, actor=c.staff, channel="staff")
    currency = ports.profiles.get(institution).currency
    card = pickup = until = None
    if back.hold_for is not None:
        card = _card(ports, back.hold_for)
        holds = record(ports, back.hold_for).holds
        hold = next(
            (
                v.hold
                for v in holds
                if v.hold.item_id == back.item.id and v.hold.status is HoldStatus.READY
            ),
            None,
        )
        if hold is not None:
            pickup = hold.pickup
            until = hold.ready_until.isoformat() if hold.ready_until else None
    lines = [
        f"returned {back.item.barcode}: {back.title.title}",
        f"fine charged: {money(back.fine, currency)}" if back.fine else "no fine",
    ]
    if back.hold_for is not None:
        lines.append(
            f"reservation: the copy waits on the hold shelf for {card or '-'}"
            + (f", to collect at {pickup}" if pickup else "")
            + (f" by {until}" if until else "")
        )
    else:
        lines.append(f"no reservation waits: back on the shelf at {back.item.home_library}")
    emit(
        {
            "item": back.item.barcode,
            "title": back.title.title,
            "status": back.item.status.value,
            "fine_cents": back.fine,
            "currency": currency,
            "reservation": None
            if back.hold_for is None
            else {"patron": card, "pickup": pickup, "ready_until": until},
        },
        "\n".join(lines),
    )


# --- fines and payments --------------------------------------------------------------------


@click.group()
def fines() -> None:
    """Fines, payments and what a patron owes."""


@fines.command("pay")
@click.argument("ident")
@click.option("--amount", required=True, help="In the currency's units, e.g. 12.50.")
@click.option("--institution", help=INSTITUTION_HELP)
@reason_option
@command
def pay(ident: str, amount: str, institution: str | None, reason: str) -> None:
    """Record a payment at the counter; prints the balance that remains."""
    c = ctx()
    cents = parse_amount(amount, "--amount")
    found = _patron(c.app.ports, ident, institution)
    left = pay_fines(
        c.app.ports, ident, cents, staff=c.staff, institution=institution, reason=reason
    )
    recorded_as()
    currency = found.profile.currency
    emit(
        {"paid_cents": cents, "balance_cents": left, "currency": currency},
        f"paid {money(cents, currency)}; balance {money(left, currency)}",
    )


@fines.command("show")
@click.argument("ident")
@click.option("--institution", help=INSTITUTION_HELP)
@command
def show(ident: str, institution: str | None) -> None:
    """A patron's loans (due dates, fines accruing), fines, payments and balance."""
    c = ctx()
    found = _patron(c.app.ports, ident, institution)
    mine = record(c.app.ports, found.patron.id)
    currency = mine.profile.currency
    recorded = sum(f.amount for f in mine.fines)
    paid = sum(p.amount for p in mine.payments)
    data: dict[str, Any] = {
        "institution": mine.patron.institution,
        "today": mine.today.isoformat(),
        "currency": currency,
        "loans": [
            {
                "loan_id": v.loan.id,
                "item": v.item_barcode,
                "title": v.title.title,
                "author": v.title.author,
                "checked_out_on": v.loan.checked_out_on.isoformat(),
                "due_on": v.loan.due_on.isoformat(),
                "overdue": v.overdue,
                "fine_so_far_cents": v.fine_so_far,
                "renewals": v.loan.renewals,
                "renewals_left": v.renewals_left,
            }
            for v in mine.loans
        ],
        "fines": [
            {
                "id": f.id,
                "loan_id": f.loan_id,
                "amount_cents": f.amount,
                "reason": f.reason,
                "charged_on": f.charged_on.isoformat(),
            }
            for f in mine.fines
        ],
        "payments": [
            {
                "id": p.id,
                "amount_cents": p.amount,
                "paid_at": p.paid_at.isoformat(timespec="seconds"),
                "received_by": p.received_by,
            }
            for p in mine.payments
        ],
        "recorded_cents": recorded,
        "accruing_cents": mine.accruing,
        "paid_cents": paid,
        "balance_cents": mine.standing.balance,
    }
    lines = [f"{found.identifier.value} ({mine.patron.institution}), today {data['today']}"]
    lines.append("loans:" if mine.loans else "loans: none")
    for loan in data["loans"]:
        state = (
            f"overdue, fine so far {money(loan['fine_so_far_cents'], currency)}"
            if loan["overdue"]
            else "on time"
        )
        lines.append(
            f"  {loan['item']}  due {loan['due_on']}  {state}  "
            f"renewals left {loan['renewals_left']}  {loan['title']}"
        )
    lines.append("fines:" if mine.fines else "fines: none")
    lines += [
        f"  {f['charged_on']}  {f['reason']}  {money(f['amount_cents'], currency)}"
        for f in data["fines"]
    ]
    lines.append("payments:" if mine.payments else "payments: none")
    lines += [
        f"  {p['paid_at'][:10]}  {money(p['amount_cents'], currency)}  ({p['received_by']})"
        for p in data["payments"]
    ]
    lines.append(
        f"balance: {money(mine.standing.balance, currency)} (fines {money(recorded, currency)}"
        f" + accruing {money(mine.accruing, currency)} - paid {money(paid, currency)})"
    )
    emit(data, "\n".join(lines))


# --- the fine calendar ---------------------------------------------------------------------


@click.group()
def calendar() -> None:
    """The fine calendar: closures on which no overdue fine accrues (seed 001)."""


def _show_calendar(institution: str, fine_calendar: FineCalendar) -> None:
    closures = [
        {"from": c.start.isoformat(), "to": c.until.isoformat() if c.until else None}
        for c in fine_calendar.closures
    ]
    lines = [
        f"  {c['from']} to {c['to']}" if c["to"] else f"  {c['from']} until resumed"
        for c in closures
    ]
    emit(
        {"institution": institution, "closures": closures},
        "\n".join([f"{institution}: no overdue fine accrues on these days", *lines])
        if lines
        else f"{institution}: overdue fines accrue every day (no closures)",
    )


@calendar.command("close")
@click.option("--institution", required=True)
@click.option("--from", "start", required=True, help="The first closed day, YYYY-MM-DD.")
@click.option("--to", "until", help="The last closed day; absent: until resumed.")
@command
def close(institution: str, start: str, until: str | None) -> None:
    """Libraries closed: no overdue fine accrues from --from (to --to, or until resumed)."""
    c = ctx()
    first = parse_date(start, "--from")
    assert first is not None
    last = parse_date(until, "--to")
    _show_calendar(
        institution, close_calendar(c.app.ports, institution, first, last, staff=c.staff)
    )


@calendar.command("resume")
@click.option("--institution", required=True)
@click.option("--from", "on", required=True, help="The first day fines accrue again.")
@command
def resume(institution: str, on: str) -> None:
    """Fine calculation resumes from --from: open closures end the day before."""
    c = ctx()
    day = parse_date(on, "--from")
    assert day is not None
    _show_calendar(institution, resume_calendar(c.app.ports, institution, day, staff=c.staff))


@calendar.command("show")
@click.option("--institution", required=True)
@command
def show_calendar(institution: str) -> None:
    """The closures of a library's fine calendar."""
    _show_calendar(institution, fine_calendar(ctx().app.ports, institution))


# --- PolyU: recommendations and interlibrary-loan requests ---------------------------------


@click.group()
def request() -> None:
    """Recommendations and interlibrary-loan requests (PolyU, R8)."""


def _request_data(r: PatronRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind.value,
        "title": r.title,
        "author": r.author,
        "note": r.note,
        "status": r.status.value,
        "created_at": r.created_at.isoformat(timespec="seconds"),
        "updated_at": r.updated_at.isoformat(timespec="seconds"),
    }


def _request_line(r: dict[str, Any]) -> str:
    by = f" / {r['author']}" if r["author"] else ""
    return (
        f"{r['id']:>5}  {r['kind']:<17} {r['status']:<11} {r['created_at'][:10]}  {r['title']}{by}"
    )


@request.command("list")
@click.argument("ident")
@click.option("--institution", help=INSTITUTION_HELP)
@command
def list_requests(ident: str, institution: str | None) -> None:
    """A patron's requests, newest first, with the numbers `request status` takes."""
    c = ctx()
    found = _patron(c.app.ports, ident, institution)
    rows = [_request_data(r) for r in requests_of(c.app.ports, found.patron.id)]
    emit({"requests": rows}, "\n".join(_request_line(r) for r in rows) or "no requests")


@request.command("status")
@click.argument("request_id", metavar="ID")
@click.option(
    "--status",
    required=True,
    type=click.Choice(
        [
            RequestStatus.IN_PROGRESS.value,
            RequestStatus.FULFILLED.value,
            RequestStatus.REJECTED.value,
        ]
    ),
)
@command
def status(request_id: str, status: str) -> None:
    """Staff: move a recommendation or interlibrary-loan request on."""
    c = ctx()
    number = parse_request_id(request_id, "ID")
    updated = set_request_status(c.app.ports, number, RequestStatus(status), staff=c.staff)
    data = _request_data(updated)
    emit(data, _request_line(data))
