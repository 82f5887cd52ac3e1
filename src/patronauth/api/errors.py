"""Every refusal as `{"error": code, "message": text, ...}` with its HTTP status.

The `error` codes are the API's names (`invalid_credentials`); their messages come
from the reason codes of the use cases (`login.invalid`), see `texts.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from patronauth.api.language import negotiate
from patronauth.api.schemas import NAME_PATTERN, ErrorBody, ErrorCode, InputViolation
from patronauth.api.texts import ECHO_LIMIT, rendered, text
from patronauth.domain.credentials import CredentialKind, Outcome
from patronauth.domain.errors import (
    Busy,
    Conflict,
    InvalidInput,
    NotFound,
    PolicyRefused,
    Refused,
    StorageUnavailable,
    Unavailable,
    Violation,
)
from patronauth.domain.identifiers import MAX_IDENTIFIER_LENGTH
from patronauth.domain.policies import HARD_MAX_LENGTH
from patronauth.domain.profile import Profile
from patronauth.presentation import i18n
from patronauth.presentation.i18n.messages import FIELD_NAMES
from patronauth.services.authenticate import AuthResult


class ApiError(Exception):
    """A refusal on its way out; the handler turns it into the response."""

    def __init__(
        self, status: int, body: ErrorBody, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(body.error.value)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        return JSONResponse(
            self.body.model_dump(mode="json", exclude_none=True),
            status_code=self.status,
            headers=self.headers,
        )


def api_error(
    status: int,
    code: ErrorCode,
    message: str,
    headers: Mapping[str, str] | None = None,
    **details: Any,
) -> ApiError:
    return ApiError(status, ErrorBody(error=code, message=message, **details), headers)


# --- sign-in outcomes (S3, S4, S5, R17) ---------------------------------------------

_E = ErrorCode
_OUTCOMES: dict[Outcome, tuple[int, ErrorCode]] = {
    Outcome.INVALID: (401, _E.INVALID_CREDENTIALS),
    Outcome.TEMPORARY_EXPIRED: (401, _E.TEMPORARY_EXPIRED),
    Outcome.BLOCKED: (429, _E.TOO_MANY_ATTEMPTS),
    Outcome.THROTTLED: (429, _E.TOO_MANY_ATTEMPTS),
    Outcome.PENDING_REGISTRATION: (403, _E.REGISTRATION_INCOMPLETE),
    Outcome.SUSPENDED: (403, _E.SUSPENDED),
    Outcome.BARRED: (403, _E.ACCOUNT_BARRED),
    Outcome.CHANGE_REQUIRED: (403, _E.CHANGE_REQUIRED),
    Outcome.NOT_PROVISIONED: (403, _E.LIBRARY_ACCOUNT_NOT_READY),
}


def outcome_error(result: AuthResult, language: str, profiles: Mapping[str, Profile]) -> ApiError:
    """The refusal of an attempt. An unknown identifier and a wrong secret carry the
    same AuthResult, so they give the same bytes (S4)."""
    status, code = _OUTCOMES[result.outcome]
    params = i18n.outcome_params(
        result.kind.value if result.kind else None,
        result.institution,
        result.retry_after,
        result.contact,
        profiles,
        language,
    )
    message = text(result.outcome.reason, language, **params)
    if status == 429:
        retry_after = max(1, result.retry_after)
        return api_error(
            status, code, message, {"Retry-After": str(retry_after)}, retry_after=retry_after
        )
    contact = result.contact.get(language) or None
    return api_error(status, code, message, contact=contact)


# --- refusals of the use cases ------------------------------------------------------

# RFC 6750 3.1: a request without a token gets the bare challenge, a token that does
# not work (never issued, signed out, expired) `invalid_token`.
_TOKEN_CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
_NO_TOKEN_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_CODES: dict[str, tuple[int, ErrorCode]] = {
    "session.missing": (401, _E.NOT_SIGNED_IN),
    "session.invalid": (401, _E.SIGNED_OUT),
    "session.not_issued": (401, _E.INVALID_TOKEN),  # not a token of this installation
    "session.expired": (401, _E.SESSION_EXPIRED),
    "patron.not_found": (401, _E.SIGNED_OUT),  # the account behind a token has gone
    "secret.confirmation_mismatch": (422, _E.CONFIRMATION_MISMATCH),
    "credential.kind_not_used": (404, _E.CREDENTIAL_NOT_USED),
    "credential.changed_concurrently": (409, _E.CHANGED_CONCURRENTLY),
    "institution.unknown": (422, _E.UNKNOWN_INSTITUTION),
    "patron.unknown_category": (422, _E.UNKNOWN_CATEGORY),
    "identifier.ambiguous": (422, _E.IDENTIFIER_AMBIGUOUS),
    "policy.none_in_force": (503, _E.SERVICE_UNAVAILABLE),  # a profile without a policy
    "credential.directory_managed": (403, _E.DIRECTORY_MANAGED),  # R20: changed at ITS
    # The first change of a default, where a code e-mailed must confirm it.
    "change.code_sent": (403, _E.CONFIRMATION_CODE_SENT),
    "change.code_invalid": (403, _E.CONFIRMATION_CODE_INVALID),
    "change.code_no_email": (403, _E.CONFIRMATION_UNAVAILABLE),
    "change.code_limit": (429, _E.TOO_MANY_ATTEMPTS),
}


def busy_error(busy: Busy, language: str) -> ApiError:
    """The hashing pool is full, or the campus directory does not answer: nothing was
    done or counted, the same request may come again."""
    wait = str(busy.retry_after)
    code = _E.SIGN_ON_UNAVAILABLE if isinstance(busy, Unavailable) else _E.SERVICE_BUSY
    return api_error(503, code, text(busy.code, language), {"Retry-After": wait})


def unavailable_error(language: str) -> ApiError:
    """SPEC 7: the database does not answer (restarting, or every connection busy): 503,
    not 500; the same request may come again in a few seconds."""
    return api_error(
        503, _E.SERVICE_UNAVAILABLE, text("service.unavailable", language), {"Retry-After": "5"}
    )


def failure_error(failure: Exception, language: str, method: str) -> ApiError:
    """The answer the API's handlers give an exception a use case raised."""
    if isinstance(failure, ApiError):
        return failure
    if isinstance(failure, Refused):
        return refusal_error(failure, language)
    if isinstance(failure, StorageUnavailable):
        return unavailable_error(language)
    return http_error(500, language, method)


def must_change_error(kind: CredentialKind | None, language: str) -> ApiError:
    label = i18n.credential_name(kind.value, language) if kind else ""
    return api_error(
        403,
        _E.MUST_CHANGE,
        text("session.must_change", language, credential=label),
        credential=kind,
    )


def refusal_error(
    refused: Refused, language: str, statuses: Mapping[str, int] | None = None
) -> ApiError:
    """A use case's refusal; `statuses` overrides the status of some codes."""
    violations = [
        InputViolation(**rendered(v, language).model_dump(), field=v.field)
        for v in refused.violations
    ]
    message = violations[0].message
    if isinstance(refused, Busy):
        return busy_error(refused, language)
    if isinstance(refused, PolicyRefused):
        return api_error(422, _E.POLICY_VIOLATION, message, violations=violations)
    if refused.code in _CODES:
        status, code = _CODES[refused.code]
        status = (statuses or {}).get(refused.code, status)
        challenge = _NO_TOKEN_CHALLENGE if code is _E.NOT_SIGNED_IN else _TOKEN_CHALLENGE
        return api_error(status, code, message, challenge if status == 401 else None)
    if isinstance(refused, NotFound):
        return api_error(404, _E.NOT_FOUND, message)
    if isinstance(refused, Conflict):
        return api_error(409, _E.CHANGED_CONCURRENTLY, message)
    # Every other refusal (InvalidInput above all) is about what was sent.
    return api_error(422, _E.INVALID_INPUT, message, violations=violations)


# --- the account behind the login (R28) ---------------------------------------------

# The library's rules refuse it for now (a reservation, the fines, the account): 409 with
# the reason code itself as `error`.
_NOT_NOW = frozenset(c.value for c in ErrorCode if c.value.startswith(("renewal.", "hold.")))
# What was sent can never work: 422 `invalid_input`, its violation naming the field.
_INPUT_FIELDS = {"hold.unknown_pickup": "pickup", "request.title_missing": "title"}


def lending_error(refused: Refused, language: str, *, field: str | None = None) -> ApiError:
    """A refusal of a loan, reservation, search or request. `field`: the request field
    a text refusal is about, when not its own (`q` for the catalogue search)."""
    violation = refused.violations[0]
    code = violation.code
    if code in _NOT_NOW:
        return api_error(409, ErrorCode(code), rendered(violation, language).message)
    if code == "request.not_offered":
        return api_error(404, _E.REQUEST_NOT_OFFERED, rendered(violation, language).message)
    if isinstance(refused, InvalidInput) or code.startswith("request.") or code in _INPUT_FIELDS:
        violations = []
        for v in refused.violations:
            name = (
                field or v.field or str(v.params.get("field", _INPUT_FIELDS.get(v.code, "")))
            ) or None
            # `{field}` in the message is the field's word in the answer's language.
            word = i18n.gettext(FIELD_NAMES[name], language) if name in FIELD_NAMES else ""
            shown = Violation(v.code, {**v.params, "field": word})
            violations.append(InputViolation(**rendered(shown, language).model_dump(), field=name))
        return api_error(422, _E.INVALID_INPUT, violations[0].message, violations=violations)
    return refusal_error(refused, language)


# --- FastAPI's own refusals -----------------------------------------------------------

_SECRET_FIELDS = frozenset({"secret", "current", "new", "confirm"})
_EMPTY = frozenset({"missing", "string_too_short"})


def _plain(value: object) -> str:
    """What a refusal may repeat of a name that was typed: a plain word, else "?"."""
    if (
        isinstance(value, str)
        and 0 < len(value) <= ECHO_LIMIT
        and re.fullmatch(NAME_PATTERN, value)
    ):
        return value
    return "?"


def _field_violation(error: Mapping[str, Any], language: str, known: str) -> InputViolation:
    loc = [str(part) for part in error.get("loc", ())][1:]
    field = ".".join(_plain(part) for part in loc)
    kind = error.get("type", "")
    name = loc[0] if loc else ""
    violation = Violation("field.invalid", {"field": field})
    if not loc:
        violation = Violation("request.invalid")
    elif kind == "extra_forbidden":
        violation = Violation("field.unknown", {"field": field})
    elif name == "identifier" and kind in _EMPTY:
        violation = Violation("identifier.empty")
    elif name == "identifier" and kind == "string_too_long":
        violation = Violation("identifier.too_long", {"max": MAX_IDENTIFIER_LENGTH})
    elif name in _SECRET_FIELDS and kind == "string_unicode":
        violation = Violation("secret.not_utf8")  # a lone surrogate: no UTF-8 text
    elif kind == "string_unicode":
        violation = Violation("argument.not_utf8", {"name": field})
    elif name in _SECRET_FIELDS and kind in _EMPTY:
        violation = Violation("secret.empty")
    elif name in _SECRET_FIELDS and kind == "string_too_long":
        violation = Violation("secret.too_long", {"max": HARD_MAX_LENGTH})
    elif name == "email" and kind.startswith("string_"):
        violation = Violation("email.invalid")
    elif name == "institution" and kind.startswith("string_"):
        typed = _plain(error.get("input"))
        violation = Violation("institution.unknown", {"institution": typed, "known": known})
    elif name == "credential" and kind == "enum":
        violation = Violation(
            "credential.kind_required", {"kinds": ", ".join(k.value for k in CredentialKind)}
        )
    return InputViolation(**rendered(violation, language).model_dump(), field=field or None)


def validation_error(
    errors: Sequence[Mapping[str, Any]], language: str, known_institutions: str
) -> ApiError:
    if any(e.get("type") == "json_invalid" for e in errors):
        return api_error(400, _E.MALFORMED_REQUEST, text("request.malformed", language))
    violations = [_field_violation(e, language, known_institutions) for e in errors]
    return api_error(422, _E.INVALID_INPUT, violations[0].message, violations=violations)


def http_error(status: int, language: str, method: str) -> ApiError:
    if status == 404:
        return api_error(404, _E.NOT_FOUND, text("request.not_found", language))
    if status == 405:
        return api_error(
            405, _E.METHOD_NOT_ALLOWED, text("request.method_not_allowed", language, method=method)
        )
    if status == 413:
        return api_error(413, _E.PAYLOAD_TOO_LARGE, text("request.too_large", language))
    if status < 500:
        return api_error(status, _E.MALFORMED_REQUEST, text("request.malformed", language))
    return api_error(status, _E.INTERNAL_ERROR, text("service.error", language))


def install(api: FastAPI, profiles: Mapping[str, Profile]) -> None:
    """Every exception of the API app answers in the error shape."""
    known = ", ".join(sorted(profiles))

    def language(request: Request) -> str:
        return negotiate(request.headers.get("accept-language"))

    async def on_api_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return exc.response()

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return validation_error(exc.errors(), language(request), known).response()

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        error = http_error(exc.status_code, language(request), request.method)
        if exc.headers and "Allow" in exc.headers:
            error.headers["Allow"] = exc.headers["Allow"]
        return error.response()

    async def on_failure(request: Request, exc: Exception) -> Response:
        return failure_error(exc, language(request), request.method).response()

    api.add_exception_handler(ApiError, on_api_error)
    api.add_exception_handler(RequestValidationError, on_validation)
    api.add_exception_handler(HTTPException, on_http)
    api.add_exception_handler(StorageUnavailable, on_failure)  # or every connection busy
    api.add_exception_handler(Busy, on_failure)
    api.add_exception_handler(Exception, on_failure)
