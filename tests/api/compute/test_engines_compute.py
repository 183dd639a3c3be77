"""The server story on PostgreSQL and MariaDB: boot through the conductor, scheduler,
placement and an agent, act, list with filters, delete (JSON columns, guarded
updates, soft deletes and the scheduler's joins on each engine)."""

from __future__ import annotations

from typing import Any

from tests.api.compute.boot import kit, wait_gone, wait_status
from tests.api.compute.conftest import Nova
from tests.conftest import admin_api


async def test_server_lifecycle_on_each_engine(engine_cloud: Any) -> None:
    tasks = engine_cloud.start_background()
    try:
        async with admin_api(engine_cloud, "compute", Nova) as admin:
            nova: Nova = admin  # type: ignore[assignment]
            k = await kit(nova)
            created = await nova.post("/servers", json={"server": {
                "name": "engine-vm", "imageRef": k.image, "flavorRef": k.flavor,
                "networks": [{"uuid": k.network}], "metadata": {"role": "db"}}})
            assert created.status_code == 202, created.text
            sid = created.json()["server"]["id"]
            shown = await wait_status(nova, sid, "ACTIVE", timeout=30)
            assert shown["metadata"] == {"role": "db"}
            assert shown["addresses"]["private-net"][0]["addr"].startswith("192.168.10.")
            stopped = await nova.post(f"/servers/{sid}/action", json={"os-stop": None})
            assert stopped.status_code == 202
            await wait_status(nova, sid, "SHUTOFF", timeout=30)
            listed = (await nova.get("/servers/detail?status=SHUTOFF&name=engine")).json()
            assert [s["id"] for s in listed["servers"]] == [sid]
            assert (await nova.delete(f"/servers/{sid}")).status_code == 204
            await wait_gone(nova, sid, timeout=30)
            deleted = (await nova.get("/servers/detail?deleted=true")).json()["servers"]
            assert sid in {s["id"] for s in deleted}
    finally:
        await engine_cloud.stop_background(tasks)
