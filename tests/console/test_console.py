"""The console's pages in-process: role boundaries, institutions, counter actions with
their reasons in the audit trail, CSRF on every form, and the two cookies kept apart."""

from __future__ import annotations

import html
import re

import pyotp
import pytest

from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel, CredentialKind, Outcome
from patronauth.domain.sessions import SessionChannel
from patronauth.domain.signon import SignOnProtocol
from patronauth.domain.staff import Role
from patronauth.services.authenticate import Attempt
from patronauth.services.signin import sign_in as patron_sign_in
from patronauth.services.signon import add_client, find_client, get_client, secret_matches
from patronauth.services.staffaccounts import staff_member
from tests.console.authenticator import SoftKey
from tests.console.conftest import PASSWORD, PATRON_COOKIE, STAFF_COOKIE, Console, enrolled
from tests.support import clock_of

pytestmark = pytest.mark.anyio


def _secret_matches(app: App, client_id: str, secret: str) -> bool:
    stored = find_client(app.ports, client_id)
    return stored is not None and secret_matches(app.ports, stored, secret)


def _patron_id(app: App, card: str) -> int:
    with app.ports.uow() as uow:
        [(patron, _)] = uow.patrons.find(card.upper())
    return patron.id


def _staff_actions(app: App) -> list[tuple[str, str, int | None, dict[str, str]]]:
    """The records of staff actions, newest first: each names the reason it was given."""
    with app.ports.uow() as uow:
        events = uow.staff.audit(institutions=None, limit=500)
    return [
        (e.event.action, e.event.actor, e.event.patron_id, dict(e.event.detail))
        for e in events
        if {"staff", "reason"} <= e.event.detail.keys()
    ]


def _client(app: App, institution: str) -> str:
    """A service of `institution` with a secret, added from the command line."""
    added = add_client(
        app.ports,
        name=f"Catalogue of {institution}",
        protocol=SignOnProtocol.OIDC,
        institution=institution,
        redirect_uri=("https://catalogue.example.org/cb",),
        staff="os:operator",
        reason="set up",
    )
    return added.client.client_id


async def _desk(app: App, login: str, role: Role, institutions: list[str] | None = None) -> Console:
    secret = enrolled(app, login, role, institutions or ["hkpl"])
    console = Console(app)
    await console.sign_in(login, secret)
    return console


# Every page of the console and what each role gets: 200, or 403.
PAGES = [
    ("/staff/", {"counter": 200, "supervisor": 200, "admin": 200}),
    ("/staff/me", {"counter": 200, "supervisor": 200, "admin": 200}),
    ("/staff/recheck", {"counter": 200, "supervisor": 200, "admin": 200}),
    ("/staff/patrons/{hkpl}", {"counter": 200, "supervisor": 200, "admin": 200}),
    ("/staff/audit", {"counter": 403, "supervisor": 200, "admin": 200}),
    ("/staff/go-live", {"counter": 403, "supervisor": 200, "admin": 200}),
    ("/staff/terminals", {"counter": 403, "supervisor": 200, "admin": 200}),
    ("/staff/services", {"counter": 403, "supervisor": 200, "admin": 200}),
    ("/staff/accounts", {"counter": 403, "supervisor": 403, "admin": 200}),
]
# Every form, with what the role gets for a well-formed post: 303 (done), 200 (a page
# showing a result), 400 (refused as asked), or 403.
FORMS = [
    ("/staff/patrons/{hkpl}/unlock", {"reason": "card blocked"},
     {"counter": 303, "supervisor": 303, "admin": 303}),
    ("/staff/patrons/{hkpl}/reset", {"credential": "pin", "reason": "forgotten"},
     {"counter": 303, "supervisor": 303, "admin": 303}),
    ("/staff/go-live", {"institution": "hkpl", "day": "2026-12-01", "reason": "go-live"},
     {"counter": 403, "supervisor": 303, "admin": 303}),
    ("/staff/terminals", {"login": "kiosk{n}", "institution": "hkpl", "password": "kiosk-secret-1",
                          "reason": "new kiosk"},
     {"counter": 403, "supervisor": 303, "admin": 303}),
    ("/staff/services", {"name": "Discovery {n}", "protocol": "oidc", "institution": "hkpl",
                         "redirect_uris": "https://discovery.example.org/cb",
                         "reason": "new service"},
     {"counter": 403, "supervisor": 200, "admin": 200}),
    ("/staff/services/{client}/rotate-secret", {"reason": "secret leaked"},
     {"counter": 403, "supervisor": 200, "admin": 200}),
    ("/staff/services/{client}/disable", {"reason": "service retired"},
     {"counter": 403, "supervisor": 303, "admin": 303}),
    # Every role manages its own second factors (the only one stays: 400).
    ("/staff/me/factors/totp/remove", {}, {"counter": 400, "supervisor": 400, "admin": 400}),
    ("/staff/me/totp", {"totp_secret": "JBSWY3DPEHPK3PXP", "totp_seal": "x", "new_code": "1"},
     {"counter": 400, "supervisor": 400, "admin": 400}),
    ("/staff/me/keys", {"webauthn": "{{}}"}, {"counter": 400, "supervisor": 400, "admin": 400}),
    ("/staff/accounts", {"login": "new{n}", "name": "New", "role": "counter",
                         "institutions": "hkpl", "reason": "hired"},
     {"counter": 403, "supervisor": 403, "admin": 200}),
    ("/staff/accounts/{me}/role", {"role": "admin", "reason": "promotion"},
     {"counter": 403, "supervisor": 403, "admin": 303}),
]  # fmt: skip


@pytest.mark.parametrize("role", [r.value for r in Role])
async def test_every_page_and_form_by_every_role(desk_app: App, role: str) -> None:
    console = await _desk(desk_app, "clerk", Role(role))
    hkpl = _patron_id(desk_app, "HKPL0001")
    client = _client(desk_app, "hkpl")
    for path, expected in PAGES:
        answer = await console.get(path.format(hkpl=hkpl))
        assert answer.status_code == expected[role], (path, role, answer.text[-500:])
        if expected[role] == 403:
            assert 'data-code="staff.forbidden"' in answer.text
    for n, (path, fields, expected) in enumerate(FORMS):
        data = {k: v.format(n=n) for k, v in fields.items()}
        answer = await console.post(path.format(hkpl=hkpl, me="clerk", client=client), data)
        assert answer.status_code == expected[role], (path, role, answer.text[-800:])
    await console.aclose()


async def test_another_librarys_patron_is_not_found(desk_app: App) -> None:
    console = await _desk(desk_app, "amy", Role.ADMIN, ["hkpl"])
    hku = _patron_id(desk_app, "CU1234567")
    for query in ("CU1234567", "Wong Ka Yan", "ky.wong@example.org"):
        found = await console.get(f"/staff/?q={query}")
        assert found.status_code == 200
        assert 'id="no-hits"' in found.text, query
    assert (await console.get(f"/staff/patrons/{hku}")).status_code == 404
    unlock = await console.post(f"/staff/patrons/{hku}/unlock", {"reason": "x"})
    assert unlock.status_code == 404
    await console.aclose()


@pytest.mark.parametrize(
    "query", ["HKPL0001", "hkpl0001", "chan tai", "chan@example.org", "9123 4567"]
)
async def test_find_a_patron_by_card_name_email_or_phone_masked(desk_app: App, query: str) -> None:
    console = await _desk(desk_app, "amy", Role.COUNTER)
    found = await console.get(f"/staff/?q={query}")
    rows = re.findall(
        r"<tr><td><a href=\"/staff/patrons/\d+\">([^<]*)</a></td>(.*?)</tr>", found.text
    )
    assert [name for name, _ in rows] == ["Chan Tai Man"]
    assert "<td>c***@example.org</td><td>91******</td>" in rows[0][1]
    assert "chan@example.org" not in found.text.split('id="hits"')[1]
    await console.aclose()


async def test_a_counter_reset_is_read_back_on_the_patrons_side(desk_app: App) -> None:
    """HKU has no default: the reset gives a temporary password, shown once, that signs
    in once and only to the change step."""
    console = await _desk(desk_app, "hoi", Role.COUNTER, ["hku"])
    patron = _patron_id(desk_app, "CU1234567")
    refused = await console.post(f"/staff/patrons/{patron}/reset", {"credential": "pin"})
    assert refused.status_code == 400
    assert "Give the reason for this action." in refused.text
    done = await console.post(
        f"/staff/patrons/{patron}/reset", {"credential": "pin", "reason": "lost the PIN mailer"}
    )
    assert done.status_code == 200
    temporary = re.search(r'<code id="temporary">([^<]+)</code>', done.text)
    assert temporary is not None
    attempt = Attempt("CU1234567", temporary.group(1), Channel.WEB, CredentialKind.PIN, "t")
    first = patron_sign_in(desk_app.ports, attempt, session=SessionChannel.WEB)
    assert first.result.outcome is Outcome.MUST_CHANGE
    assert first.opened is not None
    assert first.opened.must_change
    [(action, actor, patron_id, detail)] = _staff_actions(desk_app)
    assert (action, actor, patron_id) == ("credential.reset", "staff:hoi", patron)
    assert detail == {"credential": "pin", "staff": "hoi", "reason": "lost the PIN mailer"}
    with desk_app.ports.uow() as uow:
        resets = [
            e for e in uow.audit.recent(patron_id=patron) if e.event.action == "credential.reset"
        ]
    assert [e.event.actor for e in resets] == ["staff:hoi"]
    # The staff member's own page lists it.
    mine = await console.get("/staff/me")
    assert "lost the PIN mailer" in mine.text
    await console.aclose()


async def test_a_reset_needs_a_fresh_second_factor(desk_app: App) -> None:
    secret = enrolled(desk_app, "amy", Role.COUNTER, ["hkpl"])
    console = Console(desk_app)
    await console.sign_in("amy", secret)
    patron = _patron_id(desk_app, "HKPL0002")
    clock_of(desk_app).advance(6 * 60)
    late = await console.post(
        f"/staff/patrons/{patron}/reset", {"credential": "password", "reason": "forgot"}
    )
    assert late.status_code == 403
    assert 'data-code="staff.recheck_needed"' in late.text
    assert _staff_actions(desk_app) == []
    ok = await console.post(
        f"/staff/patrons/{patron}/reset",
        {"credential": "password", "reason": "forgot", "code": console.code(secret)},
    )
    assert ok.status_code == 303, re.findall(r"<li data-field[^<]*</li>", ok.text)
    assert [a for a, _, _, _ in _staff_actions(desk_app)] == ["credential.reset"]
    await console.aclose()


async def test_every_form_refuses_a_post_without_the_csrf_token(desk_app: App) -> None:
    console = await _desk(desk_app, "root", Role.ADMIN)
    hkpl = _patron_id(desk_app, "HKPL0001")
    before = _staff_actions(desk_app)
    forms = [
        "/staff/sign-in", "/staff/second-factor", "/staff/webauthn-options", "/staff/sign-out",
        "/staff/enrol/whatever", "/staff/recheck", f"/staff/patrons/{hkpl}/reset",
        f"/staff/patrons/{hkpl}/unlock", f"/staff/patrons/{hkpl}/replace",
        f"/staff/patrons/{hkpl}/complete", f"/staff/patrons/{hkpl}/pay", "/staff/go-live",
        "/staff/terminals", "/staff/terminals/kiosk1/disable", "/staff/terminals/kiosk1/enable",
        "/staff/terminals/kiosk1/unlock", "/staff/me/totp", "/staff/me/keys",
        "/staff/me/factors/totp/remove", "/staff/services", "/staff/services/abc/disable",
        "/staff/services/abc/rotate-secret",
        "/staff/accounts", "/staff/accounts/root/role", "/staff/accounts/root/disable",
    ]  # fmt: skip
    for path in forms:
        answer = await console.post(path, {"reason": "forged", "role": "counter"}, csrf=False)
        assert answer.status_code == 403, path
        assert 'data-code="staff.form_expired"' in answer.text, path
        # A token of another form signer (the patrons' pages) does not pass either.
        forged = await console.post(path, {"reason": "forged", "csrftoken": "x.y"}, csrf=False)
        assert forged.status_code == 403, path
    assert _staff_actions(desk_app) == before
    assert (await console.get("/staff/")).status_code == 200  # still signed in
    await console.aclose()


async def test_the_staff_cookie_opens_no_patron_page_and_the_reverse(desk_app: App) -> None:
    console = await _desk(desk_app, "amy", Role.COUNTER)
    staff_token = console.client.cookies.get(STAFF_COOKIE)
    assert staff_token
    # The staff session offered as a patron session.
    patron_side = Console(desk_app)
    patron_side.client.cookies.set(PATRON_COOKIE, staff_token)
    account = await patron_side.get("/hkpl/account")
    assert account.status_code == 303
    assert account.headers["location"].startswith("/hkpl/sign-in")
    # A patron's session offered to the console.
    opened = patron_sign_in(
        desk_app.ports,
        Attempt("HKPL0002", "5678", Channel.WEB, None, "t"),
        session=SessionChannel.WEB,
    ).opened
    assert opened is not None
    intruder = Console(desk_app)
    intruder.client.cookies.set(STAFF_COOKIE, opened.token)
    home = await intruder.get("/staff/")
    assert home.status_code == 303
    assert home.headers["location"].startswith("/staff/sign-in")
    assert (
        await intruder.get(f"/staff/patrons/{_patron_id(desk_app, 'HKPL0002')}")
    ).status_code == 303
    for client in (console, patron_side, intruder):
        await client.aclose()


async def test_the_console_answers_only_from_the_staff_networks(app: App) -> None:
    from dataclasses import replace

    narrowed = replace(app, settings=replace(app.settings, staff_networks=("10.1.0.0/16",)))
    outside = Console(narrowed)  # httpx's in-process client comes from 127.0.0.1
    answer = await outside.get("/staff/sign-in")
    assert answer.status_code == 403
    assert 'data-code="staff.network"' in answer.text
    assert (await outside.get("/hkpl/sign-in")).status_code == 200  # My Account answers
    await outside.aclose()


async def test_an_idle_console_session_sends_back_to_sign_in(desk_app: App) -> None:
    console = await _desk(desk_app, "amy", Role.COUNTER)
    clock_of(desk_app).advance(15 * 60)
    answer = await console.get("/staff/")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/staff/sign-in?notice=staff.session_idle"
    await console.aclose()


async def test_the_console_speaks_traditional_chinese(desk_app: App) -> None:
    console = Console(desk_app)
    page = await console.client.get("/staff/sign-in", headers={"accept-language": "zh-HK"})
    assert '<html lang="zh-Hant-HK">' in page.text
    await console.aclose()


async def test_replace_a_card_and_complete_a_registration_with_their_reasons(
    desk_app: App,
) -> None:
    from tests.support import register

    register(desk_app, "hkct", "S2019001", category="staff", staff_number="S2019001", pending=True)
    console = await _desk(desk_app, "lam", Role.COUNTER, ["hkpl", "hkct"])
    chan, pending = _patron_id(desk_app, "HKPL0001"), _patron_id(desk_app, "S2019001")
    no_reason = await console.post(f"/staff/patrons/{pending}/complete", {"reason": "  "})
    assert no_reason.status_code == 400
    done = await console.post(f"/staff/patrons/{pending}/complete", {"reason": "papers seen"})
    assert done.headers["location"] == f"/staff/patrons/{pending}?done=complete"
    page = await console.get(done.headers["location"])
    assert '<dd id="status">active</dd>' in page.text
    replaced = await console.post(
        f"/staff/patrons/{chan}/replace", {"new": "HKPL0099", "reason": "card lost"}
    )
    assert replaced.status_code == 303
    page = await console.get(f"/staff/patrons/{chan}")
    assert '<dd id="card">HKPL0099</dd>' in page.text
    assert [(a, s, p, d["staff"], d["reason"]) for a, s, p, d in _staff_actions(desk_app)] == [
        ("card.replace", "staff:lam", chan, "lam", "card lost"),
        ("patron.complete", "staff:lam", pending, "lam", "papers seen"),
    ]
    await console.aclose()


async def test_a_supervisor_adds_a_terminal_and_unlocks_it_after_wrong_passwords(
    desk_app: App,
) -> None:
    from patronauth.services.terminals import terminal_login

    console = await _desk(desk_app, "sue", Role.SUPERVISOR)
    added = await console.post(
        "/staff/terminals",
        {"login": "cen-sc-01", "institution": "hkpl", "password": "kiosk-Secret-2026",
         "reason": "new kiosk on 1/F"},
    )  # fmt: skip
    assert added.status_code == 303
    for _ in range(5):
        assert terminal_login(desk_app.ports, "cen-sc-01", "wrong-Secret-2026", source="t") is None
    now = clock_of(desk_app).now().timestamp()
    assert desk_app.ports.counter.blocked_for("terminal:cen-sc-01", now) > 0
    assert terminal_login(desk_app.ports, "cen-sc-01", "kiosk-Secret-2026", source="t") is None
    unlocked = await console.post("/staff/terminals/cen-sc-01/unlock", {"reason": "kiosk reset"})
    assert unlocked.headers["location"] == "/staff/terminals?done=unlock"
    assert desk_app.ports.counter.blocked_for("terminal:cen-sc-01", now) == 0
    assert terminal_login(desk_app.ports, "cen-sc-01", "kiosk-Secret-2026", source="t") is not None
    assert [(a, d["reason"]) for a, _, _, d in _staff_actions(desk_app)] == [
        ("terminal.unlock", "kiosk reset"),
        ("terminal.add", "new kiosk on 1/F"),
    ]
    await console.aclose()


async def test_a_supervisor_manages_the_sign_on_services_of_their_library(desk_app: App) -> None:
    """Add (the secret shown once), rotate the secret, disable; each with its reason in
    the action's own audit record; another library's service is not theirs."""
    console = await _desk(desk_app, "sue", Role.SUPERVISOR)
    elsewhere = _client(desk_app, "hku")
    no_reason = await console.post(
        "/staff/services",
        {"name": "Discovery", "protocol": "oidc", "institution": "hkpl",
         "redirect_uris": "https://discovery.example.org/cb"},
    )  # fmt: skip
    assert no_reason.status_code == 400
    assert "Give the reason for this action." in no_reason.text
    bad = await console.post(
        "/staff/services",
        {"name": "Discovery", "protocol": "saml", "institution": "hkpl", "reason": "new"},
    )
    assert bad.status_code == 400
    assert "Choose the protocol: oidc, cas or proxy." in bad.text
    added = await console.post(
        "/staff/services",
        {"name": "Discovery", "protocol": "oidc", "institution": "hkpl",
         "redirect_uris": "https://discovery.example.org/cb\nhttps://discovery.example.org/cb2",
         "reason": "new discovery layer"},
    )  # fmt: skip
    assert added.status_code == 200
    client_id = re.search(r'<code id="client-id">([^<]+)</code>', added.text)
    secret = re.search(r'<code id="client-secret">([^<]+)</code>', added.text)
    assert client_id is not None
    assert secret is not None
    client = get_client(desk_app.ports, client_id.group(1))
    assert client is not None
    assert client.redirect_uris == (
        "https://discovery.example.org/cb",
        "https://discovery.example.org/cb2",
    )
    assert _secret_matches(desk_app, client.client_id, secret.group(1))
    listing = await console.get("/staff/services")
    assert f'data-client="{client.client_id}"' in listing.text
    assert secret.group(1) not in listing.text  # shown once
    assert elsewhere not in listing.text  # HKU's service is not listed at HKPL

    rotated = await console.post(
        f"/staff/services/{client.client_id}/rotate-secret", {"reason": "secret leaked"}
    )
    assert rotated.status_code == 200
    new_secret = re.search(r'<code id="client-secret">([^<]+)</code>', rotated.text)
    assert new_secret is not None
    assert not _secret_matches(desk_app, client.client_id, secret.group(1))
    assert _secret_matches(desk_app, client.client_id, new_secret.group(1))

    disabled = await console.post(
        f"/staff/services/{client.client_id}/disable", {"reason": "replaced by Primo"}
    )
    assert disabled.headers["location"] == "/staff/services?done=disable"
    assert get_client(desk_app.ports, client.client_id) is None

    for action in ("disable", "rotate-secret"):
        theirs = await console.post(f"/staff/services/{elsewhere}/{action}", {"reason": "x"})
        assert theirs.status_code == 404, action
        assert "There is no service with this client id." in theirs.text
    assert get_client(desk_app.ports, elsewhere) is not None

    records = [
        (a, s, d["client_id"], d["staff"], d["reason"])
        for a, s, _, d in _staff_actions(desk_app)
        if a.startswith("client.")
    ]
    assert records == [
        ("client.disable", "staff:sue", client.client_id, "sue", "replaced by Primo"),
        ("client.rotate_secret", "staff:sue", client.client_id, "sue", "secret leaked"),
        ("client.add", "staff:sue", client.client_id, "sue", "new discovery layer"),
        ("client.add", "os:operator", elsewhere, "os:operator", "set up"),
    ]
    mine = await console.get("/staff/me")
    assert "replaced by Primo" in mine.text
    await console.aclose()


def _offer(page: str) -> dict[str, str]:
    """What /staff/me offers: the new TOTP key, its seal and the key registration options."""
    found = {
        name: re.search(pattern, page)
        for name, pattern in {
            "totp_secret": r'name="totp_secret" value="([^"]+)"',
            "totp_seal": r'name="totp_seal" value="([^"]+)"',
            "options": r'data-create-options="([^"]+)"',
        }.items()
    }
    assert all(found.values()), page
    return {name: html.unescape(m.group(1)) for name, m in found.items() if m}


def _factor_events(app: App) -> list[tuple[str, str, dict[str, str]]]:
    with app.ports.uow() as uow:
        events = uow.staff.audit(institutions=None, limit=500)
    return [
        (e.event.action, e.event.actor, dict(e.event.detail))
        for e in events
        if e.event.action.startswith("staff.factor_")
    ]


async def test_a_member_adds_a_security_key_and_then_removes_the_app(desk_app: App) -> None:
    secret = enrolled(desk_app, "amy", Role.COUNTER, ["hkpl"])
    console = Console(desk_app)
    await console.sign_in("amy", secret)
    page = await console.get("/staff/me")
    assert 'data-factor="totp"' in page.text
    # The only factor stays.
    only = await console.post("/staff/me/factors/totp/remove")
    assert only.status_code == 400
    assert "This is your only second factor." in only.text
    # A security key, registered for the console's origin.
    offer = _offer((await console.get("/staff/me")).text)
    key = SoftKey("127.0.0.1")
    origin = desk_app.settings.public_url.rstrip("/")
    added = await console.post(
        "/staff/me/keys", {"webauthn": key.register(offer["options"], origin)}
    )
    assert added.headers["location"] == "/staff/me?done=factor-added"
    assert staff_member(console.sp, "amy").webauthn_keys == 1
    # Later, the change needs a fresh second factor: the code typed beside it.
    clock_of(desk_app).advance(6 * 60)
    late = await console.post("/staff/me/factors/totp/remove")
    assert late.status_code == 403
    assert 'data-code="staff.recheck_needed"' in late.text
    assert staff_member(console.sp, "amy").has_totp
    removed = await console.post("/staff/me/factors/totp/remove", {"code": console.code(secret)})
    assert removed.headers["location"] == "/staff/me?done=factor-removed"
    member = staff_member(console.sp, "amy")
    assert (member.has_totp, member.webauthn_keys) == (False, 1)
    # Now the key is the only factor: it stays.
    [key_id] = re.findall(r'<tr data-factor="(\d+)">', (await console.get("/staff/me")).text)
    last = await console.post(f"/staff/me/factors/{key_id}/remove")
    assert last.status_code == 400
    assert _factor_events(desk_app) == [
        ("staff.factor_remove", "staff:amy", {"factor": "totp"}),
        ("staff.factor_add", "staff:amy", {"factor": "webauthn"}),
    ]
    await console.aclose()


async def test_a_member_moves_to_another_authenticator_app(desk_app: App) -> None:
    secret = enrolled(desk_app, "ben", Role.COUNTER, ["hkpl"])
    console = Console(desk_app)
    await console.sign_in("ben", secret)
    offer = _offer((await console.get("/staff/me")).text)
    # Only the key the page offered, sealed to this session, can be set.
    chosen = pyotp.random_base32()
    forged = await console.post(
        "/staff/me/totp",
        {"totp_secret": chosen, "totp_seal": offer["totp_seal"],
         "new_code": pyotp.TOTP(chosen).at(clock_of(desk_app).now())},
    )  # fmt: skip
    assert forged.status_code == 400
    assert "This page is out of date." in forged.text
    wrong = await console.post(
        "/staff/me/totp",
        {
            "totp_secret": offer["totp_secret"],
            "totp_seal": offer["totp_seal"],
            "new_code": "000000",
        },
    )
    assert wrong.status_code == 400
    moved = await console.post(
        "/staff/me/totp",
        {"totp_secret": offer["totp_secret"], "totp_seal": offer["totp_seal"],
         "new_code": pyotp.TOTP(offer["totp_secret"]).at(clock_of(desk_app).now())},
    )  # fmt: skip
    assert moved.headers["location"] == "/staff/me?done=factor-added"
    assert _factor_events(desk_app) == [
        ("staff.factor_add", "staff:ben", {"factor": "totp", "replaced": "yes"}),
    ]
    await console.aclose()
    # The new app's codes sign in; the old one's no longer do.
    clock_of(desk_app).advance(30)
    again = Console(desk_app)
    await again.sign_in("ben", offer["totp_secret"])
    await again.aclose()
    old = Console(desk_app)
    await old.post("/staff/sign-in", {"login": "ben", "password": PASSWORD})
    refused = await old.post("/staff/second-factor", {"code": old.code(secret)})
    assert refused.status_code == 401
    await old.aclose()
