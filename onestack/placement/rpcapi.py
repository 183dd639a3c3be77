"""The typed client of placement's bus methods: compute's scheduler and agents use it
to report hosts, find candidates and claim resources."""

from __future__ import annotations

from typing import Any

from onestack.kernel.bus import Bus, Target

TOPIC = "placement"


class PlacementAPI:
    def __init__(self, bus: Bus, timeout: float = 60) -> None:
        self.bus = bus
        self.target = Target(TOPIC)
        self.timeout = timeout

    async def _call(self, method: str, ctx: dict[str, Any], **kwargs: Any) -> Any:
        return await self.bus.call(self.target, method, ctx, timeout=self.timeout, **kwargs)

    async def ensure_provider(self, ctx: dict[str, Any], uuid: str, name: str,
                              inventories: dict[str, dict[str, Any]],
                              traits: list[str] | None = None) -> int:
        return await self._call("ensure_provider", ctx, uuid=uuid, name=name,  # type: ignore[no-any-return]
                                inventories=inventories, traits=traits)

    async def delete_provider(self, ctx: dict[str, Any], uuid: str) -> None:
        await self._call("delete_provider", ctx, uuid=uuid)

    async def set_aggregates(self, ctx: dict[str, Any], uuid: str,
                             aggregates: list[str]) -> None:
        await self._call("set_aggregates", ctx, uuid=uuid, aggregates=aggregates)

    async def candidates(self, ctx: dict[str, Any], resources: dict[str, int],
                         required: list[str] | None = None,
                         forbidden: list[str] | None = None,
                         member_of: list[list[str]] | None = None,
                         in_tree: str | None = None,
                         limit: int | None = None) -> dict[str, Any]:
        """``{"classes", "rows": [[root, free...]], "allocations": {root: allocation}}``
        (a root without an entry in allocations takes ``resources`` from itself)."""
        return await self._call(  # type: ignore[no-any-return]
            "candidates", ctx, resources=resources, required=required,
            forbidden=forbidden, member_of=member_of, in_tree=in_tree, limit=limit)

    async def claim(self, ctx: dict[str, Any], consumer: str,
                    allocations: dict[str, dict[str, int]], project_id: str, user_id: str,
                    replace_existing: bool = False) -> bool:
        return await self._call(  # type: ignore[no-any-return]
            "claim", ctx, consumer=consumer, allocations_by_provider=allocations,
            project_id=project_id, user_id=user_id, replace_existing=replace_existing)

    async def get_allocations(self, ctx: dict[str, Any],
                              consumer: str) -> dict[str, dict[str, int]]:
        return await self._call("get_allocations", ctx, consumer=consumer)  # type: ignore[no-any-return]

    async def move_allocations(self, ctx: dict[str, Any], source: str, target: str) -> None:
        # "target" would collide with the bus's own argument of that name
        await self._call("move_allocations", ctx, source=source, to=target)

    async def delete_allocations(self, ctx: dict[str, Any], consumer: str) -> None:
        await self._call("delete_allocations", ctx, consumer=consumer)

    async def usages(self, ctx: dict[str, Any], uuid: str) -> dict[str, int]:
        return await self._call("usages", ctx, uuid=uuid)  # type: ignore[no-any-return]
