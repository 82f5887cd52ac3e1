"""`patronauth staff ...`: the accounts of the counter's staff console."""

from __future__ import annotations

from typing import Any

import click

from patronauth.bootstrap import staff_ports
from patronauth.cli.common import command, ctx, emit, reason_option
from patronauth.domain.staff import Role, StaffMember
from patronauth.services.staffaccounts import add_staff, disable_staff, list_staff, set_role

ROLES = click.Choice([r.value for r in Role])


def _data(member: StaffMember) -> dict[str, Any]:
    return {
        "login": member.login,
        "name": member.name,
        "role": member.role.value,
        "institutions": list(member.institutions),
        "status": member.status.value,
        "totp": member.has_totp,
        "security_keys": member.webauthn_keys,
    }


def _line(member: StaffMember) -> str:
    factors = [*(["TOTP"] if member.has_totp else []), *(["key"] * member.webauthn_keys)]
    return (
        f"{member.login}  {member.name}  {member.role.value}  {' '.join(member.institutions)}  "
        f"{member.status.value}  {', '.join(factors) or 'no second factor yet'}"
    )


@click.group()
def staff() -> None:
    """Staff accounts of the console at /staff/: add, list, disable, role."""


@staff.command("add")
@click.option("--login", required=True)
@click.option("--name", required=True)
@click.option("--role", type=ROLES, required=True)
@click.option(
    "--institution", "institutions", multiple=True, help="Repeat for several; default: all."
)
@reason_option
@command
def add(login: str, name: str, role: str, institutions: tuple[str, ...], reason: str) -> None:
    """Add a staff account; prints its one-time enrolment link (valid 24 hours)."""
    c = ctx()
    sp = staff_ports(c.app)
    chosen = list(institutions) or list(sp.ports.profiles.all())
    added = add_staff(sp, login, name, Role(role), chosen, by=c.staff, reason=reason)
    emit(
        {**_data(added.member), "link": added.link, "expires_at": added.expires_at.isoformat()},
        f"{_line(added.member)}\nenrolment link (shown once, valid 24 hours): {added.link}\n"
        f"recorded as {c.staff}",
    )


@staff.command("list")
@command
def list_command() -> None:
    """Every staff account, with its role, libraries, status and second factors."""
    c = ctx()
    members = list_staff(staff_ports(c.app))
    emit({"staff": [_data(m) for m in members]}, "\n".join(map(_line, members)) or "no staff")


@staff.command("disable")
@click.argument("login")
@reason_option
@command
def disable(login: str, reason: str) -> None:
    """LOGIN can no longer sign in; its console sessions end now."""
    c = ctx()
    member = disable_staff(staff_ports(c.app), login, by=c.staff, reason=reason)
    emit(_data(member), f"{_line(member)}\nrecorded as {c.staff}")


@staff.command("role")
@click.argument("login")
@click.argument("role", type=ROLES)
@reason_option
@command
def role(login: str, role: str, reason: str) -> None:
    """Give LOGIN the ROLE counter, supervisor or admin."""
    c = ctx()
    member = set_role(staff_ports(c.app), login, Role(role), by=c.staff, reason=reason)
    emit(_data(member), f"{_line(member)}\nrecorded as {c.staff}")
