"""The conductor's side of moving servers: choosing the destination through the
scheduler, moving allocations in placement, migration records. (being written)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onestack.compute.service import Compute


async def migrate(compute: Compute, ctx: dict[str, Any], uuid: str, kind: str,
                  flavor: dict[str, Any] | None, host: str | None) -> None:
    raise NotImplementedError


async def unshelve(compute: Compute, ctx: dict[str, Any], uuid: str,
                   availability_zone: str | None, host: str | None) -> None:
    raise NotImplementedError
