"""The JSON API of the library's mobile app (`/api/v1`)."""

from __future__ import annotations

from fastapi import FastAPI

from patronauth.bootstrap import App


def create_api(app: App) -> FastAPI:
    return FastAPI(title="PatronAuth", openapi_url="/openapi.json", docs_url=None, redoc_url=None)
