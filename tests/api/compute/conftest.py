"""Fixtures of the compute stories: a cloud with its background loops running
(conductor, scheduler, agents on the fake driver, the other services' bus doors),
the compute API as the bootstrap admin at a chosen microversion, and members of two
other projects."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from onestack.cloud import Cloud
from tests.conftest import Api, Tenants, admin_api, two_tenants


class Nova(Api):
    """The compute API with ``OpenStack-API-Version: compute X`` on every request
    (``version=`` per call, else the instance's ``microversion``)."""

    microversion: str = "2.1"

    async def request(self, method: str, path: str, *, version: str | None = None,
                      headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        all_headers = dict(headers or {})
        all_headers.setdefault("OpenStack-API-Version",
                               f"compute {version or self.microversion}")
        return await super().request(method, "/v2.1" + path if path.startswith("/")
                                     and not path.startswith("/v2") else path,
                                     headers=all_headers, **kwargs)

    def at(self, microversion: str) -> Nova:
        other = copy.copy(self)
        other.microversion = microversion
        return other


@pytest.fixture
async def compute(running: Cloud) -> AsyncIterator[Nova]:
    """The compute API as the bootstrap admin (paths are below /v2.1)."""
    async with admin_api(running, "compute", Nova) as api:
        yield api  # type: ignore[misc]


@pytest.fixture
async def tenants(running: Cloud, compute: Nova) -> Tenants:
    """Members alice and bob of two projects, as compute clients."""
    return await two_tenants(compute, "compute")


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Wait until ``check()`` is true (the flow behind a 202 is asynchronous)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
