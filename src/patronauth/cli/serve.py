"""`patronauth serve`: the web pages and the JSON API in one process (or several)."""

from __future__ import annotations

import click
import uvicorn

from patronauth.cli.common import ctx


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True)
def serve(host: str, port: int, workers: int) -> None:
    """Serve My Account at / and the app's API at /api/v1 (uvicorn)."""
    c = ctx()
    c.settings  # fail here, with a clear message, on a bad configuration  # noqa: B018
    click.echo(f"PatronAuth at http://{host}:{port}/  (API: http://{host}:{port}/api/v1)", err=True)
    uvicorn.run(
        "patronauth.asgi:create",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        server_header=False,
        proxy_headers=False,
        log_level="info",
        access_log=False,
    )
