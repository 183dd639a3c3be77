"""What a service package provides to be run, and what the services of one process
share. The all-in-one cloud (``onestack/cloud.py``) builds every service through this
one shape: ``<service>/service.py`` defines the names below."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from onestack.kernel.api.app import ServiceSpec
from onestack.kernel.auth import TokenValidator
from onestack.kernel.config import Config


@dataclass
class Runtime:
    """Shared by the services of one process."""

    config: Config
    # Set by identity when it runs in this process; a service built without identity
    # gets one over the shared key repository.
    validator: TokenValidator | None = None


class ServiceModule(Protocol):
    NAME: str  # the config name: its port is config.api.ports[NAME]
    # (catalog service type, path after the service's base URL), e.g. ("compute", "/v2.1")
    CATALOG: tuple[tuple[str, str], ...]

    async def build(self, runtime: Runtime) -> Any:
        """Open the database, migrate, and return the state handlers see as req.app."""

    def spec(self, state: Any) -> ServiceSpec:
        """Routes, fault style and microversions."""

    async def periodic(self, state: Any) -> None:
        """Loops that run while the service serves (return at once if none)."""

    async def close(self, state: Any) -> None:
        """Release what build() opened."""


def extra_apps(module: ServiceModule, state: Any) -> dict[str, Any]:
    """More ASGI apps a service serves beside its API, by port name (a key of
    config.api.ports); a module offers them with ``extra_apps(state)``."""
    offer = getattr(module, "extra_apps", None)
    return offer(state) if offer is not None else {}
