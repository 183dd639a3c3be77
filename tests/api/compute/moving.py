"""What the stories of moving servers share: three fake hosts (one with ONE_HOST),
the placement allocations by consumer and host, migrations, action events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from onestack.cloud import Cloud
from tests.api.compute.boot import Kit, boot, server, wait_status
from tests.api.compute.conftest import Nova, eventually
from tests.api.compute.test_services import hosts_cloud
from tests.conftest import Api

ONE_HOST = pytest.mark.parametrize("cloud", [1], indirect=True)


@pytest.fixture
async def cloud(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Cloud]:
    """Three fake hosts (node, node-2, node-3) unless parametrized with a count."""
    async for built in hosts_cloud(tmp_path, getattr(request, "param", 3)):
        yield built


# -- helpers ---------------------------------------------------------------------------
def usage(api: Nova) -> dict[str, dict[str, dict[str, int]]]:
    """Allocations by consumer, then by host name."""
    store = api.cloud.services["placement"].store
    return {consumer: {store.providers[rp].name: dict(res)
                       for rp, res in found.allocations.items()}
            for consumer, found in store.consumers.items()}


def held(api: Nova, consumer: str) -> dict[str, dict[str, int]]:
    return usage(api).get(consumer, {})


async def act(api: Nova, sid: str, body: dict[str, Any], status: int = 202,
              version: str | None = None) -> Any:
    reply = await api.post(f"/servers/{sid}/action", json=body, version=version)
    assert reply.status_code == status, reply.text
    return reply


async def fault(api: Nova, sid: str, body: dict[str, Any], status: int,
                version: str | None = None) -> str:
    reply = await act(api, sid, body, status, version)
    return str(next(iter(reply.json().values()))["message"])


async def migrations(api: Nova, sid: str) -> list[dict[str, Any]]:
    reply = await api.get(f"/os-migrations?instance_uuid={sid}", version="2.59")
    assert reply.status_code == 200, reply.text
    return sorted(reply.json()["migrations"], key=lambda r: r["id"])


async def migration_status(api: Nova, sid: str, status: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    async def reached() -> bool:
        found[:] = await migrations(api, sid)
        return bool(found) and found[-1]["status"] == status

    await eventually(reached)
    return found[-1]


async def events(api: Nova, sid: str, action: str) -> list[dict[str, Any]]:
    listed = (await api.get(f"/servers/{sid}/os-instance-actions")).json()
    request_id = next(a["request_id"] for a in listed["instanceActions"]
                      if a["action"] == action)
    shown = await api.get(f"/servers/{sid}/os-instance-actions/{request_id}",
                          version="2.84")
    return list(shown.json()["instanceAction"]["events"])


async def event_result(api: Nova, sid: str, action: str, event: str, result: str) -> None:
    async def recorded() -> bool:
        return any(e["event"] == event and e["result"] == result
                   for e in await events(api, sid, action))

    await eventually(recorded)


async def active(api: Nova, k: Kit, name: str = "vm", **extra: Any) -> dict[str, Any]:
    sid = (await boot(api, k, name=name, **extra))["server"]["id"]
    return await wait_status(api, sid, "ACTIVE")


async def idle(api: Nova, sid: str) -> None:
    async def no_task() -> bool:
        return (await server(api, sid))["OS-EXT-STS:task_state"] is None

    await eventually(no_task)


def ports_of(api: Nova, sid: str) -> Any:
    network = Api(api.cloud, "network", api.token, api.clients)
    return network.get(f"/v2.0/ports?device_id={sid}")


async def bindings(api: Nova, sid: str) -> set[str]:
    return {p["binding:host_id"] for p in (await ports_of(api, sid)).json()["ports"]}


