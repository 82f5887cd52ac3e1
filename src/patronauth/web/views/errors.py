"""Error pages: unknown pages, refused forms, failures; in the visitor's language."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from patronauth.domain.errors import Busy, Unavailable
from patronauth.web.pages import Page

# What the template says for each problem (the texts are in problem.html).
PROBLEMS = {
    400: "form.not_utf8",
    403: "form.expired",
    404: "not_found",
    405: "method",
    413: "form.too_large",
    415: "form.unsupported",
    500: "failure",
}


# SPEC 7: while the database does not answer, pages say so and when to come back.
DATABASE_RETRY_SECONDS = 5


def problem_response(
    request: Request, problem: str, status: int, headers: dict[str, str] | None = None
) -> Response:
    page = Page(request, library=False)
    first = request.url.path.strip("/").split("/", 1)[0]
    page.profile = page.site.libraries.get(first)
    back = request.url.path if request.method == "POST" else None
    return page.render("problem.html", status=status, problem=problem, back=back, headers=headers)


def http_error(request: Request, error: Exception) -> Response:
    status = error.status_code if isinstance(error, HTTPException) else 500
    return problem_response(request, PROBLEMS.get(status, "failure"), status)


def database_down(request: Request, _: Exception) -> Response:
    """Nothing was written: the unit of work rolls back whatever it had begun. (A database
    without its tables is no outage that waiting would end: `SchemaMissing` gets the
    failure page.)"""
    headers = {"Retry-After": str(DATABASE_RETRY_SECONDS)}
    return problem_response(request, "unavailable", 503, headers)


def busy(request: Request, error: Exception) -> Response:
    """The busy page: the hashing pool is full, or the campus directory does not answer
    (R20); nothing was done or counted."""
    wait = error.retry_after if isinstance(error, Busy) else 1
    problem = "sign_on_unavailable" if isinstance(error, Unavailable) else "busy"
    return problem_response(request, problem, 503, {"Retry-After": str(wait)})


def server_error(request: Request, _: Exception) -> Response:
    # Starlette logs the exception after this page has been sent.
    return problem_response(request, "failure", 500)
