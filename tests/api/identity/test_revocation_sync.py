"""Two identity processes on one database (distributed mode): a token revoked through
one is refused by the other once it has taken in the revocation events."""

from __future__ import annotations

from onestack.cloud import Cloud
from onestack.identity.objects import revocations
from tests.conftest import ADMIN_PASSWORD, Api


async def test_revocation_reaches_another_process(cloud: Cloud, identity: Api) -> None:
    other = Cloud(cloud.config)
    await other.build()
    try:
        there = Api(other, "identity")
        subject = await identity.token_for("admin", ADMIN_PASSWORD, "admin")
        assert (await there.get("/v3/projects", token=subject)).status_code == 200
        revoked = await identity.delete("/v3/auth/tokens", headers={"X-Subject-Token": subject})
        assert revoked.status_code == 204
        assert await revocations.refresh(other.services["identity"]) == 1
        assert (await there.get("/v3/projects", token=subject)).status_code == 401
        # taking in the same events again changes nothing
        assert await revocations.refresh(other.services["identity"]) == 0
        assert await revocations.refresh(cloud.services["identity"]) == 0
    finally:
        for client in there.clients.values():
            await client.aclose()
        await other.close()


async def test_a_disabled_user_is_refused_by_the_other_process(cloud: Cloud, identity: Api
                                                               ) -> None:
    other = Cloud(cloud.config)
    await other.build()
    try:
        there = Api(other, "identity")
        user = (await identity.post("/v3/users", json={"user": {
            "name": "roamer", "password": "pw-roamer", "domain_id": "default"}})).json()["user"]
        token = await there.token_for("roamer", "pw-roamer")
        assert (await there.get(f"/v3/users/{user['id']}", token=token)).status_code == 200
        await identity.patch(f"/v3/users/{user['id']}", json={"user": {"enabled": False}})
        await revocations.refresh(other.services["identity"])
        assert (await there.get(f"/v3/users/{user['id']}", token=token)).status_code == 401
    finally:
        for client in there.clients.values():
            await client.aclose()
        await other.close()
