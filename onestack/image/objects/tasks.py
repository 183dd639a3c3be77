"""Tasks: the ``import`` tasks of ``/v2/tasks`` and the records of image imports
(``api_image_import``, as ``GET /v2/images/{id}/tasks`` shows). A task is its owner
project's (admins see all); once it ends it expires after TIME_TO_LIVE."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.image.models import task
from onestack.image.objects.images import Viewer, new_id, now
from onestack.kernel.api.faults import NotFound

TIME_TO_LIVE = 48 * 3600  # seconds a finished task is kept (Glance's task_time_to_live)
STATUSES = ("pending", "processing", "success", "failure")
TERMINAL = ("success", "failure")
TYPES = ("import", "api_image_import")


async def record(conn: AsyncConnection, image: dict[str, Any], viewer: Viewer,
                 request_id: str, import_req: dict[str, Any]) -> None:
    moment = now()
    await conn.execute(sa.insert(task).values(
        id=new_id(), image_id=image["id"], type="api_image_import", status="success",
        owner=viewer.project_id, user_id=viewer.user_id, request_id=request_id,
        input={"image_id": image["id"], "import_req": import_req, "backend": ["file"]},
        result=None, message="", expires_at=moment + TIME_TO_LIVE, created_at=moment,
        updated_at=moment))


async def create(conn: AsyncConnection, viewer: Viewer, request_id: str, kind: str,
                 task_input: dict[str, Any]) -> dict[str, Any]:
    moment = now()
    row = {"id": new_id(), "image_id": None, "type": kind, "status": "pending",
           "owner": viewer.project_id, "user_id": viewer.user_id,
           "request_id": request_id, "input": task_input, "result": None, "message": "",
           "expires_at": None, "created_at": moment, "updated_at": moment}
    await conn.execute(sa.insert(task).values(**row))
    return row


async def get(conn: AsyncConnection, task_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(sa.select(task).where(task.c.id == task_id))).first()
    return dict(row._mapping) if row is not None else None


def is_visible(viewer: Viewer, row: dict[str, Any]) -> bool:
    return viewer.is_admin or (viewer.project_id is not None
                               and row["owner"] == viewer.project_id)


async def load(conn: AsyncConnection, viewer: Viewer, task_id: str) -> dict[str, Any]:
    row = await get(conn, task_id)
    if row is None or not is_visible(viewer, row):
        raise NotFound(f"Task with the given id {task_id} was not found.")
    return row


async def list_visible(conn: AsyncConnection, viewer: Viewer, *, status: str | None,
                       kind: str | None) -> list[dict[str, Any]]:
    query = sa.select(task)
    if not viewer.is_admin:
        query = query.where(task.c.owner == viewer.project_id)
    if status is not None:
        query = query.where(task.c.status == status)
    if kind is not None:
        query = query.where(task.c.type == kind)
    return [dict(r._mapping) for r in await conn.execute(query)]


async def update(conn: AsyncConnection, task_id: str, **values: Any) -> None:
    """Change a task; ending it (success or failure) starts its time to live."""
    moment = now()
    if values.get("status") in TERMINAL:
        values["expires_at"] = moment + TIME_TO_LIVE
    await conn.execute(sa.update(task).where(task.c.id == task_id)
                       .values(**values, updated_at=moment))


async def abandoned(conn: AsyncConnection, message: str, silent_for: float) -> list[str]:
    """End as failed the unfinished tasks nobody has touched for ``silent_for``
    seconds (their process stopped without ending them); the images they were
    making. A task at work shows it is alive by touching ``updated_at``."""
    rows = (await conn.execute(sa.select(task.c.id, task.c.image_id).where(
        task.c.status.in_(("pending", "processing")),
        task.c.updated_at < now() - silent_for))).all()
    for row in rows:
        await update(conn, row.id, status="failure", message=message)
    return [row.image_id for row in rows if row.image_id]


async def purge_expired(conn: AsyncConnection) -> int:
    result = await conn.execute(sa.delete(task).where(task.c.expires_at < now()))
    return int(result.rowcount or 0)


async def for_image(conn: AsyncConnection, image_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(sa.select(task).where(task.c.image_id == image_id)
                              .order_by(task.c.created_at))
    return [dict(r._mapping) for r in rows]
