"""Every spoken text of the telephone line, by message key, in English (the gettext ids).

Cantonese (`yue`, written in Traditional Chinese) and Putonghua (`cmn`, in Simplified
Chinese) are the catalogues `locales/<language>/LC_MESSAGES/telephone.po`, compiled in
memory when first needed. Texts are written to be heard: short sentences, numbers as
words a speech engine reads well, no symbols it would spell out. Placeholders in braces
are filled from the dialogue's parameters (dates in the caller's language).
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Marks a message for extraction; translation happens when it is spoken."""
    return message


PROMPTS: dict[str, str] = {
    "welcome": N_("Welcome to the library's telephone renewal service."),
    "language.choose": N_("For English, press 3."),
    "not_offered": N_(
        "This library does not offer a telephone renewal service. Thank you for calling."
    ),
    "card.enter": N_("Please key in your library card number, then press the hash key."),
    "card.letters_position": N_(
        "For a letter, press the star key, then the letter's place in the alphabet as two "
        "digits: A is zero one, B is zero two, and Z is two six."
    ),
    "card.letters_digits": N_("Leave out any letters, and key in the digits only."),
    "pin.enter": N_("Please key in your PIN, then press the hash key."),
    "entry.invalid": N_("Sorry, that entry is not valid."),
    "entry.none": N_("Sorry, no keys were pressed."),
    "too_many_tries": N_(
        "Sorry, we could not complete your request. Please try again later, or ask at a "
        "library counter."
    ),
    "goodbye": N_("Thank you for calling. Goodbye."),
    "signin.ok": N_("Thank you."),
    "signin.invalid": N_("The card number or PIN is not correct."),
    "signin.blocked": N_(
        "There have been too many wrong attempts with this card. Please call again in "
        "{minutes} minutes."
    ),
    "signin.suspended": N_(
        "This PIN has been suspended after too many wrong attempts. Please ask at a library "
        "counter."
    ),
    "signin.barred": N_("This library account cannot be used. Please contact the library."),
    "signin.pending_registration": N_(
        "Your registration is not complete yet. Please contact the library."
    ),
    "signin.change_required": N_(
        "Your PIN must be changed before it can be used by telephone. Please change it in "
        "My Account, or at a library counter."
    ),
    "signin.temporary_expired": N_("Your temporary PIN has expired. Please ask for a new one."),
    "service.busy": N_("Sorry, the service is busy. Please call again later."),
    "menu": N_(
        "To hear your loans, press 1. To renew all your loans, press 2. To renew one loan, "
        "press 3. To hear your fines, press 4. To hear that again, press 0. To end the "
        "call, press 9."
    ),
    "loans.none": N_("You have no items on loan."),
    "loans.count": N_("Items on loan: {count}."),
    "loans.due": N_("Item {position} is due on {date}."),
    "loans.overdue": N_("Item {position} is overdue. It was due on {date}."),
    "renew.which": N_(
        "Please key in the item number you heard in your list of loans, then press the hash key."
    ),
    "renew.summary": N_("Items renewed: {renewed}. Items not renewed: {refused}."),
    "renew.renewed": N_("Item {position} is renewed. It is now due on {date}."),
    "renew.refused": N_("Item {position} cannot be renewed."),
    "renew.no_such_item": N_("There is no item {position} on your account."),
    "fines.none": N_("You have no fines to pay."),
    "fines.owed": N_("You have fines of {amount} to pay."),
    # Why a renewal is refused: the reason codes of the renewal use case.
    "renewal.account_expired": N_("Your library account has expired."),
    "renewal.account_barred": N_("Your library account is barred."),
    "renewal.account_pending": N_("Your registration is not complete yet."),
    "renewal.fines_block": N_("Your fines have reached the limit. Please pay them first."),
    "renewal.overdue_block": N_("Please return your overdue items first."),
    "renewal.max_renewals": N_("It has been renewed the most times allowed."),
    "renewal.reserved": N_("Another reader has reserved it."),
    "renewal.refused": N_("Please ask at a library counter."),
}
