"""Every user-facing message, by reason code, in English (the gettext message ids).

Translations live in `locales/<language>/LC_MESSAGES/messages.po`; `messages.pot` is
extracted from this file with `pybabel extract` (see docs/translations.md).
Placeholders in braces are filled from the violation's parameters.
"""

from __future__ import annotations


def ngettext(singular: str, plural: str) -> tuple[str, str]:
    """Marks a message with a singular and a plural for extraction (`-k ngettext:1,2`)."""
    return singular, plural


def N_(message: str) -> str:
    """Marks a message for extraction; translation happens when it is shown."""
    return message


MESSAGES: dict[str, str] = {
    # New secrets (S2, S6 and the seeds' rules), PIN
    "pin.empty": N_("Enter a PIN."),
    "pin.control_character": N_("The PIN contains a control character."),
    "pin.too_long": N_("The PIN must have at most {max} characters."),
    "pin.too_short": N_("The PIN must have at least {min} characters."),
    "pin.not_digits": N_("The PIN may contain digits only."),
    "pin.not_alphanumeric": N_("The PIN may contain letters and digits only."),
    "pin.not_ascii": N_(
        "The PIN may contain only the letters A-Z and a-z, the digits 0-9 and the special "
        "characters of a standard keyboard."
    ),
    "pin.missing_upper": N_("The PIN needs at least one upper-case letter."),
    "pin.missing_lower": N_("The PIN needs at least one lower-case letter."),
    "pin.missing_letter": N_("The PIN needs at least one letter."),
    "pin.missing_digit": N_("The PIN needs at least one digit."),
    "pin.missing_special": N_("The PIN needs at least one special character (such as $, # or !)."),
    "pin.too_few_categories": N_(
        "The PIN needs characters from at least {need} of these {of} kinds: "
        "letters, digits, special characters."
    ),
    "pin.trivial.repeated_char": N_(
        "The PIN repeats one character 3 or more times in a row (like aaa)."
    ),
    "pin.trivial.repeated_group": N_(
        "The PIN repeats a group of 2 to 4 characters (like abab or abcabc)."
    ),
    "pin.common": N_("This PIN is too common. Choose one that is harder to guess."),
    "pin.contains_barcode": N_("The PIN must not contain your card number."),
    "pin.contains_name": N_("The PIN must not contain your name."),
    "pin.contains_phone": N_("The PIN must not contain your phone number."),
    "pin.contains_id_number": N_("The PIN must not contain your identity document number."),
    "pin.unchanged": N_("The new PIN must be different from the current one."),
    "pin.same_as_default": N_("The new PIN must be different from the default PIN."),
    # New secrets, online password
    "password.empty": N_("Enter a password."),
    "password.control_character": N_("The password contains a control character."),
    "password.too_long": N_("The password must have at most {max} characters."),
    "password.too_short": N_("The password must have at least {min} characters."),
    "password.not_digits": N_("The password may contain digits only."),
    "password.not_alphanumeric": N_("The password may contain letters and digits only."),
    "password.not_ascii": N_(
        "The password may contain only the letters A-Z and a-z, the digits 0-9 and the "
        "special characters of a standard keyboard."
    ),
    "password.missing_upper": N_("The password needs at least one upper-case letter."),
    "password.missing_lower": N_("The password needs at least one lower-case letter."),
    "password.missing_letter": N_("The password needs at least one letter."),
    "password.missing_digit": N_("The password needs at least one digit."),
    "password.missing_special": N_(
        "The password needs at least one special character (such as $, # or !)."
    ),
    "password.too_few_categories": N_(
        "The password needs characters from at least {need} of these {of} kinds: "
        "letters, digits, special characters."
    ),
    "password.trivial.repeated_char": N_(
        "The password repeats one character 3 or more times in a row (like aaa)."
    ),
    "password.trivial.repeated_group": N_(
        "The password repeats a group of 2 to 4 characters (like abab or abcabc)."
    ),
    "password.common": N_("This password is too common. Choose one that is harder to guess."),
    "password.contains_barcode": N_("The password must not contain your card number."),
    "password.contains_name": N_("The password must not contain your name."),
    "password.contains_phone": N_("The password must not contain your phone number."),
    "password.contains_id_number": N_(
        "The password must not contain your identity document number."
    ),
    "password.unchanged": N_("The new password must be different from the current one."),
    "password.same_as_default": N_("The new password must be different from the default password."),
    # Typed secrets
    "secret.empty": N_("Enter your password or PIN."),
    "secret.too_long": N_("That is longer than any password or PIN ({max} characters at most)."),
    "secret.control_character": N_("The password or PIN contains a control character."),
    "secret.not_utf8": N_("The password or PIN is not UTF-8 text."),
    "secret.confirmation_mismatch": N_("The two new entries are not the same."),
    "change.code_sent": N_(
        "To confirm this first change, we have sent a code to your registered e-mail "
        "address. Enter it here within {minutes} minutes and save again."
    ),
    "change.code_invalid": N_(
        "This confirmation code is wrong, used or too old. Leave it empty and save again "
        "for a new one."
    ),
    "change.code_limit": N_(
        "Too many confirmation codes were sent. Please try again in {minutes} minutes."
    ),
    "change.code_no_email": N_(
        "This change must be confirmed with a code sent by e-mail, and no e-mail address "
        "is registered for your card. Please ask library staff."
    ),
    # Identifiers and registration data
    "argument.not_utf8": N_("The value of {name} is not UTF-8 text."),
    "identifier.empty": N_("Enter your library card number."),
    "identifier.too_long": N_("A card number has at most {max} characters."),
    "identifier.invalid_characters": N_(
        "A card number contains only letters, digits and the signs . _ @ -"
    ),
    "identifier.ambiguous": N_(
        "This card number is used by more than one library here. Choose the library first."
    ),
    "identifier.taken": N_("This card number is already registered."),
    "identifier.replaced": N_("This card has been replaced and can no longer be used."),
    "julac.unknown_prefix": N_(
        "A JULAC card number starts with a university prefix ({prefixes}), e.g. CU1234567."
    ),
    "julac.missing_number": N_(
        "A JULAC card number has your student or staff number after {prefix}."
    ),
    "julac.invalid_number": N_("The number after {prefix} is not a student or staff number."),
    "hkid.invalid_format": N_("An HKID number looks like A123456(3)."),
    "hkid.check_digit": N_("The check digit of this HKID number is wrong."),
    "mainland_id.invalid_format": N_(
        "A mainland identity card number has 17 digits and a final digit or X."
    ),
    "mainland_id.check_digit": N_(
        "The check digit of this mainland identity card number is wrong."
    ),
    "passport.invalid_format": N_(
        "A passport number has 5 to 20 letters and digits, with at least one digit."
    ),
    "id_number.invalid_characters": N_(
        "The identity document number contains a control character."
    ),
    "id_number.invalid": N_(
        "An identity document number has 5 to 24 letters, digits and brackets."
    ),
    "id_type.invalid": N_("The identity document type must be hkid, passport or mainland."),
    "phone.invalid": N_("A phone number has 8 to 15 digits."),
    "email.invalid": N_("This is not an e-mail address."),
    "name.invalid": N_(
        "A name has at most {max} characters: letters, spaces and the marks . , ' - ( )."
    ),
    "language.unknown": N_("Unknown language; choose one of: {known}."),
    "registered_on.in_future": N_("The registration date cannot be in the future."),
    "date.invalid": N_("A date is written YYYY-MM-DD."),
    "status.invalid": N_("The status must be active or pending."),
    # Defaults
    "default.missing_phone": N_(
        "This library's default needs the registered phone number (at least 4 digits)."
    ),
    "default.missing_id_number": N_(
        "This library's default needs the HKID, passport or mainland ID number."
    ),
    "default.missing_hkid": N_("This library's default needs the HKID number."),
    "default.missing_student_number": N_("This library's default needs the student number."),
    "student_number.invalid": N_("A student number here is {digits} digits."),
    "default.missing_staff_number": N_("This library's default needs the staff number."),
    "policy.none_in_force": N_("No credential policy is in force on {day}."),
    # Patrons, institutions, credentials, cards
    "institution.unknown": N_("Unknown library {institution}; this service has: {known}."),
    "patron.unknown_category": N_(
        "Unknown patron category {category}; the categories are: {known}."
    ),
    "patron.not_found": N_("No patron has this card number."),
    "patron.not_pending": N_("This registration is not pending (it is {status})."),
    "patron.already_barred": N_("This patron is barred already."),
    "patron.not_barred": N_("This patron is not barred (the status is {status})."),
    "credential.kind_not_used": N_("This library does not use a {kind}."),
    "credential.kind_required": N_("Say which credential: {kinds}."),
    "credential.not_for_channel": N_(
        "This library does not take the {credential} for signing in here ({channel})."
    ),
    "channel.not_offered": N_("This library does not offer sign-in on this channel ({channel})."),
    "credential.not_suspended": N_("This credential is not suspended."),
    "credential.transition_refused": N_("A {state} credential cannot be changed that way."),
    "credential.changed_concurrently": N_(
        "The secret was changed at the same time elsewhere. Sign in again and retry."
    ),
    "credential.already_set_up": N_("This credential has already been set up."),
    "credential.setup_not_offered": N_(
        "This library gives a default instead; sign in with it and change it."
    ),
    "card.same": N_("The new card number is the current one."),
    "card.not_current": N_("This card is no longer the current card."),
    "card.kind_mismatch": N_("The new card must be of the same kind as the old one."),
    # Registry feeds
    "import.duplicate_barcode": N_(
        "This barcode appears earlier in the file; this row is skipped."
    ),
    "import.missing_column": N_("The file has no {column} column."),
    "import.unknown_column": N_("Unknown column {column}; the columns are: {known}."),
    "import.not_utf8": N_("The file is not UTF-8 text."),
    "import.row_shape": N_("This row has {found} fields; the header has {expected}."),
    "import.empty_file": N_("The file has no header line."),
    "import.nul_byte": N_("This row contains a NUL byte."),
    "import.field_too_long": N_("A field of this row is longer than {max} characters."),
    # The JSON API's own answers
    "request.malformed": N_("The request body is not valid JSON in UTF-8."),
    "request.invalid": N_(
        "The request body must be a JSON object with the fields this operation expects."
    ),
    "field.invalid": N_("The field {field} is missing or not valid."),
    "field.unknown": N_("This operation has no field {field}."),
    "request.not_found": N_("This API has no such address."),
    "request.method_not_allowed": N_("This address does not accept the {method} method."),
    "request.too_large": N_("The request is too large."),
    "reset.requested": N_(
        "If the details match a library account, we have sent an e-mail to its registered "
        "address. Without a registered e-mail address, please ask at a library counter."
    ),
    "service.unavailable": N_("The service is unavailable for a moment. Please try again shortly."),
    "service.error": N_("Something went wrong on our side. Please try again later."),
    "service.busy": N_("The service is very busy just now. Please try again in a moment."),
    "directory.unavailable": N_(
        "Sign-on is unavailable: the campus directory is not answering. "
        "Please try again in a few minutes."
    ),
    "directory.none": N_("No category of {institution} signs in through a campus directory."),
    "directory.link_missing": N_(
        "Patrons of this category sign in through the campus directory: give their "
        "student or staff number."
    ),
    "directory.link_ambiguous": N_("Give a student number or a staff number, not both."),
    "credential.directory_managed": N_(
        "Your PIN is your university Portal PIN, which the library does not keep: change "
        "or reset it at the university's IT services ({url}). Nothing was changed here."
    ),
    "service.database_unavailable": N_(
        "The library's account database is not answering. Please try again in a few minutes."
    ),
    # The account behind the login (R28)
    "renewal.account_expired": N_("Your library account has expired, so loans cannot be renewed."),
    "renewal.account_barred": N_("Your library account is barred, so loans cannot be renewed."),
    "renewal.account_pending": N_("Your registration is not complete yet."),
    "renewal.fines_block": N_(
        "Your fines have reached the limit. Please pay them before renewing."
    ),
    "renewal.overdue_block": N_("Please return your overdue items before renewing."),
    "renewal.max_renewals": N_("This item has been renewed the most times allowed ({max})."),
    "renewal.reserved": N_("Another reader has reserved this item, so it cannot be renewed."),
    "checkout.account_expired": N_("Your library account has expired."),
    "checkout.account_barred": N_("Your library account is barred."),
    "checkout.account_pending": N_("Your registration is not complete yet."),
    "checkout.fines_block": N_("Your fines have reached the limit. Please pay them first."),
    "checkout.overdue_block": N_("Please return your overdue items first."),
    "checkout.too_many_items": N_("You have borrowed the most items allowed ({max})."),
    "checkout.on_loan": N_("This item is already on loan."),
    "checkout.held_for_another": N_("This item is reserved for another reader."),
    "checkout.item_lost": N_("This item is recorded as lost. Please ask at the counter."),
    "checkin.not_on_loan": N_("This item is not on loan."),
    "hold.account_expired": N_("Your library account has expired, so you cannot reserve."),
    "hold.account_barred": N_("Your library account is barred, so you cannot reserve."),
    "hold.account_pending": N_("Your registration is not complete yet."),
    "hold.fines_block": N_("Your fines have reached the limit. Please pay them before reserving."),
    "hold.unknown_pickup": N_("Choose one of the libraries listed for collection."),
    "hold.duplicate": N_("You have already reserved this title."),
    "hold.already_on_loan": N_("You have this title on loan already."),
    "hold.too_many": N_("You have the most reservations allowed ({max})."),
    "hold.not_found": N_("There is no such reservation on your account."),
    "hold.not_active": N_("This reservation has already ended."),
    "loan.not_found": N_("There is no such loan on your account."),
    "title.not_found": N_("There is no such title in the catalogue."),
    "item.not_found": N_("There is no item with this barcode."),
    "item.taken": N_("An item with this barcode exists already."),
    "item.unknown_library": N_("Unknown library; this institution has: {known}."),
    "calendar.bad_period": N_("A closure cannot end before it starts."),
    "calendar.nothing_to_resume": N_("No closure is open, so there is nothing to resume."),
    "fines.bad_amount": N_("A payment is a positive amount in cents."),
    "fines.nothing_owed": N_("Nothing is owed."),
    "fines.more_than_owed": N_("That is more than is owed ({owed} cents)."),
    "request.title_missing": N_("Enter the title."),
    "request.invalid_characters": N_("The {field} contains control characters or markup (< or >)."),
    "request.too_long": N_("The {field} has at most {max} characters."),
    "request.not_offered": N_("This library does not take such requests online."),
    "patron_request.not_found": N_("There is no such request."),
    # Self-service terminals (SPEC 4.5): their accounts, and what their screens show
    "terminal.login_invalid": N_(
        "A terminal login has 1 to 32 letters, digits, dots, dashes or underscores, "
        "starting with a letter or digit."
    ),
    "terminal.location_invalid": N_(
        "A terminal location has at most {max} characters, without control characters, | or markup."
    ),
    "terminal.password_too_short": N_("A terminal password needs at least {min} characters."),
    "terminal.password_too_long": N_("A terminal password has at most {max} characters."),
    "terminal.password_control_character": N_(
        "The terminal password contains a control character."
    ),
    "terminal.password_separator": N_("A terminal password must not contain |."),
    "terminal.password_not_encodable": N_(
        "The terminal password has characters that {encoding} cannot carry."
    ),
    "terminal.login_taken": N_("A terminal with this login exists already."),
    "terminal.not_found": N_("There is no terminal with this login."),
    "terminal.already_disabled": N_("This terminal is disabled already."),
    "terminal.already_enabled": N_("This terminal is enabled already."),
    "terminal.channel_invalid": N_("A terminal counts as one of these channels: {allowed}."),
    # The telephone line's answers to the platforms (docs/telephone.md)
    "call.keys_invalid": N_(
        "The keys are not keypad keys (0 to 9, * and #), or there are more than {max}."
    ),
    "call.id_invalid": N_("The call id is missing or not valid."),
    "call.request_invalid": N_(
        "The request is not valid form data in UTF-8, or gives a parameter twice."
    ),
    "call.request_too_large": N_("The request is too large."),
    "call.signature_invalid": N_("The request's signature is missing or wrong."),
    "call.signature_stale": N_("The request's signature is too old, or from the future."),
    "call.unknown": N_(
        "There is no such call going on, or this turn of it has been answered already."
    ),
    "call.replayed": N_("This call has been started already."),
    "call.institution_unknown": N_("There is no such library."),
    "call.event_invalid": N_("The event is not one the telephone line knows."),
    "call.event_unexpected": N_("The call does not wait for this event now."),
    "call.not_found": N_("The telephone line has no such address."),
    "telephone.platform_not_configured": N_("This telephony platform is not configured here."),
    # Sign-on for the library's services (R19)
    "client.name_invalid": N_(
        "A service name has 1 to {max} characters, without control characters or markup."
    ),
    "client.uri_invalid": N_(
        "Not a usable address: {uri}. Give an absolute https address without a fragment."
    ),
    "client.too_many_uris": N_("A service has at most {max} addresses of each kind."),
    "client.network_invalid": N_("Not an address or network: {network}."),
    "client.redirect_uri_missing": N_(
        "An OpenID Connect or CAS service needs at least one --redirect-uri."
    ),
    "client.allow_from_missing": N_("A proxy needs at least one --allow-from address."),
    "client.proxy_public": N_("A proxy must have a shared secret: it cannot be public."),
    "client.id_taken": N_("A service with this client id exists already."),
    "client.not_found": N_("There is no service with this client id."),
    "client.already_disabled": N_("This service is disabled already."),
    "client.no_secret": N_("This service has no secret to rotate."),
    "client.protocol_invalid": N_("Choose the protocol: oidc, cas or proxy."),
    "proxy.not_allowed": N_("This proxy is not allowed to check patrons."),
    "oidc.not_set_up": N_("OpenID Connect has no signing keys: run patronauth init."),
    "oidc.unknown_client": N_("This service is not registered with the library."),
    "oidc.redirect_uri_unregistered": N_(
        "This service asked to return to an address it has not registered. Nothing was sent to it."
    ),
    "oidc.bad_request": N_("The sign-in request of this service is not valid: {error}."),
    "cas.INVALID_TICKET": N_("The ticket is not valid: unknown, used already or expired."),
    "cas.INVALID_SERVICE": N_("The ticket was issued to another service."),
    "cas.INVALID_REQUEST": N_("The request lacks the ticket or the service."),
    "cas.UNAUTHORIZED_SERVICE": N_("This service is not registered with the library."),
    "cas.UNAUTHORIZED_SERVICE_PROXY": N_("Proxy tickets are not offered here."),
    "sip2.patron_unknown": N_("This card is not recognised. Please ask at the counter."),
    "sip2.pin_wrong": N_("The PIN is not correct."),
    "sip2.pin_required": N_("Please enter your PIN."),
    "sip2.blocked": N_(
        "Too many wrong PINs. This card is blocked; try again in {minutes} minutes."
    ),
    "sip2.throttled": N_("Too many attempts at this terminal. Try again in {seconds} seconds."),
    "sip2.pin_suspended": N_(
        "Your PIN is suspended after too many wrong attempts. Please ask at the counter."
    ),
    "sip2.account_barred": N_("Your library account is barred. Please ask at the counter."),
    "sip2.account_not_provisioned": N_(
        "Your library account is not ready yet: 1-2 days after your card is issued. "
        "Please ask at the counter."
    ),
    "sip2.account_pending": N_("Your registration is not complete yet. Please ask at the counter."),
    "sip2.pin_change_required": N_(
        "Please choose a new PIN in My Account on the library website first."
    ),
    "sip2.pin_temporary_expired": N_(
        "Your temporary PIN has expired. Please ask at the counter for a new one."
    ),
    # Sessions and one-time links
    "session.missing": N_("Please sign in first."),
    "session.invalid": N_("You are signed out. Please sign in again."),
    "session.not_issued": N_("This sign-in was not issued by this service. Please sign in."),
    "session.expired": N_("Your session has timed out. Please sign in again."),
    "session.must_change": N_("Please choose a new {credential} before going on."),
    "link.invalid": N_("This link has been used or has expired. Please ask for a new one."),
    "credential.no_default": N_(
        "There is no default to return to. Please ask at a library counter."
    ),
    # The fields of the web pages' forms
    "form.secret_empty": N_("Enter your {credential}."),
    "form.current_empty": N_("Enter your current {credential}."),
    "form.current_wrong": N_("Your current {credential} is not correct."),
    "form.new_empty": N_("Enter a new {credential}."),
    "form.confirm_empty": N_("Enter the new {credential} again."),
    "email.empty": N_("Enter your e-mail address."),
    # Sign-in outcomes, as every channel shows them
    "login.ok": N_("Signed in."),
    "login.must_change": N_("Signed in. You must choose a new {credential} before going on."),
    "login.invalid": N_("The card number or the {credential} is not correct."),
    "login.blocked": N_(
        "Too many attempts with this card number. It is blocked; try again in {seconds} seconds."
    ),
    "login.throttled": N_("Too many attempts from here. Try again in {seconds} seconds."),
    "login.suspended": N_(
        "This {credential} is suspended after too many wrong attempts. It must be reset. {contact}"
    ),
    "login.pending_registration": N_(
        "Your library account is not ready: your registration is not complete. {contact}"
    ),
    "login.barred": N_("This library account is barred. {contact}"),
    "login.change_required": N_(
        "Please choose a new {credential} in My Account on the library website first."
    ),
    "login.temporary_expired": N_(
        "This temporary {credential} has been used or has expired. Please ask for a new one."
    ),
    "login.not_provisioned": N_(
        "Your library account is not ready yet. It will be ready 1-2 days after you get "
        "your student or staff card from the Registry. If you still cannot sign in several "
        "days after your card was issued, please approach counter staff for help."
    ),
    # The staff console and staff accounts
    "staff.login_invalid": N_(
        "A staff login has 2 to 32 characters: lower-case letters, digits, . _ or -, "
        "beginning with a letter."
    ),
    "staff.name_invalid": N_("A name has 1 to {max} characters and no control characters."),
    "staff.role_invalid": N_("The role must be counter, supervisor or admin."),
    "staff.institution_missing": N_("Name at least one library the staff member works for."),
    "staff.login_taken": N_("There is a staff account with the login {login} already."),
    "staff.unknown": N_("There is no staff account with the login {login}."),
    "staff.forbidden": N_("Your role does not allow this."),
    "staff.enrolment_invalid": N_(
        "This enrolment link has been used or has expired. Please ask an administrator "
        "for a new one."
    ),
    "staff.totp_invalid": N_("The code is not correct. Enter the current code of your app."),
    "staff.totp_replayed": N_("This code has been used already. Wait for the next code."),
    "staff.webauthn_invalid": N_("The security key's answer could not be verified."),
    "staff.webauthn_replayed": N_(
        "The security key's signature counter did not move forward: the key may have been "
        "copied. The attempt is refused and recorded."
    ),
    "staff.webauthn_none": N_("No security key is registered for this account."),
    "staff.webauthn_taken": N_("This security key is registered already."),
    "staff.blocked": N_(
        "Too many wrong attempts for this staff account. Try again in {seconds} seconds."
    ),
    "staff.sign_in_failed": N_("The login or the password is not correct."),
    "staff.session_missing": N_("Please sign in to the staff console."),
    "staff.session_ended": N_("You are signed out of the staff console. Please sign in again."),
    "staff.session_expired": N_(
        "Your staff session has reached its time limit. Please sign in again."
    ),
    "staff.session_idle": N_(
        "Your staff session ended after 15 minutes without use. Please sign in again."
    ),
    "staff.recheck_needed": N_("Confirm your second factor again before this action."),
    "staff.factor_offer_stale": N_("This page is out of date. Open it again and start over."),
    "staff.factor_unknown": N_("There is no such second factor on your account."),
    "staff.last_factor": N_(
        "This is your only second factor. Add another one before you remove it."
    ),
    "staff.reason_missing": N_("Give the reason for this action."),
    "staff.reason_invalid": N_("A reason has at most {max} characters and no control characters."),
    "staff.search_invalid": N_(
        "Enter a card number, a name, an e-mail address or a phone number (at most 100 characters)."
    ),
    "staff.network": N_("The staff console cannot be reached from this network."),
    "staff.page_not_found": N_("There is no such page in the staff console."),
    "staff.signed_out": N_("You have signed out of the staff console."),
    "staff.form_expired": N_(
        "This form has expired or did not come from the staff console. Open the page again."
    ),
}

CREDENTIAL_NAMES: dict[str, str] = {
    "pin": N_("PIN"),
    "password": N_("password"),
}

# The fields of a recommendation, an interlibrary-loan request or a catalogue search, as
# the `{field}` of their messages names them.
FIELD_NAMES: dict[str, str] = {
    "title": N_("title"),
    "author": N_("author"),
    "note": N_("note"),
    "q": N_("search text"),
}

NOTICES: dict[str, tuple[str, str]] = {
    "credential_changed": (
        N_("Your library {credential} was changed"),
        N_(
            "Your {credential} for {library} was changed on {when}.\n\n"
            "If you did not do this, contact the library at once: {contact}"
        ),
    ),
    "credential_reset": (
        N_("Your library {credential} was reset"),
        N_(
            "Your {credential} for {library} was reset by library staff on {when}.\n\n"
            "If you did not ask for this, contact the library at once: {contact}"
        ),
    ),
    "temporary_secret": (
        N_("Your temporary library {credential}"),
        N_(
            "Your temporary {credential} for {library}, library card {card}, is: {secret}\n\n"
            "It works once and until {expires}. After signing in you will choose a new "
            "{credential}. Your current {credential} keeps working until then.\n\n"
            "If you did not ask for this, you can ignore this message."
        ),
    ),
    "temporary_secrets": (
        N_("Your temporary library {credential}s"),
        N_(
            "Several library cards of {library} are registered with this address. Here is "
            "a temporary {credential} for each card; sign in with each card's own:\n\n"
            "{cards}\n\n"
            "Each works once and until {expires}. After signing in you will choose a new "
            "{credential}. Your current {credential}s keep working until then.\n\n"
            "If you did not ask for this, you can ignore this message."
        ),
    ),
    "reset_link": (
        N_("Reset your library {credential}"),
        N_(
            "To return your {credential} for {library}, library card {card}, to its "
            "default, open this link: {link}\n\n"
            "It works once and until {expires}. After signing in with the default you will "
            "choose a new {credential}.\n\n"
            "If you did not ask for this, you can ignore this message: nothing changes."
        ),
    ),
    "reset_links": (
        N_("Reset your library {credential}s"),
        N_(
            "Several library cards of {library} are registered with this address. Here is "
            "a link for each card; each returns only its own card's {credential} to its "
            "default:\n\n"
            "{cards}\n\n"
            "Each works once and until {expires}. After signing in with the default you "
            "will choose a new {credential}.\n\n"
            "If you did not ask for this, you can ignore this message: nothing changes."
        ),
    ),
    "change_code": (
        N_("Your library confirmation code"),
        N_(
            "Your code to confirm the new {credential} for {library} is: {code}\n\n"
            "It works once, for {minutes} minutes.\n\n"
            "If you are not choosing a new {credential}, someone who knows your card's "
            "default is trying to: contact the library at once: {contact}"
        ),
    ),
    "setup_link": (
        N_("Set up your library {credential}"),
        N_(
            "To set up your {credential} for {library}, library card {card}, open this "
            "link: {link}\n\n"
            "It works once and until {expires}.\n\n"
            "If you did not ask for this, you can ignore this message."
        ),
    ),
    "setup_links": (
        N_("Set up your library {credential}s"),
        N_(
            "Several library cards of {library} are registered with this address and have "
            "no {credential} yet. Here is a link for each card; each sets up only its own "
            "card's {credential}:\n\n"
            "{cards}\n\n"
            "Each works once and until {expires}.\n\n"
            "If you did not ask for this, you can ignore this message."
        ),
    ),
}


# The messages that count something: the singular and the plural, and the parameter
# that chooses between them ("1 minute", "2 minutes"; Chinese has one form).
PLURALS: dict[str, tuple[tuple[str, str], str]] = {
    "login.blocked": (
        ngettext(
            "Too many attempts with this card number. It is blocked; try again in {seconds} "
            "second.",
            "Too many attempts with this card number. It is blocked; try again in {seconds} "
            "seconds.",
        ),
        "seconds",
    ),
    "login.throttled": (
        ngettext(
            "Too many attempts from here. Try again in {seconds} second.",
            "Too many attempts from here. Try again in {seconds} seconds.",
        ),
        "seconds",
    ),
    "sip2.blocked": (
        ngettext(
            "Too many wrong PINs. This card is blocked; try again in {minutes} minute.",
            "Too many wrong PINs. This card is blocked; try again in {minutes} minutes.",
        ),
        "minutes",
    ),
    "sip2.throttled": (
        ngettext(
            "Too many attempts at this terminal. Try again in {seconds} second.",
            "Too many attempts at this terminal. Try again in {seconds} seconds.",
        ),
        "seconds",
    ),
}

# What a message says for a credential when no library names it.
ANY_CREDENTIAL = N_("password or PIN")
