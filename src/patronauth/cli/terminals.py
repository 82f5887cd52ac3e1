"""`patronauth terminal ...`: the accounts self-service terminals log in with (SIP2 93)."""

from __future__ import annotations

from typing import Any

import click

from patronauth.cli.common import command, ctx, emit, read_secrets, reason_option, recorded_as
from patronauth.domain.terminals import (
    TERMINAL_CHANNELS,
    Encoding,
    Terminal,
    TerminalOptions,
    terminal_channel,
)
from patronauth.services.terminals import (
    add_terminal,
    disable_terminal,
    enable_terminal,
    list_terminals,
    set_terminal_options,
    unlock_terminal,
)

ENCODINGS = click.Choice([e.value for e in Encoding])
CHANNELS = click.Choice([c.value for c in TERMINAL_CHANNELS])


def _data(terminal: Terminal) -> dict[str, Any]:
    o = terminal.options
    return {
        "login": terminal.login,
        "institution": terminal.institution,
        "location": terminal.location,
        "enabled": terminal.enabled,
        "encoding": o.encoding.value,
        "crlf": o.crlf,
        "allow_pinless": o.allow_pinless,
        "wrong_pin_as_unknown": o.wrong_pin_as_unknown,
        "channel": o.channel.value,
    }


def _line(terminal: Terminal) -> str:
    o = terminal.options
    flags = [
        "enabled" if terminal.enabled else "DISABLED",
        o.encoding.value,
        "CRLF" if o.crlf else "CR",
        *(["PIN-less allowed"] if o.allow_pinless else []),
        *(["wrong PIN answered as unknown"] if o.wrong_pin_as_unknown else []),
        *([f"counts as {o.channel.value}"] if o.channel.value != "sip2" else []),
    ]
    place = f" ({terminal.location})" if terminal.location else ""
    return f"{terminal.login}  {terminal.institution}{place}  {', '.join(flags)}"


@click.group()
def terminal() -> None:
    """Self-service terminals (SIP2): add, list, disable, enable, unlock, options."""


@terminal.command("add")
@click.option("--login", required=True, help="The terminal's login (SIP2 CN): letters, digits.")
@click.option("--institution", required=True, help="The library whose patrons it serves.")
@click.option("--location", help="Where the terminal stands (free text).")
@click.option(
    "--encoding", type=ENCODINGS, default=Encoding.UTF8.value, show_default=True,
    help="Character encoding on the wire (cp850 for older kiosks).",
)  # fmt: skip
@click.option("--crlf", is_flag=True, help="Answer with CR LF instead of CR.")
@click.option("--allow-pinless", is_flag=True, help="Accept an empty PIN as no PIN needed.")
@click.option(
    "--wrong-pin-as-unknown",
    is_flag=True,
    help="Answer a wrong PIN exactly as an unknown card.",
)
@click.option(
    "--channel", type=CHANNELS, default="sip2", show_default=True,
    help="What its requests count and audit as (telephone: a telephone box speaking SIP2).",
)  # fmt: skip
@reason_option
@command
def add(
    login: str,
    institution: str,
    location: str | None,
    encoding: str,
    crlf: bool,
    allow_pinless: bool,
    wrong_pin_as_unknown: bool,
    channel: str,
    reason: str,
) -> None:
    """Add a terminal. Standard input: its password (12 to 128 characters, no `|`)."""
    c = ctx()
    [password] = read_secrets(1, ["Terminal password: "])
    added = add_terminal(
        c.app.ports,
        login=login,
        institution=institution,
        password=password,
        location=location,
        options=TerminalOptions(
            encoding=Encoding(encoding),
            crlf=crlf,
            allow_pinless=allow_pinless,
            wrong_pin_as_unknown=wrong_pin_as_unknown,
            channel=terminal_channel(channel),
        ),
        staff=c.staff,
        reason=reason,
    )
    recorded_as()
    emit(_data(added), f"terminal added: {_line(added)}")


@terminal.command("list")
@click.option("--institution", help="Only this library's terminals.")
@command
def list_(institution: str | None) -> None:
    """Every terminal, with its options (never its password)."""
    found = list_terminals(ctx().app.ports, institution)
    emit(
        {"terminals": [_data(t) for t in found]},
        "\n".join(_line(t) for t in found) or "no terminals",
    )


@terminal.command("disable")
@click.argument("login")
@reason_option
@command
def disable(login: str, reason: str) -> None:
    """Stop a terminal from logging in."""
    c = ctx()
    done = disable_terminal(c.app.ports, login, staff=c.staff, reason=reason)
    recorded_as()
    emit(_data(done), f"terminal disabled: {done.login}")


@terminal.command("enable")
@click.argument("login")
@reason_option
@command
def enable(login: str, reason: str) -> None:
    """Let a disabled terminal log in again."""
    c = ctx()
    done = enable_terminal(c.app.ports, login, staff=c.staff, reason=reason)
    recorded_as()
    emit(_data(done), f"terminal enabled: {done.login}")


@terminal.command("unlock")
@click.argument("login")
@reason_option
@command
def unlock(login: str, reason: str) -> None:
    """Lift the block of a terminal's login (after five wrong passwords in a minute)."""
    c = ctx()
    done = unlock_terminal(c.app.ports, login, staff=c.staff, reason=reason)
    recorded_as()
    emit(_data(done), f"terminal unlocked: {done.login}")


@terminal.command("options")
@click.argument("login")
@click.option("--encoding", type=ENCODINGS, help="utf-8 or cp850.")
@click.option("--crlf/--cr", "crlf", default=None, help="Line ends of the answers.")
@click.option("--allow-pinless/--require-pin", "allow_pinless", default=None)
@click.option(
    "--wrong-pin-as-unknown/--wrong-pin-told", "wrong_pin_as_unknown", default=None
)  # fmt: skip
@click.option("--channel", type=CHANNELS, help="sip2, or telephone for a telephone box.")
@command
def options(
    login: str,
    encoding: str | None,
    crlf: bool | None,
    allow_pinless: bool | None,
    wrong_pin_as_unknown: bool | None,
    channel: str | None,
) -> None:
    """Change some of a terminal's options; the others keep their values."""
    c = ctx()
    done = set_terminal_options(
        c.app.ports,
        login,
        staff=c.staff,
        encoding=Encoding(encoding) if encoding else None,
        crlf=crlf,
        allow_pinless=allow_pinless,
        wrong_pin_as_unknown=wrong_pin_as_unknown,
        channel=terminal_channel(channel) if channel else None,
    )
    emit(_data(done), f"terminal options: {_line(done)}")
