"""First start, as ``keystone-manage bootstrap``: the Default domain, the admin,
manager, member and reader roles (admin implies manager implies member implies
reader), the admin project and user, the region and the identity endpoints. Safe to
run at every start."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from onestack.identity.models import endpoint, region, service
from onestack.identity.objects import assignments, projects, roles, users
from onestack.identity.objects.common import new_id

if TYPE_CHECKING:
    from onestack.identity.service import Identity

DEFAULT_DOMAIN = {"id": "default", "name": "Default",
                  "description": "The default domain"}
SERVICE_NAMES = {"identity": "keystone", "compute": "nova", "placement": "placement",
                 "image": "glance", "network": "neutron", "block-storage": "cinderv3",
                 "volumev3": "cinderv3", "object-store": "swift"}


async def bootstrap(identity: Identity) -> None:
    settings = identity.settings
    async with identity.write() as conn:
        if await _exists(conn, projects.project, "default"):
            domain_id = "default"
        else:
            await projects.create(conn, dict(DEFAULT_DOMAIN), is_domain=True)
            domain_id = "default"
        role_ids = {}
        for name in ("reader", "member", "manager", "admin", "service"):
            found = await roles.find(conn, name) or await roles.create(conn, {"name": name})
            role_ids[name] = found["id"]
        admin_role = await roles.get(conn, role_ids["admin"])
        manager_role = await roles.get(conn, role_ids["manager"])
        member_role = await roles.get(conn, role_ids["member"])
        reader_role = await roles.get(conn, role_ids["reader"])
        # Keystone's chain since 2024.2: admin > manager > member > reader (a state
        # bootstrapped before keeps its admin > member rule too)
        await roles.add_implied(conn, admin_role, manager_role)
        await roles.add_implied(conn, manager_role, member_role)
        await roles.add_implied(conn, member_role, reader_role)
        project = await projects.find(conn, name=settings.admin_project, domain_id=domain_id,
                                      is_domain=False)
        if project is None:
            project = await projects.create(conn, {"name": settings.admin_project,
                                                   "domain_id": domain_id,
                                                   "description": "Bootstrap project"})
        admin = await users.find(conn, settings.admin_user, domain_id)
        if admin is None:
            admin = await users.create(conn, {"name": settings.admin_user,
                                              "domain_id": domain_id,
                                              "password": settings.admin_password,
                                              "default_project_id": project["id"]}, settings)
        await assignments.grant(conn, "user", admin["id"], "project", project["id"],
                                role_ids["admin"])
        await assignments.grant(conn, "user", admin["id"], "system", assignments.SYSTEM,
                                role_ids["admin"])
        await assignments.grant(conn, "user", admin["id"], "domain", domain_id,
                                role_ids["admin"])
    await register_service(identity, "identity", identity.base_url + "/v3")


async def _exists(conn: Any, table: sa.Table, ident: str) -> bool:
    return (await conn.execute(sa.select(table.c.id).where(table.c.id == ident))).first() \
        is not None


async def register_service(identity: Identity, service_type: str, url: str) -> None:
    """Make the catalog list a running service, pointing its endpoints at ``url``."""
    region_id = identity.settings.region
    async with identity.write() as conn:
        if not await _exists(conn, region, region_id):
            await conn.execute(sa.insert(region).values(id=region_id, description="",
                                                        parent_region_id=None, extra={}))
        found = (await conn.execute(sa.select(service).where(service.c.type == service_type))
                 ).first()
        service_id = found.id if found else new_id()
        if found is None:
            await conn.execute(sa.insert(service).values(
                id=service_id, type=service_type, enabled=True,
                extra={"name": SERVICE_NAMES.get(service_type, service_type)}))
        existing = {row.interface: row for row in await conn.execute(
            sa.select(endpoint).where(endpoint.c.service_id == service_id,
                                      endpoint.c.region_id == region_id))}
        for interface in ("public", "internal", "admin"):
            row = existing.get(interface)
            if row is None:
                await conn.execute(sa.insert(endpoint).values(
                    id=new_id(), interface=interface, service_id=service_id,
                    region_id=region_id, url=url, enabled=True, extra={}))
            elif row.url != url:
                await conn.execute(sa.update(endpoint).where(endpoint.c.id == row.id)
                                   .values(url=url))
