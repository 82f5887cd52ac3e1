"""My Account pages (server-rendered, working without JavaScript)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from patronauth.bootstrap import App


def create_web(app: App) -> Starlette:
    async def index(_: Request) -> PlainTextResponse:
        return PlainTextResponse("PatronAuth")

    return Starlette(routes=[Route("/", index)])
