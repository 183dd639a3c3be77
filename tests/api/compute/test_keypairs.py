"""Key pairs: generated (until 2.92) or imported, Nova's fingerprints and name rules,
the shapes of each microversion, another user's key pairs for admins (2.10), paging
(2.35) and the key pair quota."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tests.api.compute.conftest import Nova, Tenants


def fault(response: Any) -> tuple[str, str]:
    (key, value), = response.json().items()
    assert value["code"] == response.status_code
    return key, value["message"]


def openssh(key: Any, comment: str = "me@host") -> str:
    text = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH).decode()
    return f"{text} {comment}"


def md5_print(public_key: str) -> str:
    digest = hashlib.md5(base64.b64decode(public_key.split()[1])).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, 32, 2))


async def test_generate_show_list_delete_at_2_1(compute: Nova) -> None:
    created = await compute.post("/os-keypairs", json={"keypair": {"name": "gen"}})
    assert created.status_code == 200
    key = created.json()["keypair"]
    assert set(key) == {"name", "public_key", "fingerprint", "user_id", "private_key"}
    assert key["public_key"].startswith("ssh-rsa ")
    assert key["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert key["fingerprint"] == md5_print(key["public_key"])
    private = serialization.load_pem_private_key(key["private_key"].encode(), None)
    assert openssh(private, "Generated-by-Nova") == key["public_key"]
    shown = (await compute.get("/os-keypairs/gen")).json()["keypair"]
    assert set(shown) == {"name", "public_key", "fingerprint", "user_id", "created_at",
                          "updated_at", "deleted_at", "deleted", "id"}
    assert shown["deleted"] is False and shown["updated_at"] is None
    assert isinstance(shown["id"], int) and "." in shown["created_at"]
    listed = (await compute.get("/os-keypairs")).json()
    assert listed == {"keypairs": [{"keypair": {"name": "gen",
                                                "public_key": key["public_key"],
                                                "fingerprint": key["fingerprint"]}}]}
    assert (await compute.delete("/os-keypairs/gen")).status_code == 202
    missing = await compute.get("/os-keypairs/gen")
    assert missing.status_code == 404
    assert fault(missing)[1] == f"Keypair gen not found for user {key['user_id']}"
    assert (await compute.delete("/os-keypairs/gen")).status_code == 404


async def test_types_from_2_2(compute: Nova) -> None:
    api = compute.at("2.2")
    created = await api.post("/os-keypairs", json={"keypair": {"name": "typed"}})
    assert created.status_code == 201 and created.json()["keypair"]["type"] == "ssh"
    shown = (await api.get("/os-keypairs/typed")).json()["keypair"]
    assert shown["type"] == "ssh"
    assert (await api.get("/os-keypairs")).json()["keypairs"][0]["keypair"]["type"] == "ssh"
    cert = await api.post("/os-keypairs", json={"keypair": {"name": "win", "type": "x509"}})
    assert cert.status_code == 201
    body = cert.json()["keypair"]
    assert body["type"] == "x509" and body["public_key"].startswith("-----BEGIN CERTIFICATE")
    assert len(body["fingerprint"].split(":")) == 20  # SHA-1
    base64.b64decode(body["private_key"])  # PKCS#12, as Nova gives it
    imported = await api.post("/os-keypairs", json={"keypair": {
        "name": "win2", "type": "x509", "public_key": body["public_key"]}})
    assert imported.json()["keypair"]["fingerprint"] == body["fingerprint"]
    bad = await api.post("/os-keypairs", json={"keypair": {
        "name": "win3", "type": "x509", "public_key": "not a certificate"}})
    assert bad.status_code == 400
    assert fault(bad)[1].startswith("Keypair data is invalid: failed to generate X509")
    assert (await compute.post("/os-keypairs", json={"keypair": {
        "name": "t", "type": "ssh"}})).status_code == 400  # no type before 2.2
    assert (await api.post("/os-keypairs", json={"keypair": {
        "name": "t", "type": "gpg"}})).status_code == 400
    assert (await api.delete("/os-keypairs/typed")).status_code == 204


async def test_import_public_keys(compute: Nova) -> None:
    keys = {"rsa": openssh(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            "ed": openssh(ed25519.Ed25519PrivateKey.generate()),
            "ecdsa": openssh(ec.generate_private_key(ec.SECP256R1()))}
    for name, public_key in keys.items():
        created = await compute.post("/os-keypairs", json={"keypair": {
            "name": name, "public_key": public_key}})
        assert created.status_code == 200, created.text
        body = created.json()["keypair"]
        assert "private_key" not in body
        assert body["public_key"] == public_key
        assert body["fingerprint"] == md5_print(public_key)
    for bad in ("ssh-rsa notbase64!", "garbage", "", "ssh-rsa AAAAB3NzaC1yc2E"):
        response = await compute.post("/os-keypairs", json={"keypair": {
            "name": "bad", "public_key": bad}})
        assert response.status_code == 400, bad
        assert fault(response)[1] == "Keypair data is invalid: failed to generate fingerprint"
    running = compute.cloud.services["compute"]
    from onestack.compute.objects import keypairs
    user_id = (await compute.get("/os-keypairs/ed")).json()["keypair"]["user_id"]
    async with running.db.reader() as conn:
        assert await keypairs.get_public_key(conn, user_id, "ed") == {
            "name": "ed", "public_key": keys["ed"], "type": "ssh"}
        assert await keypairs.get_public_key(conn, user_id, "nope") is None


async def test_names_and_duplicates(compute: Nova) -> None:
    ok = await compute.post("/os-keypairs", json={"keypair": {"name": "a_b-c 1"}})
    assert ok.status_code == 200
    again = await compute.post("/os-keypairs", json={"keypair": {"name": "a_b-c 1"}})
    assert again.status_code == 409
    assert fault(again) == ("conflictingRequest", "Key pair 'a_b-c 1' already exists.")
    for bad in ("", " lead", "trail ", "semi;colon", "x" * 256, "dotted.name", "at@home"):
        response = await compute.post("/os-keypairs", json={"keypair": {"name": bad}})
        assert response.status_code == 400, bad
    key = openssh(ed25519.Ed25519PrivateKey.generate())
    for name in ("dotted.name", "at@home"):
        response = await compute.post("/os-keypairs", json={"keypair": {
            "name": name, "public_key": key}}, version="2.92")
        assert response.status_code == 201, name
    assert (await compute.post("/os-keypairs", json={"keypair": {"name": "x"},
                                                     "extra": 1})).status_code == 400


async def test_generation_ends_at_2_92(compute: Nova) -> None:
    assert (await compute.post("/os-keypairs", json={"keypair": {"name": "g"}},
                               version="2.91")).status_code == 201
    refused = await compute.post("/os-keypairs", json={"keypair": {"name": "g2"}},
                                 version="2.92")
    assert refused.status_code == 400


async def test_users_are_isolated_and_admins_reach_others(compute: Nova,
                                                          tenants: Tenants) -> None:
    alice, bob = tenants.alice, tenants.bob
    mine = (await alice.post("/os-keypairs", json={"keypair": {"name": "k"}})).json()
    alice_id = mine["keypair"]["user_id"]
    assert (await bob.get("/os-keypairs/k")).status_code == 404
    assert (await bob.get("/os-keypairs")).json() == {"keypairs": []}
    assert (await bob.post("/os-keypairs", json={"keypair": {"name": "k"}})).status_code \
        == 200  # names are per user
    stolen = await bob.get(f"/os-keypairs/k?user_id={alice_id}", version="2.10")
    assert stolen.status_code == 403
    assert fault(stolen)[1] == ("Policy doesn't allow os_compute_api:os-keypairs:show to be "
                                "performed.")
    assert (await bob.get(f"/os-keypairs/k?user_id={alice_id}")).status_code == 200  # 2.1
    assert (await bob.delete(f"/os-keypairs/k?user_id={alice_id}",
                             version="2.10")).status_code == 403
    assert (await bob.post("/os-keypairs", json={"keypair": {
        "name": "planted", "user_id": alice_id}}, version="2.10")).status_code == 403
    admin = compute.at("2.10")
    shown = await admin.get(f"/os-keypairs/k?user_id={alice_id}")
    assert shown.status_code == 200 and shown.json()["keypair"]["user_id"] == alice_id
    listed = (await admin.get(f"/os-keypairs?user_id={alice_id}")).json()["keypairs"]
    assert [k["keypair"]["name"] for k in listed] == ["k"]
    made = await admin.post("/os-keypairs", json={"keypair": {"name": "given",
                                                              "user_id": alice_id}})
    assert made.status_code == 201 and made.json()["keypair"]["user_id"] == alice_id
    names = [k["keypair"]["name"] for k in (await alice.get("/os-keypairs")).json()[
        "keypairs"]]
    assert names == ["given", "k"]
    assert (await admin.delete(f"/os-keypairs/given?user_id={alice_id}")).status_code == 204
    assert (await admin.get("/os-keypairs?user_id=x&colour=red",
                            version="2.75")).status_code == 400


async def test_paging_from_2_35(compute: Nova) -> None:
    key = openssh(ed25519.Ed25519PrivateKey.generate())
    for name in ("c", "a", "d", "b"):
        await compute.post("/os-keypairs", json={"keypair": {"name": name,
                                                             "public_key": key}})
    api = compute.at("2.35")
    page = (await api.get("/os-keypairs?limit=2")).json()
    assert [k["keypair"]["name"] for k in page["keypairs"]] == ["a", "b"]
    (link,) = page["keypairs_links"]
    assert link["rel"] == "next" and "marker=b" in link["href"]
    assert "/v2.1/os-keypairs?" in link["href"]
    rest = (await api.get("/os-keypairs?limit=2&marker=b")).json()
    assert [k["keypair"]["name"] for k in rest["keypairs"]] == ["c", "d"]
    assert "keypairs_links" not in rest
    missing = await api.get("/os-keypairs?marker=zzz")
    assert missing.status_code == 400
    assert fault(missing)[1] == "Marker zzz could not be found."
    assert (await api.get("/os-keypairs?limit=x")).status_code == 400
    # before 2.35 paging parameters are ignored
    assert len((await compute.get("/os-keypairs?limit=1")).json()["keypairs"]) == 4


async def test_key_pair_quota(compute: Nova, tenants: Tenants) -> None:
    project = tenants.one["id"]
    limited = await compute.put(f"/os-quota-sets/{project}", json={"quota_set": {
        "key_pairs": 2}})
    assert limited.status_code == 200
    key = openssh(ed25519.Ed25519PrivateKey.generate())
    for name in ("one", "two"):
        response = await tenants.alice.post("/os-keypairs", json={"keypair": {
            "name": name, "public_key": key}})
        assert response.status_code == 200
    over = await tenants.alice.post("/os-keypairs", json={"keypair": {
        "name": "three", "public_key": key}})
    assert over.status_code == 403
    assert fault(over) == ("forbidden", "Quota exceeded, too many key pairs.")
    # the limit counts each user's key pairs
    assert (await tenants.bob.post("/os-keypairs", json={"keypair": {
        "name": "three", "public_key": key}})).status_code == 200
    await tenants.alice.delete("/os-keypairs/one")
    assert (await tenants.alice.post("/os-keypairs", json={"keypair": {
        "name": "three", "public_key": key}})).status_code == 200
