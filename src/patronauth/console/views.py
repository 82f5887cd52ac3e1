"""The console's pages. Each parses its form, calls one use case in the thread pool,
and renders the result; refusals are shown in the page's language."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from patronauth.console.desk import ROOT, Page
from patronauth.domain.credentials import CredentialKind
from patronauth.domain.errors import InvalidInput, NotFound, Refused
from patronauth.domain.signon import SignOnProtocol
from patronauth.domain.staff import Action, Role, StaffForbidden, Stage, parse_role, require
from patronauth.services import console as desk_cases
from patronauth.services import staffaccounts as staff_cases
from patronauth.services.signon import AddedClient

Handler = Callable[[Request], Awaitable[Response]]
PageHandler = Callable[[Page], Awaitable[Response]]


async def _fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _status(refused: Refused) -> int:
    if isinstance(refused, StaffForbidden):
        return 403
    if isinstance(refused, NotFound):
        return 404
    return 400


async def _desk(request: Request, action: Action) -> tuple[Page, Response | None]:
    """The page, or the answer instead: to sign-in when there is no console session,
    403 when the role does not reach `action`."""
    page = Page(request)
    desk = await run_in_threadpool(page.staff)
    if desk is None:
        return page, page.to_sign_in()
    try:
        require(desk.member.role, action)
    except StaffForbidden as refused:
        return page, page.render("problem.html", status=403, problem=refused.code)
    return page, None


def staff_page(action: Action) -> Callable[[PageHandler], Handler]:
    """The page runs only for a signed-in staff member whose role reaches `action`
    (`page.signed_in` is that member); others go to sign-in, or get 403."""

    def wrap(handler: PageHandler) -> Handler:
        @functools.wraps(handler)
        async def run(request: Request) -> Response:
            page, answer = await _desk(request, action)
            if answer is not None:
                return answer
            return await handler(page)

        return run

    return wrap


def database_down(request: Request, _: Exception) -> Response:
    page = Page(request)
    return page.render("problem.html", status=503, problem="service.unavailable")


def not_found(request: Request, _: Exception) -> Response:
    page = Page(request)
    return page.render("problem.html", status=404, problem="staff.page_not_found")


# --- signing in -----------------------------------------------------------------------


async def sign_in_form(request: Request) -> Response:
    page = Page(request)
    notice = request.query_params.get("notice")
    return page.render("sign_in.html", notice=notice if notice else None, login="")


async def sign_in(request: Request) -> Response:
    page = Page(request)
    fields = await _fields(request)
    login, password = fields.get("login", ""), fields.get("password", "")
    try:
        opened = await run_in_threadpool(
            staff_cases.sign_in_password, page.sp, login, password, source=page.source
        )
    except Refused as refused:
        return page.render(
            "sign_in.html", status=401, refused=refused, notice=None, login=login[:32]
        )
    response = page.redirect(f"{ROOT}/second-factor")
    page.set_cookie(response, opened.token)
    return response


async def second_factor_form(request: Request) -> Response:
    page = Page(request)
    desk = await run_in_threadpool(page.staff, Stage.PASSWORD)
    if desk is None:
        return page.to_sign_in()
    return page.render(
        "second_factor.html", member=desk.member, has_keys=desk.has_keys, action="second-factor"
    )


async def second_factor(request: Request) -> Response:
    page = Page(request)
    fields = await _fields(request)
    desk = await run_in_threadpool(page.staff, Stage.PASSWORD)
    if desk is None:
        return page.to_sign_in()
    try:
        opened = await run_in_threadpool(
            lambda: staff_cases.sign_in_second_factor(
                page.sp,
                page.token,
                code=fields.get("code") or None,
                webauthn=fields.get("webauthn") or None,
                source=page.source,
            )
        )
    except Refused as refused:
        return page.render(
            "second_factor.html",
            status=401,
            refused=refused,
            member=desk.member,
            has_keys=desk.has_keys,
            action="second-factor",
        )
    response = page.redirect(f"{ROOT}/")
    page.set_cookie(response, opened.token)
    return response


async def webauthn_options(request: Request) -> Response:
    """The options for `navigator.credentials.get` (the second step or a re-check)."""
    page = Page(request)
    try:
        options = await run_in_threadpool(staff_cases.webauthn_options, page.sp, page.token)
    except Refused as refused:
        return JSONResponse(
            {"error": refused.code}, status_code=400, headers={"cache-control": "no-store"}
        )
    return Response(options, media_type="application/json", headers={"cache-control": "no-store"})


async def sign_out(request: Request) -> Response:
    page = Page(request)
    await run_in_threadpool(staff_cases.sign_out, page.sp, page.token)
    response = page.redirect(f"{ROOT}/sign-in?notice=staff.signed_out")
    page.end_cookie(response)
    return response


# --- enrolment ------------------------------------------------------------------------


async def enrol_form(request: Request) -> Response:
    page = Page(request)
    token = request.path_params["token"]
    try:
        offer = await run_in_threadpool(staff_cases.open_enrolment, page.sp, token)
    except Refused as refused:
        return page.render("problem.html", status=404, problem=refused.code)
    return page.render("enrol.html", offer=offer, token=token)


async def enrol(request: Request) -> Response:
    page = Page(request)
    token = request.path_params["token"]
    fields = await _fields(request)
    try:
        member = await run_in_threadpool(
            lambda: staff_cases.enrol(
                page.sp,
                token,
                fields.get("password", ""),
                fields.get("confirm", ""),
                code=fields.get("code") or None,
                webauthn=fields.get("webauthn") or None,
                source=page.source,
            )
        )
    except Refused as refused:
        try:
            offer = await run_in_threadpool(staff_cases.open_enrolment, page.sp, token)
        except Refused as gone:
            return page.render("problem.html", status=404, problem=gone.code)
        return page.render("enrol.html", status=400, refused=refused, offer=offer, token=token)
    return page.render("enrolled.html", member=member)


# --- the desk -------------------------------------------------------------------------


@staff_page(Action.SEARCH)
async def home(page: Page) -> Response:
    request = page.request
    desk = page.signed_in
    query = request.query_params.get("q", "")
    hits: list[desk_cases.Hit] = []
    refused = None
    if query:
        try:
            hits = await run_in_threadpool(desk_cases.search, page.sp, desk, query)
        except Refused as problem:
            refused = problem
    return page.render(
        "home.html", status=400 if refused else 200, refused=refused, query=query, hits=hits
    )


async def _me_page(page: Page, *, status: int = 200, refused: Refused | None = None) -> Response:
    desk = page.signed_in
    events = await run_in_threadpool(desk_cases.own_actions, page.sp, desk)
    factors = await run_in_threadpool(staff_cases.my_factors, page.sp, desk)
    return page.render(
        "me.html",
        status=status,
        refused=refused,
        events=events,
        factors=factors,
        done=page.request.query_params.get("done"),
    )


@staff_page(Action.SEARCH)
async def me(page: Page) -> Response:
    """The member's own page: their second factors and what they did."""
    return await _me_page(page)


def _own_factor(change: Callable[[Page, dict[str, str]], None], done: str) -> Handler:
    """A change of the member's own second factors: a fresh second factor first (a code
    typed beside it, or a re-check in the last minutes)."""

    @staff_page(Action.SEARCH)
    async def handler(page: Page) -> Response:
        fields = await _fields(page.request)
        try:
            code = fields.get("code") or None
            if code:
                await _recheck_inline(page, {"code": code})
            await run_in_threadpool(change, page, fields)
        except Refused as refused:
            if refused.code == "staff.recheck_needed":
                return page.render("problem.html", status=403, problem=refused.code, recheck=True)
            return await _me_page(page, status=_status(refused), refused=refused)
        return page.redirect(f"{ROOT}/me?done={done}")

    return handler


add_totp = _own_factor(
    lambda page, fields: staff_cases.add_totp(
        page.sp,
        page.signed_in,
        secret=fields.get("totp_secret", ""),
        seal=fields.get("totp_seal", ""),
        code=fields.get("new_code", ""),
        source=page.source,
    ),
    "factor-added",
)
add_security_key = _own_factor(
    lambda page, fields: staff_cases.add_security_key(
        page.sp, page.signed_in, webauthn=fields.get("webauthn", ""), source=page.source
    ),
    "factor-added",
)
remove_factor = _own_factor(
    lambda page, _: staff_cases.remove_factor(
        page.sp, page.signed_in, page.request.path_params["factor"], source=page.source
    ),
    "factor-removed",
)


async def _patron_page(
    page: Page, patron_id: int, *, status: int = 200, refused: Refused | None = None, **extra: Any
) -> Response:
    try:
        shown = await run_in_threadpool(desk_cases.patron_page, page.sp, page.signed_in, patron_id)
    except Refused as problem:
        return page.render("problem.html", status=_status(problem), problem=problem.code)
    return page.render(
        "patron.html",
        status=status,
        refused=refused,
        shown=shown,
        done=page.request.query_params.get("done"),
        kinds=[k.value for k in CredentialKind],
        **extra,
    )


@staff_page(Action.VIEW_PATRON)
async def patron(page: Page) -> Response:
    request = page.request
    return await _patron_page(page, request.path_params["patron"])


async def _recheck_inline(page: Page, fields: dict[str, str]) -> None:
    """A code typed beside the action counts as the re-check of the second factor."""
    code = fields.get("code") or None
    webauthn = fields.get("webauthn") or None
    if code or webauthn:
        await run_in_threadpool(
            lambda: staff_cases.recheck(
                page.sp, page.token, code=code, webauthn=webauthn, source=page.source
            )
        )
        page.staff()  # the session now carries the fresh check


def _patron_action(action: Action, name: str) -> Handler:
    @staff_page(action)
    async def handler(page: Page) -> Response:
        request = page.request
        patron_id = request.path_params["patron"]
        fields = await _fields(request)
        reason = fields.get("reason")
        try:
            if action is Action.RESET:
                await _recheck_inline(page, fields)
                kind = fields.get("credential") or None
                result = await run_in_threadpool(
                    desk_cases.reset,
                    page.sp,
                    page.signed_in,
                    patron_id,
                    CredentialKind(kind) if kind in {k.value for k in CredentialKind} else None,
                    reason,
                )
                if result.temporary is not None:
                    return page.render("temporary.html", result=result, patron_id=patron_id)
            elif action is Action.UNLOCK:
                await run_in_threadpool(
                    desk_cases.unlock_patron, page.sp, page.signed_in, patron_id, reason
                )
            elif action is Action.REPLACE_CARD:
                await run_in_threadpool(
                    desk_cases.replace,
                    page.sp,
                    page.signed_in,
                    patron_id,
                    fields.get("new", ""),
                    reason,
                )
            elif action is Action.COMPLETE_REGISTRATION:
                await run_in_threadpool(
                    desk_cases.complete, page.sp, page.signed_in, patron_id, reason
                )
            elif action is Action.RECORD_PAYMENT:
                raw = fields.get("amount", "").strip()
                if not raw.isdigit() or len(raw) > 9:
                    raise InvalidInput.of("fines.bad_amount")
                await run_in_threadpool(
                    desk_cases.pay, page.sp, page.signed_in, patron_id, int(raw), reason
                )
        except Refused as refused:
            if refused.code == "staff.recheck_needed":
                return page.render("problem.html", status=403, problem=refused.code, recheck=True)
            if (
                isinstance(refused, StaffForbidden | NotFound)
                and refused.code != "patron.not_found"
            ):
                return page.render("problem.html", status=_status(refused), problem=refused.code)
            return await _patron_page(page, patron_id, status=_status(refused), refused=refused)
        return page.redirect(f"{ROOT}/patrons/{patron_id}?done={name}")

    return handler


reset = _patron_action(Action.RESET, "reset")
unlock = _patron_action(Action.UNLOCK, "unlock")
replace = _patron_action(Action.REPLACE_CARD, "replace")
complete = _patron_action(Action.COMPLETE_REGISTRATION, "complete")
pay = _patron_action(Action.RECORD_PAYMENT, "pay")


@staff_page(Action.SEARCH)
async def recheck_form(page: Page) -> Response:
    return page.render(
        "second_factor.html",
        member=page.signed_in.member,
        has_keys=page.signed_in.has_keys,
        action="recheck",
    )


@staff_page(Action.SEARCH)
async def recheck(page: Page) -> Response:
    request = page.request
    fields = await _fields(request)
    try:
        await _recheck_inline(page, fields)
        if not (fields.get("code") or fields.get("webauthn")):
            raise InvalidInput.of("staff.totp_invalid")
    except Refused as refused:
        return page.render(
            "second_factor.html",
            status=401,
            refused=refused,
            member=page.signed_in.member,
            has_keys=page.signed_in.has_keys,
            action="recheck",
        )
    return page.redirect(f"{ROOT}/?done=recheck")


# --- supervisors --------------------------------------------------------------------------


@staff_page(Action.AUDIT)
async def audit(page: Page) -> Response:
    request = page.request
    q = request.query_params
    actor = (q.get("staff") or "").strip() or None
    patron_raw = (q.get("patron") or "").strip()
    day_raw = (q.get("day") or "").strip()
    refused = None
    events: list[Any] = []
    try:
        patron_id = int(patron_raw) if patron_raw.isdigit() else None
        if patron_raw and patron_id is None:
            raise InvalidInput.of("staff.search_invalid")
        try:
            day = date.fromisoformat(day_raw) if day_raw else None
        except ValueError:
            raise InvalidInput.of("date.invalid", value=day_raw[:20]) from None
        if actor and ":" not in actor:
            actor = f"staff:{actor}"
        desk = page.signed_in
        events = await run_in_threadpool(
            lambda: desk_cases.audit_view(page.sp, desk, actor=actor, patron_id=patron_id, day=day)
        )
    except Refused as problem:
        refused = problem
    return page.render(
        "audit.html",
        status=400 if refused else 200,
        refused=refused,
        events=events,
        filters={"staff": q.get("staff", ""), "patron": patron_raw, "day": day_raw},
    )


@staff_page(Action.FORCE_CHANGE)
async def go_live_form(page: Page) -> Response:
    return page.render("go_live.html")


@staff_page(Action.FORCE_CHANGE)
async def go_live(page: Page) -> Response:
    request = page.request
    fields = await _fields(request)
    try:
        try:
            day = date.fromisoformat(fields.get("day", "").strip())
        except ValueError:
            raise InvalidInput.of("date.invalid", value=fields.get("day", "")[:20]) from None
        category = fields.get("category", "").strip()
        await run_in_threadpool(
            desk_cases.go_live,
            page.sp,
            page.signed_in,
            fields.get("institution", ""),
            day,
            [category] if category else None,
            fields.get("reason"),
        )
    except Refused as refused:
        return page.render("go_live.html", status=_status(refused), refused=refused)
    return page.redirect(f"{ROOT}/go-live?done=go-live")


async def _terminals_page(
    page: Page, *, status: int = 200, refused: Refused | None = None
) -> Response:
    found = await run_in_threadpool(desk_cases.terminals, page.sp, page.signed_in)
    return page.render(
        "terminals.html",
        status=status,
        refused=refused,
        terminals=found,
        done=page.request.query_params.get("done"),
    )


@staff_page(Action.TERMINALS)
async def terminals(page: Page) -> Response:
    return await _terminals_page(page)


@staff_page(Action.TERMINALS)
async def add_terminal(page: Page) -> Response:
    request = page.request
    fields = await _fields(request)
    try:
        await run_in_threadpool(
            lambda: desk_cases.new_terminal(
                page.sp,
                page.signed_in,
                login=fields.get("login", ""),
                institution=fields.get("institution", ""),
                password=fields.get("password", ""),
                location=fields.get("location") or None,
                reason=fields.get("reason"),
            )
        )
    except Refused as refused:
        return await _terminals_page(page, status=_status(refused), refused=refused)
    return page.redirect(f"{ROOT}/terminals?done=add")


def _switch(enabled: bool) -> Handler:
    @staff_page(Action.TERMINALS)
    async def handler(page: Page) -> Response:
        request = page.request
        fields = await _fields(request)
        try:
            await run_in_threadpool(
                lambda: desk_cases.switch_terminal(
                    page.sp,
                    page.signed_in,
                    request.path_params["login"],
                    enabled=enabled,
                    reason=fields.get("reason"),
                )
            )
        except Refused as refused:
            return await _terminals_page(page, status=_status(refused), refused=refused)
        return page.redirect(f"{ROOT}/terminals?done={'enable' if enabled else 'disable'}")

    return handler


disable_terminal = _switch(False)
enable_terminal = _switch(True)


@staff_page(Action.TERMINALS)
async def unlock_terminal(page: Page) -> Response:
    request = page.request
    fields = await _fields(request)
    desk = page.signed_in
    try:
        await run_in_threadpool(
            lambda: desk_cases.unlock_terminal(
                page.sp, desk, request.path_params["login"], fields.get("reason")
            )
        )
    except Refused as refused:
        return await _terminals_page(page, status=_status(refused), refused=refused)
    return page.redirect(f"{ROOT}/terminals?done=unlock")


# --- the library's sign-on services ---------------------------------------------------------


async def _services_page(
    page: Page,
    *,
    status: int = 200,
    refused: Refused | None = None,
    shown: AddedClient | None = None,
) -> Response:
    found = await run_in_threadpool(desk_cases.clients, page.sp, page.signed_in)
    return page.render(
        "services.html",
        status=status,
        refused=refused,
        clients=found,
        shown=shown,
        protocols=[p.value for p in SignOnProtocol],
        done=page.request.query_params.get("done"),
    )


@staff_page(Action.SIGN_ON)
async def services(page: Page) -> Response:
    return await _services_page(page)


def _lines(text: str | None) -> list[str]:
    return (text or "").split()


@staff_page(Action.SIGN_ON)
async def add_service(page: Page) -> Response:
    """The new service's client id and secret are shown in the answer, this once."""
    fields = await _fields(page.request)
    desk = page.signed_in
    try:
        try:
            protocol = SignOnProtocol(fields.get("protocol", ""))
        except ValueError:
            raise InvalidInput.of("client.protocol_invalid") from None
        shown = await run_in_threadpool(
            lambda: desk_cases.new_client(
                page.sp,
                desk,
                name=fields.get("name", ""),
                protocol=protocol,
                institution=fields.get("institution", ""),
                redirect_uris=_lines(fields.get("redirect_uris")),
                logout_uris=_lines(fields.get("logout_uris")),
                allow_from=_lines(fields.get("allow_from")),
                trusted=bool(fields.get("trusted")),
                public=bool(fields.get("public")),
                reason=fields.get("reason"),
            )
        )
    except Refused as refused:
        return await _services_page(page, status=_status(refused), refused=refused)
    return await _services_page(page, shown=shown)


@staff_page(Action.SIGN_ON)
async def disable_service(page: Page) -> Response:
    fields = await _fields(page.request)
    client_id = page.request.path_params["client_id"]
    try:
        await run_in_threadpool(
            desk_cases.stop_client, page.sp, page.signed_in, client_id, fields.get("reason")
        )
    except Refused as refused:
        return await _services_page(page, status=_status(refused), refused=refused)
    return page.redirect(f"{ROOT}/services?done=disable")


@staff_page(Action.SIGN_ON)
async def rotate_service_secret(page: Page) -> Response:
    """The new secret is shown in the answer, this once; the old one stops working."""
    fields = await _fields(page.request)
    client_id = page.request.path_params["client_id"]
    try:
        shown = await run_in_threadpool(
            desk_cases.new_client_secret, page.sp, page.signed_in, client_id, fields.get("reason")
        )
    except Refused as refused:
        return await _services_page(page, status=_status(refused), refused=refused)
    return await _services_page(page, shown=shown)


# --- administrators -------------------------------------------------------------------------


async def _accounts_page(
    page: Page, *, status: int = 200, refused: Refused | None = None, added: Any = None
) -> Response:
    members = await run_in_threadpool(staff_cases.list_staff, page.sp)
    return page.render(
        "accounts.html",
        status=status,
        refused=refused,
        members=members,
        roles=[r.value for r in Role],
        added=added,
        done=page.request.query_params.get("done"),
    )


@staff_page(Action.MANAGE_STAFF)
async def accounts(page: Page) -> Response:
    return await _accounts_page(page)


@staff_page(Action.MANAGE_STAFF)
async def add_account(page: Page) -> Response:
    request = page.request
    fields = await _fields(request)
    try:
        await _recheck_inline(page, fields)
        role = parse_role(fields.get("role", ""))
        institutions = fields.get("institutions", "").replace(",", " ").split()
        added = await run_in_threadpool(
            lambda: desk_cases.add_member(
                page.sp,
                page.signed_in,  # as the re-check just left it
                fields.get("login", ""),
                fields.get("name", ""),
                role,
                institutions,
                fields.get("reason"),
            )
        )
    except Refused as refused:
        return await _accounts_page(page, status=_status(refused), refused=refused)
    return await _accounts_page(page, added=added)


@staff_page(Action.MANAGE_STAFF)
async def account_role(page: Page) -> Response:
    request = page.request
    fields = await _fields(request)
    try:
        await _recheck_inline(page, fields)
        role = parse_role(fields.get("role", ""))
        await run_in_threadpool(
            desk_cases.change_role,
            page.sp,
            page.signed_in,
            request.path_params["login"],
            role,
            fields.get("reason"),
        )
    except Refused as refused:
        if refused.code == "staff.recheck_needed":
            return page.render("problem.html", status=403, problem=refused.code, recheck=True)
        return await _accounts_page(page, status=_status(refused), refused=refused)
    return page.redirect(f"{ROOT}/accounts?done=role")


@staff_page(Action.MANAGE_STAFF)
async def account_disable(page: Page) -> Response:
    request = page.request
    fields = await _fields(request)
    try:
        await _recheck_inline(page, fields)
        await run_in_threadpool(
            lambda: desk_cases.disable_member(
                page.sp, page.signed_in, request.path_params["login"], fields.get("reason")
            )
        )
    except Refused as refused:
        return await _accounts_page(page, status=_status(refused), refused=refused)
    return page.redirect(f"{ROOT}/accounts?done=disable")
