"""`POST /sessions`: the answer to a sign-in, the same from the route and from the
site's edge, which answers a well-formed sign-in before any routing (P1, P2)."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import Response

from patronauth.api.errors import outcome_error
from patronauth.api.schemas import Opened
from patronauth.domain.profile import Profile
from patronauth.services.signin import SignedIn


def opened_answer(signed: SignedIn, language: str, profiles: Mapping[str, Profile]) -> Response:
    """201 with the new session's token; a refusal is raised (`ApiError`)."""
    result, opened = signed.result, signed.opened
    if opened is None:
        raise outcome_error(result, language, profiles)
    assert result.kind is not None  # a sign-in always names its credential
    answer = Opened(
        token=opened.token,
        must_change=opened.must_change,
        credential=result.kind,
        expires_at=opened.expires_at,
    )
    # Serialised here: a model returned from the route (a `def` endpoint) would be
    # validated again in another hand-over to the thread pool (P1).
    return Response(answer.model_dump_json(), 201, media_type="application/json")
