"""Instances (servers) and their actions: rows of the compute database, as plain
dicts. Every write bumps ``generation``; state changes that race (an agent's report
against a user's delete) are guarded by the expected task state, as Nova's
``expected_task_state``."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.compute import models as m
from onestack.compute.objects import console_tokens, states
from onestack.kernel.api.faults import Conflict, NotFound

Instance = dict[str, Any]

_COLUMNS = [c.name for c in m.instance.columns]


def _row(row: Any) -> Instance:
    return dict(row._mapping)


def not_found(uuid: str) -> NotFound:
    return NotFound(f"Instance {uuid} could not be found.")


async def get(conn: AsyncConnection, uuid: str, *, deleted: bool = False) -> Instance:
    query = sa.select(m.instance).where(m.instance.c.uuid == uuid)
    if not deleted:
        query = query.where(m.instance.c.deleted_at.is_(None))
    row = (await conn.execute(query)).first()
    if row is None:
        raise not_found(uuid)
    return _row(row)


async def find(conn: AsyncConnection, uuid: str) -> Instance | None:
    row = (await conn.execute(sa.select(m.instance).where(
        m.instance.c.uuid == uuid, m.instance.c.deleted_at.is_(None)))).first()
    return None if row is None else _row(row)


async def select(conn: AsyncConnection, *where: Any, deleted: bool | None = False
                 ) -> list[Instance]:
    query = sa.select(m.instance).where(*where)
    if deleted is False:
        query = query.where(m.instance.c.deleted_at.is_(None))
    elif deleted is True:
        query = query.where(m.instance.c.deleted_at.is_not(None))
    return [_row(r) for r in (await conn.execute(query)).all()]


async def insert(conn: AsyncConnection, rows: list[Instance]) -> None:
    now = time.time()
    for row in rows:
        row.setdefault("created_at", now)
        row.setdefault("updated_at", None)
        row.setdefault("generation", 1)
    await conn.execute(m.instance.insert(), rows)


async def update(conn: AsyncConnection, current: Instance, changes: dict[str, Any],
                 expected_task_state: list[str | None] | None = None,
                 expected_vm_state: list[str] | None = None) -> Instance | None:
    """Apply ``changes`` if the row is still what ``current`` saw (same generation),
    or, when expectations are given, still in one of the expected states. None when
    the instance is gone or no longer expected; never a lost update."""
    now = time.time()
    values = {**changes, "updated_at": now,
              "generation": m.instance.c.generation + 1}
    query = m.instance.update().where(m.instance.c.uuid == current["uuid"],
                                      m.instance.c.deleted_at.is_(None))
    if expected_task_state is None and expected_vm_state is None:
        query = query.where(m.instance.c.generation == current["generation"])
    if expected_task_state is not None:
        query = query.where(_state_in(m.instance.c.task_state, expected_task_state))
    if expected_vm_state is not None:
        query = query.where(m.instance.c.vm_state.in_(expected_vm_state))
    result = await conn.execute(query.values(**values))
    if result.rowcount != 1:
        return None
    return {**current, **changes, "updated_at": now,
            "generation": current["generation"] + 1}


def _state_in(column: Any, expected: list[str | None]) -> Any:
    named = [s for s in expected if s is not None]
    clauses = []
    if named:
        clauses.append(column.in_(named))
    if None in expected:
        clauses.append(column.is_(None))
    return sa.or_(*clauses)


async def change_state(conn: AsyncConnection, current: Instance, changes: dict[str, Any],
                       action: str) -> Instance:
    """A user's state change from the API: 409 as Nova when the server changed (or
    started a task) under us."""
    updated = await update(conn, current, changes,
                           expected_task_state=[current["task_state"]],
                           expected_vm_state=[current["vm_state"]])
    if updated is None:
        raise Conflict(f"Cannot '{action}' instance {current['uuid']} while it is in "
                       f"task_state {current['task_state']}")
    return updated


async def soft_delete(conn: AsyncConnection, uuid: str) -> None:
    now = time.time()
    await conn.execute(m.instance.update().where(m.instance.c.uuid == uuid).values(
        vm_state=states.DELETED, task_state=None, power_state=0, deleted_at=now,
        terminated_at=now, updated_at=now, generation=m.instance.c.generation + 1))
    await conn.execute(m.server_group_member.delete().where(
        m.server_group_member.c.instance_uuid == uuid))
    await console_tokens.delete_for_instance(conn, uuid)


# -- instance actions --------------------------------------------------------------
async def record_action(conn: AsyncConnection, instance: Instance, action: str,
                        ctx: dict[str, Any], finished: bool = False) -> int:
    now = time.time()
    result = await conn.execute(m.instance_action.insert().values(
        instance_uuid=instance["uuid"], request_id=ctx.get("request_id") or "",
        action=action, project_id=ctx.get("project_id") or instance["project_id"],
        user_id=ctx.get("user_id") or instance["user_id"], start_time=now,
        finish_time=now if finished else None, updated_at=now))
    return int(result.inserted_primary_key[0])


async def record_event(conn: AsyncConnection, uuid: str, request_id: str, event: str,
                       host: str, result: str | None, details: str | None = None) -> None:
    """Start an action's event, or finish it when ``result`` is given (Success/Error);
    an Error result marks the action's message as Nova does."""
    action = (await conn.execute(
        sa.select(m.instance_action.c.id).where(
            m.instance_action.c.instance_uuid == uuid,
            m.instance_action.c.request_id == request_id)
        .order_by(m.instance_action.c.id.desc()).limit(1))).first()
    if action is None:
        return
    now = time.time()
    if result is None:
        await conn.execute(m.instance_action_event.insert().values(
            action_id=action.id, event=event, start_time=now, host=host))
        return
    found = await conn.execute(m.instance_action_event.update().where(
        m.instance_action_event.c.action_id == action.id,
        m.instance_action_event.c.event == event,
        m.instance_action_event.c.finish_time.is_(None)).values(
            finish_time=now, result=result, details=details))
    if found.rowcount == 0:
        await conn.execute(m.instance_action_event.insert().values(
            action_id=action.id, event=event, start_time=now, finish_time=now, host=host,
            result=result, details=details))
    changes: dict[str, Any] = {"updated_at": now, "finish_time": now}
    if result == "Error":
        changes["message"] = "Error"
    await conn.execute(m.instance_action.update().where(
        m.instance_action.c.id == action.id).values(**changes))
