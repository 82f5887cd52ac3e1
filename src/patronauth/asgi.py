"""The one ASGI application `patronauth serve` runs: My Account pages at `/`, the app's
JSON API at `/api/v1`, and `/healthz`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from patronauth.adapters.http import SecurityHeaders
from patronauth.api import create_api
from patronauth.bootstrap import App, build
from patronauth.web import create_web


def create(app: App | None = None) -> Starlette:
    """The application of one process; uvicorn calls this factory in each worker."""
    app = app or build()

    async def healthz(_: Request) -> JSONResponse:
        try:
            with app.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:  # any failure of the database means "not healthy"
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "up"})

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Mount("/api/v1", app=create_api(app)),
            Mount("/", app=create_web(app)),
        ],
        middleware=[Middleware(SecurityHeaders, hsts=app.settings.cookie_secure)],
        lifespan=lambda _: _closing(app),
    )


@contextlib.asynccontextmanager
async def _closing(app: App) -> AsyncIterator[None]:
    yield
    app.close()
