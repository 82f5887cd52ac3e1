"""GET /api/v1/libraries/{library}/pickup-locations: the codes `POST /me/holds` takes."""

from __future__ import annotations

import httpx
import pytest

from patronauth.bootstrap import App

pytestmark = pytest.mark.anyio


async def test_the_pickup_locations_of_a_library_in_the_answer_language(
    app: App, client: httpx.AsyncClient
) -> None:
    answer = await client.get("/api/v1/libraries/hkpl/pickup-locations")
    assert answer.status_code == 200
    places = {p["code"]: p["name"] for p in answer.json()["pickup_locations"]}
    assert answer.json()["library"] == "hkpl"
    assert places["KLN"] == "Kowloon Public Library"
    assert set(places) == set(app.ports.profiles.get("hkpl").libraries)
    chinese = await client.get(
        "/api/v1/libraries/hkpl/pickup-locations", headers={"accept-language": "zh-HK"}
    )
    names = {p["code"]: p["name"] for p in chinese.json()["pickup_locations"]}
    assert names["KLN"] == app.ports.profiles.get("hkpl").libraries["KLN"]["zh_Hant"]
    assert names["KLN"] != places["KLN"]


async def test_an_unknown_library_is_refused_with_its_code(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/libraries/nowhere/pickup-locations")
    assert answer.status_code == 422
    assert answer.json()["error"] == "unknown_institution"
