"""The interactive API reference at `/api/v1/docs`: Swagger UI over the OpenAPI document.

Swagger UI's files come from the `swagger-ui-py` package (never a CDN): it ships
Swagger UI 5, which reads the OpenAPI 3.1 document FastAPI writes (`swagger-ui-bundle`
ships Swagger UI 4, which refuses it). The script that starts it is
`static/reference.js`, a file of ours, since the Content-Security-Policy allows no
inline script. Only the files the page needs are served.

The page runs under the site's Content-Security-Policy unchanged: Swagger UI 5 sets
its styles through the DOM (allowed by `style-src 'self'`), not as inline markup, and
fetches nothing from elsewhere once its validator badge is off (docs/security.md).
"""

from __future__ import annotations

from functools import cache
from html import escape
from importlib import resources, util
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Route

ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
START = "reference.js"


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}: API reference</title>
<link rel="stylesheet" href="{docs}/swagger-ui.css">
<link rel="icon" type="image/png" href="{docs}/favicon-32x32.png">
<script src="{docs}/swagger-ui-bundle.js" defer></script>
<script src="{docs}/{start}" defer></script>
</head>
<body>
<div id="swagger-ui" data-openapi="{openapi}"></div>
<noscript><p>The reference needs JavaScript; the document itself is
<a href="{openapi}">openapi.json</a>.</p></noscript>
</body>
</html>
"""


@cache
def _bundle() -> Path:
    """Swagger UI's files in the `swagger-ui-py` package, found without importing it
    (its own code is for other frameworks)."""
    spec = util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def _bundle_file(name: str) -> Path:
    return _bundle() / name


def _our_file(name: str) -> Path:
    return Path(str(resources.files("patronauth.api") / "static" / name))


def reference_routes(title: str) -> list[BaseRoute]:
    def page(request: Request) -> Response:
        root = request.scope.get("root_path", "")
        body = _PAGE.format(
            title=escape(title),
            docs=escape(f"{root}/docs"),
            start=START,
            openapi=escape(f"{root}/openapi.json"),
        )
        return HTMLResponse(body)

    def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name == START:
            return FileResponse(_our_file(START), media_type="text/javascript; charset=utf-8")
        if name not in ASSETS:
            return Response(status_code=404)
        return FileResponse(_bundle_file(name), media_type=ASSETS[name])

    return [
        Route("/docs", page, methods=["GET", "HEAD"], include_in_schema=False),
        Route("/docs/{name}", asset, methods=["GET", "HEAD"], include_in_schema=False),
    ]
