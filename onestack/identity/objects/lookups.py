"""Cached reads for the token path. Issuing and validating tokens read the same few
rows again and again; this keeps them in memory until identity writes anything (the
service's ``generation`` changes) or ``cache_ttl`` passes, which bounds how stale a
process can be when several identity processes share one database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.identity.objects import assignments, catalog, projects, roles, users

if TYPE_CHECKING:
    from onestack.identity.service import Identity

_MISSING = object()


class Lookups:
    def __init__(self, identity: Identity, conn: AsyncConnection) -> None:
        self.identity = identity
        self.conn = conn

    async def _cached(self, key: tuple[Any, ...], load: Callable[[], Awaitable[Any]]) -> Any:
        store = self.identity.read_cache()
        value = store.get(key, _MISSING)
        if value is _MISSING:
            generation = self.identity.generation
            value = await load()
            # A write that landed while we read must not be hidden behind our result.
            if generation == self.identity.generation:
                store[key] = value
        return value

    async def project(self, project_id: str, *, domain: bool | None = False
                      ) -> dict[str, Any]:
        return await self._cached(("project", project_id, domain),
                                  lambda: projects.get(self.conn, project_id, domain=domain))

    async def find_project(self, name: str, domain_id: str | None, is_domain: bool
                           ) -> dict[str, Any] | None:
        return await self._cached(("project-name", name, domain_id, is_domain),
                                  lambda: projects.find(self.conn, name=name,
                                                        domain_id=domain_id,
                                                        is_domain=is_domain))

    async def user(self, user_id: str) -> dict[str, Any]:
        return await self._cached(("user", user_id), lambda: users.get(self.conn, user_id))

    async def find_user(self, name: str, domain_id: str) -> dict[str, Any] | None:
        return await self._cached(("user-name", name, domain_id),
                                  lambda: users.find(self.conn, name, domain_id))

    async def password(self, user_id: str) -> dict[str, Any] | None:
        return await self._cached(("password", user_id),
                                  lambda: users.current_password(self.conn, user_id))

    async def role_ids(self, user_id: str, *, project_id: str | None = None,
                       domain_id: str | None = None, system: bool = False) -> set[str]:
        found = await self._cached(
            ("role-ids", user_id, project_id, domain_id, system),
            lambda: assignments.effective_role_ids(self.conn, user_id, project_id=project_id,
                                                   domain_id=domain_id, system=system))
        return set(found)

    async def roles(self, role_ids: set[str]) -> dict[str, dict[str, Any]]:
        key = ("roles", frozenset(role_ids))
        return await self._cached(key, lambda: roles.by_ids(self.conn, role_ids))

    async def catalog(self, project_id: str | None) -> list[dict[str, Any]]:
        return await self._cached(("catalog", project_id),
                                  lambda: catalog.build_catalog(self.conn, project_id))
