"""Security groups: the default group on first use, rules and their validation."""

from __future__ import annotations

from tests.api.network.conftest import create, error_type
from tests.conftest import Api


async def test_default_group_made_on_first_use_with_its_rules(network: Api) -> None:
    groups = (await network.get("/v2.0/security-groups")).json()["security_groups"]
    assert [g["name"] for g in groups] == ["default"]
    rules = groups[0]["security_group_rules"]
    assert len(rules) == 4
    assert {(r["direction"], r["ethertype"], r["remote_group_id"]) for r in rules} == {
        ("egress", "IPv4", None), ("egress", "IPv6", None),
        ("ingress", "IPv4", groups[0]["id"]), ("ingress", "IPv6", groups[0]["id"])}
    again = (await network.get("/v2.0/security-groups")).json()["security_groups"]
    assert len(again) == 1


async def test_rules_names_numbers_duplicates(network: Api) -> None:
    group = await create(network, "security-groups", "security_group", name="web")
    assert len(group["security_group_rules"]) == 2  # egress v4 and v6
    rule = await create(network, "security-group-rules", "security_group_rule",
                        security_group_id=group["id"], direction="ingress", protocol="tcp",
                        port_range_min=22, port_range_max=22, remote_ip_prefix="0.0.0.0/0")
    assert rule["protocol"] == "tcp" and rule["ethertype"] == "IPv4"
    duplicate = await network.post("/v2.0/security-group-rules", json={"security_group_rule": {
        "security_group_id": group["id"], "direction": "ingress", "protocol": "6",
        "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"}})
    assert duplicate.status_code == 409 and error_type(duplicate) == "SecurityGroupRuleExists"
    numbered = await create(network, "security-group-rules", "security_group_rule",
                            security_group_id=group["id"], direction="ingress", protocol="132")
    assert numbered["protocol"] == "132"
    icmp6 = await create(network, "security-group-rules", "security_group_rule",
                         security_group_id=group["id"], direction="ingress",
                         protocol="icmpv6", ethertype="IPv6", remote_group_id=group["id"])
    assert icmp6["remote_group_id"] == group["id"]


async def test_rule_validation(network: Api) -> None:
    group = await create(network, "security-groups", "security_group", name="v")
    base = {"security_group_id": group["id"], "direction": "ingress"}
    for bad, kind in (
            ({"protocol": "bogus"}, "SecurityGroupRuleInvalidProtocol"),
            ({"protocol": "tcp", "port_range_min": 90, "port_range_max": 80},
             "SecurityGroupInvalidPortRange"),
            ({"port_range_min": 80}, "SecurityGroupProtocolRequiredWithPorts"),
            ({"remote_ip_prefix": "::/0"}, "SecurityGroupRuleParameterConflict"),
            ({"direction": "sideways"}, "InvalidInput"),
            ({"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": group["id"]},
             "SecurityGroupRemoteGroupAndRemoteIpPrefix")):
        response = await network.post("/v2.0/security-group-rules",
                                      json={"security_group_rule": {**base, **bad}})
        assert response.status_code == 400, bad
        assert error_type(response) == kind
    missing = await network.post("/v2.0/security-group-rules", json={"security_group_rule": {
        **base, "remote_group_id": "00000000-0000-0000-0000-000000000000"}})
    assert missing.status_code == 404


async def test_group_update_and_delete(network: Api) -> None:
    group = await create(network, "security-groups", "security_group", name="tmp")
    renamed = await network.put(f"/v2.0/security-groups/{group['id']}",
                                json={"security_group": {"name": "tmp2"}})
    assert renamed.json()["security_group"]["name"] == "tmp2"
    assert (await network.delete(f"/v2.0/security-groups/{group['id']}")).status_code == 204
    assert (await network.get(f"/v2.0/security-groups/{group['id']}")).status_code == 404
