"""Sign-in checks and counter work: login, unlock, card, migrate, audit, policy, default."""

from __future__ import annotations

import sys

import click

from patronauth.cli.common import (
    EXIT_REFUSED,
    auth_params,
    command,
    ctx,
    emit,
    parse_date,
    read_secrets,
    reason_option,
    recorded_as,
    render,
)
from patronauth.domain.credentials import Channel, CredentialKind
from patronauth.domain.defaults import RegistrationData
from patronauth.presentation import i18n
from patronauth.services.authenticate import Attempt
from patronauth.services.policy import check_secret, preview_default
from patronauth.services.signin import sign_in
from patronauth.services.staff import audit_trail, force_change, replace_card
from patronauth.services.staff import unlock as unlock_patron

KINDS = click.Choice([k.value for k in CredentialKind])
PATRON_CHANNELS = click.Choice(
    [Channel.WEB.value, Channel.APP.value, Channel.SIP2.value, Channel.TELEPHONE.value]
)


@click.command()
@click.argument("ident")
@click.option("--channel", type=PATRON_CHANNELS, required=True)
@click.option("--credential", "kind", type=KINDS, help="Override the channel's usual credential.")
@click.option("--institution", help="Needed only when two libraries share the identifier.")
@command
def login(ident: str, channel: str, kind: str | None, institution: str | None) -> None:
    """Try the secret on standard input as a sign-in on CHANNEL.

    Prints ok, ok must-change, invalid, blocked <seconds>, throttled <seconds>,
    suspended, pending-registration, barred, change-required or temporary-expired;
    exit status 0 only when signed in.
    """
    c = ctx()
    (secret,) = read_secrets(1, ["Password or PIN: "])
    result = sign_in(
        c.app.ports,
        Attempt(
            identifier=ident,
            secret=secret,
            channel=Channel(channel),
            credential=CredentialKind(kind) if kind else None,
            source="cli",
            institution=institution,
        ),
    ).result
    line = result.outcome.value + (f" {result.retry_after}" if result.retry_after else "")
    text = i18n.message(result.outcome.reason, c.language, **auth_params(result))
    data: dict[str, object] = {
        "outcome": result.outcome.value,
        "retry_after": result.retry_after,
        "credential": result.kind.value if result.kind else None,
        "message": text,
    }
    if not result.signed_in:
        # The refusal shape every other command uses, beside the outcome.
        reason = result.outcome.reason
        data |= {"error": reason, "violations": [{"code": reason, "message": text}]}
    emit(data, line)
    if not c.json:
        click.echo(text, err=True)
    if not result.signed_in:
        sys.exit(EXIT_REFUSED)


@click.command()
@click.argument("ident")
@click.option("--institution")
@reason_option
@command
def unlock(ident: str, institution: str | None, reason: str) -> None:
    """Staff: lift a block on IDENT and any suspension of its patron's credentials."""
    c = ctx()
    result = unlock_patron(
        c.app.ports, ident, staff=c.staff, institution=institution, reason=reason
    )
    recorded_as()
    emit(
        {"unblocked": list(result.unblocked), "unsuspended": [k.value for k in result.unsuspended]},
        "unlocked"
        + (
            f"; unsuspended: {', '.join(k.value for k in result.unsuspended)}"
            if result.unsuspended
            else ""
        ),
    )


@click.group()
def card() -> None:
    """Library cards."""


@card.command("replace")
@click.argument("old")
@click.argument("new")
@click.option("--institution")
@reason_option
@command
def replace(old: str, new: str, institution: str | None, reason: str) -> None:
    """The OLD barcode stops signing in; NEW carries the same credentials (R25)."""
    c = ctx()
    identifier = replace_card(
        c.app.ports, old, new, staff=c.staff, institution=institution, reason=reason
    )
    recorded_as()
    emit({"current": identifier.value}, f"card replaced; current card: {identifier.value}")


@click.group()
def migrate() -> None:
    """System migrations."""


@migrate.command("force-change")
@click.option("--institution", required=True)
@click.option(
    "--category", "categories", multiple=True, help="Repeat for several; all when absent."
)
@click.option("--from", "go_live", required=True, help="The go-live date, YYYY-MM-DD.")
@reason_option
@command
def force_change_command(
    institution: str, categories: tuple[str, ...], go_live: str, reason: str
) -> None:
    """Go-live (R26): secrets set before the date must be changed at the next sign-in."""
    c = ctx()
    day = parse_date(go_live, "--from")
    assert day is not None
    result = force_change(
        c.app.ports,
        institution,
        day,
        categories=list(categories) or None,
        staff=c.staff,
        reason=reason,
    )
    recorded_as()
    emit(
        {
            "institution": result.institution,
            "categories": list(result.categories) if result.categories else None,
            "from": result.go_live.isoformat(),
        },
        f"{institution}: secrets set before {day.isoformat()} must be changed at the next sign-in"
        + (f" (categories: {', '.join(categories)})" if categories else ""),
    )


@click.command()
@click.argument("ident", required=False)
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.option("--institution")
@command
def audit(ident: str | None, limit: int, institution: str | None) -> None:
    """The audit trail, newest first: of IDENT and its patron, or of everything."""
    c = ctx()
    events = audit_trail(c.app.ports, ident, limit=limit, institution=institution)
    rows = [
        {
            "id": stored.id,
            "at": stored.event.at.isoformat(timespec="seconds"),
            "action": stored.event.action,
            "outcome": stored.event.outcome,
            "actor": stored.event.actor,
            "channel": stored.event.channel,
            "source": stored.event.source,
            "institution": stored.event.institution,
            "identifier": stored.event.identifier,
            "detail": dict(stored.event.detail),
        }
        for stored in events
    ]
    text = "\n".join(
        f"{r['at']}  {r['action']:<22} {r['outcome']:<20} {r['channel']:<9} "
        f"{r['identifier'] or '-':<14} {r['actor']}"
        for r in rows
    )
    emit({"events": rows}, text or "no events")


@click.group()
def policy() -> None:
    """Credential policies."""


@policy.command("check")
@click.option("--institution", required=True)
@click.option("--credential", "kind", type=KINDS, required=True)
@click.option("--category")
@click.option("--on", "on", help="The policy in force on this date (YYYY-MM-DD); default today.")
@command
def check(institution: str, kind: str, category: str | None, on: str | None) -> None:
    """Check the secret on standard input; one `code: message` line per violation."""
    c = ctx()
    day = parse_date(on, "--on")
    (secret,) = read_secrets(1, ["Secret to check: "])
    violations = check_secret(
        c.app.ports, institution, CredentialKind(kind), secret, category=category, on=day
    )
    items = [{"code": v.code, "message": render(v)} for v in violations]
    refusal = {"error": items[0]["code"], "message": items[0]["message"]} if items else {}
    emit(
        {"ok": not violations, "violations": items, **refusal},
        "\n".join(f"{i['code']}: {i['message']}" for i in items) or "ok",
    )
    if violations:
        sys.exit(EXIT_REFUSED)


@click.group()
def default() -> None:
    """Default credentials."""


@default.command("show")
@click.option("--institution", required=True)
@click.option("--credential", "kind", type=KINDS, help="Default: the library's only or web one.")
@click.option("--category")
@click.option("--registered-on", help="YYYY-MM-DD; default today.")
@click.option("--phone")
@click.option("--id-number")
@click.option("--student-number")
@click.option("--staff-number")
@command
def show_default(
    institution: str,
    kind: str | None,
    category: str | None,
    registered_on: str | None,
    phone: str | None,
    id_number: str | None,
    student_number: str | None,
    staff_number: str | None,
) -> None:
    """Print the default a patron with these data would get (nothing is stored)."""
    c = ctx()
    profile = c.app.ports.profiles.get(institution)
    credential_kind = CredentialKind(kind) if kind else profile.kind_for(Channel.WEB)
    rule, value = preview_default(
        c.app.ports,
        institution,
        credential_kind,
        RegistrationData(
            phone=phone,
            id_number=id_number,
            student_number=student_number,
            staff_number=staff_number,
        ),
        category=category,
        registered_on=parse_date(registered_on, "--registered-on"),
    )
    emit(
        {"credential": credential_kind.value, "rule": rule.kind.value, "default": value},
        value if value is not None else "no default: the patron sets it up (first-time set-up)",
    )
