"""Reading migration records (written by the server actions that move servers) with
Nova's filters, and the flavors they name as Nova's integer flavor ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.compute import models as m

Migration = dict[str, Any]


@dataclass
class Filters:
    status: str | None = None
    host: str | None = None  # source or destination
    source_compute: str | None = None  # only when no host filter
    instance_uuid: str | None = None
    migration_type: str | None = None
    user_id: str | None = None
    project_id: str | None = None
    changes_since: float | None = None
    changes_before: float | None = None


async def select(conn: AsyncConnection, filters: Filters, newest_first: bool = False
                 ) -> list[Migration]:
    mig = m.migration
    query = sa.select(mig)
    if filters.status is not None:
        query = query.where(mig.c.status == filters.status)
    if filters.host is not None:
        query = query.where(sa.or_(mig.c.source_compute == filters.host,
                                   mig.c.dest_compute == filters.host))
    elif filters.source_compute is not None:
        query = query.where(mig.c.source_compute == filters.source_compute)
    for column, value in ((mig.c.instance_uuid, filters.instance_uuid),
                          (mig.c.migration_type, filters.migration_type),
                          (mig.c.user_id, filters.user_id),
                          (mig.c.project_id, filters.project_id)):
        if value is not None:
            query = query.where(column == value)
    # as Nova: by updated_at only, so never-updated records match neither bound
    if filters.changes_since is not None:
        query = query.where(mig.c.updated_at >= filters.changes_since)
    if filters.changes_before is not None:
        query = query.where(mig.c.updated_at <= filters.changes_before)
    if newest_first:
        query = query.order_by(mig.c.created_at.desc(), mig.c.id.desc())
    else:
        query = query.order_by(mig.c.id)
    return [dict(r._mapping) for r in (await conn.execute(query)).all()]


async def flavor_ids(conn: AsyncConnection, refs: set[str]) -> dict[str, int]:
    """Nova shows a migration's flavors by the flavor table's integer id: a numeric
    reference is taken as that id, any other as a flavorid to look up."""
    found = {ref: int(ref) for ref in refs if ref.isdigit()}
    names = [ref for ref in refs if ref not in found]
    if names:
        rows = await conn.execute(sa.select(m.flavor.c.flavorid, m.flavor.c.id)
                                  .where(m.flavor.c.flavorid.in_(names)))
        found.update({flavorid: ident for flavorid, ident in rows.all()})
    return found
