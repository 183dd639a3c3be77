"""The typed client of the networking service's bus methods: the only door other
services (compute) use to make and plug the ports of their servers."""

from __future__ import annotations

from typing import Any

from onestack.kernel.bus import Bus, Target

TOPIC = "network"


class NetworkAPI:
    def __init__(self, bus: Bus, timeout: float = 60) -> None:
        self.bus = bus
        self.target = Target(TOPIC)
        self.timeout = timeout

    async def _call(self, method: str, ctx: dict[str, Any], **kwargs: Any) -> Any:
        return await self.bus.call(self.target, method, ctx, timeout=self.timeout, **kwargs)

    async def get_network(self, ctx: dict[str, Any], network_id: str) -> dict[str, Any]:
        return await self._call("get_network", ctx, network_id=network_id)  # type: ignore[no-any-return]

    async def create_port(self, ctx: dict[str, Any], network_id: str, project_id: str,
                          device_id: str, host: str = "",
                          fixed_ips: list[dict[str, str]] | None = None,
                          security_groups: list[str] | None = None) -> dict[str, Any]:
        """A port on ``network_id`` for server ``device_id``, bound to ``host`` when
        given (the backend then reports it ACTIVE)."""
        return await self._call(  # type: ignore[no-any-return]
            "create_port", ctx, network_id=network_id, project_id=project_id,
            device_id=device_id, host=host, fixed_ips=fixed_ips,
            security_groups=security_groups)

    async def bind_port(self, ctx: dict[str, Any], port_id: str, host: str,
                        device_id: str = "") -> dict[str, Any]:
        return await self._call("bind_port", ctx, port_id=port_id, host=host,  # type: ignore[no-any-return]
                                device_id=device_id)

    async def unbind_port(self, ctx: dict[str, Any], port_id: str) -> dict[str, Any]:
        return await self._call("unbind_port", ctx, port_id=port_id)  # type: ignore[no-any-return]

    async def delete_port(self, ctx: dict[str, Any], port_id: str) -> None:
        await self._call("delete_port", ctx, port_id=port_id)

    async def list_ports(self, ctx: dict[str, Any], device_id: str) -> list[dict[str, Any]]:
        return await self._call("list_ports", ctx, device_id=device_id)  # type: ignore[no-any-return]
