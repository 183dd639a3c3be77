"""Fixtures of the networking stories: the network API as the bootstrap admin, and
members of two other projects built through identity."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from onestack.cloud import Cloud
from tests.conftest import Api, Tenants, admin_api, two_tenants


@pytest.fixture
async def network(cloud: Cloud) -> AsyncIterator[Api]:
    """The network API, authenticated as the bootstrap admin."""
    async with admin_api(cloud, "network") as api:
        yield api


@pytest.fixture
async def tenants(cloud: Cloud, network: Api) -> Tenants:
    """Members alice and bob of two projects, as network clients."""
    return await two_tenants(network, "net")


async def create(api: Api, collection: str, key: str, status: int = 201, **body: Any
                 ) -> dict[str, Any]:
    response = await api.post(f"/v2.0/{collection}", json={key: body})
    assert response.status_code == status, response.text
    return response.json().get(key, response.json())


async def net_with_subnet(api: Api, cidr: str = "10.0.0.0/24", **subnet: Any
                          ) -> tuple[dict[str, Any], dict[str, Any]]:
    net = await create(api, "networks", "network", name="net")
    sub = await create(api, "subnets", "subnet", network_id=net["id"], cidr=cidr,
                       ip_version=6 if ":" in cidr else 4, **subnet)
    return net, sub


def error_type(response: Any) -> str:
    return str(response.json()["NeutronError"]["type"])
