"""Agents: the fake backend's DHCP, L3 and metadata agents on the host it serves,
alive while their heartbeats come; list, show, update and delete as Neutron has them;
projects see none."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import sqlalchemy as sa

from onestack.cloud import Cloud
from onestack.network.manager import heartbeats
from onestack.network.models import agent
from onestack.network.objects import agents
from tests.api.network.conftest import Tenants, error_type
from tests.conftest import Api

STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


async def listed(api: Api, query: str = "") -> list[dict[str, Any]]:
    response = await api.get(f"/v2.0/agents{query}")
    assert response.status_code == 200, response.text
    return list(response.json()["agents"])


async def test_the_backend_reports_its_agents(cloud: Cloud, network: Api) -> None:
    found = await listed(network)
    host = cloud.services["network"].backend.host
    assert sorted((a["agent_type"], a["binary"], a["topic"]) for a in found) == [
        ("DHCP agent", "neutron-dhcp-agent", "dhcp_agent"),
        ("L3 agent", "neutron-l3-agent", "l3_agent"),
        ("Metadata agent", "neutron-metadata-agent", "N/A")]
    for item in found:
        assert item["host"] == host and item["alive"] is True
        assert item["admin_state_up"] is True and item["description"] is None
        for key in ("created_at", "started_at", "heartbeat_timestamp"):
            assert STAMP.match(item[key]), item[key]
        assert item["configurations"]["backend"] == "fake"
    zones = {a["agent_type"]: a["availability_zone"] for a in found}
    assert zones == {"DHCP agent": "nova", "L3 agent": "nova", "Metadata agent": None}
    assert "agent" in {e["alias"] for e in
                       (await network.get("/v2.0/extensions")).json()["extensions"]}
    dhcp = await listed(network, "?agent_type=DHCP+agent")
    assert [a["agent_type"] for a in dhcp] == ["DHCP agent"]
    shown = await network.get(f"/v2.0/agents/{dhcp[0]['id']}")
    assert shown.json()["agent"] == dhcp[0]


async def test_update_and_delete(cloud: Cloud, network: Api) -> None:
    l3 = (await listed(network, "?agent_type=L3+agent"))[0]
    path = f"/v2.0/agents/{l3['id']}"
    updated = await network.put(path, json={"agent": {"admin_state_up": False,
                                                      "description": "maintenance"}})
    assert updated.status_code == 200, updated.text
    assert updated.json()["agent"]["admin_state_up"] is False
    assert updated.json()["agent"]["description"] == "maintenance"
    # a heartbeat keeps what the operator set
    await agents.report(cloud.services["network"])
    again = (await network.get(path)).json()["agent"]
    assert again["admin_state_up"] is False and again["description"] == "maintenance"
    for body in ({"host": "elsewhere"}, {"bogus": 1}, {"admin_state_up": "maybe"}):
        refused = await network.put(path, json={"agent": body})
        assert refused.status_code == 400, body
    assert (await network.delete(path)).status_code == 204
    gone = await network.get(path)
    assert gone.status_code == 404 and error_type(gone) == "AgentNotFound"
    assert (await network.delete(path)).status_code == 404
    # a running agent registers again at its next heartbeat, as a new agent
    await agents.report(cloud.services["network"])
    back = await listed(network, "?agent_type=L3+agent")
    assert len(back) == 1 and back[0]["id"] != l3["id"] and back[0]["admin_state_up"]


async def test_alive_follows_the_heartbeats(cloud: Cloud, network: Api) -> None:
    net = cloud.services["network"]
    async with net.db.writer() as conn:
        await conn.execute(sa.update(agent).values(
            heartbeat_timestamp=time.time() - agents.AGENT_DOWN_TIME - 1))
    assert not any(a["alive"] for a in await listed(network))
    beating = asyncio.create_task(heartbeats(net, interval=0.01))
    try:
        for _ in range(200):
            if all(a["alive"] for a in await listed(network)):
                break
            await asyncio.sleep(0.01)
    finally:
        beating.cancel()
    assert all(a["alive"] for a in await listed(network))


async def test_projects_see_no_agents(network: Api, tenants: Tenants) -> None:
    some = (await listed(network))[0]
    assert await listed(tenants.alice) == []
    for method in ("GET", "DELETE"):
        response = await tenants.alice.request(method, f"/v2.0/agents/{some['id']}")
        assert response.status_code == 404, method
    refused = await tenants.alice.put(f"/v2.0/agents/{some['id']}",
                                      json={"agent": {"admin_state_up": False}})
    assert refused.status_code == 404
    assert (await network.get(f"/v2.0/agents/{some['id']}")).json()["agent"][
        "admin_state_up"] is True
