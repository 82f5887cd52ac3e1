"""Staff and patron help without a patron record: policy checks and default previews."""

from __future__ import annotations

from datetime import date

from patronauth.domain.credentials import CredentialKind
from patronauth.domain.defaults import DefaultRule, RegistrationData, derive
from patronauth.domain.errors import NotFound, Refused, Violation
from patronauth.domain.identifiers import base_form, id_number_text, normalise_phone
from patronauth.domain.policies import check, normalise_secret
from patronauth.domain.sessions import Session, may_reach
from patronauth.services.credentials import secret_context
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
    policy = settings.policy_on(on or profile.day_of(ports.clock.now()))
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
    """The default a patron with these data would get; nothing is stored (R4, R10, R16).

    The data are checked as a registration would check them, except the HKID check
    digit: the rule works on the text as the seeds show it (`Z123456(7)` gives `Z12345`).
    """
    profile = ports.profiles.get(institution)
    settings = profile.credential(category, kind)
    rule = settings.default_rule_for(registered_on or profile.day_of(ports.clock.now()))
    checked = RegistrationData(
        phone=normalise_phone(data.phone) if data.phone else None,
        id_number=id_number_text(data.id_number) if data.id_number else None,
        student_number=base_form(data.student_number) if data.student_number else None,
        staff_number=base_form(data.staff_number) if data.staff_number else None,
    )
    return rule, derive(rule, checked)


def check_own_secret(
    ports: Ports, session: Session, kind: CredentialKind, secret: str
) -> list[Violation]:
    """The live hints of a signed-in patron's change (S6): every rule the new secret
    breaks as the change itself checks it, with the patron's own words (card numbers,
    name, phone and ID number) and their default. Only the current secret, not known
    while typing, is left to the change."""
    if not may_reach(session, change_of=kind):
        raise Refused.of("session.must_change")
    with ports.read() as uow:
        patron = uow.patrons.get(session.patron_id)
        if patron is None:
            raise NotFound.of("patron.not_found")
        profile = ports.profiles.get(patron.institution)
        if kind not in profile.kinds:
            raise NotFound.of("credential.kind_not_used", kind=kind.value)
        context = secret_context(ports.hasher, patron, uow.patrons.identifiers(patron.id))
        credential = uow.credentials.get(patron.id, kind)
    # The library's day, as the change itself takes it (not the UTC date).
    policy = profile.credential(patron.category, kind).policy_on(profile.day_of(ports.clock.now()))
    new = normalise_secret(secret)
    violations = check(new, policy, context=context, blocklists=ports.blocklists)
    default = credential.default_digest if credential is not None else None
    if not violations and default and ports.hasher.keyed_matches(default, new):
        violations.append(Violation(policy.code("same_as_default")))
    return violations
