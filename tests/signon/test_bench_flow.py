"""The bench's sign-on completion (`bench/signon.py`) is the real code flow: run in
process against the application, it gets each step's expected answer and a valid ID
token, each completion starts without cookies, and a refused sign-in makes it invalid
instead of being counted."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from bench.apps import patrons_with_passwords
from bench.signon import REDIRECT, Invalid, Relying, browsers, complete
from joserfc.jwk import KeySet

from patronauth.asgi import create
from patronauth.bootstrap import App, ensure_signing_keys
from patronauth.domain.signon import SignOnProtocol
from patronauth.services.signon import add_client
from tests.support import STAFF

pytestmark = pytest.mark.anyio
BASE = "http://library.test"
STEPS = ("sign-in page 200", "sign-in 200", "authorize 302", "token 200", "id token ok")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def pool(app: App) -> AsyncIterator[httpx.AsyncClient]:
    async with browsers(BASE, 2, httpx.ASGITransport(app=create(app))) as client:
        yield client


async def relying(app: App, pool: httpx.AsyncClient) -> Relying:
    assert ensure_signing_keys(app.settings)
    added = add_client(
        app.ports,
        name="Discovery",
        protocol=SignOnProtocol.OIDC,
        institution="hkpl",
        redirect_uri=(REDIRECT,),
        trusted=True,
        staff=STAFF,
    )
    assert added.secret is not None
    config = (await pool.get("/.well-known/openid-configuration")).json()
    keys = KeySet.import_key_set((await pool.get("/oidc/jwks")).json())
    return Relying(BASE, added.client.client_id, added.secret, config["issuer"], keys)


async def test_a_completion_is_the_whole_code_flow(app: App, pool: httpx.AsyncClient) -> None:
    rp = await relying(app, pool)
    [barcode] = patrons_with_passwords(app, 1, 1)
    answers: Counter[str] = Counter()
    await complete(pool, rp, barcode, answers)
    assert answers == Counter(dict.fromkeys(STEPS, 1))
    # The next completion is a new browser: it signs in again (one more sign-in page
    # with its form, not a redirect of a patron already signed in).
    await complete(pool, rp, barcode, answers)
    assert answers == Counter(dict.fromkeys(STEPS, 2))
    assert len(pool.cookies.jar) == 0
    with app.ports.uow() as uow:
        sign_ons = [s for s in uow.audit.recent(limit=50) if s.event.action == "sign_on"]
    assert len(sign_ons) == 2


async def test_a_refused_sign_in_makes_the_completion_invalid(
    app: App, pool: httpx.AsyncClient
) -> None:
    rp = await relying(app, pool)
    answers: Counter[str] = Counter()
    with pytest.raises(Invalid) as refused:
        await complete(pool, rp, "NOSUCHCARD01", answers)
    assert refused.value.step == "sign-in"
    assert refused.value.status != 200
    assert "authorize 302" not in answers
    assert "id token ok" not in answers
    wrong = Relying(rp.base, rp.client_id, "not-the-secret", rp.issuer, rp.keys)
    [barcode] = patrons_with_passwords(app, 1, 1)
    with pytest.raises(Invalid) as unknown:
        await complete(pool, wrong, barcode, answers)
    assert (unknown.value.step, unknown.value.status) == ("token", 401)
