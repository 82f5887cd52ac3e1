"""The account behind the login (R28): loans and renewals, reservations, fines.

Every page here is for a fully signed-in patron (a must-change session goes to its
change step, S5) and shows only that patron's own records: another patron's loan or
reservation number is simply not found. Every action is a POST that answers with a
redirect (303) to a page showing its result, so reloading that page repeats nothing; a
refusal of a single action shows the same page again with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from patronauth.domain.credentials import Channel
from patronauth.domain.errors import InvalidInput, NotFound, Refused, Violation
from patronauth.presentation.i18n import gettext
from patronauth.presentation.i18n.messages import FIELD_NAMES, MESSAGES
from patronauth.services.catalogue import search
from patronauth.services.holds import cancel_reservation, place_reservation
from patronauth.services.loans import Renewed, renew_all, renew_loan
from patronauth.services.record import HoldView, LoanView, Record, record, reservation
from patronauth.web.forms import Form
from patronauth.web.pages import Page, Visitor

MAX_ID = 2**63 - 1  # the largest id the database holds
_ID = re.compile(r"[0-9]{1,19}")
# One loan of a "Renew all" report in its address: `12` renewed, `13~renewal.reserved`
# refused, `14~renewal.max_renewals~max=2` refused with its (numeric) parameters.
_REPORT_ENTRY = re.compile(
    r"([0-9]{1,19})(?:~(renewal\.[a-z_]{1,40})((?:~[a-z_]{1,20}=-?[0-9]{1,12}){0,3}))?"
)
MAX_REPORT = 200


def record_id(raw: str) -> int | None:
    """A loan, reservation or title number from an address or a form: digits, in range."""
    if not _ID.fullmatch(raw):
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


def refusal_status(refused: Refused) -> int:
    if isinstance(refused, NotFound):
        return 404
    if isinstance(refused, InvalidInput):
        return 422
    return 409  # the account or the copy says no for now


def field_name(name: str, language: str) -> str:
    """The word for a field in a message's `{field}` (title, author, note, search text)."""
    return gettext(FIELD_NAMES.get(name, name), language)


def signed_in(request: Request) -> tuple[Page, Visitor] | Response:
    page = Page(request)
    visitor = page.require()
    if isinstance(visitor, Response):
        return visitor
    return page, visitor


def record_of(page: Page, visitor: Visitor) -> Record:
    return record(page.ports, visitor.account.patron.id)


# --- loans and renewals ----------------------------------------------------------------


def loans(request: Request) -> Response:
    found = signed_in(request)
    if isinstance(found, Response):
        return found
    page, visitor = found
    mine = record_of(page, visitor)
    renewed = record_id(request.query_params.get("renewed", ""))
    just_renewed = next((v for v in mine.loans if v.loan.id == renewed), None)
    results = read_report(request.query_params.get("report"), {v.loan.id for v in mine.loans})
    form = Form()
    for result in results or []:
        if result.refusal is not None:
            form.refuse(f"renew-{result.loan_id}", result.refusal)
    return _loans(page, mine, form=form, renewed=just_renewed, results=results)


def renew(request: Request) -> Response:
    found = signed_in(request)
    if isinstance(found, Response):
        return found
    page, visitor = found
    loan_id = record_id(request.path_params["loan"])
    try:
        if loan_id is None:
            raise NotFound.of("loan.not_found")
        renew_loan(page.ports, visitor.account.patron.id, loan_id, channel=Channel.WEB)
    except Refused as refused:
        mine = record_of(page, visitor)
        form = Form()
        mine_ids = {v.loan.id for v in mine.loans}
        form.refuse(f"renew-{loan_id}" if loan_id in mine_ids else None, refused)
        return _loans(page, mine, form=form, status=refusal_status(refused))
    return page.redirect(page.url("account/loans", renewed=str(loan_id)))


def renew_every(request: Request) -> Response:
    """Renew all, then a redirect to the loans page with the report in its address:
    reloading that page shows the report again and renews nothing."""
    found = signed_in(request)
    if isinstance(found, Response):
        return found
    page, visitor = found
    results = renew_all(page.ports, visitor.account.patron.id, channel=Channel.WEB)
    return page.redirect(page.url("account/loans", report=write_report(results)))


def write_report(results: list[Renewed]) -> str:
    entries = []
    for result in results[:MAX_REPORT]:
        entry = str(result.loan_id)
        if result.refusal is not None:
            violation = result.refusal.violations[0]
            numbers = "".join(
                f"~{name}={value}"
                for name, value in sorted(violation.params.items())
                if isinstance(value, int)
            )
            entry += f"~{violation.code}{numbers}"
        entries.append(entry)
    return ",".join(entries) if entries else "none"


def read_report(raw: str | None, loans: set[int]) -> list[Renewed] | None:
    """The report of a "Renew all" from the address; only the patron's own open loans and
    known refusal codes are shown, so an address cannot make the page say anything else."""
    if raw is None:
        return None
    results: list[Renewed] = []
    for entry in raw.split(",")[:MAX_REPORT]:
        match = _REPORT_ENTRY.fullmatch(entry)
        if match is None:
            continue
        loan_id = record_id(match.group(1))
        code = match.group(2)
        if loan_id not in loans or (code is not None and code not in MESSAGES):
            continue
        assert loan_id is not None
        if code is None:
            results.append(Renewed(loan_id, None, None))
            continue
        params: dict[str, int] = {}
        for pair in (match.group(3) or "").split("~"):
            if pair:
                name, _, value = pair.partition("=")
                params[name] = int(value)
        results.append(Renewed(loan_id, None, Refused(Violation(code, params))))
    return results


def _loans(
    page: Page,
    mine: Record,
    *,
    form: Form | None = None,
    status: int = 200,
    renewed: LoanView | None = None,
    results: list[Renewed] | None = None,
) -> Response:
    # A renewal of an overdue loan charges the fine so far (it moves to Fines): the page
    # says so, from the fines charged today on the loans just renewed.
    just = {r.loan_id for r in results or [] if r.ok} | ({renewed.loan.id} if renewed else set())
    moved = {
        f.loan_id: f.amount
        for f in mine.fines
        if f.loan_id in just and f.reason == "overdue" and f.charged_on == mine.today
    }
    return page.render(
        "loans.html",
        status=status,
        form=form,
        tab="loans",
        record=mine,
        renewed=renewed,
        results={r.loan_id: r for r in results} if results is not None else None,
        moved=moved,
        titles={v.loan.id: v.title.title for v in mine.loans},
        labels={f"renew-{v.loan.id}": v.title.title for v in mine.loans},
    )


# --- reservations ------------------------------------------------------------------------


def holds(request: Request) -> Response:
    found = signed_in(request)
    if isinstance(found, Response):
        return found
    page, visitor = found
    mine = record_of(page, visitor)
    placed = record_id(request.query_params.get("placed", ""))
    cancelled = record_id(request.query_params.get("cancelled", ""))
    gone = reservation(page.ports, visitor.account.patron.id, cancelled) if cancelled else None
    return _holds(
        page,
        mine,
        placed=next((v for v in mine.holds if v.hold.id == placed), None),
        cancelled=gone if gone is not None and gone.hold.status.value == "cancelled" else None,
    )


def cancel_form(request: Request) -> Response:
    """Cancelling asks first, naming the title: a page of its own, no script needed."""
    found = signed_in(request)
    if isinstance(found, Response):
        return found
    page, visitor = found
    hold_id = record_id(request.path_params["hold"])
    view = reservation(page.ports, visitor.account.patron.id, hold_id) if hold_id else None
    if view is None or view.hold.status.value not in {"waiting", "ready"}:
        form = Form()
        form.fail(None, "hold.not_found" if view is None else "hold.not_active")
        status = 404 if view is None else 409
        return _holds(page, record_of(page, visitor), form=form, status=status)
    return page.render("cancel_hold.html", tab="holds", view=view)


def cancel(request: Request) -> Response:
    found = signed_in(request)
    if isinstance(found, Response):
        return found
    page, visitor = found
    hold_id = record_id(request.path_params["hold"])
    try:
        if hold_id is None:
            raise NotFound.of("hold.not_found")
        cancel_reservation(page.ports, visitor.account.patron.id, hold_id, channel=Channel.WEB)
    except Refused as refused:
        mine = record_of(page, visitor)
        form = Form()
        mine_ids = {v.hold.id for v in mine.holds}
        form.refuse(f"cancel-{hold_id}" if hold_id in mine_ids else None, refused)
        return _holds(page, mine, form=form, status=refusal_status(refused))
    return page.redirect(page.url("account/holds", cancelled=str(hold_id)))


def _holds(
    page: Page,
    mine: Record,
    *,
    form: Form | None = None,
    status: int = 200,
    placed: HoldView | None = None,
    cancelled: HoldView | None = None,
) -> Response:
    return page.render(
        "holds.html",
        status=status,
        form=form,
        tab="holds",
        record=mine,
        placed=placed,
        cancelled=cancelled,
        labels={f"cancel-{v.hold.id}": v.title.title for v in mine.holds},
    )


def catalogue(request: Request) -> Response:
    """Find a title to reserve: a search by title or author (GET, so it can be bookmarked)."""
    found = signed_in(request)
    if isinstance(found, Response):
        return found
    page, _ = found
    query = request.query_params.get("q", "")
    form = Form({"q": query})
    return _catalogue(page, form, query)


def place(request: Request) -> Response:
    found = signed_in(request)
    if isinstance(found, Response):
        return found
    page, visitor = found
    form = Form.posted(request)
    title_id = record_id(form.raw("title"))
    pickup = form.raw("pickup")
    field = f"pickup-{title_id}" if title_id is not None else None
    status = 422
    if title_id is None:
        form.fail(None, "title.not_found")
    elif pickup not in page.library.libraries:
        form.fail(field, "hold.unknown_pickup")
    else:
        try:
            hold = place_reservation(
                page.ports, visitor.account.patron.id, title_id, pickup, channel=Channel.WEB
            )
        except Refused as refused:
            form.refuse(None if isinstance(refused, NotFound) else field, refused)
            status = refusal_status(refused)
        else:
            return page.redirect(page.url("account/holds", placed=str(hold.id)))
    return _catalogue(page, form, form.raw("q"), status=status)


def _catalogue(page: Page, form: Form, query: str, *, status: int = 200) -> Response:
    results = []
    searched = bool(query.strip())
    try:
        results = search(page.ports, page.library.id, query)
    except Refused as refused:
        form.refuse("q", refused, field=field_name("q", page.language))
        searched = False
        status = 422 if status == 200 else status
    labels: Mapping[str, str] = {f"pickup-{t.id}": t.title for t, _, _ in results}
    return page.render(
        "catalogue.html",
        status=status,
        form=form,
        tab="holds",
        query=form.echo("q", 300),
        searched=searched,
        results=results,
        chosen_pickup=form.raw("pickup"),
        labels=labels,
    )


# --- fines -------------------------------------------------------------------------------


def fines(request: Request) -> Response:
    found = signed_in(request)
    if isinstance(found, Response):
        return found
    page, visitor = found
    mine = record_of(page, visitor)
    return page.render(
        "fines.html",
        tab="fines",
        record=mine,
        accruing=[v for v in mine.loans if v.fine_so_far],
        recorded=sum(f.amount for f in mine.fines),
        paid=sum(p.amount for p in mine.payments),
    )
