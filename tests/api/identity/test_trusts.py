"""OS-TRUST: a trustor delegates roles on a project to a trustee, who then gets
trust-scoped tokens; deleting the trust revokes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Api


@dataclass
class Party:
    trustor: dict[str, Any]
    trustee: dict[str, Any]
    project: dict[str, Any]
    roles: dict[str, dict[str, Any]]
    trustor_token: str
    trustee_token: str


async def _user(identity: Api, name: str) -> dict[str, Any]:
    created = await identity.post("/v3/users", json={"user": {
        "name": name, "password": f"pw-{name}", "domain_id": "default"}})
    assert created.status_code == 201, created.text
    return created.json()["user"]


@pytest.fixture
async def party(identity: Api) -> Party:
    project = (await identity.post("/v3/projects", json={"project": {
        "name": "trusted", "domain_id": "default"}})).json()["project"]
    trustor = await _user(identity, "trustor")
    trustee = await _user(identity, "trustee")
    found = {r["name"]: r for r in (await identity.get("/v3/roles")).json()["roles"]}
    for name in ("delegated", "kept"):
        found[name] = (await identity.post("/v3/roles", json={"role": {"name": name}})
                       ).json()["role"]
    for name in ("member", "delegated", "kept"):
        granted = await identity.put(f"/v3/projects/{project['id']}/users/{trustor['id']}"
                                     f"/roles/{found[name]['id']}")
        assert granted.status_code == 204
    return Party(trustor=trustor, trustee=trustee, project=project, roles=found,
                 trustor_token=await identity.token_for("trustor", "pw-trustor", "trusted"),
                 trustee_token=await identity.token_for("trustee", "pw-trustee"))


def _trust(p: Party, **overrides: Any) -> dict[str, Any]:
    body = {"trustor_user_id": p.trustor["id"], "trustee_user_id": p.trustee["id"],
            "project_id": p.project["id"], "impersonation": True,
            "roles": [{"name": "delegated"}, {"name": "member"}]}
    body.update(overrides)
    return {"trust": {k: v for k, v in body.items() if v is not ...}}


async def _create(identity: Api, p: Party, **overrides: Any) -> dict[str, Any]:
    created = await identity.post("/v3/OS-TRUST/trusts", json=_trust(p, **overrides),
                                  token=p.trustor_token)
    assert created.status_code == 201, created.text
    return created.json()["trust"]


async def _trust_token(identity: Api, p: Party, trust_id: str) -> Any:
    return await identity.post("/v3/auth/tokens", token="", json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": p.trustee_token}},
        "scope": {"OS-TRUST:trust": {"id": trust_id}}}})


async def test_create_show_list_and_roles(identity: Api, party: Party) -> None:
    expires = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    trust = await _create(identity, party, expires_at=expires.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert trust["trustor_user_id"] == party.trustor["id"]
    assert trust["impersonation"] is True
    assert trust["expires_at"] == expires.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    assert trust["remaining_uses"] is None and trust["allow_redelegation"] is False
    assert trust["links"]["self"].endswith(f"/v3/OS-TRUST/trusts/{trust['id']}")
    assert {r["name"] for r in trust["roles"]} == {"delegated", "member"}
    for token in (party.trustor_token, party.trustee_token, identity.token):
        shown = await identity.get(f"/v3/OS-TRUST/trusts/{trust['id']}", token=token)
        assert shown.status_code == 200
        assert shown.json()["trust"]["project_id"] == party.project["id"]
    roles_url = f"/v3/OS-TRUST/trusts/{trust['id']}/roles"
    listed = await identity.get(roles_url, token=party.trustee_token)
    assert {r["name"] for r in listed.json()["roles"]} == {"delegated", "member"}
    delegated, kept = party.roles["delegated"]["id"], party.roles["kept"]["id"]
    one = await identity.get(f"{roles_url}/{delegated}", token=party.trustor_token)
    assert one.status_code == 200
    assert one.json()["role"]["links"]["self"].endswith(f"/v3/roles/{delegated}")
    assert (await identity.head(f"{roles_url}/{delegated}")).status_code == 200
    assert (await identity.get(f"{roles_url}/{kept}")).status_code == 404
    assert (await identity.head(f"{roles_url}/{kept}")).status_code == 404

    by_trustor = await identity.get(
        f"/v3/OS-TRUST/trusts/?trustor_user_id={party.trustor['id']}",
        token=party.trustor_token)
    assert [t["id"] for t in by_trustor.json()["trusts"]] == [trust["id"]]
    assert "roles" not in by_trustor.json()["trusts"][0]
    by_trustee = await identity.get(
        f"/v3/OS-TRUST/trusts?trustee_user_id={party.trustee['id']}",
        token=party.trustee_token)
    assert [t["id"] for t in by_trustee.json()["trusts"]] == [trust["id"]]
    everything = await identity.get("/v3/OS-TRUST/trusts")
    assert trust["id"] in [t["id"] for t in everything.json()["trusts"]]
    # a trustee may not list the trustor's trusts, nor everyone's
    spying = await identity.get(
        f"/v3/OS-TRUST/trusts?trustor_user_id={party.trustor['id']}",
        token=party.trustee_token)
    assert spying.status_code == 403
    assert (await identity.get("/v3/OS-TRUST/trusts",
                               token=party.trustee_token)).status_code == 403
    # only the trustor (or an admin) deletes; then it is gone
    refused = await identity.delete(f"/v3/OS-TRUST/trusts/{trust['id']}",
                                    token=party.trustee_token)
    assert refused.status_code == 403
    deleted = await identity.delete(f"/v3/OS-TRUST/trusts/{trust['id']}",
                                    token=party.trustor_token)
    assert deleted.status_code == 204
    assert (await identity.get(f"/v3/OS-TRUST/trusts/{trust['id']}")).status_code == 404
    assert (await identity.get("/v3/OS-TRUST/trusts/nope")).status_code == 404


@pytest.mark.parametrize(("overrides", "status", "field"), [
    ({"impersonation": ...}, 400, "impersonation"),
    ({"impersonation": "yes"}, 400, "impersonation"),
    ({"expires_at": "bad.123Z"}, 400, "expires_at"),
    ({"expires_at": "2001-01-01T00:00:00Z"}, 400, "expires_at"),
    ({"remaining_uses": 0}, 400, "remaining_uses"),
    ({"remaining_uses": 7.2}, 400, "remaining_uses"),
    ({"roles": []}, 400, "roles"),
    ({"project_id": None}, 400, "project_id"),
    ({"allow_redelegation": True, "remaining_uses": 2}, 400, "remaining_uses"),
    ({"redelegation_count": -1}, 400, "redelegation_count"),
    ({"trustee_user_id": "nobody"}, 404, "nobody"),
    ({"project_id": "nowhere"}, 404, "nowhere"),
    ({"roles": [{"name": "no-such-role"}]}, 404, "no-such-role"),
    ({"roles": [{"name": "admin"}]}, 403, "admin"),
])
async def test_create_refuses_bad_input(identity: Api, party: Party, overrides: dict,
                                        status: int, field: str) -> None:
    response = await identity.post("/v3/OS-TRUST/trusts", json=_trust(party, **overrides),
                                   token=party.trustor_token)
    assert response.status_code == status, response.text
    assert field in response.json()["error"]["message"]


async def test_only_the_trustor_creates(identity: Api, party: Party) -> None:
    response = await identity.post("/v3/OS-TRUST/trusts", json=_trust(party),
                                   token=party.trustee_token)
    assert response.status_code == 403


async def test_impersonating_token_speaks_for_the_trustor(identity: Api, party: Party
                                                          ) -> None:
    trust = await _create(identity, party)
    issued = await _trust_token(identity, party, trust["id"])
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    assert token["user"]["id"] == party.trustor["id"]
    assert token["project"]["id"] == party.project["id"]
    assert token["OS-TRUST:trust"] == {
        "id": trust["id"], "impersonation": True, "remaining_uses": None,
        "trustor_user": {"id": party.trustor["id"]},
        "trustee_user": {"id": party.trustee["id"]}}
    # the delegated roles and what they imply; never the role kept back
    assert {r["name"] for r in token["roles"]} == {"delegated", "member", "reader"}
    subject = issued.headers["X-Subject-Token"]
    shown = await identity.get("/v3/auth/tokens", headers={"X-Subject-Token": subject})
    assert shown.json()["token"]["OS-TRUST:trust"]["id"] == trust["id"]
    # a trust-scoped token cannot be turned into another token
    again = await identity.post("/v3/auth/tokens", token="", json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": subject}}}})
    assert again.status_code == 403


async def test_token_without_impersonation_is_the_trustees(identity: Api, party: Party
                                                          ) -> None:
    trust = await _create(identity, party, impersonation=False,
                          roles=[{"id": party.roles["delegated"]["id"]}])
    issued = await _trust_token(identity, party, trust["id"])
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    assert token["user"]["id"] == party.trustee["id"]
    assert [r["name"] for r in token["roles"]] == ["delegated"]
    assert token["OS-TRUST:trust"]["impersonation"] is False


async def test_only_the_trustee_redeems_and_unknown_trusts_are_404(identity: Api,
                                                                   party: Party) -> None:
    trust = await _create(identity, party)
    by_trustor = await identity.post("/v3/auth/tokens", token="", json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": party.trustor_token}},
        "scope": {"OS-TRUST:trust": {"id": trust["id"]}}}})
    assert by_trustor.status_code == 403
    assert (await _trust_token(identity, party, "no-such-trust")).status_code == 404
    malformed = await identity.post("/v3/auth/tokens", token="", json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": party.trustee_token}},
        "scope": {"OS-TRUST:trust": {}}}})
    assert malformed.status_code == 400


async def test_remaining_uses_count_down(identity: Api, party: Party) -> None:
    trust = await _create(identity, party, remaining_uses=2)
    first = await _trust_token(identity, party, trust["id"])
    assert first.json()["token"]["OS-TRUST:trust"]["remaining_uses"] == 1
    shown = await identity.get(f"/v3/OS-TRUST/trusts/{trust['id']}")
    assert shown.json()["trust"]["remaining_uses"] == 1
    assert (await _trust_token(identity, party, trust["id"])).status_code == 201
    assert (await _trust_token(identity, party, trust["id"])).status_code == 404
    # the tokens already issued stay good until they expire
    subject = first.headers["X-Subject-Token"]
    still = await identity.get("/v3/auth/tokens", headers={"X-Subject-Token": subject})
    assert still.status_code == 200


async def test_token_does_not_outlive_the_trust(identity: Api, party: Party) -> None:
    expires = datetime.now(UTC) + timedelta(minutes=10)
    trust = await _create(identity, party, expires_at=expires.isoformat())
    token = (await _trust_token(identity, party, trust["id"])).json()["token"]
    assert token["expires_at"] <= trust["expires_at"]


async def test_deleting_the_trust_revokes_its_tokens(identity: Api, party: Party) -> None:
    trust = await _create(identity, party)
    subject = (await _trust_token(identity, party, trust["id"])).headers["X-Subject-Token"]
    assert (await identity.get("/v3/auth/tokens",
                               headers={"X-Subject-Token": subject})).status_code == 200
    assert (await identity.get(f"/v3/projects/{party.project['id']}",
                               token=subject)).status_code == 200
    deleted = await identity.delete(f"/v3/OS-TRUST/trusts/{trust['id']}")
    assert deleted.status_code == 204
    assert (await identity.get("/v3/auth/tokens",
                               headers={"X-Subject-Token": subject})).status_code == 404
    assert (await identity.get(f"/v3/projects/{party.project['id']}",
                               token=subject)).status_code == 401
    events = (await identity.get("/v3/OS-REVOKE/events")).json()["events"]
    assert any(e.get("trust_id") == trust["id"] for e in events)
    assert (await _trust_token(identity, party, trust["id"])).status_code == 404


async def test_trustor_losing_the_role_voids_the_trust(identity: Api, party: Party) -> None:
    trust = await _create(identity, party, roles=[{"name": "delegated"}])
    subject = (await _trust_token(identity, party, trust["id"])).headers["X-Subject-Token"]
    revoked = await identity.delete(
        f"/v3/projects/{party.project['id']}/users/{party.trustor['id']}"
        f"/roles/{party.roles['delegated']['id']}")
    assert revoked.status_code == 204
    assert (await identity.get("/v3/auth/tokens",
                               headers={"X-Subject-Token": subject})).status_code == 404
    assert (await _trust_token(identity, party, trust["id"])).status_code == 403


async def test_redelegation_chain(identity: Api, party: Party) -> None:
    third = await _user(identity, "third")
    trust = await _create(identity, party, allow_redelegation=True, redelegation_count=1,
                          impersonation=False)
    assert trust["allow_redelegation"] is True and trust["redelegation_count"] == 1
    subject = (await _trust_token(identity, party, trust["id"])).headers["X-Subject-Token"]
    child_body = {"trust": {"trustor_user_id": party.trustee["id"],
                            "trustee_user_id": third["id"], "impersonation": False,
                            "project_id": party.project["id"],
                            "roles": [{"name": "delegated"}], "allow_redelegation": True}}
    too_much = {"trust": {**child_body["trust"], "roles": [{"name": "kept"}]}}
    assert (await identity.post("/v3/OS-TRUST/trusts", json=too_much,
                                token=subject)).status_code == 403
    created = await identity.post("/v3/OS-TRUST/trusts", json=child_body, token=subject)
    assert created.status_code == 201, created.text
    child = created.json()["trust"]
    assert child["redelegated_trust_id"] == trust["id"]
    assert child["redelegation_count"] == 0
    third_token = await identity.token_for("third", "pw-third")
    issued = await identity.post("/v3/auth/tokens", token="", json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": third_token}},
        "scope": {"OS-TRUST:trust": {"id": child["id"]}}}})
    assert issued.status_code == 201, issued.text
    assert [r["name"] for r in issued.json()["token"]["roles"]] == ["delegated"]
    # the chain ends here: depth 0 does not redelegate further
    grandchild = await identity.post("/v3/OS-TRUST/trusts", token=issued.headers[
        "X-Subject-Token"], json={"trust": {**child_body["trust"],
                                            "trustor_user_id": third["id"],
                                            "trustee_user_id": party.trustor["id"]}})
    assert grandchild.status_code == 403
    # deleting the original removes what was redelegated from it
    assert (await identity.delete(f"/v3/OS-TRUST/trusts/{trust['id']}")).status_code == 204
    assert (await identity.get(f"/v3/OS-TRUST/trusts/{child['id']}")).status_code == 404


async def test_trust_without_redelegation_cannot_be_redelegated(identity: Api,
                                                                party: Party) -> None:
    trust = await _create(identity, party, impersonation=False)
    subject = (await _trust_token(identity, party, trust["id"])).headers["X-Subject-Token"]
    refused = await identity.post("/v3/OS-TRUST/trusts", token=subject, json=_trust(
        party, trustor_user_id=party.trustee["id"], trustee_user_id=party.trustor["id"],
        impersonation=False, roles=[{"name": "delegated"}]))
    assert refused.status_code == 403
