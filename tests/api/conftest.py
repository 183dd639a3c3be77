"""Fixtures shared by the services' HTTP stories: a whole cloud on PostgreSQL or
MariaDB (private servers started once per session by ``tests/engines.py``), for the
stories that must hold on every engine."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from onestack.cloud import Cloud, prepare_state_dir
from onestack.kernel.config import SERVICE_PORTS
from tests import engines
from tests.conftest import test_config as cloud_config


@pytest.fixture(scope="module", params=engines.ENGINES)
def server(request: pytest.FixtureRequest) -> engines.DatabaseServer:
    return engines.server(request.param, request.config)


@pytest.fixture(scope="module")
async def engine_cloud(server: engines.DatabaseServer,
                       tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cloud]:
    """An all-in-one cloud (not listening) whose services keep their data on ``server``."""
    # A database for every service a cloud may have, so that services added to Cloud
    # later find theirs.
    async with server.cloud_databases(SERVICE_PORTS) as url:
        config = cloud_config(tmp_path_factory.mktemp(f"cloud-{server.engine}") / "state")
        config.database.url = url
        prepare_state_dir(config.state_dir, reset=False)
        cloud = Cloud(config)
        try:
            await cloud.build()
            yield cloud
        finally:
            await cloud.close()
