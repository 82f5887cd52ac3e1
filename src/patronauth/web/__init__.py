"""My Account pages: server-rendered, working without JavaScript (SPEC 4.4, S7).

site.py     what every page shares: templates per language, cookies, libraries
pages.py    one request for one page: language, library, visitor, rendering
forms.py    reading the fields of a form and what is wrong with them
guard.py    form limits and CSRF protection around every page
views/      the pages themselves
templates/  Jinja2, autoescaped; every text through the translation catalogue
static/     style sheet and the live policy hints (a progressive enhancement)
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from patronauth.bootstrap import App
from patronauth.domain.errors import Busy, StorageUnavailable
from patronauth.web.guard import FormGuard, csrf_protection
from patronauth.web.site import Site
from patronauth.web.views import account, lending, policy, public, recovery, requests
from patronauth.web.views.errors import busy, database_down, http_error, server_error

GET, POST = ["GET", "HEAD"], ["POST"]


def routes() -> list[Route | Mount]:
    i = "/{institution}"
    return [
        Mount("/static", app=StaticFiles(packages=[("patronauth.web", "static")]), name="static"),
        Route("/", public.index, methods=GET),
        Route("/language", public.language_page, methods=GET),
        Route("/language", public.choose_language, methods=POST),
        Route(f"{i}/sign-in", public.sign_in_form, methods=GET),
        Route(f"{i}/sign-in", public.sign_in, methods=POST),
        Route(f"{i}/sign-out", public.sign_out_form, methods=GET),
        Route(f"{i}/sign-out", public.sign_out, methods=POST),
        Route(f"{i}/account", account.summary, methods=GET),
        Route(f"{i}/account/contact", account.contact, methods=GET),
        Route(f"{i}/account/loans", lending.loans, methods=GET),
        Route(f"{i}/account/loans/renew-all", lending.renew_every, methods=POST),
        Route(f"{i}/account/loans/{{loan}}/renew", lending.renew, methods=POST),
        Route(f"{i}/account/holds", lending.holds, methods=GET),
        Route(f"{i}/account/holds", lending.place, methods=POST),
        Route(f"{i}/account/holds/{{hold}}/cancel", lending.cancel_form, methods=GET),
        Route(f"{i}/account/holds/{{hold}}/cancel", lending.cancel, methods=POST),
        Route(f"{i}/account/catalogue", lending.catalogue, methods=GET),
        Route(f"{i}/account/fines", lending.fines, methods=GET),
        Route(f"{i}/account/requests", requests.listing, methods=GET),
        Route(f"{i}/account/requests/{{kind}}", requests.request_form, methods=GET),
        Route(f"{i}/account/requests/{{kind}}", requests.submit, methods=POST),
        Route(f"{i}/change-required", account.forced_change_form, methods=GET),
        Route(f"{i}/change-required", account.forced_change, methods=POST),
        Route(f"{i}/change-password", account.change_password_form, methods=GET),
        Route(f"{i}/change-password", account.change_password, methods=POST),
        Route(f"{i}/change-pin", account.change_pin_form, methods=GET),
        Route(f"{i}/change-pin", account.change_pin, methods=POST),
        Route(f"{i}/policy-check", policy.policy_check, methods=POST),
        Route(f"{i}/forgot", recovery.forgot_form, methods=GET),
        Route(f"{i}/forgot", recovery.forgot, methods=POST),
        Route(f"{i}/set-up", recovery.setup_request_form, methods=GET),
        Route(f"{i}/set-up", recovery.setup_request, methods=POST),
        Route(f"{i}/set-up/{{token}}/policy-check", policy.setup_policy_check, methods=POST),
        Route(f"{i}/set-up/{{token}}", recovery.setup_link_form, methods=GET),
        Route(f"{i}/set-up/{{token}}", recovery.setup_link, methods=POST),
        Route(f"{i}/reset/{{token}}", recovery.reset_link_form, methods=GET),
        Route(f"{i}/reset/{{token}}", recovery.reset_link, methods=POST),
        Route(i, public.library_home, methods=GET),
    ]


def create_web(app: App) -> Starlette:
    site = Site(app)
    web = Starlette(
        routes=routes(),
        middleware=[Middleware(FormGuard), Middleware(csrf_protection, site=site)],
        exception_handlers={
            404: http_error,
            405: http_error,
            StorageUnavailable: database_down,  # down, or every connection busy
            Busy: busy,
            Exception: server_error,
        },
    )
    web.state.site = site
    return web
