"""Fixtures of the placement stories: the placement API as the bootstrap admin, at a
chosen microversion, and helpers that read like the API reference."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from onestack.cloud import Cloud
from tests.conftest import Api, admin_api


class Placement(Api):
    """The placement API with an ``OpenStack-API-Version`` on every request."""

    microversion: str = "1.39"

    async def request(self, method: str, path: str, *, version: str | None = None,
                      headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        all_headers = dict(headers or {})
        all_headers.setdefault("OpenStack-API-Version",
                               f"placement {version or self.microversion}")
        return await super().request(method, path, headers=all_headers, **kwargs)

    async def provider(self, name: str | None = None, parent: str | None = None,
                       **inventories: int) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name or f"rp-{uuid.uuid4().hex[:8]}"}
        if parent:
            body["parent_provider_uuid"] = parent
        response = await self.post("/resource_providers", json=body)
        assert response.status_code == 200, response.text
        provider = response.json()
        if inventories:
            await self.inventories(provider["uuid"], **inventories)
        return provider

    async def inventories(self, rp: str, **totals: int) -> dict[str, Any]:
        current = (await self.get(f"/resource_providers/{rp}")).json()
        response = await self.put(f"/resource_providers/{rp}/inventories", json={
            "resource_provider_generation": current["generation"],
            "inventories": {rc: {"total": total} for rc, total in totals.items()}})
        assert response.status_code == 200, response.text
        return response.json()

    async def claim(self, consumer: str, allocations: dict[str, dict[str, int]],
                    generation: int | None = None, status: int = 204) -> Any:
        response = await self.put(f"/allocations/{consumer}", json={
            "allocations": {rp: {"resources": res} for rp, res in allocations.items()},
            "project_id": PROJECT, "user_id": USER, "consumer_generation": generation,
            "consumer_type": "INSTANCE"})
        assert response.status_code == status, response.text
        return response


PROJECT = str(uuid.uuid4())
USER = str(uuid.uuid4())


def error_code(response: Any) -> str:
    return str(response.json()["errors"][0].get("code"))


@pytest.fixture
async def placement(cloud: Cloud) -> AsyncIterator[Placement]:
    async with admin_api(cloud, "placement", Placement) as api:
        yield api
