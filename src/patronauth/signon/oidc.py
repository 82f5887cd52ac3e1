"""Placeholder until the protocol lands."""

from __future__ import annotations

from starlette.routing import BaseRoute

from patronauth.bootstrap import App


def routes(app: App) -> list[BaseRoute]:
    return []
