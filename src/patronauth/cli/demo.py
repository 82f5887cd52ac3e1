"""Demo patrons for each seed library, and how to try them (`make run`); their loans
are in `demo_lending.py`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

import click
from rich.console import Console
from rich.table import Table

from patronauth.bootstrap import App, ManualClock
from patronauth.cli import demo_lending
from patronauth.cli.common import command, ctx, emit
from patronauth.domain.credentials import Channel, CredentialKind
from patronauth.domain.identifiers import IdType
from patronauth.services.credentials import ChangeRequest, change_secret, set_up_credential
from patronauth.services.lookup import find_patron
from patronauth.services.registration import Registration, add_patron


@dataclass(frozen=True)
class Try:
    channel: str
    secret: str
    expect: str
    note: str


@dataclass(frozen=True)
class DemoPatron:
    registration: Registration
    tries: tuple[Try, ...]
    chosen: tuple[tuple[CredentialKind, str, str], ...] = ()  # (kind, default, chosen)
    set_up: tuple[CredentialKind, str, date] | None = None  # (kind, secret, on)


DEMO: tuple[DemoPatron, ...] = (
    DemoPatron(
        Registration(
            "hkpl",
            "HKPL0001",
            name="Chan Tai Man",
            phone="9123 4567",
            email="chan.taiman@example.org",
        ),
        (
            Try("web", "4567", "ok must-change", "default password = last 4 phone digits (R4, R5)"),
            Try("sip2", "4567", "ok", "HKPL accepts the default PIN at self-checkout (S5)"),
        ),
    ),
    DemoPatron(
        Registration(
            "hkpl",
            "HKPL0002",
            name="Lee Siu Ming",
            phone="6123 9876",
            email="lee.siuming@example.org",
            language="zh_Hant",
        ),
        (
            Try("web", "Reading#2026", "ok", "a chosen online password"),
            Try("telephone", "2046", "ok", "a chosen PIN"),
        ),
        chosen=(
            (CredentialKind.PASSWORD, "9876", "Reading#2026"),
            (CredentialKind.PIN, "9876", "2046"),
        ),
    ),
    DemoPatron(
        Registration(
            "polyu",
            "21012345A",
            name="Wong Ka Yan",
            id_number="Z123456(1)",
            email="ka-yan.wong@example.org",
        ),
        (Try("web", "Z12345", "ok must-change", "default PIN = first 6 of the HKID (R10)"),),
    ),
    DemoPatron(
        Registration(
            "polyu",
            "19054321B",
            category="alumni",
            name="Ho Wing",
            id_number="XY12345678",
            id_type=IdType.PASSPORT,
        ),
        (Try("web", "XY1234", "ok must-change", "passport holder: first 6 of the passport (R10)"),),
    ),
    DemoPatron(
        Registration(
            "hkct",
            "20181234",
            name="Cheung Mei Ling",
            student_number="20181234",
            email="mei-ling.cheung@example.org",
            registered_on=date(2018, 8, 1),
        ),
        (
            Try(
                "web",
                "20181234",
                "ok must-change",
                "registered 2018-08-01: the student number (R16)",
            ),
        ),
    ),
    DemoPatron(
        Registration(
            "hkct",
            "16071234",
            name="Lam Chi Keung",
            id_number="A123456(3)",
            email="chi-keung.lam@example.org",
            registered_on=date(2018, 7, 31),
        ),
        (
            Try(
                "web",
                "A12345",
                "ok must-change",
                "registered 2018-07-31: HKID letter + 5 digits (R16)",
            ),
        ),
    ),
    DemoPatron(
        Registration(
            "hkct",
            "S2019001",
            category="staff",
            name="Ng Po Wah",
            staff_number="S2019001",
            registered_on=date(2019, 9, 2),
            pending=True,
        ),
        (Try("web", "S2019001", "pending-registration", "application not complete (R17)"),),
    ),
    DemoPatron(
        Registration("hku", "CU1234567", name="Yip Hoi Ching", email="hc.yip@example.org"),
        (
            Try(
                "web",
                "(none yet)",
                "invalid",
                "JULAC card, no default: first-time set-up (R21, R23)",
            ),
        ),
    ),
    DemoPatron(
        Registration("hku", "PU21012345", name="Tsang Ming"),
        (
            Try(
                "web",
                "Library2016",
                "ok must-change",
                "PIN set before the 2017-07-17 go-live (R26)",
            ),
        ),
        set_up=(CredentialKind.PIN, "Library2016", date(2016, 3, 1)),
    ),
    DemoPatron(
        Registration("hku", "SP7654321", category="space", name="Kwok Lai Sheung"),
        (Try("telephone", "Quiet!Stacks22", "ok", "HKU SPACE card with a chosen PIN"),),
        set_up=(CredentialKind.PIN, "Quiet!Stacks22", date(2024, 1, 15)),
    ),
)


def load(app: App, staff: str) -> list[str]:
    """Add the demo patrons that are not there yet; returns their barcodes."""
    ports = app.ports
    added = []
    for item in DEMO:
        registration = item.registration
        with ports.uow() as uow:
            exists = find_patron(uow, ports.profiles, registration.barcode) is not None
        if exists:
            continue
        add_patron(ports, registration, staff=staff)
        added.append(registration.barcode)
        for kind, default, chosen in item.chosen:
            change_secret(
                ports,
                ChangeRequest(
                    registration.barcode, default, chosen, chosen, Channel.STAFF, kind, "demo"
                ),
            )
        if item.set_up:
            kind, secret, on = item.set_up
            clock = ManualClock(datetime(on.year, on.month, on.day, 10, tzinfo=UTC))
            set_up_credential(
                replace(ports, clock=clock),
                registration.barcode,
                kind,
                secret,
                secret,
                actor=staff,
                channel=Channel.STAFF,
            )
    return added


@click.command("demo")
@command
def demo_command() -> None:
    """The demo patrons and what to type, on the web pages and from the command line."""
    c = ctx()
    url = c.settings.public_url
    rows = [
        {
            "institution": d.registration.institution,
            "barcode": d.registration.barcode,
            "channel": t.channel,
            "secret": t.secret,
            "expect": t.expect,
            "note": t.note,
            "page": f"{url}/{d.registration.institution}/sign-in" if t.channel == "web" else None,
        }
        for d in DEMO
        for t in d.tries
    ]
    lending: list[dict[str, str | None]] = [
        {
            "institution": t.institution,
            "card": t.card,
            "where": t.where,
            "try": t.action,
            "expect": t.expect,
        }
        for t in demo_lending.TRIES
    ]
    if c.json:
        emit({"url": url, "patrons": rows, "lending": lending})
        return
    console = Console(width=max(Console().width, 132))
    console.print(f"\nMy Account: {url}/   JSON API: {url}/api/v1/openapi.json\n")
    table = Table(title="PatronAuth demo patrons")
    for column in ("library", "card", "channel", "type", "expect", "why"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            r["institution"], r["barcode"], r["channel"], r["secret"], r["expect"], r["note"]
        )
    console.print(table)
    loans = Table(title="Loans, renewals, reservations and fines")
    for column in ("library", "card", "where", "try", "expect"):
        loans.add_column(column, overflow="fold")
    for r in lending:
        loans.add_row(r["institution"], r["card"], r["where"], r["try"], r["expect"])
    console.print(loans)
    console.print(
        "Loans, renewals and reservations are under My Account once signed in: HKPL0002\n"
        "(Reading#2026) and SP7654321 (Quiet!Stacks22) right away, the others after choosing\n"
        "a new secret. A title another reader reserved cannot be renewed (renewal.reserved);\n"
        "at PolyU, HKCT and HKU an overdue loan stops every renewal (renewal.overdue_block).\n"
        "Overdue fines follow each library's fine calendar: `patronauth calendar close\n"
        "--institution hkpl --from DATE` stops them accruing, `calendar resume` restarts them\n"
        "(seed 001).\n"
    )
    console.print(
        "On the web: sign in at /hkpl/sign-in as HKPL0001 with 4567 and choose a new online\n"
        "password; six wrong PINs for 21012345A at /polyu/sign-in block the card; forgot-password\n"
        "and set-up e-mails (HKPL0001: chan.taiman@example.org, CU1234567: hc.yip@example.org)\n"
        "land in var/outbox/ as .eml files.\n"
        "From the command line, for example:\n"
        "  echo 4567 | .venv/bin/patronauth login HKPL0001 --channel sip2\n"
        "  for i in 1 2 3 4 5 6; do echo wrong1 | "
        ".venv/bin/patronauth login 21012345A --channel web; done\n"
        "  .venv/bin/patronauth patron show 21012345A\n"
        "  .venv/bin/patronauth audit 21012345A\n"
        "  .venv/bin/patronauth fines show HKPL0001\n"
        "  .venv/bin/patronauth checkin BK10005 --institution hkpl\n"
        "  .venv/bin/patronauth fines pay HKPL0001 --amount 8.50\n"
        "  .venv/bin/patronauth request status 1 --status in_progress   (IDs: request list)\n"
        "Every command has --help; with --language zh_Hant the answers are in Chinese."
    )
