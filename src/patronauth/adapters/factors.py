"""Second factors of staff sign-in: TOTP codes (pyotp), their QR code (segno), and
WebAuthn security keys and passkeys (py_webauthn)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

import pyotp
import segno
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidCBORData,
    InvalidJSONStructure,
    InvalidRegistrationResponse,
    WebAuthnException,
)
from webauthn.helpers.parse_authentication_credential_json import (
    parse_authentication_credential_json,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from patronauth.domain.errors import Refused
from patronauth.services.interfaces import NewKey, WebAuthnKey

ISSUER = "PatronAuth staff"
_BROKEN = (
    InvalidAuthenticationResponse,
    InvalidRegistrationResponse,
    InvalidJSONStructure,
    InvalidCBORData,
    WebAuthnException,
    ValueError,
    KeyError,
    TypeError,
)


class StaffFactors:
    def __init__(self, *, rp_id: str, origin: str, rp_name: str = ISSUER) -> None:
        self.rp_id = rp_id
        self.origin = origin
        self.rp_name = rp_name

    # --- TOTP ----------------------------------------------------------------------

    def new_totp_secret(self) -> str:
        return pyotp.random_base32(32)

    def totp_uri(self, secret: str, login: str) -> str:
        return pyotp.TOTP(secret).provisioning_uri(name=login, issuer_name=self.rp_name)

    def totp_step(self, secret: str, code: str, now: datetime) -> int | None:
        code = code.strip().replace(" ", "")
        if len(code) != 6 or not code.isascii() or not code.isdigit():
            return None
        totp = pyotp.TOTP(secret)
        current = totp.timecode(now)
        for step in (current, current - 1, current + 1):
            if pyotp.utils.strings_equal(totp.generate_otp(step), code):
                return step
        return None

    def qr_svg(self, text: str) -> str:
        out = io.BytesIO()
        segno.make(text, error="m").save(
            out, kind="svg", xmldecl=False, svgns=True, scale=4, title="TOTP"
        )
        return out.getvalue().decode("utf-8")

    # --- WebAuthn ------------------------------------------------------------------

    def registration_options(
        self, user_id: bytes, login: str, name: str, exclude: Sequence[bytes]
    ) -> tuple[str, bytes]:
        options = generate_registration_options(
            rp_id=self.rp_id,
            rp_name=self.rp_name,
            user_id=user_id,
            user_name=login,
            user_display_name=name,
            exclude_credentials=[PublicKeyCredentialDescriptor(id=c) for c in exclude],
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.DISCOURAGED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
        )
        return options_to_json(options), options.challenge

    def verify_registration(self, response: str, challenge: bytes) -> NewKey:
        try:
            verified = verify_registration_response(
                credential=response,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
            )
        except _BROKEN:
            raise Refused.of("staff.webauthn_invalid") from None
        return NewKey(verified.credential_id, verified.credential_public_key, verified.sign_count)

    def authentication_options(self, allow: Sequence[bytes]) -> tuple[str, bytes]:
        options = generate_authentication_options(
            rp_id=self.rp_id,
            allow_credentials=[PublicKeyCredentialDescriptor(id=c) for c in allow],
            user_verification=UserVerificationRequirement.PREFERRED,
        )
        return options_to_json(options), options.challenge

    def credential_id(self, response: str) -> bytes:
        try:
            return bytes(parse_authentication_credential_json(response).raw_id)
        except _BROKEN:
            raise Refused.of("staff.webauthn_invalid") from None

    def verify_authentication(self, response: str, challenge: bytes, key: WebAuthnKey) -> int:
        try:
            verified = verify_authentication_response(
                credential=response,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                credential_public_key=key.public_key,
                credential_current_sign_count=key.sign_count,
            )
        except InvalidAuthenticationResponse as error:
            if "sign count" in str(error):
                raise Refused.of("staff.webauthn_replayed") from None
            raise Refused.of("staff.webauthn_invalid") from None
        except _BROKEN:
            raise Refused.of("staff.webauthn_invalid") from None
        return int(verified.new_sign_count)
