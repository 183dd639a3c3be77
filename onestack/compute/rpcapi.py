"""The typed clients of compute's bus methods: the conductor (which alone writes the
compute database on behalf of agents) and the compute agents (one bus server per
host). The API casts to the conductor and to agents; agents call the conductor."""

from __future__ import annotations

from typing import Any

from onestack.kernel.bus import Bus, Target

CONDUCTOR_TOPIC = "conductor"
AGENT_TOPIC = "compute"


class ConductorAPI:
    def __init__(self, bus: Bus, timeout: float = 60) -> None:
        self.bus = bus
        self.target = Target(CONDUCTOR_TOPIC)
        self.timeout = timeout

    async def _call(self, method: str, ctx: dict[str, Any], **kwargs: Any) -> Any:
        return await self.bus.call(self.target, method, ctx, timeout=self.timeout, **kwargs)

    # -- from the API ------------------------------------------------------------
    async def schedule_and_build(self, ctx: dict[str, Any], uuids: list[str]) -> None:
        await self.bus.cast(self.target, "schedule_and_build", ctx, uuids=uuids)

    async def migrate(self, ctx: dict[str, Any], uuid: str, kind: str,
                      flavor: dict[str, Any] | None = None, host: str | None = None) -> None:
        """Cold migrate or resize (``kind``: "migration" or "resize"), live migrate
        ("live-migration") or evacuate ("evacuation"): the scheduler picks a host
        unless one is given."""
        await self.bus.cast(self.target, "migrate", ctx, uuid=uuid, kind=kind,
                            flavor=flavor, host=host)

    async def unshelve(self, ctx: dict[str, Any], uuid: str,
                       availability_zone: str | None = None, host: str | None = None) -> None:
        await self.bus.cast(self.target, "unshelve", ctx, uuid=uuid,
                            availability_zone=availability_zone, host=host)

    # -- from agents ---------------------------------------------------------------
    async def register_hosts(self, ctx: dict[str, Any], hosts: list[dict[str, Any]]) -> None:
        await self._call("register_hosts", ctx, hosts=hosts)

    async def heartbeat(self, ctx: dict[str, Any], hosts: list[str]) -> None:
        await self._call("heartbeat", ctx, hosts=hosts)

    async def instances_on(self, ctx: dict[str, Any], hosts: list[str]) -> list[dict[str, Any]]:
        """The instances the database places on these hosts (the agents' desired state)."""
        return await self._call("instances_on", ctx, hosts=hosts)  # type: ignore[no-any-return]

    async def instance_update(self, ctx: dict[str, Any], uuid: str, changes: dict[str, Any],
                              expected_task_state: list[str | None] | None = None,
                              event: dict[str, Any] | None = None
                              ) -> dict[str, Any] | None:
        """Apply an agent's report; None when the instance is gone (deleted meanwhile)
        or no longer in an expected task state. ``event`` ({event, host, result?,
        details?}) is recorded in the same transaction."""
        return await self._call("instance_update", ctx, uuid=uuid,  # type: ignore[no-any-return]
                                changes=changes, expected_task_state=expected_task_state,
                                event=event)

    async def build_failed(self, ctx: dict[str, Any], uuid: str, host: str,
                           reason: str) -> None:
        await self.bus.cast(self.target, "build_failed", ctx, uuid=uuid, host=host,
                            reason=reason)

    async def instance_destroyed(self, ctx: dict[str, Any], uuid: str) -> None:
        await self._call("instance_destroyed", ctx, uuid=uuid)

    async def action_event(self, ctx: dict[str, Any], uuid: str, request_id: str, event: str,
                           host: str, result: str | None = None,
                           details: str | None = None) -> None:
        await self.bus.cast(self.target, "action_event", ctx, uuid=uuid,
                            request_id=request_id, event=event, host=host, result=result,
                            details=details)

    async def migration_update(self, ctx: dict[str, Any], uuid: str, status: str) -> None:
        await self._call("migration_update", ctx, uuid=uuid, status=status)


class AgentAPI:
    """Casts and calls to the compute agent of one host."""

    def __init__(self, bus: Bus, timeout: float = 60) -> None:
        self.bus = bus
        self.timeout = timeout

    async def cast(self, host: str, method: str, ctx: dict[str, Any], **kwargs: Any) -> None:
        await self.bus.cast(Target(AGENT_TOPIC, server=host), method, ctx, **kwargs)

    async def call(self, host: str, method: str, ctx: dict[str, Any], **kwargs: Any) -> Any:
        return await self.bus.call(Target(AGENT_TOPIC, server=host), method, ctx,
                                   timeout=self.timeout, **kwargs)

    async def get_console_endpoint(self, ctx: dict[str, Any], instance: dict[str, Any],
                                   kind: str) -> dict[str, Any]:
        """Where the ``kind`` console ("novnc" or "serial") of the instance listens, as
        its host's driver says: {kind, host, port, path}, or {error, message} with
        error "unavailable" (no such console there) or "not_ready" (no such guest)."""
        found: dict[str, Any] = await self.call(instance["host"], "get_console_endpoint", ctx,
                                                uuid=instance["uuid"], kind=kind)
        return found
