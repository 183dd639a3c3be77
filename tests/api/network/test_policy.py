"""An operator's policy file ([api] policy_file) overrides the networking defaults
(onestack/network/policies.py) by name: each override here turns one decision the
other way, and what it does not name keeps its default."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from onestack.cloud import Cloud, prepare_state_dir
from onestack.kernel.policy import parse
from onestack.network import policies
from tests.api.network.conftest import Tenants, create, net_with_subnet
from tests.conftest import Api
from tests.conftest import test_config as cloud_config

OVERRIDES = {
    # members may share networks, and see the host their ports are bound to
    "create_network:shared": "rule:context_is_admin or role:member",
    "get_port:binding:host_id": "@",
    "get_network:provider:network_type": "@",
    # routers are the operator's, and a project may not read its own quota
    "create_router": "rule:admin_only",
    "get_quota": "rule:admin_only",
    # subnet pools: readable by admins only
    "get_subnetpool": "rule:admin_only",
}


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    """The cloud of these stories, with the operator's policy file."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(OVERRIDES))
    config = cloud_config(tmp_path / "state")
    config.api.policy_file = str(policy)
    prepare_state_dir(config.state_dir, reset=False)
    built = Cloud(config)
    await built.build()
    yield built
    await built.close()


def test_every_default_rule_parses() -> None:
    for name, rule in policies.DEFAULTS.items():
        assert callable(parse(rule)), name


async def test_overrides_turn_decisions(network: Api, tenants: Tenants) -> None:
    shared = await tenants.alice.post("/v2.0/networks", json={"network": {"shared": True}})
    assert shared.status_code == 201, shared.text  # 403 by default
    # not overridden: still the operator's
    external = await tenants.alice.post("/v2.0/networks",
                                        json={"network": {"router:external": True}})
    assert external.status_code == 403
    router = await tenants.alice.post("/v2.0/routers", json={"router": {"name": "r"}})
    assert router.status_code == 403 and "create_router" in router.text
    assert (await network.post("/v2.0/routers", json={"router": {}})).status_code == 201
    own_quota = await tenants.alice.get(f"/v2.0/quotas/{tenants.one['id']}")
    assert own_quota.status_code == 403


async def test_overrides_show_attributes(network: Api, tenants: Tenants) -> None:
    net, _ = await net_with_subnet(tenants.alice, "10.30.0.0/24")
    assert net["provider:network_type"] == "vxlan"
    assert "provider:segmentation_id" not in net
    port = await create(tenants.alice, "ports", "port", network_id=net["id"])
    bound = await network.put(f"/v2.0/ports/{port['id']}",
                              json={"port": {"binding:host_id": "host-9"}})
    assert bound.status_code == 200, bound.text
    shown = (await tenants.alice.get(f"/v2.0/ports/{port['id']}")).json()["port"]
    listed = (await tenants.alice.get("/v2.0/ports")).json()["ports"]
    paged = (await tenants.alice.get("/v2.0/ports?limit=5")).json()["ports"]
    for view in (shown, listed[0], paged[0]):
        assert view["binding:host_id"] == "host-9"
        assert "binding:vif_type" not in view and "binding:profile" not in view
    assert listed == [shown]


async def test_read_rules_apply_to_lists_and_shows(network: Api, tenants: Tenants) -> None:
    pool = await create(tenants.alice, "subnetpools", "subnetpool", name="p",
                        prefixes=["10.128.0.0/16"])
    assert (await tenants.alice.get("/v2.0/subnetpools")).json()["subnetpools"] == []
    assert (await tenants.alice.get(f"/v2.0/subnetpools/{pool['id']}")).status_code == 404
    seen = (await network.get("/v2.0/subnetpools")).json()["subnetpools"]
    assert [p["id"] for p in seen] == [pool["id"]]
