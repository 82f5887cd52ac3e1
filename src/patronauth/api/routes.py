"""The operations: parse, call a use case in a worker thread, map its result.

FastAPI runs these plain (`def`) endpoints and dependencies in its thread pool, so the
argon2 work of a sign-in or a change never blocks the event loop.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations
# at run time, and those naming the closures' own dependencies must be real objects.

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import Request
from starlette.responses import Response

from patronauth.api import account as account_routes
from patronauth.api import docs
from patronauth.api.errors import must_change_error, outcome_error, refusal_error
from patronauth.api.language import Language
from patronauth.api.schemas import (
    Accepted,
    Change,
    CredentialOut,
    Me,
    Opened,
    PickupLocation,
    PickupLocations,
    PolicyCheck,
    PolicyResult,
    ResetRequestBody,
    SignIn,
)
from patronauth.api.signing import opened_answer
from patronauth.api.texts import rendered, text
from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel, CredentialKind
from patronauth.domain.errors import Refused
from patronauth.domain.sessions import Session, SessionChannel, may_reach
from patronauth.presentation.http import client_address
from patronauth.services.account import account
from patronauth.services.authenticate import Attempt
from patronauth.services.credentials import AttemptRefused, ChangeRequest, change_secret
from patronauth.services.policy import check_secret
from patronauth.services.resets import ResetRequest, request_reset
from patronauth.services.sessions import close_session, current_session
from patronauth.services.signin import sign_in_blocked_first

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="The `token` of `POST /sessions`, as `Authorization: Bearer <token>`.",
)


Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def router(app: App) -> APIRouter:
    ports = app.ports
    profiles = ports.profiles.all()
    api = APIRouter()

    def source(request: Request) -> str:
        return client_address(request.scope, trusted_proxies=app.settings.trusted_proxies)

    def served(institution: str | None, lang: str) -> None:
        """An institution's name reaches the use cases (and their audit) only when known."""
        if institution is not None and institution not in profiles:
            refused = Refused.of(
                "institution.unknown", institution=institution, known=", ".join(sorted(profiles))
            )
            raise refusal_error(refused, lang)

    def signed_in(credentials: Bearer, lang: Language) -> Session:
        try:
            token = credentials.credentials if credentials else None
            return current_session(ports, token, channel=SessionChannel.APP)
        except Refused as refused:
            raise refusal_error(refused, lang) from None

    async def fully_signed_in(
        session: Annotated[Session, Depends(signed_in)], lang: Language
    ) -> Session:
        """S5: a must-change token reaches only the change of its credential (no I/O: in
        the event loop, not a worker thread)."""
        if not may_reach(session, change_of=None):
            raise must_change_error(session.change_kind, lang)
        return session

    @api.post(
        "/sessions",
        status_code=201,
        response_model=Opened,
        summary="Sign in",
        responses=docs.SIGN_IN,
        description=docs.SIGN_IN_TEXT,
    )
    def sign_in(body: SignIn, request: Request, lang: Language) -> Response:
        served(body.institution, lang)
        attempt = Attempt(
            body.identifier,
            body.secret,
            Channel.APP,
            body.credential,
            source=source(request),
            institution=body.institution,
        )
        try:
            signed = sign_in_blocked_first(ports, attempt, session=SessionChannel.APP)
        except Refused as refused:
            raise refusal_error(refused, lang) from None
        return opened_answer(signed, lang, profiles)

    @api.delete(
        "/sessions/current",
        status_code=204,
        response_class=Response,
        summary="Sign out",
        responses=docs.SIGN_OUT,
        description=docs.SIGN_OUT_TEXT,
    )
    def sign_out(credentials: Bearer, _: Annotated[Session, Depends(signed_in)]) -> Response:
        token = credentials.credentials if credentials else None
        close_session(ports, token, channel=SessionChannel.APP)
        return Response(status_code=204)

    @api.get("/me", summary="The signed-in patron", responses=docs.ME)
    def me(session: Annotated[Session, Depends(fully_signed_in)], lang: Language) -> Me:
        try:
            mine = account(ports, session)
        except Refused as refused:
            raise refusal_error(refused, lang) from None
        patron, profile = mine.patron, mine.profile
        return Me(
            institution=patron.institution,
            library=profile.name.get(lang, profile.id),
            category=patron.category,
            name=patron.name,
            card_number=mine.card.value,
            id_type=patron.id_type.value if patron.id_type else None,
            id_number_masked=patron.id_masked,
            phone_masked=patron.phone_masked,
            email=patron.email,
            language=patron.language,
            credentials=[
                CredentialOut(
                    kind=c.kind,
                    label=profile.credential_label(c.kind.value, lang),
                    state=c.state,
                    set_at=c.set_at,
                    expires_at=c.expires_at,
                )
                for c in mine.credentials
            ],
            defaults_in_use=mine.defaults_in_use,
        )

    def change_of(kind: CredentialKind) -> Callable[..., Response]:
        def change(
            body: Change,
            request: Request,
            session: Annotated[Session, Depends(signed_in)],
            lang: Language,
        ) -> Response:
            try:
                change_secret(
                    ports,
                    ChangeRequest(
                        identifier=None,
                        current=body.current,
                        new=body.new,
                        confirm=body.confirm,
                        channel=Channel.APP,
                        kind=kind,
                        source=source(request),
                        code=body.code,
                    ),
                    session=session,
                )
            except AttemptRefused as refused:
                raise outcome_error(refused.result, lang, profiles) from None
            except Refused as refused:
                if refused.code == "session.must_change":
                    raise must_change_error(session.change_kind, lang) from None
                raise refusal_error(refused, lang) from None
            return Response(status_code=204)

        return change

    for kind in CredentialKind:
        api.put(
            f"/me/{kind.value}",
            status_code=204,
            response_class=Response,
            summary=f"Change the {kind.value}",
            operation_id=f"change_{kind.value}",
            responses=docs.CHANGE,
            description=docs.CHANGE_TEXT,
        )(change_of(kind))

    @api.post(
        "/password-resets",
        status_code=202,
        summary="Forgotten password or PIN",
        responses=docs.RESET,
        description=docs.RESET_TEXT,
    )
    def reset(
        body: ResetRequestBody, request: Request, tasks: BackgroundTasks, lang: Language
    ) -> Accepted:
        served_here = body.institution is None or body.institution in profiles
        # An unknown library matches nobody; the request is still counted and audited.
        asked = ResetRequest(
            body.identifier if served_here else None,
            body.email if served_here else None,
            source=source(request),
            institution=body.institution if served_here else None,
        )
        # After the answer: the time a match takes (a hash, the e-mail) is not shown (S4).
        tasks.add_task(request_reset, ports, asked)
        return Accepted(message=text("reset.requested", lang))

    @api.post(
        "/policy-checks",
        summary="Check a new secret against the policy",
        responses=docs.POLICY_CHECK,
        description=docs.POLICY_CHECK_TEXT,
    )
    def policy_check(body: PolicyCheck, lang: Language) -> PolicyResult:
        served(body.institution, lang)
        try:
            violations = check_secret(
                ports, body.institution, body.credential, body.secret, category=body.category
            )
        except Refused as refused:
            raise refusal_error(refused, lang, {"credential.kind_not_used": 422}) from None
        return PolicyResult(ok=not violations, violations=[rendered(v, lang) for v in violations])

    @api.get(
        "/libraries/{library}/pickup-locations",
        summary="Where a reservation can be collected",
        responses=docs.POLICY_CHECK,
        description="The codes `POST /me/holds` takes as `pickup`, with their names.",
    )
    def pickup_locations(library: str, lang: Language) -> PickupLocations:
        served(library, lang)
        places = profiles[library].libraries
        return PickupLocations(
            library=library,
            pickup_locations=[
                PickupLocation(code=code, name=names.get(lang) or names.get("en") or code)
                for code, names in places.items()
            ],
        )

    api.include_router(account_routes.router(ports, fully_signed_in))
    return api
