"""Fixtures of the image stories: the image API as the bootstrap admin, and callers
from other projects (member, reader) built through identity."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from onestack.cloud import Cloud
from tests.api.identity.helpers import make_project, member_token
from tests.conftest import Api, admin_api


@pytest.fixture
async def image(cloud: Cloud) -> AsyncIterator[Api]:
    """The image API, authenticated as the bootstrap admin."""
    async with admin_api(cloud, "image") as api:
        yield api


@dataclass
class Projects:
    """Two projects with a member each, and a reader in the first."""

    alice: Api  # member of project one (the owner in most stories)
    bob: Api  # member of project two
    reader: Api  # reader of project one
    one: dict[str, Any]
    two: dict[str, Any]


@pytest.fixture
async def projects(image: Api) -> Projects:
    identity = Api(image.cloud, "identity", image.token, image.clients)
    one = await make_project(identity, "one")
    two = await make_project(identity, "two")
    alice = await member_token(identity, "alice", one)
    bob = await member_token(identity, "bob", two)
    reader = await member_token(identity, "rita", one, role="reader")
    return Projects(image.as_token(alice), image.as_token(bob), image.as_token(reader),
                    one, two)


async def make_image(api: Api, data: bytes | None = None, **fields: Any) -> dict[str, Any]:
    body = {"name": "img", "disk_format": "raw", "container_format": "bare", **fields}
    response = await api.post("/v2/images", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    if data is not None:
        uploaded = await upload(api, created["id"], data)
        assert uploaded.status_code == 204, uploaded.text
    return created


async def upload(api: Api, image_id: str, data: Any, path: str = "file") -> Any:
    return await api.put(f"/v2/images/{image_id}/{path}", content=data,
                         headers={"Content-Type": "application/octet-stream"})


def qemu_image(tmp_path: Path, fmt: str, size: str = "1M", *extra: str) -> bytes:
    target = tmp_path / f"disk.{fmt}"
    subprocess.run(["qemu-img", "create", "-q", "-f", fmt, *extra, str(target), size],
                   check=True)
    return target.read_bytes()
