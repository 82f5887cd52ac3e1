"""`patronauth credential ...`: change, staff reset, first-time set-up."""

from __future__ import annotations

import click

from patronauth.cli.common import (
    auth_params,
    command,
    ctx,
    emit,
    read_secrets,
    reason_option,
    recorded_as,
    refuse,
)
from patronauth.domain.credentials import Channel, CredentialKind
from patronauth.services.credentials import (
    AttemptRefused,
    ChangeRequest,
    change_secret,
    reset_credential,
    set_up_credential,
)

KINDS = click.Choice([k.value for k in CredentialKind])


@click.group()
def credential() -> None:
    """Change, reset or set up a patron's password or PIN."""


@credential.command("change")
@click.argument("ident")
@click.option("--credential", "kind", type=KINDS, help="password or pin (needed where both exist).")
@click.option(
    "--channel",
    type=click.Choice([Channel.WEB.value, Channel.APP.value, Channel.STAFF.value]),
    default=Channel.STAFF.value,
    show_default=True,
    help="Where the patron is making the change.",
)
@click.option("--institution")
@click.option(
    "--with-code",
    is_flag=True,
    help="A fourth line on standard input: the code e-mailed to confirm a first change "
    "of a default (where the library asks for one).",
)
@command
def change(
    ident: str, kind: str | None, channel: str, institution: str | None, with_code: bool
) -> None:
    """Change a secret. Standard input: current, new, new again (one per line).

    The current secret counts as a sign-in attempt (lockout included).
    """
    c = ctx()
    prompts = ["Current: ", "New: ", "New again: ", "Code from the e-mail: "]
    current, new, confirm, *code = read_secrets(4 if with_code else 3, prompts)
    try:
        changed = change_secret(
            c.app.ports,
            ChangeRequest(
                identifier=ident,
                current=current,
                new=new,
                confirm=confirm,
                channel=Channel(channel),
                kind=CredentialKind(kind) if kind else None,
                source="cli",
                institution=institution,
                code=code[0] if code else None,
            ),
        )
    except AttemptRefused as refused:
        refuse(refused, **auth_params(refused.result))
    emit({"changed": True, "signed_in_as": changed.outcome.value}, "changed")


@credential.command("reset")
@click.argument("ident")
@click.option("--credential", "kind", type=KINDS)
@click.option("--institution")
@reason_option
@command
def reset(ident: str, kind: str | None, institution: str | None, reason: str) -> None:
    """Staff: back to the default, or a temporary secret where no default exists.

    A temporary secret is printed once, to hand to the patron; it expires and must be
    changed at the first sign-in. No current secret is ever shown.
    """
    c = ctx()
    result = reset_credential(
        c.app.ports,
        ident,
        CredentialKind(kind) if kind else None,
        staff=c.staff,
        institution=institution,
        reason=reason,
    )
    recorded_as()
    data = {
        "credential": result.kind.value,
        "state": result.state.value,
        "temporary": result.temporary,
        "expires_at": result.expires_at.isoformat(timespec="seconds")
        if result.expires_at
        else None,
    }
    if result.temporary:
        text = (
            f"temporary {result.kind.value}: {result.temporary}\n"
            f"expires at {data['expires_at']}; the patron must change it at the first sign-in"
        )
    else:
        text = f"{result.kind.value} reset to the default; the patron must change it online"
    emit(data, text)


@credential.command("setup")
@click.argument("ident")
@click.option("--credential", "kind", type=KINDS)
@click.option("--institution")
@command
def setup(ident: str, kind: str | None, institution: str | None) -> None:
    """First-time set-up where the library gives no default (R23).

    Standard input: the new secret, then again.
    """
    c = ctx()
    new, confirm = read_secrets(2, ["New: ", "New again: "])
    done = set_up_credential(
        c.app.ports,
        ident,
        CredentialKind(kind) if kind else None,
        new,
        confirm,
        actor=c.staff,
        channel=Channel.STAFF,
        institution=institution,
    )
    emit({"credential": done.value, "state": "chosen"}, f"{done.value} set up")
