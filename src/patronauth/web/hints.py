"""The messages the live policy hints show, in the page's language (static/hints.js).

The hints come from the page's own policy check (bound to the session or the e-mailed
link, web/views/policy.py); the page carries the catalogue's message for every rule of
the credential so that they read in the page's language whatever the check answers in.
"""

from __future__ import annotations

from patronauth.domain.policies import CredentialPolicy
from patronauth.presentation.i18n import message
from patronauth.presentation.i18n.messages import MESSAGES


def hint_messages(policy: CredentialPolicy, language: str) -> dict[str, str]:
    prefix = f"{policy.kind.value}."
    params: dict[str, str | int] = {
        "min": policy.min_length,
        "max": policy.max_length,
        "need": policy.require_categories,
        "of": len(policy.categories),
    }
    return {code: message(code, language, **params) for code in MESSAGES if code.startswith(prefix)}
