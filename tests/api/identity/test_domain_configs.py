"""Domain configuration: a domain's own identity and LDAP options, by whole config,
group and option, the defaults, and the read-only security compliance group."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.identity.helpers import make_project, member_token
from tests.conftest import Api

CONFIG = {"identity": {"driver": "ldap"},
          "ldap": {"url": "ldap://ldap.example.org/", "user_tree_dn": "ou=Users,dc=example"}}


async def make_domain(identity: Api, name: str) -> dict[str, Any]:
    response = await identity.post("/v3/domains", json={"domain": {"name": name}})
    assert response.status_code == 201, response.text
    return response.json()["domain"]


async def test_create_show_replace_and_delete_a_whole_config(identity: Api) -> None:
    domain = await make_domain(identity, "ldap-dom")
    url = f"/v3/domains/{domain['id']}/config"
    assert (await identity.get(url)).status_code == 404
    created = await identity.put(url, json={"config": CONFIG})
    assert created.status_code == 201
    assert created.json()["config"] == CONFIG
    assert (await identity.get(url)).json()["config"] == CONFIG
    replaced = await identity.put(url, json={"config": {"identity": {"driver": "sql"}}})
    assert replaced.status_code == 200
    assert replaced.json()["config"] == {"identity": {"driver": "sql"}}
    assert (await identity.delete(url)).status_code == 204
    assert (await identity.get(url)).status_code == 404


async def test_groups_and_options(identity: Api) -> None:
    domain = await make_domain(identity, "opts-dom")
    url = f"/v3/domains/{domain['id']}/config"
    await identity.put(url, json={"config": CONFIG})
    group = await identity.get(f"{url}/ldap")
    assert group.json()["config"] == {"ldap": CONFIG["ldap"]}
    option = await identity.get(f"{url}/ldap/url")
    assert option.json()["config"] == {"url": "ldap://ldap.example.org/"}

    merged = await identity.patch(f"{url}/identity", json={"config": {
        "identity": {"driver": "custom", "list_limit": 7}}})
    assert merged.status_code == 200
    assert merged.json()["config"]["identity"] == {"driver": "custom", "list_limit": 7}
    assert merged.json()["config"]["ldap"] == CONFIG["ldap"]  # the whole config comes back
    one = await identity.patch(f"{url}/identity/driver", json={"config": {"driver": "x"}})
    assert one.json()["config"]["identity"]["driver"] == "x"

    assert (await identity.delete(f"{url}/identity/driver")).status_code == 204
    assert (await identity.get(f"{url}/identity/driver")).status_code == 404
    assert (await identity.delete(f"{url}/identity/driver")).status_code == 404
    assert (await identity.delete(f"{url}/identity")).status_code == 204
    assert (await identity.get(f"{url}/identity")).status_code == 404
    assert (await identity.get(url)).json()["config"] == {"ldap": CONFIG["ldap"]}


async def test_sensitive_option_is_stored_but_never_shown(identity: Api) -> None:
    domain = await make_domain(identity, "secret-dom")
    url = f"/v3/domains/{domain['id']}/config"
    created = await identity.put(url, json={"config": {
        "ldap": {"url": "ldap://x/", "password": "s3cret"}}})
    assert created.status_code == 201
    assert created.json()["config"] == {"ldap": {"url": "ldap://x/"}}
    assert "s3cret" not in (await identity.get(url)).text
    assert (await identity.get(f"{url}/ldap/password")).status_code == 403


async def test_defaults(identity: Api) -> None:
    everything = (await identity.get("/v3/domains/config/default")).json()["config"]
    assert set(everything) == {"identity", "ldap"}
    assert "password" not in everything["ldap"]
    group = await identity.get("/v3/domains/config/identity/default")
    assert group.json()["config"] == {"identity": {"driver": "sql", "list_limit": None}}
    option = await identity.get("/v3/domains/config/ldap/url/default")
    assert option.json()["config"] == {"url": "ldap://localhost"}
    assert (await identity.get("/v3/domains/config/nope/default")).status_code == 403


@pytest.mark.parametrize(("body", "status", "word"), [
    ({"config": {}}, 403, "empty"),
    ({"config": {"nova": {"x": 1}}}, 403, "nova"),
    ({"config": {"ldap": {"bogus_option": 1}}}, 403, "bogus_option"),
    ({"config": {"security_compliance": {"password_regex": ".*"}}}, 403,
     "security_compliance"),
    ({"config": "ldap"}, 403, "dictionary"),
    ({"nothing": 1}, 400, "config"),
])
async def test_refuses_bad_configs(identity: Api, body: dict[str, Any], status: int,
                                   word: str) -> None:
    domain = await make_domain(identity, f"bad-{status}-{word}")
    response = await identity.put(f"/v3/domains/{domain['id']}/config", json=body)
    assert response.status_code == status, response.text
    assert word in response.json()["error"]["message"]


async def test_update_must_name_only_the_group_or_option_in_the_path(identity: Api) -> None:
    domain = await make_domain(identity, "path-dom")
    url = f"/v3/domains/{domain['id']}/config"
    await identity.put(url, json={"config": CONFIG})
    wrong_group = await identity.patch(f"{url}/identity", json={"config": {
        "ldap": {"url": "ldap://y/"}}})
    assert wrong_group.status_code == 403
    wrong_option = await identity.patch(f"{url}/identity/driver", json={"config": {
        "list_limit": 3}})
    assert wrong_option.status_code == 403


async def test_unknown_domain_is_404(identity: Api) -> None:
    response = await identity.put("/v3/domains/no-such-domain/config",
                                  json={"config": CONFIG})
    assert response.status_code == 404


async def test_deleting_the_domain_deletes_its_config(identity: Api) -> None:
    domain = await make_domain(identity, "gone-dom")
    url = f"/v3/domains/{domain['id']}/config"
    await identity.put(url, json={"config": CONFIG})
    await identity.patch(f"/v3/domains/{domain['id']}", json={"domain": {"enabled": False}})
    assert (await identity.delete(f"/v3/domains/{domain['id']}")).status_code == 204
    again = await make_domain(identity, "gone-dom")
    assert again["id"] != domain["id"]
    assert (await identity.get(f"/v3/domains/{again['id']}/config")).status_code == 404


async def test_non_admins_cannot_read_or_write_configs(identity: Api) -> None:
    domain = await make_domain(identity, "rbac-dom")
    url = f"/v3/domains/{domain['id']}/config"
    await identity.put(url, json={"config": CONFIG})
    project = await make_project(identity, "cfg-proj")
    token = await member_token(identity, "cfg-member", project)
    assert (await identity.get(url, token=token)).status_code == 403
    assert (await identity.put(url, token=token, json={"config": CONFIG})).status_code == 403
    assert (await identity.delete(url, token=token)).status_code == 403
    assert (await identity.get("/v3/domains/config/default", token=token)).status_code == 403


async def test_anyone_may_read_the_password_rules(cloud: Any, identity: Api) -> None:
    cloud.config.identity.password_regex = "^.{8,}$"
    cloud.config.identity.password_regex_description = "at least 8 characters"
    project = await make_project(identity, "rules-proj")
    token = await member_token(identity, "rules-member", project)
    url = "/v3/domains/default/config/security_compliance"
    shown = await identity.get(url, token=token)
    assert shown.status_code == 200
    assert shown.json()["config"] == {"security_compliance": {
        "password_regex": "^.{8,}$", "password_regex_description": "at least 8 characters"}}
    one = await identity.get(f"{url}/password_regex", token=token)
    assert one.json()["config"] == {"password_regex": "^.{8,}$"}
    other = await make_domain(identity, "rules-other")
    refused = await identity.get(f"/v3/domains/{other['id']}/config/security_compliance")
    assert refused.status_code == 403
