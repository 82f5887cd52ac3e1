"""`patronauth`: the staff and operator command line (SPEC 4.2)."""

from __future__ import annotations

import os
from typing import NoReturn

import click

from patronauth.bootstrap import (
    ConfigError,
    ensure_pepper,
    ensure_signing_keys,
    keys_file,
    upgrade_schema,
)
from patronauth.cli import (
    accounts,
    circulation,
    credentials,
    demo,
    demo_lending,
    directory,
    patrons,
    serve,
    signon,
    staff,
    terminals,
)
from patronauth.cli.common import Context, command, ctx, emit, run_guarded
from patronauth.presentation import i18n


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--language",
    type=click.Choice(i18n.LANGUAGES),
    default=lambda: os.environ.get("PATRONAUTH_LANGUAGE", "en"),
    show_default="en",
    help="Language of messages (en or zh_Hant).",
)
@click.version_option(package_name="patronauth")
@click.pass_context
def cli(context: click.Context, language: str) -> None:
    """PatronAuth: patron accounts and credentials for libraries.

    The database comes from PATRONAUTH_DATABASE_URL (default sqlite:///var/patronauth.db).
    Secrets are read from standard input, one per line, never from arguments.
    """
    obj = Context(language)
    context.obj = obj
    context.call_on_close(obj.close)


@cli.command()
@click.option(
    "--demo", "load_demo", is_flag=True, help="Also load the demo patrons, catalogue and loans."
)
@command
def init(load_demo: bool) -> None:
    """Create or upgrade the schema (Alembic); create the pepper key file if needed."""
    c = ctx()
    try:
        created = ensure_pepper(c.settings)
    except OSError as error:
        raise ConfigError(f"cannot create the pepper key file: {error}") from None
    try:
        keys_created = ensure_signing_keys(c.settings)
    except OSError as error:
        raise ConfigError(f"cannot create the signing key file: {error}") from None
    upgrade_schema(c.app)
    loaded = demo.load(c.app, c.staff) if load_demo else []
    lending = demo_lending.load(c.app, c.staff) if load_demo else demo_lending.Added()
    emit(
        {
            "pepper_created": created,
            "signing_keys_created": keys_created,
            "schema": "current",
            "demo_patrons_added": len(loaded),
            "demo_lending_added": lending.as_dict(),
        },
        "\n".join(
            line
            for line in (
                f"pepper key created at {c.settings.pepper_file} (mode 0600)" if created else "",
                f"signing keys created at {keys_file(c.settings)} (mode 0600)"
                if keys_created
                else "",
                "schema is current",
                f"demo patrons added: {len(loaded)}" if load_demo else "",
                f"demo lending added: {lending.copies} copies, {lending.loans} loans, "
                f"{lending.reservations} reservations, {lending.requests} requests"
                if load_demo
                else "",
            )
            if line
        ),
    )


cli.add_command(demo.demo_command)
cli.add_command(patrons.patron)
cli.add_command(credentials.credential)
cli.add_command(staff.login)
cli.add_command(staff.unlock)
cli.add_command(staff.card)
cli.add_command(staff.migrate)
cli.add_command(staff.audit)
cli.add_command(staff.policy)
cli.add_command(staff.default)
cli.add_command(circulation.item)
cli.add_command(circulation.checkout)
cli.add_command(circulation.checkin)
cli.add_command(circulation.fines)
cli.add_command(circulation.calendar)
cli.add_command(circulation.request)
cli.add_command(terminals.terminal)
cli.add_command(accounts.staff)
cli.add_command(directory.directory)
cli.add_command(serve.serve)
cli.add_command(signon.client)
cli.add_command(signon.oidc)


def main() -> NoReturn:
    run_guarded(lambda: cli.main(standalone_mode=False, prog_name="patronauth"))
