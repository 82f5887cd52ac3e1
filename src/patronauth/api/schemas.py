"""The JSON shapes of the API: request bodies, answers and the one error shape.

Field limits here only keep absurd input away from the use cases; the rules themselves
(identifier forms, the 128 code points of S2, the credential policies) are the use
cases' and answer with their own reason codes.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from patronauth.domain.circulation import HoldStatus, RequestKind, RequestStatus
from patronauth.domain.credentials import CredentialKind, CredentialState

# A secret is refused above 128 code points after NFC (S2); the raw text may be longer
# before normalisation, so the schema allows four times that and lets the rule decide.
RAW_SECRET_MAX = 512
Identifier = Annotated[str, Field(min_length=1, max_length=256, examples=["HKPL0001"])]
Secret = Annotated[str, Field(min_length=1, max_length=RAW_SECRET_MAX)]
# Names from profile files: plain words, so that a refusal may repeat them safely.
NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
Institution = Annotated[
    str, Field(min_length=1, max_length=32, pattern=NAME_PATTERN, examples=["hkpl"])
]
Category = Annotated[
    str, Field(min_length=1, max_length=32, pattern=NAME_PATTERN, examples=["student"])
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignIn(_Body):
    identifier: Identifier = Field(description="Library card number, student or staff number.")
    secret: Secret = Field(description="The online password or PIN.")
    credential: CredentialKind | None = Field(
        None,
        description=(
            "Which secret this is: only the one the library uses in its app (R1); any "
            "other answers `422 invalid_input` with `credential.not_for_channel`."
        ),
    )
    institution: Institution | None = Field(
        None, description="The library, needed only when two libraries share the identifier."
    )


class Change(_Body):
    current: Secret
    new: Secret
    confirm: Secret = Field(description="The new secret again.")
    code: Annotated[str, Field(max_length=32)] | None = Field(
        None,
        description="Where the library asks for it (403 `confirmation_code_sent`): the "
        "code e-mailed to confirm the first change of a default.",
    )


class ResetRequestBody(_Body):
    identifier: Annotated[str, Field(max_length=256)] | None = None
    email: Annotated[str, Field(max_length=320)] | None = None
    institution: Institution | None = None


class PolicyCheck(_Body):
    institution: Institution
    credential: CredentialKind
    secret: Annotated[str, Field(max_length=RAW_SECRET_MAX)]
    category: Category | None = None


class Opened(BaseModel):
    token: str = Field(description="Bearer token for `Authorization: Bearer <token>`.")
    must_change: bool = Field(
        description="True: the token reaches only the change of `credential` (R5, S5)."
    )
    credential: CredentialKind = Field(description="The credential this sign-in used.")
    expires_at: datetime = Field(description="When the token ends unless used before then.")


class ViolationOut(BaseModel):
    code: str = Field(description="Stable reason code, e.g. `password.missing_special`.")
    message: str


class InputViolation(ViolationOut):
    field: str | None = Field(None, description="invalid_input: the request field at fault.")


class PolicyResult(BaseModel):
    ok: bool
    violations: list[ViolationOut]


class Accepted(BaseModel):
    message: str = Field(description="The same whatever was found (S4).")


class PickupLocation(BaseModel):
    code: str = Field(examples=["CEN"], description="The `pickup` of `POST /me/holds`.")
    name: str = Field(description="In the answer's language.")


class PickupLocations(BaseModel):
    library: str = Field(examples=["hkpl"])
    pickup_locations: list[PickupLocation]


class CredentialOut(BaseModel):
    kind: CredentialKind
    label: str = Field(description="The library's own word for it, in the answer's language.")
    state: CredentialState
    set_at: datetime
    expires_at: datetime | None = Field(description="Temporary secrets only.")


class Me(BaseModel):
    institution: str
    library: str
    category: str
    name: str | None
    card_number: str
    id_type: str | None
    id_number_masked: str | None
    phone_masked: str | None
    email: str | None
    language: str
    credentials: list[CredentialOut]
    defaults_in_use: list[CredentialKind] = Field(
        description="Credentials still at their default: the app should suggest a change."
    )


# --- the account behind the login (R28) ----------------------------------------------

MAX_ID = 2**63 - 1  # the largest id the database holds
# The use cases bound a request's texts (300, 200, 1000 code points after spacing is
# tidied); the schema only keeps absurd input away and lets them say what is too long.
RAW_TEXT_MAX = 4096
Cents = Annotated[int, Field(description="An amount in cents of `currency`.")]


class LoanOut(BaseModel):
    id: int
    title_id: int
    title: str
    author: str
    item_barcode: str
    checked_out_on: date
    due_on: date
    overdue: bool
    fine_so_far: Cents = Field(
        description="Cents accrued so far on this overdue item; charged when it is returned."
    )
    renewals: int = Field(description="Renewals so far.")
    renewals_left: int = Field(description="Renewals the library still allows.")


class Loans(BaseModel):
    today: date = Field(description="The library's date today, in its time zone.")
    currency: str = Field(examples=["HKD"], description="ISO 4217.")
    currency_symbol: str = Field(examples=["HK$"], description="For display beside amounts.")
    loans: list[LoanOut] = Field(description="Open loans, the soonest due first.")


class HoldOut(BaseModel):
    id: int
    title_id: int
    title: str
    author: str
    pickup: str = Field(description="The pickup library's code.")
    pickup_name: str = Field(description="The pickup library's name, in the answer's language.")
    status: HoldStatus = Field(description="`waiting` in the queue, or `ready` for collection.")
    position: int | None = Field(description="While waiting: the place in the queue, from 1.")
    ready_until: date | None = Field(description="When ready: the last day to collect it.")
    placed_at: datetime


class Holds(BaseModel):
    holds: list[HoldOut] = Field(description="Active reservations (waiting or ready).")


class PlaceHold(_Body):
    title_id: StrictInt = Field(ge=1, le=MAX_ID, description="From `GET /titles`.")
    pickup: str = Field(
        max_length=64, description="The code of a pickup library of the patron's library."
    )


class FineOut(BaseModel):
    id: int
    loan_id: int | None
    amount: Cents
    reason: str = Field(description="`overdue`, or another reason the library recorded.")
    charged_on: date


class PaymentOut(BaseModel):
    id: int
    amount: Cents
    paid_at: datetime


class Fines(BaseModel):
    currency: str = Field(examples=["HKD"], description="ISO 4217.")
    currency_symbol: str = Field(examples=["HK$"], description="For display beside amounts.")
    balance: Cents = Field(description="Owed today: fines charged + accruing - payments.")
    accruing: Cents = Field(description="Of the balance, what overdue loans have accrued so far.")
    fines_block: Cents = Field(description="From this balance renewals and reservations stop.")
    blocked: bool = Field(description="Whether the balance has reached `fines_block`.")
    fines: list[FineOut]
    payments: list[PaymentOut]


class TitleOut(BaseModel):
    id: int
    title: str
    author: str
    isbn: str | None
    copies: int
    on_shelf: int = Field(description="Copies on the shelf now: a reservation is ready at once.")


class Titles(BaseModel):
    titles: list[TitleOut] = Field(description="At most 20, by title.")


class RequestOut(BaseModel):
    id: int
    kind: RequestKind
    title: str
    author: str
    note: str
    status: RequestStatus
    created_at: datetime
    updated_at: datetime


class Requests(BaseModel):
    requests: list[RequestOut] = Field(description="The newest first.")


class NewRequest(_Body):
    kind: RequestKind = Field(
        description="`recommendation` (a book for the library to buy) or `interlibrary_loan`."
    )
    title: Annotated[str, Field(max_length=RAW_TEXT_MAX, description="Required; 300 at most.")]
    author: Annotated[str, Field(max_length=RAW_TEXT_MAX, description="200 at most.")] = ""
    note: Annotated[str, Field(max_length=RAW_TEXT_MAX, description="1000 at most.")] = ""


class ErrorCode(StrEnum):
    INVALID_CREDENTIALS = "invalid_credentials"
    TEMPORARY_EXPIRED = "temporary_expired"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    REGISTRATION_INCOMPLETE = "registration_incomplete"
    SUSPENDED = "suspended"
    ACCOUNT_BARRED = "account_barred"
    CHANGE_REQUIRED = "change_required"
    NOT_SIGNED_IN = "not_signed_in"
    SIGNED_OUT = "signed_out"
    INVALID_TOKEN = "invalid_token"  # noqa: S105 (a reason code, no secret)
    SESSION_EXPIRED = "session_expired"
    MUST_CHANGE = "must_change"
    POLICY_VIOLATION = "policy_violation"
    CONFIRMATION_MISMATCH = "confirmation_mismatch"
    CREDENTIAL_NOT_USED = "credential_not_used"
    CHANGED_CONCURRENTLY = "changed_concurrently"
    INVALID_INPUT = "invalid_input"
    UNKNOWN_INSTITUTION = "unknown_institution"
    UNKNOWN_CATEGORY = "unknown_category"
    IDENTIFIER_AMBIGUOUS = "identifier_ambiguous"
    MALFORMED_REQUEST = "malformed_request"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    SERVICE_UNAVAILABLE = "service_unavailable"
    SERVICE_BUSY = "service_busy"
    SIGN_ON_UNAVAILABLE = "sign_on_unavailable"
    LIBRARY_ACCOUNT_NOT_READY = "library_account_not_ready"
    DIRECTORY_MANAGED = "directory_managed"
    INTERNAL_ERROR = "internal_error"
    CONFIRMATION_CODE_SENT = "confirmation_code_sent"
    CONFIRMATION_CODE_INVALID = "confirmation_code_invalid"
    CONFIRMATION_UNAVAILABLE = "confirmation_unavailable"
    # The account behind the login: the reason code of the use case itself (R28).
    RENEWAL_RESERVED = "renewal.reserved"
    RENEWAL_MAX_RENEWALS = "renewal.max_renewals"
    RENEWAL_FINES_BLOCK = "renewal.fines_block"
    RENEWAL_OVERDUE_BLOCK = "renewal.overdue_block"
    RENEWAL_ACCOUNT_EXPIRED = "renewal.account_expired"
    RENEWAL_ACCOUNT_BARRED = "renewal.account_barred"
    RENEWAL_ACCOUNT_PENDING = "renewal.account_pending"
    HOLD_DUPLICATE = "hold.duplicate"
    HOLD_ALREADY_ON_LOAN = "hold.already_on_loan"
    HOLD_TOO_MANY = "hold.too_many"
    HOLD_FINES_BLOCK = "hold.fines_block"
    HOLD_ACCOUNT_EXPIRED = "hold.account_expired"
    HOLD_ACCOUNT_BARRED = "hold.account_barred"
    HOLD_ACCOUNT_PENDING = "hold.account_pending"
    HOLD_NOT_ACTIVE = "hold.not_active"
    REQUEST_NOT_OFFERED = "request.not_offered"


class ErrorBody(BaseModel):
    """Every refusal: a stable `error` code, a `message` in the language asked for, and
    the details some codes carry."""

    error: ErrorCode
    message: str
    retry_after: int | None = Field(
        None, ge=1, description="too_many_attempts: seconds to wait (as in `Retry-After`)."
    )
    contact: str | None = Field(
        None, description="registration_incomplete, suspended, account_barred: the library's."
    )
    credential: CredentialKind | None = Field(
        None, description="must_change: the credential that must be changed first."
    )
    violations: list[InputViolation] | None = Field(
        None, description="policy_violation and invalid_input: one entry per broken rule."
    )


class TooManyAttempts(ErrorBody):
    retry_after: int = Field(ge=1, description="Seconds to wait (as in `Retry-After`).")
