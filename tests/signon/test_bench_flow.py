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


async def test_a_completion_reads_its_client_at_most_once_a_request_and_writes_little(
    app: App, pool: httpx.AsyncClient
) -> None:
    """The client is read once per request that names it (its secret's digest comes
    with it: the token request does not read it again), each step that stores
    something does it in one transaction, and only those open a transaction that may
    write (P1's path: issue 15)."""
    from sqlalchemy import event

    rp = await relying(app, pool)
    [barcode] = patrons_with_passwords(app, 1, 1)
    await complete(pool, rp, barcode, Counter())  # the first one warms what is cached
    sent: list[str] = []
    commits: list[int] = []
    event.listen(app.engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    event.listen(app.engine, "commit", lambda *a: (commits.append(1), sent.append("COMMIT")))
    await complete(pool, rp, barcode, Counter())
    client_reads = [s for s in sent if s.startswith("SELECT") and "FROM sign_on_clients" in s]
    # Authorize once (though Authlib validates the request twice), token once.
    assert len(client_reads) == 2
    # The code is marked used and read in one statement; both tokens are one INSERT.
    assert len([s for s in sent if "sign_on_codes" in s and not s.startswith("INSERT")]) == 1
    assert len([s for s in sent if s.startswith("INSERT INTO sign_on_tokens")]) == 1
    # The code, My Account's visit and the sign-on's audit record: one transaction.
    [authorized] = [
        n for n, s in enumerate(sent) if s.startswith("INSERT INTO sign_on_codes")
    ]  # fmt: skip
    assert sent[authorized + 1].startswith("INSERT INTO sign_on_visits")
    assert sent[authorized + 2].startswith("INSERT INTO audit_events")
    assert sent[authorized + 3] == "COMMIT"
    if app.engine.dialect.name == "sqlite":
        # Only a unit of work that writes queues for SQLite's write lock (BEGIN
        # IMMEDIATE), and each of them commits: the reads begin deferred.
        writers = [s for s in sent if s == "BEGIN IMMEDIATE"]
        assert len(writers) == len(commits)
