"""`patronauth client ...` and `patronauth oidc ...`: the library's services that sign
patrons in through PatronAuth, and the keys that sign OpenID Connect ID tokens."""

from __future__ import annotations

from typing import Any

import click

from patronauth.cli.common import command, ctx, emit, reason_option, recorded_as
from patronauth.domain.errors import Refused
from patronauth.domain.signon import Client, SignOnProtocol
from patronauth.services.signon import (
    add_client,
    disable_client,
    list_clients,
    rotate_client_secret,
)

PROTOCOLS = click.Choice([p.value for p in SignOnProtocol])


def _data(client: Client) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "protocol": client.protocol.value,
        "institution": client.institution,
        "redirect_uris": list(client.redirect_uris),
        "logout_uris": list(client.logout_uris),
        "allow_from": list(client.allow_from),
        "trusted": client.trusted,
        "public": client.public,
        "enabled": client.enabled,
    }


def _line(client: Client) -> str:
    flags = [
        "enabled" if client.enabled else "DISABLED",
        *(["trusted"] if client.trusted else []),
        *(["public"] if client.public else []),
    ]
    where = ", ".join(client.redirect_uris or client.allow_from)
    return (
        f"{client.client_id}  {client.protocol.value}  {client.institution}  "
        f"{client.name}  [{', '.join(flags)}]  {where}"
    )


@click.group()
def client() -> None:
    """The library's services (OpenID Connect, CAS, the e-resource proxy)."""


@client.command("add")
@click.option("--name", required=True, help="The service's name, as patrons know it.")
@click.option("--protocol", type=PROTOCOLS, required=True, help="oidc, cas or proxy.")
@click.option("--institution", required=True, help="The library whose patrons it serves.")
@click.option(
    "--redirect-uri",
    multiple=True,
    help="OIDC redirect URI or CAS service URL, matched exactly (repeatable).",
)
@click.option("--logout-uri", multiple=True, help="Front-channel logout URI (repeatable).")
@click.option(
    "--allow-from", multiple=True, help="Proxy: an address or network it calls from (repeatable)."
)
@click.option("--trusted", is_flag=True, help="A first-party service: no consent page.")
@click.option("--public", is_flag=True, help="No secret (an app in the browser): PKCE required.")
@reason_option
@command
def add(
    name: str,
    protocol: str,
    institution: str,
    redirect_uri: tuple[str, ...],
    logout_uri: tuple[str, ...],
    allow_from: tuple[str, ...],
    trusted: bool,
    public: bool,
    reason: str,
) -> None:
    """Register a service; its client id and secret are printed once."""
    c = ctx()
    added = add_client(
        c.app.ports,
        name=name,
        protocol=SignOnProtocol(protocol),
        institution=institution,
        redirect_uri=redirect_uri,
        logout_uri=logout_uri,
        allow_from=allow_from,
        trusted=trusted,
        public=public,
        staff=c.staff,
        reason=reason,
    )
    recorded_as()
    secret_line = (
        f"client secret: {added.secret}\n(shown once: it is stored only as a keyed digest)"
        if added.secret
        else "no client secret"
    )
    emit(
        {**_data(added.client), "client_secret": added.secret},
        f"client added: {_line(added.client)}\nclient id: {added.client.client_id}\n{secret_line}",
    )


@client.command("list")
@click.option("--institution", help="Only this library's services.")
@command
def list_(institution: str | None) -> None:
    """Every service (never a secret)."""
    found = list_clients(ctx().app.ports, institution)
    emit(
        {"clients": [_data(x) for x in found]},
        "\n".join(_line(x) for x in found) or "no clients",
    )


@client.command("disable")
@click.argument("client_id")
@reason_option
@command
def disable(client_id: str, reason: str) -> None:
    """Stop a service from signing patrons in; its tokens stop working."""
    c = ctx()
    done = disable_client(c.app.ports, client_id, staff=c.staff, reason=reason)
    recorded_as()
    emit(_data(done), f"client disabled: {done.client_id} ({done.name})")


@client.command("rotate-secret")
@click.argument("client_id")
@reason_option
@command
def rotate_secret(client_id: str, reason: str) -> None:
    """A new secret, printed once; the old one stops working at once."""
    c = ctx()
    done = rotate_client_secret(c.app.ports, client_id, staff=c.staff, reason=reason)
    recorded_as()
    emit(
        {**_data(done.client), "client_secret": done.secret},
        f"new client secret for {done.client.client_id}: {done.secret}\n(shown once)",
    )


@click.group()
def oidc() -> None:
    """OpenID Connect: the keys that sign ID tokens."""


@oidc.command("rotate-key")
@command
def rotate_key() -> None:
    """Sign with a new key; the old one stays in the JWKS until its tokens expire."""
    c = ctx()
    keys = c.app.ports.signing_keys
    if keys is None:
        raise Refused.of("oidc.not_set_up")
    kid = keys.rotate(c.app.ports.clock.now(), keep_seconds=c.settings.oidc_token_seconds)
    emit({"kid": kid}, f"new signing key: {kid}")
