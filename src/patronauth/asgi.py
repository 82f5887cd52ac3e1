"""The one ASGI application `patronauth serve` runs: My Account pages at `/`, the app's
JSON API at `/api/v1`, the telephone line's webhooks at `/telephone` (docs/telephone.md),
sign-on for the library's services (docs/sign-on.md), the staff console at `/staff`, and
for the operators `/healthz`, `/livez`, `/readyz` and, with a bearer token configured,
`/metrics` (docs/operations.md)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from redis.exceptions import RedisError
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from patronauth.api import PREFIX as API_PREFIX
from patronauth.api import create_api, sign_in_edge
from patronauth.bootstrap import App, build, metrics
from patronauth.console import create_console
from patronauth.presentation.http import SecurityHeaders
from patronauth.signon import routes as sign_on_routes
from patronauth.telephone.app import create_telephone
from patronauth.web import create_web

log = logging.getLogger("patronauth.serve")


def create(app: App | None = None) -> Starlette:
    """The application of one process; uvicorn calls this factory in each worker."""
    app = app or build()
    log.info("argon2id hashing pool: %d at a time in this process", app.settings.hash_workers)
    if app.settings.hash_gate is not None:
        log.info(
            "argon2id gate: %d at a time among the web workers (%s)",
            app.settings.hash_workers,
            app.settings.hash_gate,
        )

    def healthz(_: Request) -> JSONResponse:  # blocking: run in the thread pool
        try:
            with app.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:  # any failure of the database means "not healthy"
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "up"})

    def livez(_: Request) -> JSONResponse:
        """The process is up and answering; says nothing of the database."""
        return JSONResponse({"status": "ok"})

    def readyz(_: Request) -> JSONResponse:
        """Ready for traffic: the database answers, and Redis answers or its fallbacks
        (the database for attempt counts, memory for throttles) are in use."""
        return JSONResponse(*readiness(app))

    token = app.settings.metrics_token

    def metrics_page(request: Request) -> Response:
        # Its counts tell, for one, whether a reset matched a card: never open to all.
        if not metrics.authorised(request.headers.get("authorization"), token):
            return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    # Without a token, the public port has no /metrics (PATRONAUTH_METRICS_ADDRESS).
    operators = [Route("/metrics", metrics_page)] if token else []
    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/livez", livez),
            Route("/readyz", readyz),
            *operators,
            Mount(API_PREFIX, app=create_api(app)),
            Mount("/telephone", app=create_telephone(app)),
            *sign_on_routes(app),
            Mount("/staff", app=create_console(app)),
            Mount("/", app=create_web(app)),
        ],
        middleware=[
            Middleware(SecurityHeaders, hsts=app.settings.cookie_secure),
            sign_in_edge(app),  # inside: its answers carry the security headers too
        ],
        lifespan=lambda _: _closing(app),
    )


FALLBACKS = {"counter": "database", "throttle": "memory", "sessions": "database"}


def readiness(app: App) -> tuple[dict[str, object], int]:
    """The body and status of /readyz."""
    body: dict[str, object] = {"status": "ready"}
    try:
        with app.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        body["database"] = "up"
    except Exception:  # any failure of the database means "not ready"
        body["database"] = "down"
    if app.redis is None:
        body["redis"] = "not used"
    else:
        try:
            app.redis.ping()
            body["redis"] = "up"
        except RedisError:
            body["redis"] = "down"
        degraded = [h.component for h in app.redis_health if h.degraded]
        if body["redis"] == "down" or degraded:
            body["fallback"] = {
                h.component: FALLBACKS.get(h.component, "yes") for h in app.redis_health
            }
    if body["database"] == "down":
        body["status"] = "unavailable"
        return body, 503
    return body, 200


@contextlib.asynccontextmanager
async def _closing(app: App) -> AsyncIterator[None]:
    yield
    app.close()
