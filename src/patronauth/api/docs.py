"""What the OpenAPI document says about each operation's answers.

Every status an operation can give is listed with its schema; the `error` codes each
status can carry are named in its description.
"""

from __future__ import annotations

from typing import Any

from patronauth.api.schemas import ErrorBody, TooManyAttempts

Responses = dict[int | str, dict[str, Any]]


def _error(description: str, model: type[ErrorBody] = ErrorBody, **extra: Any) -> dict[str, Any]:
    return {"model": model, "description": description, **extra}


_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before the next attempt.",
        "schema": {"type": "integer", "minimum": 1},
    }
}

_COMMON: Responses = {
    400: _error("`malformed_request`: the body is not JSON, or not UTF-8."),
    413: _error("`payload_too_large`: the body is larger than 64 KiB."),
    422: _error(
        "`invalid_input`: a field is missing, of the wrong type, unknown, or breaks a "
        "rule of its own (identifier characters, control characters, more than 128 code "
        "points after NFC); `violations` names each field. `unknown_institution`: no "
        "such library here. `identifier_ambiguous`: two libraries have this identifier; "
        "give `institution`."
    ),
    503: _error(
        "`service_unavailable`: the database is not answering (restarting); try again. "
        "`service_busy`: too many secrets are being checked at once; try again. "
        "`sign_on_unavailable`: the campus directory that checks this patron's PIN is not "
        "answering (R20); nothing was counted; try again. "
        "`Retry-After` gives the seconds to wait.",
        headers=_RETRY_AFTER,
    ),
}

_TOKEN: Responses = {
    401: _error(
        "No usable token: `not_signed_in` (no `Authorization: Bearer` header), "
        "`invalid_token` (never issued by this service: its MAC does not hold), "
        "`signed_out` (signed out, or ended and forgotten), `session_expired` (idle or "
        "absolute timeout). Sign in again. Every one but `not_signed_in` comes with "
        '`WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750).',
        headers={"WWW-Authenticate": {"schema": {"type": "string"}}},
    ),
}

_TOO_MANY = _error(
    "`too_many_attempts`: the identifier is blocked after five failures within a "
    "minute (also for the right secret), or too many attempts came from this address. "
    "`retry_after` and `Retry-After` give the seconds to wait.",
    TooManyAttempts,
    headers=_RETRY_AFTER,
)

SIGN_IN_TEXT = (
    "Every attempt counts against the identifier on every channel (S3). An unknown "
    "identifier and a wrong secret give the very same answer (S4). A default, temporary "
    "or must-change secret signs in with `must_change: true`: that token reaches only "
    "the change of `credential` (`PUT /me/password` or `PUT /me/pin`) and answers "
    "`403 must_change` everywhere else. `credential` may name only the secret the "
    "library's app takes (HKPL: the online password, never the PIN, R1); any other "
    "answers `422 invalid_input` with the violation `credential.not_for_channel`, and "
    "counts as no attempt."
)

SIGN_IN: Responses = {
    **_COMMON,
    401: _error(
        "`invalid_credentials`: unknown identifier or wrong secret (one answer for both). "
        "`temporary_expired`: the right temporary secret, but past its expiry or used once "
        "already (S5); ask for a new one."
    ),
    403: _error(
        "The right secret, but the account cannot sign in: `registration_incomplete` "
        "(R17, R25), `suspended` (too many consecutive failures; a reset is needed), "
        "`account_barred`. `contact` gives the library's contact text. "
        "`library_account_not_ready`: the campus directory accepted the UID and PIN, but "
        "the library account is not provisioned yet (1-2 days after the card is issued)."
    ),
    429: _TOO_MANY,
}

SIGN_OUT_TEXT = (
    "The token stops working at once. A must-change token may sign out too: ending a "
    "token never reaches anything."
)

# FastAPI lists 422 for every operation with parameters (here `Accept-Language`).
_HEADERS_ONLY: Responses = {
    413: _COMMON[413],
    422: _error("`invalid_input`: a malformed header."),
}

SIGN_OUT: Responses = {**_TOKEN, **_HEADERS_ONLY, 503: _COMMON[503]}

_MUST_CHANGE = _error("`must_change`: this token reaches only the change of `credential` (R5, S5).")

ME: Responses = {**_TOKEN, 403: _MUST_CHANGE, **_HEADERS_ONLY, 503: _COMMON[503]}

CHANGE_TEXT = (
    "Current secret, new secret, new secret again (R6, R13, R18). The current secret is "
    "an attempt like any other: a wrong one counts in the lockout. On success the "
    "patron's other sessions end and this token keeps working, now reaching everything. "
    "A library that does not use this credential answers `404 credential_not_used`. "
    "Where the library confirms the first change of a default by e-mail (HKCT), the "
    "first request is answered `403 confirmation_code_sent` and the code e-mailed; send "
    "the same request again with `code`."
)

CHANGE: Responses = {
    **_COMMON,
    **_TOKEN,
    401: _error(
        "`invalid_credentials` (the current secret is wrong), `temporary_expired`, or no "
        "usable token (`not_signed_in`, `invalid_token`, `signed_out`, `session_expired`).",
        headers={"WWW-Authenticate": {"schema": {"type": "string"}}},
    ),
    403: _error(
        "`must_change`: this token must change the other credential first. Or the "
        "account can no longer sign in: `suspended`, `registration_incomplete`, "
        "`account_barred` (with `contact`). `directory_managed`: this patron's PIN is the "
        "campus directory's (R20), changed at the university's IT services; nothing changed. "
        "`confirmation_code_sent`: a code was e-mailed to confirm this first change of a "
        "default; `confirmation_code_invalid`: the `code` is wrong, used or expired; "
        "`confirmation_unavailable`: no e-mail address is registered (a change at the counter)."
    ),
    404: _error("`credential_not_used`: the patron's library does not use this credential."),
    409: _error("`changed_concurrently`: the secret changed meanwhile; sign in again."),
    422: _error(
        "`policy_violation`: the new secret breaks the library's rules; `violations` "
        "lists each as `{code, message}`. `confirmation_mismatch`: `new` and `confirm` "
        "differ. `invalid_input`: as for every operation."
    ),
    429: _TOO_MANY,
}

RESET_TEXT = (
    "Always `202` with the same message, whatever was found (S4): HKPL e-mails a "
    "temporary password (R7), PolyU a link that returns the PIN to its default (R14); "
    "libraries whose secrets only staff reset send nothing. The work happens after the "
    "answer, so its time does not tell either."
)

RESET: Responses = {400: _COMMON[400], 413: _COMMON[413], 422: _COMMON[422]}

POLICY_CHECK_TEXT = (
    "Live hints while a patron types a new secret: `ok` and one `{code, message}` per "
    "broken rule of the policy in force today. Nothing is stored. The patron's own data "
    "(card number, name, phone) are checked only by the change itself (the web pages "
    "check them while typing against the session or the e-mailed link)."
)

POLICY_CHECK: Responses = {
    **{k: v for k, v in _COMMON.items() if k != 422},
    422: _error(
        "`invalid_input`, `unknown_institution`, `unknown_category`, or "
        "`credential_not_used` (the library does not use this credential)."
    ),
}

# --- the account behind the login (R28) ---------------------------------------------

_ACCOUNT: Responses = {**_TOKEN, 403: _MUST_CHANGE, **_HEADERS_ONLY, 503: _COMMON[503]}
_BAD_ID = _error(
    "`invalid_input`: the number in the address is not a whole number from 1 to 2^63 - 1, "
    "or a header is malformed."
)

LOANS_TEXT = (
    "The patron's open loans with their due dates, the soonest first: whether each is "
    "overdue, the fine it has accrued so far (charged when it is returned, on the "
    "library's fine calendar) and the renewals it has left."
)
LOANS: Responses = _ACCOUNT

RENEWAL_TEXT = (
    "Renew one loan for another loan period from its due date (from today when it is "
    "overdue); answers the loan as it now is. A refusal by the library's rules is `409` "
    "with the rule's reason code as `error` and its message. Another patron's loan is "
    "`404`, like one that does not exist."
)
RENEWAL: Responses = {
    **_ACCOUNT,
    404: _error("`not_found`: the patron has no open loan with this number."),
    409: _error(
        "Not renewed, `error` saying why: `renewal.reserved` (another reader has "
        "reserved it), `renewal.max_renewals`, `renewal.fines_block` (the fines have "
        "reached the library's limit), `renewal.overdue_block` (overdue items must be "
        "returned first, where the library says so), `renewal.account_expired`, "
        "`renewal.account_barred`, `renewal.account_pending`."
    ),
    422: _BAD_ID,
}

HOLDS_TEXT = (
    "The patron's active reservations: `waiting` with the place in the title's queue, or "
    "`ready` for collection at the pickup library until `ready_until`."
)
HOLDS: Responses = _ACCOUNT

PLACE_HOLD_TEXT = (
    "Reserve a title (from `GET /titles`) for collection at one of the library's pickup "
    "libraries. When a copy is on the shelf it is set aside at once and the reservation "
    "is `ready`; otherwise it is `waiting` in the queue. A refusal by the library's rules "
    "is `409` with the rule's reason code as `error`."
)
PLACE_HOLD: Responses = {
    **_COMMON,
    **_ACCOUNT,
    404: _error("`not_found`: the library's catalogue has no title with this number."),
    409: _error(
        "Not reserved, `error` saying why: `hold.duplicate` (reserved already), "
        "`hold.already_on_loan`, `hold.too_many`, `hold.fines_block`, "
        "`hold.account_expired`, `hold.account_barred`, `hold.account_pending`."
    ),
    422: _error(
        "`invalid_input`: a field is missing, of the wrong type or unknown, or `pickup` is "
        "not one of the library's pickup libraries (violation `hold.unknown_pickup`); "
        "`violations` names each field."
    ),
}

CANCEL_HOLD_TEXT = (
    "Cancel a reservation. A copy that was waiting for the patron goes to the next reader "
    "in the queue, or back on the shelf. Another patron's reservation is `404`, like one "
    "that does not exist."
)
CANCEL_HOLD: Responses = {
    **_ACCOUNT,
    404: _error("`not_found`: the patron has no reservation with this number."),
    409: _error("`hold.not_active`: the reservation has ended already (collected, cancelled)."),
    422: _BAD_ID,
}

FINES_TEXT = (
    "What the patron owes: fines charged, payments made, what overdue loans are accruing "
    "now, and the balance from which the library stops renewals and reservations. Amounts "
    "are in cents of `currency`."
)
FINES: Responses = _ACCOUNT

TITLES_TEXT = (
    "Search the catalogue of the patron's library by words of the title or of the author, "
    "to place a reservation: at most 20 titles, with their copies and how many are on the "
    "shelf. An empty `q` finds nothing."
)
TITLES: Responses = {
    **_ACCOUNT,
    422: _error(
        "`invalid_input`: `q` is longer than 300 characters or holds control characters "
        "or markup (`<`, `>`), or a header is malformed."
    ),
}

REQUESTS_TEXT = (
    "The patron's book recommendations and interlibrary-loan requests with their status "
    "(R8: PolyU). A library that takes no such requests online answers `404` "
    "`request.not_offered`."
)
_NOT_OFFERED = _error("`request.not_offered`: the patron's library takes no such requests online.")
REQUESTS: Responses = {**_ACCOUNT, 404: _NOT_OFFERED}

SUBMIT_REQUEST_TEXT = (
    "Recommend a book for the library to buy, or ask for an interlibrary loan (R8: "
    "PolyU). Spacing is tidied; control characters and markup are refused."
)
SUBMIT_REQUEST: Responses = {
    **_COMMON,
    **_ACCOUNT,
    404: _NOT_OFFERED,
    422: _error(
        "`invalid_input`: a field is missing, of the wrong type or unknown, the title is "
        "empty (`request.title_missing`), a text is too long (`request.too_long`: title "
        "300, author 200, note 1000) or holds control characters or markup "
        "(`request.invalid_characters`); `violations` names each field."
    ),
}
