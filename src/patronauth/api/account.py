"""The account behind the login (R8, R28): loans and renewals, reservations, fines, the
catalogue search for placing a reservation, and PolyU's requests.

Every operation needs a full token (a must-change token answers 403 `must_change`) and
reaches only the signed-in patron's own records: another patron's loan or reservation is
404, exactly like one that does not exist. The use cases run in FastAPI's thread pool.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations
# at run time, and those naming the closures' own dependencies must be real objects.

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from starlette.responses import Response

from patronauth.api import docs
from patronauth.api.errors import lending_error, refusal_error
from patronauth.api.language import Language
from patronauth.api.schemas import (
    MAX_ID,
    FineOut,
    Fines,
    HoldOut,
    Holds,
    LoanOut,
    Loans,
    NewRequest,
    PaymentOut,
    PlaceHold,
    RequestOut,
    Requests,
    TitleOut,
    Titles,
)
from patronauth.domain.circulation import PatronRequest
from patronauth.domain.credentials import Channel
from patronauth.domain.errors import NotFound, Refused
from patronauth.domain.profile import Profile
from patronauth.domain.sessions import Session
from patronauth.services.account import account
from patronauth.services.catalogue import search
from patronauth.services.holds import cancel_reservation, place_reservation
from patronauth.services.interfaces import Ports
from patronauth.services.loans import renew_loan
from patronauth.services.record import HoldView, LoanView, Record, record
from patronauth.services.requests import requests_of, submit_request


def loan_out(view: LoanView) -> LoanOut:
    loan = view.loan
    return LoanOut(
        id=loan.id,
        title_id=loan.title_id,
        title=view.title.title,
        author=view.title.author,
        item_barcode=view.item_barcode,
        checked_out_on=loan.checked_out_on,
        due_on=loan.due_on,
        overdue=view.overdue,
        fine_so_far=view.fine_so_far,
        renewals=loan.renewals,
        renewals_left=view.renewals_left,
    )


def hold_out(view: HoldView, profile: Profile, language: str) -> HoldOut:
    hold = view.hold
    names = profile.libraries.get(hold.pickup, {})
    return HoldOut(
        id=hold.id,
        title_id=hold.title_id,
        title=view.title.title,
        author=view.title.author,
        pickup=hold.pickup,
        pickup_name=names.get(language, hold.pickup),
        status=hold.status,
        position=view.position,
        ready_until=hold.ready_until,
        placed_at=hold.placed_at,
    )


def request_out(made: PatronRequest) -> RequestOut:
    return RequestOut(
        id=made.id,
        kind=made.kind,
        title=made.title,
        author=made.author,
        note=made.note,
        status=made.status,
        created_at=made.created_at,
        updated_at=made.updated_at,
    )


def router(ports: Ports, fully_signed_in: Callable[..., Awaitable[Session]]) -> APIRouter:
    api = APIRouter()
    Full = Annotated[Session, Depends(fully_signed_in)]

    def record_of(session: Session, lang: str) -> Record:
        try:
            return record(ports, session.patron_id)
        except Refused as refused:
            raise refusal_error(refused, lang) from None

    def profile_of(session: Session, lang: str) -> Profile:
        try:
            return account(ports, session).profile
        except Refused as refused:
            raise refusal_error(refused, lang) from None

    # --- loans -------------------------------------------------------------------------

    @api.get("/me/loans", summary="Loans", responses=docs.LOANS, description=docs.LOANS_TEXT)
    def loans(session: Full, lang: Language) -> Loans:
        mine = record_of(session, lang)
        return Loans(
            today=mine.today,
            currency=mine.profile.currency_code,
            currency_symbol=mine.profile.currency,
            loans=[loan_out(v) for v in mine.loans],
        )

    @api.post(
        "/me/loans/{loan_id}/renewal",
        summary="Renew a loan",
        responses=docs.RENEWAL,
        description=docs.RENEWAL_TEXT,
    )
    def renewal(
        loan_id: Annotated[int, Path(ge=1, le=MAX_ID, description="`id` of `GET /me/loans`.")],
        session: Full,
        lang: Language,
    ) -> LoanOut:
        try:
            renew_loan(ports, session.patron_id, loan_id, channel=Channel.APP)
        except Refused as refused:
            raise lending_error(refused, lang) from None
        renewed = next((v for v in record_of(session, lang).loans if v.loan.id == loan_id), None)
        if renewed is None:  # returned at the counter meanwhile
            raise lending_error(NotFound.of("loan.not_found"), lang)
        return loan_out(renewed)

    # --- reservations ------------------------------------------------------------------

    @api.get("/me/holds", summary="Reservations", responses=docs.HOLDS, description=docs.HOLDS_TEXT)
    def holds(session: Full, lang: Language) -> Holds:
        mine = record_of(session, lang)
        return Holds(holds=[hold_out(v, mine.profile, lang) for v in mine.holds])

    @api.post(
        "/me/holds",
        status_code=201,
        summary="Reserve a title",
        responses=docs.PLACE_HOLD,
        description=docs.PLACE_HOLD_TEXT,
    )
    def place_hold(body: PlaceHold, session: Full, lang: Language) -> HoldOut:
        try:
            placed = place_reservation(
                ports, session.patron_id, body.title_id, body.pickup, channel=Channel.APP
            )
        except Refused as refused:
            raise lending_error(refused, lang) from None
        mine = record_of(session, lang)
        view = next((v for v in mine.holds if v.hold.id == placed.id), None)
        if view is None:  # cancelled meanwhile, from another device
            raise lending_error(NotFound.of("hold.not_found"), lang)
        return hold_out(view, mine.profile, lang)

    @api.delete(
        "/me/holds/{hold_id}",
        status_code=204,
        response_class=Response,
        summary="Cancel a reservation",
        responses=docs.CANCEL_HOLD,
        description=docs.CANCEL_HOLD_TEXT,
    )
    def cancel_hold(
        hold_id: Annotated[int, Path(ge=1, le=MAX_ID, description="`id` of `GET /me/holds`.")],
        session: Full,
        lang: Language,
    ) -> Response:
        try:
            cancel_reservation(ports, session.patron_id, hold_id, channel=Channel.APP)
        except Refused as refused:
            raise lending_error(refused, lang) from None
        return Response(status_code=204)

    @api.get(
        "/titles",
        summary="Search the catalogue",
        responses=docs.TITLES,
        description=docs.TITLES_TEXT,
    )
    def titles(
        session: Full,
        lang: Language,
        q: Annotated[str, Query(description="Words of the title or the author.")] = "",
    ) -> Titles:
        institution = profile_of(session, lang).id
        try:
            found = search(ports, institution, q)
        except Refused as refused:
            raise lending_error(refused, lang, field="q") from None
        return Titles(
            titles=[
                TitleOut(
                    id=title.id,
                    title=title.title,
                    author=title.author,
                    isbn=title.isbn,
                    copies=copies,
                    on_shelf=on_shelf,
                )
                for title, copies, on_shelf in found
            ]
        )

    # --- fines -------------------------------------------------------------------------

    @api.get("/me/fines", summary="Fines", responses=docs.FINES, description=docs.FINES_TEXT)
    def fines(session: Full, lang: Language) -> Fines:
        mine = record_of(session, lang)
        return Fines(
            currency=mine.profile.currency_code,
            currency_symbol=mine.profile.currency,
            balance=mine.standing.balance,
            accruing=mine.accruing,
            fines_block=mine.standing.rules.fines_block,
            blocked=mine.standing.blocked_by_fines,
            fines=[
                FineOut(
                    id=f.id,
                    loan_id=f.loan_id,
                    amount=f.amount,
                    reason=f.reason,
                    charged_on=f.charged_on,
                )
                for f in mine.fines
            ],
            payments=[
                PaymentOut(id=p.id, amount=p.amount, paid_at=p.paid_at) for p in mine.payments
            ],
        )

    # --- PolyU: recommendations and interlibrary-loan requests (R8) ----------------------

    def offered(session: Session, lang: str) -> None:
        if not profile_of(session, lang).requests:
            raise lending_error(Refused.of("request.not_offered"), lang)

    @api.get(
        "/me/requests",
        summary="Recommendations and interlibrary-loan requests",
        responses=docs.REQUESTS,
        description=docs.REQUESTS_TEXT,
    )
    def requests(session: Full, lang: Language) -> Requests:
        offered(session, lang)
        try:
            mine = requests_of(ports, session.patron_id)
        except Refused as refused:
            raise refusal_error(refused, lang) from None
        return Requests(requests=[request_out(r) for r in mine])

    @api.post(
        "/me/requests",
        status_code=201,
        summary="Recommend a book or ask for an interlibrary loan",
        responses=docs.SUBMIT_REQUEST,
        description=docs.SUBMIT_REQUEST_TEXT,
    )
    def new_request(body: NewRequest, session: Full, lang: Language) -> RequestOut:
        offered(session, lang)
        try:
            made = submit_request(
                ports,
                session.patron_id,
                body.kind,
                title=body.title,
                author=body.author,
                note=body.note,
                channel=Channel.APP,
            )
        except Refused as refused:
            raise lending_error(refused, lang) from None
        return request_out(made)

    return api
