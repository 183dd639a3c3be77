"""Deleting a security group and the floating IP lookups (by port, by router, by
network) are answered through indexes: SQLite's query plan of every statement they
run on the ports, floating IPs and port bindings searches an index, never scans."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from onestack.cloud import Cloud
from tests.api.network.conftest import create, net_with_subnet
from tests.conftest import Api

WATCHED = ("port", "floatingip", "port_security_group")


@contextmanager
def statements(cloud: Cloud) -> Iterator[list[tuple[str, Any]]]:
    """The statements the network database runs inside the block."""
    seen: list[tuple[str, Any]] = []
    engine = cloud.services["network"].db.engine.sync_engine

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
            seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def scans(cloud: Cloud, seen: list[tuple[str, Any]]) -> list[str]:
    """The plan lines that read a watched table whole."""
    path = cloud.services["network"].db.url.database
    found = []
    with sqlite3.connect(path) as db:
        for statement, parameters in seen:
            for row in db.execute(f"EXPLAIN QUERY PLAN {statement}", parameters or ()):
                detail = row[-1]
                if any(detail.startswith(f"SCAN {table}") and
                       detail.split()[1] == table for table in WATCHED):
                    found.append(f"{detail}: {statement}")
    return found


async def test_security_group_deletion_is_indexed(cloud: Cloud, network: Api) -> None:
    net, _ = await net_with_subnet(network, "10.40.0.0/24")
    group = await create(network, "security-groups", "security_group", name="g")
    port = await create(network, "ports", "port", network_id=net["id"],
                        security_groups=[group["id"]])
    with statements(cloud) as seen:
        busy = await network.delete(f"/v2.0/security-groups/{group['id']}")
        assert busy.status_code == 409
        moved = await network.put(f"/v2.0/ports/{port['id']}",
                                  json={"port": {"security_groups": []}})
        assert moved.status_code == 200
        assert (await network.delete(f"/v2.0/security-groups/{group['id']}")).status_code \
            == 204
    assert seen and scans(cloud, seen) == []


async def test_floating_ip_lookups_are_indexed(cloud: Cloud, network: Api) -> None:
    public = await create(network, "networks", "network", name="pub",
                          **{"router:external": True})
    await create(network, "subnets", "subnet", network_id=public["id"],
                 cidr="172.30.0.0/24", ip_version=4)
    inner, inner_subnet = await net_with_subnet(network, "10.41.0.0/24")
    router = await create(network, "routers", "router", name="r",
                          external_gateway_info={"network_id": public["id"]})
    base = f"/v2.0/routers/{router['id']}"
    added = await network.put(f"{base}/add_router_interface",
                              json={"subnet_id": inner_subnet["id"]})
    assert added.status_code == 200, added.text
    port = await create(network, "ports", "port", network_id=inner["id"])
    with statements(cloud) as seen:
        fip = await create(network, "floatingips", "floatingip",
                           floating_network_id=public["id"], port_id=port["id"])
        assert fip["router_id"] == router["id"]
        in_use = await network.put(f"{base}/remove_router_interface",
                                   json={"subnet_id": inner_subnet["id"]})
        assert in_use.status_code == 409
        gateway = await network.put(base, json={"router": {"external_gateway_info": {}}})
        assert gateway.status_code == 409
        assert (await network.delete(f"/v2.0/ports/{port['id']}")).status_code == 204
        shown = (await network.get(f"/v2.0/floatingips/{fip['id']}")).json()["floatingip"]
        assert shown["port_id"] is None and shown["router_id"] is None
        removed = await network.put(f"{base}/remove_router_interface",
                                    json={"subnet_id": inner_subnet["id"]})
        assert removed.status_code == 200
        assert (await network.delete(base)).status_code == 204
        assert (await network.delete(f"/v2.0/networks/{public['id']}")).status_code == 204
    assert (await network.get(f"/v2.0/floatingips/{fip['id']}")).status_code == 404
    assert seen and scans(cloud, seen) == []
