"""The counter's staff console at /staff/: server-rendered like My Account, in English
and Traditional Chinese, working without JavaScript except for WebAuthn.

desk.py     one request: language, the staff member, rendering, the staff cookie
views.py    the pages; each parses a form, calls one use case, renders the result
templates/  Jinja2, autoescaped; every text through the translation catalogue
static/     webauthn.js, the one script (security keys need the browser's API)

The console has its own session cookie (path /staff, SameSite=Strict), its own CSRF
cookie, and answers only from PATRONAUTH_STAFF_NETWORKS.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from asgi_csrf import asgi_csrf
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from patronauth.bootstrap import App, keyring, staff_ports
from patronauth.console import views
from patronauth.console.desk import Console, problem_page
from patronauth.domain.errors import StorageUnavailable
from patronauth.presentation.http import ASGIApp, Receive, Scope, Send, client_address

GET, POST = ["GET", "HEAD"], ["POST"]


def routes() -> list[Route | Mount]:
    p = "/patrons/{patron:int}"
    return [
        Mount("/static", app=StaticFiles(packages=[("patronauth.console", "static")])),
        Route("/", views.home, methods=GET),
        Route("/sign-in", views.sign_in_form, methods=GET),
        Route("/sign-in", views.sign_in, methods=POST),
        Route("/second-factor", views.second_factor_form, methods=GET),
        Route("/second-factor", views.second_factor, methods=POST),
        Route("/webauthn-options", views.webauthn_options, methods=POST),
        Route("/sign-out", views.sign_out, methods=POST),
        Route("/enrol/{token}", views.enrol_form, methods=GET),
        Route("/enrol/{token}", views.enrol, methods=POST),
        Route("/recheck", views.recheck_form, methods=GET),
        Route("/recheck", views.recheck, methods=POST),
        Route("/me", views.me, methods=GET),
        Route("/me/totp", views.add_totp, methods=POST),
        Route("/me/keys", views.add_security_key, methods=POST),
        Route("/me/factors/{factor}/remove", views.remove_factor, methods=POST),
        Route(p, views.patron, methods=GET),
        Route(f"{p}/reset", views.reset, methods=POST),
        Route(f"{p}/unlock", views.unlock, methods=POST),
        Route(f"{p}/replace", views.replace, methods=POST),
        Route(f"{p}/complete", views.complete, methods=POST),
        Route(f"{p}/pay", views.pay, methods=POST),
        Route("/audit", views.audit, methods=GET),
        Route("/go-live", views.go_live_form, methods=GET),
        Route("/go-live", views.go_live, methods=POST),
        Route("/terminals", views.terminals, methods=GET),
        Route("/terminals", views.add_terminal, methods=POST),
        Route("/terminals/{login}/disable", views.disable_terminal, methods=POST),
        Route("/terminals/{login}/enable", views.enable_terminal, methods=POST),
        Route("/terminals/{login}/unlock", views.unlock_terminal, methods=POST),
        Route("/services", views.services, methods=GET),
        Route("/services", views.add_service, methods=POST),
        Route("/services/{client_id}/disable", views.disable_service, methods=POST),
        Route("/services/{client_id}/rotate-secret", views.rotate_service_secret, methods=POST),
        Route("/accounts", views.accounts, methods=GET),
        Route("/accounts", views.add_account, methods=POST),
        Route("/accounts/{login}/role", views.account_role, methods=POST),
        Route("/accounts/{login}/disable", views.account_disable, methods=POST),
    ]


class StaffNetworks:
    """PATRONAUTH_STAFF_NETWORKS: elsewhere the console does not answer at all."""

    def __init__(self, app: ASGIApp, *, console: Console) -> None:
        self.app = app
        self.console = console
        self.networks = [ipaddress.ip_network(n) for n in console.settings.staff_networks]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            address = client_address(scope, trusted_proxies=self.console.settings.trusted_proxies)
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                ip = None
            if ip is None or not any(ip in network for network in self.networks):
                response = problem_page(self.console, scope, "staff.network", 403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _csrf(app: ASGIApp, *, console: Console) -> Any:
    async def refused(scope: Scope, send: Send, _: object) -> None:
        async def nothing() -> dict[str, Any]:
            return {"type": "http.disconnect"}

        await problem_page(console, scope, "staff.form_expired", 403)(scope, nothing, send)

    class _EveryPath:
        def __contains__(self, path: object) -> bool:
            return True

    return asgi_csrf(
        app,
        cookie_name=console.csrf_cookie,
        cookie_path="/staff",
        signing_secret=keyring(console.settings).derive("staff-csrf"),
        always_protect=_EveryPath(),
        cookie_secure=console.secure,
        cookie_samesite="Strict",
        send_csrf_failed=refused,
    )


def create_console(app: App) -> Starlette:
    console = Console(app, staff_ports(app))
    starlette = Starlette(
        routes=routes(),
        middleware=[
            Middleware(StaffNetworks, console=console),
            Middleware(_csrf, console=console),
        ],
        exception_handlers={
            StorageUnavailable: views.database_down,
            404: views.not_found,
            405: views.not_found,
        },
    )
    starlette.state.console = console
    return starlette
