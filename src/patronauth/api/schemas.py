"""The JSON shapes of the API: request bodies, answers and the one error shape.

Field limits here only keep absurd input away from the use cases; the rules themselves
(identifier forms, the 128 code points of S2, the credential policies) are the use
cases' and answer with their own reason codes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

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
        None, description="Which secret this is; by default the one the library uses in its app."
    )
    institution: Institution | None = Field(
        None, description="The library, needed only when two libraries share the identifier."
    )


class Change(_Body):
    current: Secret
    new: Secret
    confirm: Secret = Field(description="The new secret again.")


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
    INTERNAL_ERROR = "internal_error"


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
