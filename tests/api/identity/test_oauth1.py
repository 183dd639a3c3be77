"""OS-OAUTH1 consumers: the secret is shown once, the description is editable."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from onestack.identity.models import consumer
from onestack.identity.objects import oauth1
from tests.conftest import Api

BASE = "/v3/OS-OAUTH1/consumers"


async def test_consumer_lifecycle(identity: Api) -> None:
    created = await identity.post(BASE, json={"consumer": {"description": "a portal"}})
    assert created.status_code == 201, created.text
    made = created.json()["consumer"]
    assert made["description"] == "a portal" and made["secret"]
    assert made["links"]["self"].endswith(f"{BASE}/{made['id']}")
    shown = (await identity.get(f"{BASE}/{made['id']}")).json()["consumer"]
    assert shown == {k: v for k, v in made.items() if k != "secret"}
    listed = (await identity.get(BASE)).json()
    assert made["id"] in [c["id"] for c in listed["consumers"]]
    assert all("secret" not in c for c in listed["consumers"])

    updated = await identity.patch(f"{BASE}/{made['id']}",
                                   json={"consumer": {"description": "renamed"}})
    assert updated.status_code == 200
    assert updated.json()["consumer"]["description"] == "renamed"
    assert "secret" not in updated.json()["consumer"]
    again = (await identity.get(f"{BASE}/{made['id']}")).json()["consumer"]
    assert again["description"] == "renamed"

    assert (await identity.delete(f"{BASE}/{made['id']}")).status_code == 204
    assert (await identity.get(f"{BASE}/{made['id']}")).status_code == 404
    assert (await identity.delete(f"{BASE}/{made['id']}")).status_code == 404
    assert (await identity.patch(f"{BASE}/{made['id']}", json={
        "consumer": {"description": "x"}})).status_code == 404


async def test_consumer_without_description_and_extra_attributes(identity: Api) -> None:
    created = await identity.post(BASE, json={"consumer": {"homepage": "https://x.test"}})
    assert created.status_code == 201
    made = created.json()["consumer"]
    assert made["description"] is None and made["homepage"] == "https://x.test"


@pytest.mark.parametrize(("method", "body", "field"), [
    ("post", {"consumer": {"description": 42}}, "description"),
    ("post", {"consumer": {"secret": "mine"}}, "secret"),
    ("post", {"consumer": {"id": "mine"}}, "id"),
    ("post", {"nothing": {}}, "consumer"),
    ("patch", {"consumer": {"secret": "new"}}, "secret"),
    ("patch", {"consumer": {"id": "other"}}, "id"),
    ("patch", {"consumer": {}}, "request body"),
])
async def test_bad_input_is_400(identity: Api, method: str, body: dict, field: str) -> None:
    made = (await identity.post(BASE, json={"consumer": {}})).json()["consumer"]
    url = BASE if method == "post" else f"{BASE}/{made['id']}"
    response = await getattr(identity, method)(url, json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]["message"]


async def test_consumers_are_admin_business(identity: Api) -> None:
    await identity.post("/v3/users", json={"user": {
        "name": "plain", "password": "pw-plain", "domain_id": "default"}})
    token = await identity.token_for("plain", "pw-plain")
    assert (await identity.post(BASE, json={"consumer": {}}, token=token)).status_code == 403
    assert (await identity.get(BASE, token=token)).status_code == 403


async def test_secret_is_stored_encrypted(identity: Api) -> None:
    made = (await identity.post(BASE, json={"consumer": {}})).json()["consumer"]
    state = identity.cloud.services["identity"]
    async with state.db.reader() as conn:
        stored = (await conn.execute(sa.select(consumer.c.encrypted_secret))).scalar_one()
        clear = await oauth1.secret_of(conn, state.credential_keys, made["id"])
    assert made["secret"] not in stored
    assert clear == made["secret"]
