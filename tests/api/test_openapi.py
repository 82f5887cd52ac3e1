"""The OpenAPI document is the API's contract: a property-based run over every operation
(schemathesis) finds no 5xx, no undocumented status, and no answer off its schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from patronauth.adapters.config import Settings
from patronauth.api import create_api
from patronauth.bootstrap import App, build
from patronauth.domain.credentials import CredentialKind, Outcome
from patronauth.domain.sessions import SessionChannel
from patronauth.services.authenticate import AuthResult
from patronauth.services.lookup import require_patron
from patronauth.services.sessions import open_session
from patronauth.services.staff import unlock
from tests.api.helpers import bearer
from tests.support import STAFF, TEST_PEPPER
from tests.web.lending import stock

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def _document() -> dict[str, Any]:
    """The document every deployment of the shipped profiles serves; building it touches
    no database."""
    env = {"PATRONAUTH_DATABASE_URL": "sqlite://", "PATRONAUTH_PEPPER": TEST_PEPPER}
    app = build(Settings.from_env(env))
    try:
        return create_api(app).openapi()
    finally:
        app.close()


DOCUMENT = _document()
# Loaded when the module is: schemathesis's fixture-based (lazy) loading does not run
# under this pytest, and the document needs no database anyway.
schema = schemathesis.openapi.from_dict(DOCUMENT)


@pytest.fixture
def api(hkpl: App) -> FastAPI:
    # Loans, a reservation and titles on the shelf and out, so that the small numbers the
    # examples try find real records: renewals, reservations and refusals alike.
    stock(hkpl)
    return create_api(hkpl)


@pytest.fixture
def new_token(hkpl: App) -> Callable[[], str]:
    """A fresh full token of HKPL0001 without a sign-in (no hash), the card unblocked:
    each example starts where the rules, not the examples before it, decide."""
    with hkpl.ports.uow() as uow:
        patron_id = require_patron(uow, hkpl.ports.profiles, "HKPL0001").patron.id
    signed_in = AuthResult(Outcome.OK, patron_id=patron_id, kind=CredentialKind.PASSWORD)

    def token() -> str:
        unlock(hkpl.ports, "HKPL0001", staff=STAFF)
        return open_session(hkpl.ports, signed_in, SessionChannel.APP, source="t").token

    return token


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_answer_matches_the_document(
    case: schemathesis.Case, api: FastAPI, new_token: Callable[[], str]
) -> None:
    case.call_and_validate(app=api, headers=bearer(new_token()), checks=CHECKS)


@pytest.mark.anyio
async def test_the_served_document_is_the_one_tested(hkpl: App, client: httpx.AsyncClient) -> None:
    served = (await client.get("/api/v1/openapi.json")).json()
    assert served.pop("servers") == [{"url": "/api/v1"}]
    assert served == DOCUMENT
    operations = {(m.upper(), p) for p, ops in served["paths"].items() for m in ops}
    assert operations == {
        ("POST", "/sessions"),
        ("DELETE", "/sessions/current"),
        ("GET", "/me"),
        ("PUT", "/me/password"),
        ("PUT", "/me/pin"),
        ("POST", "/password-resets"),
        ("POST", "/policy-checks"),
        ("GET", "/libraries/{library}/pickup-locations"),
        ("GET", "/me/loans"),
        ("POST", "/me/loans/{loan_id}/renewal"),
        ("GET", "/me/holds"),
        ("POST", "/me/holds"),
        ("DELETE", "/me/holds/{hold_id}"),
        ("GET", "/me/fines"),
        ("GET", "/titles"),
        ("GET", "/me/requests"),
        ("POST", "/me/requests"),
    }


def test_every_error_answer_is_documented_with_the_error_shape() -> None:
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if int(status) < 400:
                    continue
                content = answer["content"]["application/json"]["schema"]["$ref"]
                assert content.rsplit("/", 1)[1] in {"ErrorBody", "TooManyAttempts"}, (
                    method,
                    path,
                    status,
                )
