"""Staff and patron help without a patron record: policy checks and default previews."""

from __future__ import annotations

from datetime import date

from patronauth.domain.credentials import CredentialKind
from patronauth.domain.defaults import DefaultRule, RegistrationData, derive
from patronauth.domain.errors import Violation
from patronauth.domain.policies import check, normalise_secret
from patronauth.services.interfaces import Ports


def check_secret(
    ports: Ports,
    institution: str,
    kind: CredentialKind,
    secret: str,
    *,
    category: str | None = None,
    on: date | None = None,
) -> list[Violation]:
    """Every rule the secret breaks under the policy in force `on` (default: today)."""
    profile = ports.profiles.get(institution)
    settings = profile.credential(category, kind)
    policy = settings.policy_on(on or ports.clock.now().date())
    return check(normalise_secret(secret), policy, blocklists=ports.blocklists)


def preview_default(
    ports: Ports,
    institution: str,
    kind: CredentialKind,
    data: RegistrationData,
    *,
    category: str | None = None,
    registered_on: date | None = None,
) -> tuple[DefaultRule, str | None]:
    """The default a patron with these data would get; nothing is stored (R4, R10, R16)."""
    profile = ports.profiles.get(institution)
    settings = profile.credential(category, kind)
    rule = settings.default_rule_for(registered_on or ports.clock.now().date())
    return rule, derive(rule, data)
