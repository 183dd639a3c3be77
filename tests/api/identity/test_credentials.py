"""Credentials (encrypted blobs), EC2 credentials, and the tokens that EC2 and S3
requests signed with them obtain."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import unquote

import botocore.auth as botocore_auth
import pytest
import sqlalchemy as sa
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from onestack.identity.models import credential
from onestack.identity.objects import credentials as objects
from tests.conftest import Api


async def _member(identity: Api, name: str) -> tuple[dict[str, Any], str]:
    """A user with the member role on the admin project, and their token."""
    user = (await identity.post("/v3/users", json={"user": {
        "name": name, "password": f"pw-{name}", "domain_id": "default"}})).json()["user"]
    project = (await identity.get("/v3/projects?name=admin")).json()["projects"][0]
    member = (await identity.get("/v3/roles?name=member")).json()["roles"][0]
    await identity.put(f"/v3/projects/{project['id']}/users/{user['id']}/roles/"
                       f"{member['id']}")
    return user, await identity.token_for(name, f"pw-{name}", "admin")


async def _admin_project(identity: Api) -> str:
    return (await identity.get("/v3/projects?name=admin")).json()["projects"][0]["id"]


def _ec2(user_id: str, project_id: str, access: str = "AK1", secret: str = "SK1"
         ) -> dict[str, Any]:
    return {"credential": {"user_id": user_id, "project_id": project_id, "type": "ec2",
                           "blob": json.dumps({"access": access, "secret": secret})}}


async def test_credential_crud_and_filters(identity: Api) -> None:
    user, _ = await _member(identity, "keeper")
    project_id = await _admin_project(identity)
    created = await identity.post("/v3/credentials", json=_ec2(user["id"], project_id))
    assert created.status_code == 201, created.text
    cred = created.json()["credential"]
    assert cred["id"] == hashlib.sha256(b"AK1").hexdigest()
    assert json.loads(cred["blob"]) == {"access": "AK1", "secret": "SK1"}
    assert cred["links"]["self"].endswith(f"/v3/credentials/{cred['id']}")
    other = (await identity.post("/v3/credentials", json={"credential": {
        "user_id": user["id"], "type": "cert", "blob": "-----BEGIN CERT-----",
        "label": "laptop"}})).json()["credential"]
    assert other["project_id"] is None and other["label"] == "laptop"

    updated = await identity.patch(f"/v3/credentials/{cred['id']}", json={"credential": {
        "blob": json.dumps({"access": "AK2", "secret": "SK2"})}})
    assert updated.status_code == 200
    assert updated.json()["credential"]["id"] == cred["id"]
    shown = (await identity.get(f"/v3/credentials/{cred['id']}")).json()["credential"]
    assert json.loads(shown["blob"])["secret"] == "SK2"
    assert shown["user_id"] == user["id"] and shown["project_id"] == project_id

    by_user = (await identity.get(f"/v3/credentials?user_id={user['id']}")).json()
    assert {c["id"] for c in by_user["credentials"]} == {cred["id"], other["id"]}
    by_type = (await identity.get(f"/v3/credentials?user_id={user['id']}&type=cert")).json()
    assert [c["id"] for c in by_type["credentials"]] == [other["id"]]

    assert (await identity.delete(f"/v3/credentials/{cred['id']}")).status_code == 204
    assert (await identity.get(f"/v3/credentials/{cred['id']}")).status_code == 404
    assert (await identity.delete(f"/v3/credentials/{cred['id']}")).status_code == 404


async def test_blobs_are_encrypted_at_rest(identity: Api) -> None:
    user, _ = await _member(identity, "secretive")
    await identity.post("/v3/credentials", json=_ec2(user["id"], await _admin_project(
        identity), "AK-rest", "very-secret-value"))
    state = identity.cloud.services["identity"]
    async with state.db.reader() as conn:
        stored = [r.encrypted_blob for r in await conn.execute(sa.select(credential))]
    assert stored and not any("very-secret-value" in s for s in stored)


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"type": "ec2", "blob": "x"}, 400, "user_id"),
    ({"type": "ec2", "user_id": "{user}"}, 400, "blob"),
    ({"blob": "x", "user_id": "{user}"}, 400, "type"),
    ({"type": "ec2", "blob": 5, "user_id": "{user}"}, 400, "blob"),
    ({"type": "ec2", "blob": "not json", "user_id": "{user}", "project_id": "{project}"},
     400, "blob"),
    ({"type": "ec2", "blob": '{"secret": "s"}', "user_id": "{user}",
      "project_id": "{project}"}, 400, "blob"),
    ({"type": "ec2", "blob": '{"access": "a", "secret": "s"}', "user_id": "{user}"},
     400, "project_id"),
    ({"type": "cert", "blob": "x", "user_id": "nobody"}, 404, "nobody"),
    ({"type": "cert", "blob": "x", "user_id": "{user}", "project_id": "nowhere"},
     404, "nowhere"),
])
async def test_create_refuses_bad_input(identity: Api, body: dict, status: int,
                                        field: str) -> None:
    user, _ = await _member(identity, "careless")
    project_id = await _admin_project(identity)
    fill = {"{user}": user["id"], "{project}": project_id}
    filled = {k: fill.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    response = await identity.post("/v3/credentials", json={"credential": filled})
    assert response.status_code == status, response.text
    assert field in response.json()["error"]["message"]


async def test_duplicate_access_key_is_409(identity: Api) -> None:
    user, _ = await _member(identity, "twin")
    project_id = await _admin_project(identity)
    assert (await identity.post("/v3/credentials",
                                json=_ec2(user["id"], project_id))).status_code == 201
    again = await identity.post("/v3/credentials", json=_ec2(user["id"], project_id))
    assert again.status_code == 409


async def test_users_see_and_manage_only_their_own(identity: Api) -> None:
    alice, alice_token = await _member(identity, "alice")
    bob, bob_token = await _member(identity, "bob")
    project_id = await _admin_project(identity)
    mine = await identity.post("/v3/credentials", token=alice_token,
                               json=_ec2(alice["id"], project_id, "AK-alice"))
    assert mine.status_code == 201
    cred_id = mine.json()["credential"]["id"]
    forged = await identity.post("/v3/credentials", token=alice_token,
                                 json=_ec2(bob["id"], project_id, "AK-forged"))
    assert forged.status_code == 403
    await identity.post("/v3/credentials", json=_ec2(bob["id"], project_id, "AK-bob"))
    listed = (await identity.get("/v3/credentials", token=alice_token)).json()
    assert [c["user_id"] for c in listed["credentials"]] == [alice["id"]]
    assert (await identity.get(f"/v3/credentials/{cred_id}",
                               token=bob_token)).status_code == 403
    give_away = await identity.patch(f"/v3/credentials/{cred_id}", token=alice_token,
                                     json={"credential": {"user_id": bob["id"]}})
    assert give_away.status_code == 403
    assert (await identity.delete(f"/v3/credentials/{cred_id}",
                                  token=bob_token)).status_code == 403


async def test_os_ec2_lifecycle(identity: Api) -> None:
    user, token = await _member(identity, "cloudy")
    project_id = await _admin_project(identity)
    base = f"/v3/users/{user['id']}/credentials/OS-EC2"
    created = await identity.post(base, token=token, json={"tenant_id": project_id})
    assert created.status_code == 201, created.text
    cred = created.json()["credential"]
    assert cred["user_id"] == user["id"] and cred["tenant_id"] == project_id
    assert cred["access"] and cred["secret"] and cred["trust_id"] is None
    assert cred["links"]["self"].endswith(f"{base}/{cred['access']}")
    # the same credential under /v3/credentials, with the id Keystone gives it
    generic = await identity.get(
        f"/v3/credentials/{hashlib.sha256(cred['access'].encode()).hexdigest()}")
    assert generic.json()["credential"]["type"] == "ec2"
    listed = (await identity.get(base, token=token)).json()["credentials"]
    assert [c["access"] for c in listed] == [cred["access"]]
    shown = (await identity.get(f"{base}/{cred['access']}", token=token)).json()
    assert shown["credential"]["secret"] == cred["secret"]
    assert (await identity.get(f"{base}/unknown", token=token)).status_code == 404
    other, other_token = await _member(identity, "nosy")
    elsewhere = f"/v3/users/{other['id']}/credentials/OS-EC2/{cred['access']}"
    assert (await identity.get(elsewhere)).status_code == 404
    assert (await identity.get(base, token=other_token)).status_code == 403
    assert (await identity.post(base, token=token, json={})).status_code == 400
    missing = await identity.post(base, token=token, json={"tenant_id": "nowhere"})
    assert missing.status_code == 404
    assert (await identity.delete(f"{base}/{cred['access']}", token=token)).status_code == 204
    assert (await identity.get(f"{base}/{cred['access']}", token=token)).status_code == 404


async def _ec2_pair(identity: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    user, token = await _member(identity, "signer")
    project_id = await _admin_project(identity)
    created = await identity.post(f"/v3/users/{user['id']}/credentials/OS-EC2",
                                  token=token, json={"tenant_id": project_id})
    return user, created.json()["credential"]


def _v4_request(access: str, secret: str, url: str, region: str = "RegionOne"
                ) -> dict[str, Any]:
    request = AWSRequest(method="GET", url=url)
    botocore_auth.SigV4Auth(Credentials(access, secret), "ec2", region).add_auth(request)
    authorization = request.headers["Authorization"]
    host = url.split("/")[2]
    path, _, query = url.split(host, 1)[1].partition("?")
    params = dict(item.split("=", 1) for item in query.split("&")) if query else {}
    return {"access": access, "signature": authorization.rsplit("Signature=", 1)[1],
            "host": host, "verb": "GET", "path": path or "/", "params": params,
            "headers": {**dict(request.headers.items()), "Host": host},
            "body_hash": hashlib.sha256(b"").hexdigest()}


def _v2_request(access: str, secret: str, url: str) -> dict[str, Any]:
    request = AWSRequest(method="GET", url=url, params={"Action": "DescribeInstances",
                                                       "Version": "2016-11-15"})
    botocore_auth.SigV2Auth(Credentials(access, secret)).add_auth(request)
    params = dict(request.params)
    return {"access": access, "signature": params.pop("Signature"),
            "host": url.split("/")[2], "verb": "GET", "path": "/", "params": params,
            "headers": {}}


async def test_ec2tokens_with_signature_v4(identity: Api) -> None:
    user, cred = await _ec2_pair(identity)
    url = "http://ec2.example.com:8788/?Action=DescribeInstances&Version=2016-11-15"
    body = {"credentials": _v4_request(cred["access"], cred["secret"], url)}
    issued = await identity.post("/v3/ec2tokens", json=body, token="")
    assert issued.status_code == 200, issued.text
    token = issued.json()["token"]
    assert token["user"]["id"] == user["id"]
    assert token["project"]["id"] == cred["tenant_id"]
    assert token["methods"] == ["ec2credential"]
    assert "member" in {r["name"] for r in token["roles"]}
    subject = issued.headers["X-Subject-Token"]
    assert (await identity.get("/v3/auth/tokens",
                                headers={"X-Subject-Token": subject})).status_code == 200
    # the signature covers the query: change it and the request is refused
    tampered = {**body["credentials"], "params": {**body["credentials"]["params"],
                                                  "Action": "TerminateInstances"}}
    refused = await identity.post("/v3/ec2tokens", json={"credentials": tampered}, token="")
    assert refused.status_code == 401
    wrong = _v4_request(cred["access"], "not-the-secret", url)
    assert (await identity.post("/v3/ec2tokens", json={"credentials": wrong},
                                token="")).status_code == 401


async def test_ec2tokens_with_signature_v2(identity: Api) -> None:
    user, cred = await _ec2_pair(identity)
    creds = _v2_request(cred["access"], cred["secret"], "http://ec2.example.com:8788/")
    issued = await identity.post("/v3/ec2tokens", json={"ec2Credentials": creds}, token="")
    assert issued.status_code == 200, issued.text
    assert issued.json()["token"]["user"]["id"] == user["id"]
    # clients that sign the host without its port are accepted
    bare = _v2_request(cred["access"], cred["secret"], "http://ec2.example.com/")
    bare["host"] = "ec2.example.com:8788"
    assert (await identity.post("/v3/ec2tokens", json={"credentials": bare},
                                token="")).status_code == 200
    stale = _v2_request(cred["access"], cred["secret"], "http://ec2.example.com/")
    stale["params"]["Timestamp"] = "2001-01-01T00:00:00Z"
    stale["signature"] = objects.ec2_signature(cred["secret"], stale)
    expired = await identity.post("/v3/ec2tokens", json={"credentials": stale}, token="")
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]["message"]


async def test_ec2tokens_refusals(identity: Api) -> None:
    _, cred = await _ec2_pair(identity)
    unknown = _v2_request("no-such-access", "x", "http://ec2.example.com/")
    assert (await identity.post("/v3/ec2tokens", json={"credentials": unknown},
                                token="")).status_code == 401
    no_signature = {"credentials": {"access": cred["access"]}}
    response = await identity.post("/v3/ec2tokens", json=no_signature, token="")
    assert response.status_code == 400
    assert "signature" in response.json()["error"]["message"]
    assert (await identity.post("/v3/ec2tokens", json={"nothing": 1},
                                token="")).status_code == 400
    v1 = _v2_request(cred["access"], cred["secret"], "http://ec2.example.com/")
    v1["params"]["SignatureVersion"] = "1"
    assert (await identity.post("/v3/ec2tokens", json={"credentials": v1},
                                token="")).status_code == 401


async def test_deleted_credential_no_longer_signs(identity: Api) -> None:
    user, cred = await _ec2_pair(identity)
    await identity.delete(f"/v3/users/{user['id']}/credentials/OS-EC2/{cred['access']}")
    creds = _v2_request(cred["access"], cred["secret"], "http://ec2.example.com/")
    assert (await identity.post("/v3/ec2tokens", json={"credentials": creds},
                                token="")).status_code == 401


async def test_s3tokens_v2_and_v4(identity: Api) -> None:
    user, cred = await _ec2_pair(identity)
    to_sign = "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/bucket/key"
    signature = base64.b64encode(hmac.new(cred["secret"].encode(), to_sign.encode(),
                                          hashlib.sha1).digest()).decode()
    body = {"credentials": {"access": cred["access"], "signature": signature,
                            "token": base64.b64encode(to_sign.encode()).decode()}}
    issued = await identity.post("/v3/s3tokens", json=body, token="")
    assert issued.status_code == 200, issued.text
    assert issued.json()["token"]["user"]["id"] == user["id"]
    body["credentials"]["signature"] = "bogus"
    assert (await identity.post("/v3/s3tokens", json=body, token="")).status_code == 401

    request = AWSRequest(method="GET", url="http://s3.example.com/bucket/key")
    request.context["timestamp"] = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    signer = botocore_auth.S3SigV4Auth(Credentials(cred["access"], cred["secret"]), "s3",
                                       "RegionOne")
    request.headers["X-Amz-Content-SHA256"] = hashlib.sha256(b"").hexdigest()
    request.headers["X-Amz-Date"] = request.context["timestamp"]
    v4_string = signer.string_to_sign(request, signer.canonical_request(request))
    v4_signature = signer.signature(v4_string, request)
    v4 = {"credentials": {"access": cred["access"], "signature": v4_signature,
                          "token": base64.b64encode(v4_string.encode()).decode()}}
    assert (await identity.post("/v3/s3tokens", json=v4, token="")).status_code == 200


async def test_find_ec2_is_the_lookup_services_use(identity: Api) -> None:
    _, cred = await _ec2_pair(identity)
    state = identity.cloud.services["identity"]
    async with state.db.reader() as conn:
        found = await objects.find_ec2(conn, state.credential_keys, cred["access"])
        missing = await objects.find_ec2(conn, state.credential_keys, "nope")
    assert found is not None and found.secret == cred["secret"]
    assert found.project_id == cred["tenant_id"]
    assert missing is None


async def test_ec2tokens_with_presigned_v4_url(identity: Api) -> None:
    user, cred = await _ec2_pair(identity)
    request = AWSRequest(method="GET", url="http://ec2.example.com/?Action=DescribeRegions")
    botocore_auth.SigV4QueryAuth(Credentials(cred["access"], cred["secret"]), "ec2",
                                 "RegionOne", expires=300).add_auth(request)
    query = request.url.split("?", 1)[1]
    params = {k: unquote(v) for k, v in (p.split("=", 1) for p in query.split("&"))}
    creds = {"access": cred["access"], "signature": params["X-Amz-Signature"],
             "host": "ec2.example.com", "verb": "GET", "path": "/", "params": params,
             "headers": {"Host": "ec2.example.com"},
             "body_hash": hashlib.sha256(b"").hexdigest()}
    issued = await identity.post("/v3/ec2tokens", json={"credentials": creds}, token="")
    assert issued.status_code == 200, issued.text
    assert issued.json()["token"]["user"]["id"] == user["id"]


async def test_ec2_credential_made_with_a_trust_token_is_trust_scoped(identity: Api
                                                                      ) -> None:
    trustor, trustor_token = await _member(identity, "giver")
    trustee, trustee_token = await _member(identity, "taker")
    project_id = await _admin_project(identity)
    trust = (await identity.post("/v3/OS-TRUST/trusts", token=trustor_token, json={"trust": {
        "trustor_user_id": trustor["id"], "trustee_user_id": trustee["id"],
        "project_id": project_id, "impersonation": False,
        "roles": [{"name": "reader"}]}})).json()["trust"]
    trust_token = (await identity.post("/v3/auth/tokens", token="", json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": trustee_token}},
        "scope": {"OS-TRUST:trust": {"id": trust["id"]}}}})).headers["X-Subject-Token"]
    created = await identity.post(f"/v3/users/{trustee['id']}/credentials/OS-EC2",
                                  token=trust_token, json={"tenant_id": project_id})
    assert created.status_code == 201, created.text
    cred = created.json()["credential"]
    assert cred["trust_id"] == trust["id"]
    creds = _v2_request(cred["access"], cred["secret"], "http://ec2.example.com/")
    issued = await identity.post("/v3/ec2tokens", json={"credentials": creds}, token="")
    assert issued.status_code == 200, issued.text
    token = issued.json()["token"]
    assert token["OS-TRUST:trust"]["id"] == trust["id"]
    assert [r["name"] for r in token["roles"]] == ["reader"]
    await identity.delete(f"/v3/OS-TRUST/trusts/{trust['id']}")
    creds = _v2_request(cred["access"], cred["secret"], "http://ec2.example.com/")
    assert (await identity.post("/v3/ec2tokens", json={"credentials": creds},
                                token="")).status_code == 401


async def test_deleting_a_user_removes_their_credentials_and_trusts(identity: Api) -> None:
    user, token = await _member(identity, "leaver")
    project_id = await _admin_project(identity)
    made = await identity.post("/v3/credentials", json=_ec2(
        user["id"], project_id, access="AK-leaver"), token=token)
    assert made.status_code == 201
    trustee = (await identity.post("/v3/users", json={"user": {
        "name": "heir", "password": "pw-heir", "domain_id": "default"}})).json()["user"]
    trust = await identity.post("/v3/OS-TRUST/trusts", token=token, json={"trust": {
        "trustor_user_id": user["id"], "trustee_user_id": trustee["id"],
        "project_id": project_id, "impersonation": False, "roles": [{"name": "member"}]}})
    assert trust.status_code == 201
    assert (await identity.delete(f"/v3/users/{user['id']}")).status_code == 204
    listed = await identity.get(f"/v3/credentials?user_id={user['id']}")
    assert listed.json()["credentials"] == []
    gone = await identity.get(f"/v3/OS-TRUST/trusts/{trust.json()['trust']['id']}")
    assert gone.status_code == 404
