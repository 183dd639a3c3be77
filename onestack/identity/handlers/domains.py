"""``/v3/domains``. Deleting a domain (which must be disabled first) deletes what it
owns: projects, users, groups and domain-specific roles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from starlette.responses import Response

from onestack.identity.handlers.common import (
    body_of,
    collection,
    enforce,
    filter_value,
    identity_of,
)
from onestack.identity.handlers.projects import render_domain
from onestack.identity.models import domain_config, group, project, role, user
from onestack.identity.objects import assignments, endpoint_groups, projects, revocations
from onestack.identity.schemas import projects as schemas
from onestack.kernel.api.faults import Forbidden
from onestack.kernel.api.request import Request, empty_response, json_response

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from onestack.identity.service import Identity


async def list_domains(req: Request) -> Response:
    enforce(req, "identity:list_domains")
    filters = {"name": req.query("name"), "enabled": filter_value(req, "enabled")}
    async with identity_of(req).db.reader() as conn:
        found = await projects.list_all(conn, is_domain=True, filters=filters)
    return collection(req, "domains", found, lambda d: render_domain(req, d))


async def get_domain(req: Request) -> Response:
    async with identity_of(req).db.reader() as conn:
        row = await projects.get(conn, req.params["domain_id"], domain=True)
    enforce(req, "identity:get_domain", {"target.domain_id": row["id"],
                                         "target.domain.id": row["id"]})
    return json_response({"domain": render_domain(req, row)})


async def create_domain(req: Request) -> Response:
    enforce(req, "identity:create_domain")
    body = await body_of(req, "domain", schemas.domain_create)
    explicit = body.pop("explicit_domain_id", None)
    if explicit:
        body["id"] = explicit
    async with identity_of(req).write() as conn:
        row = await projects.create(conn, body, is_domain=True)
    return json_response({"domain": render_domain(req, row)}, 201)


async def update_domain(req: Request) -> Response:
    enforce(req, "identity:update_domain")
    body = await body_of(req, "domain", schemas.domain_update)
    identity = identity_of(req)
    async with identity.write() as conn:
        current = await projects.get(conn, req.params["domain_id"], domain=True)
        row = await projects.update(conn, current, body)
        if current["enabled"] and not row["enabled"]:
            await revocations.revoke(identity, conn, domain_id=row["id"])
    return json_response({"domain": render_domain(req, row)})


async def delete_domain(req: Request) -> Response:
    enforce(req, "identity:delete_domain")
    identity = identity_of(req)
    async with identity.write() as conn:
        current = await projects.get(conn, req.params["domain_id"], domain=True)
        await purge_domain(identity, conn, current)
    return empty_response()


async def purge_domain(identity: Identity, conn: AsyncConnection, current: dict[str, Any]
                       ) -> None:
    """Delete a disabled domain and everything it owns."""
    if current["enabled"]:
        raise Forbidden("Cannot delete a domain that is enabled, please disable it first.")
    domain_id = current["id"]
    owned = await conn.execute(sa.select(project.c.id).where(
        project.c.domain_id == domain_id, project.c.is_domain.is_(False)))
    project_ids = [r[0] for r in owned]
    for table in (user, group):
        for (actor_id,) in await conn.execute(sa.select(table.c.id)
                                              .where(table.c.domain_id == domain_id)):
            await assignments.remove_for_actor(conn, actor_id)
        await conn.execute(sa.delete(table).where(table.c.domain_id == domain_id))
    for project_id in [*project_ids, domain_id]:
        await assignments.remove_for_target(conn, project_id)
        await endpoint_groups.forget_project(conn, project_id)
    # children before parents: clear the hierarchy then delete
    await conn.execute(sa.update(project).where(project.c.id.in_(project_ids))
                       .values(parent_id=None))
    await conn.execute(sa.delete(project).where(project.c.id.in_(project_ids)))
    await conn.execute(sa.delete(role).where(role.c.domain_id == domain_id))
    await conn.execute(sa.delete(project).where(project.c.id == domain_id))
    await conn.execute(sa.delete(domain_config).where(domain_config.c.domain_id == domain_id))
    await revocations.revoke(identity, conn, domain_id=domain_id)
