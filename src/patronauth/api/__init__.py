"""The JSON API of the library's mobile app (`/api/v1`, SPEC 4.3).

`routes.py` holds the operations, `schemas.py` the JSON shapes, `errors.py` the one
error shape and its statuses, `docs.py` what the OpenAPI document says of them.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware

from patronauth import __version__
from patronauth.api import errors
from patronauth.api.middleware import AnswerHeaders, BodyLimit, SignInEdge
from patronauth.api.reference import reference_routes
from patronauth.api.routes import router
from patronauth.bootstrap import App
from patronauth.domain.lockout import RefusalPace
from patronauth.domain.sessions import SessionChannel
from patronauth.presentation.http import client_address
from patronauth.services.authenticate import known_refusal
from patronauth.services.signin import sign_in_blocked_first

DESCRIPTION = """\
The account behind a library card, for the library's mobile app.

Sign in with `POST /sessions`, then send `Authorization: Bearer <token>`.
This reference, browsable, is `/api/v1/docs`.
Every refusal is `{"error": code, "message": text, ...}` with its status; `message` is
in the language of `Accept-Language` (`en` or `zh-Hant`), `error` never changes.
"""


PREFIX = "/api/v1"  # where the site mounts the API


def create_api(app: App) -> FastAPI:
    api = FastAPI(
        title="PatronAuth",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
        generate_unique_id_function=lambda route: route.name,  # operationId: sign_in, me, ...
        middleware=[Middleware(AnswerHeaders), Middleware(BodyLimit)],
    )
    institutions = sorted(app.ports.profiles.all())
    errors.install(api, app.ports.profiles.all())
    api.include_router(router(app))
    api.router.routes.extend(reference_routes(api.title))

    def document() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = listing_institutions(FastAPI.openapi(api), institutions)
        return api.openapi_schema

    api.openapi = document  # type: ignore[method-assign]
    return api


def sign_in_edge(app: App) -> Middleware:
    """P1, P2: the API's sign-ins answered before the site's routing; it wraps the whole
    site (`asgi.create`), the API being mounted at `PREFIX`."""
    return Middleware(
        SignInEdge,
        path=f"{PREFIX}/sessions",
        sign_in=lambda attempt: sign_in_blocked_first(
            app.ports, attempt, session=SessionChannel.APP
        ),
        known=lambda attempt: known_refusal(app.ports, attempt),
        source=lambda scope: client_address(scope, trusted_proxies=app.settings.trusted_proxies),
        profiles=app.ports.profiles.all(),
        pace=RefusalPace(per_second=app.settings.refusals_per_second),
    )


def listing_institutions(document: dict[str, Any], institutions: Collection[str]) -> dict[str, Any]:
    """The libraries this deployment serves, named in every `institution` field."""
    for schema in document.get("components", {}).get("schemas", {}).values():
        field = schema.get("properties", {}).get("institution")
        if field is None:
            continue
        for variant in [field, *field.get("anyOf", [])]:
            if variant.get("type") == "string":
                variant["enum"] = list(institutions)
    return document
