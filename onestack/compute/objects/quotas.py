"""Nova's quota engine, counting what exists rather than keeping reservations.

A limit comes from the configured default, then the ``default`` quota class, then the
project's own row, then (for a user's limit) the user's row within the project; -1 is
unlimited. Usage is counted from the tables: servers (their flavor as booted), server
groups and key pairs. Key pairs and server group members are per-user resources,
checked only against the user's limit, as upstream."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.compute import models as m
from onestack.compute.objects import states
from onestack.kernel.api.faults import BadRequest, Forbidden
from onestack.kernel.config import ComputeConfig

UNLIMITED = -1
MAX_INT = 0x7FFFFFFF

# Resources Nova still reports but no longer enforces (nova-network's); they default
# to unlimited.
NETWORK = ("fixed_ips", "floating_ips", "security_groups", "security_group_rules")
INJECTED = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")
RESOURCES = ("instances", "cores", "ram", "metadata_items", "key_pairs", "server_groups",
             "server_group_members", *INJECTED, *NETWORK)
# Counted per user only; upstream shows their usage as 0 in quota details and limits.
PER_USER = ("key_pairs", "server_group_members")
INSTANCE_RESOURCES = ("instances", "cores", "ram")
DEFAULT_CLASS = "default"

_MESSAGES = {
    "key_pairs": "Quota exceeded, too many key pairs.",
    "server_groups": "Quota exceeded, too many server groups.",
    "server_group_members": "Quota exceeded, too many servers in group",
}


class OverQuota(Forbidden):
    """A 403 in Nova's words; ``overs`` names the resources over their limit."""

    def __init__(self, message: str, overs: list[str], limits: dict[str, int],
                 usages: dict[str, int]) -> None:
        super().__init__(message)
        self.overs = overs
        self.limits = limits
        self.usages = usages


def configured(settings: ComputeConfig) -> dict[str, int]:
    """The limits of the configuration alone (Nova's ``[quota]`` options)."""
    values = {name: int(getattr(settings, f"quota_{name}")) for name in (
        "instances", "cores", "ram", "metadata_items", "key_pairs", "server_groups",
        "server_group_members", "injected_files", "injected_file_content_bytes")}
    values["injected_file_path_bytes"] = int(settings.quota_injected_file_path_length)
    values.update({name: UNLIMITED for name in NETWORK})
    return values


# -- limits ------------------------------------------------------------------------
async def class_limits(conn: AsyncConnection, settings: ComputeConfig,
                       class_name: str = DEFAULT_CLASS) -> dict[str, int]:
    """The configured limits with a quota class's rows over them (the ``default``
    class is the base of every project's limits)."""
    values = configured(settings)
    values.update(await _class_rows(conn, class_name))
    return values


async def _class_rows(conn: AsyncConnection, class_name: str) -> dict[str, int]:
    rows = await conn.execute(sa.select(m.quota_class.c.resource, m.quota_class.c.hard_limit)
                              .where(m.quota_class.c.class_name == class_name))
    return {resource: limit for resource, limit in rows if resource in RESOURCES}


async def set_class_limits(conn: AsyncConnection, class_name: str,
                           values: Mapping[str, int]) -> None:
    for resource, limit in values.items():
        table = m.quota_class
        await conn.execute(sa.delete(table).where(table.c.class_name == class_name,
                                                  table.c.resource == resource))
        await conn.execute(sa.insert(table).values(class_name=class_name, resource=resource,
                                                   hard_limit=limit))


async def _rows(conn: AsyncConnection, project_id: str, user_id: str | None = None
                ) -> dict[str, int]:
    """The project's own rows (``user_id`` None) or one user's rows."""
    rows = await conn.execute(sa.select(m.quota.c.resource, m.quota.c.hard_limit).where(
        m.quota.c.project_id == project_id, m.quota.c.user_id == (user_id or "")))
    return {resource: limit for resource, limit in rows if resource in RESOURCES}


async def limits(conn: AsyncConnection, settings: ComputeConfig, project_id: str,
                 user_id: str | None = None) -> dict[str, int]:
    values = await class_limits(conn, settings)
    values.update(await _rows(conn, project_id))
    if user_id:
        values.update(await _rows(conn, project_id, user_id))
    return values


async def set_limits(conn: AsyncConnection, project_id: str, user_id: str | None,
                     values: Mapping[str, int]) -> None:
    table = m.quota
    for resource, limit in values.items():
        await conn.execute(sa.delete(table).where(
            table.c.project_id == project_id, table.c.user_id == (user_id or ""),
            table.c.resource == resource))
        await conn.execute(sa.insert(table).values(
            project_id=project_id, user_id=user_id or "", resource=resource,
            hard_limit=limit))


async def reset(conn: AsyncConnection, project_id: str, user_id: str | None = None) -> None:
    """Back to the defaults: the project's and all its users' rows, or one user's."""
    query = sa.delete(m.quota).where(m.quota.c.project_id == project_id)
    if user_id:
        query = query.where(m.quota.c.user_id == user_id)
    await conn.execute(query)


# -- usage -------------------------------------------------------------------------
async def usage(conn: AsyncConnection, project_id: str, user_id: str | None = None
                ) -> dict[str, int]:
    """What the project (or one user in it) holds now. Server group members are
    counted per group, by whoever checks them (``check(current=...)``)."""
    inst = m.instance
    flavor = inst.c.flavor
    query = sa.select(sa.func.count(), sa.func.sum(flavor["vcpus"].as_integer()),
                      sa.func.sum(flavor["memory_mb"].as_integer())).where(
        inst.c.project_id == project_id, inst.c.deleted_at.is_(None),
        inst.c.vm_state != states.SOFT_DELETED)
    groups = sa.select(sa.func.count()).select_from(m.server_group).where(
        m.server_group.c.project_id == project_id)
    if user_id:
        query = query.where(inst.c.user_id == user_id)
        groups = groups.where(m.server_group.c.user_id == user_id)
    instances, cores, ram = (await conn.execute(query)).one()
    found = {name: 0 for name in RESOURCES}
    found.update(instances=int(instances or 0), cores=int(cores or 0), ram=int(ram or 0),
                 server_groups=int(await conn.scalar(groups) or 0))
    if user_id:
        found["key_pairs"] = await count_keypairs(conn, user_id)
    return found


async def count_keypairs(conn: AsyncConnection, user_id: str) -> int:
    return int(await conn.scalar(sa.select(sa.func.count()).select_from(m.keypair).where(
        m.keypair.c.user_id == user_id)) or 0)


async def detail(conn: AsyncConnection, settings: ComputeConfig, project_id: str,
                 user_id: str | None = None) -> dict[str, dict[str, int]]:
    """Nova's detailed view: limit, in_use and (always 0) reserved per resource."""
    limit = await limits(conn, settings, project_id, user_id)
    used = await usage(conn, project_id, user_id)
    return {name: {"limit": limit[name], "reserved": 0,
                   "in_use": 0 if name in PER_USER else used[name]} for name in RESOURCES}


# -- checks ------------------------------------------------------------------------
async def check(conn: AsyncConnection, settings: ComputeConfig, project_id: str,
                user_id: str | None, deltas: Mapping[str, int],
                current: Mapping[str, int] | None = None) -> None:
    """Raise OverQuota unless adding ``deltas`` keeps the project (and the user, where
    the user has limits of their own, and always for per-user resources) within its
    limits. ``current`` overrides counted usage (server group members: the group's)."""
    current = current or {}
    scopes: list[tuple[dict[str, int], dict[str, int], list[str]]] = []
    project_keys = [r for r in deltas if r not in PER_USER]
    if project_keys:
        scopes.append((await limits(conn, settings, project_id),
                       await usage(conn, project_id), project_keys))
    if user_id:
        own = await _rows(conn, project_id, user_id)
        user_keys = [r for r in deltas if r in PER_USER or r in own]
        if user_keys:
            scopes.append((await limits(conn, settings, project_id, user_id),
                           await usage(conn, project_id, user_id), user_keys))
    for limit, used, keys in scopes:
        used = {**used, **current}
        overs = sorted(r for r in keys
                       if limit[r] > UNLIMITED and used[r] + deltas[r] > limit[r])
        if overs:
            raise OverQuota(_message(overs, deltas, limit, used), overs, limit, used)


_ABSOLUTE_MESSAGES = {
    "metadata_items": "Maximum number of metadata items exceeds {allowed}",
    "injected_files": "Personality file limit exceeded",
    "injected_file_path_bytes": "Personality file path exceeds maximum {allowed}",
    "injected_file_content_bytes": "Personality file content exceeds maximum {allowed}",
}


async def check_absolute(conn: AsyncConnection, settings: ComputeConfig, project_id: str,
                         values: Mapping[str, int], user_id: str | None = None) -> None:
    """Nova's limit check of sizes that are not counted (metadata items of a server or
    an image, injected files and their paths and contents): each value against its
    limit; OverQuota (403) in Nova's words."""
    limit = await limits(conn, settings, project_id, user_id)
    for resource, value in values.items():
        if limit[resource] > UNLIMITED and value > limit[resource]:
            text = _ABSOLUTE_MESSAGES.get(resource, "Quota exceeded for resources: {overs}")
            raise OverQuota(text.format(allowed=limit[resource], overs=[resource]),
                            [resource], limit, dict(values))


def _message(overs: list[str], deltas: Mapping[str, int], limit: Mapping[str, int],
             used: Mapping[str, int]) -> str:
    if all(r in INSTANCE_RESOURCES for r in overs):
        def joined(values: Iterable[Any]) -> str:
            return ", ".join(str(v) for v in values)
        names = joined(overs)
        return (f"Quota exceeded for {names}: Requested {joined(deltas[r] for r in overs)}, "
                f"but already used {joined(used[r] for r in overs)} of "
                f"{joined(limit[r] for r in overs)} {names}")
    for resource in overs:
        if resource in _MESSAGES:
            return _MESSAGES[resource]
    return f"Quota exceeded for resources: {overs}"


# -- updates -----------------------------------------------------------------------
def _unlimited_sum(a: int, b: int) -> int:
    return UNLIMITED if a <= UNLIMITED or b <= UNLIMITED else a + b


def _unlimited_difference(a: int, b: int) -> int:
    return UNLIMITED if a <= UNLIMITED or b <= UNLIMITED else a - b


async def settable(conn: AsyncConnection, settings: ComputeConfig, project_id: str,
                   user_id: str | None = None) -> dict[str, tuple[int, int]]:
    """The (minimum, maximum) a limit may be set to. A project's limit covers its
    usage and the limits given to its users; a user's limit covers the user's usage
    and fits in what the project has not given to other users."""
    project_limits = await limits(conn, settings, project_id)
    given: dict[str, int] = {}
    rows = await conn.execute(sa.select(m.quota.c.resource, m.quota.c.hard_limit).where(
        m.quota.c.project_id == project_id, m.quota.c.user_id != ""))
    for resource, limit in rows:
        given[resource] = given.get(resource, 0) + limit
    remains = {r: project_limits[r] - given.get(r, 0) for r in RESOURCES}
    if user_id:
        own = await _rows(conn, project_id, user_id)
        used = await usage(conn, project_id, user_id)
        return {r: (0 if r in PER_USER else used[r],
                    _unlimited_sum(remains[r], own.get(r, 0))) for r in RESOURCES}
    used = await usage(conn, project_id)
    return {r: (max(_unlimited_difference(project_limits[r], remains[r]),
                    0 if r in PER_USER else used[r]), UNLIMITED) for r in RESOURCES}


async def update(conn: AsyncConnection, settings: ComputeConfig, project_id: str,
                 user_id: str | None, values: Mapping[str, int], force: bool) -> None:
    """Set limits, each validated against what it must cover unless ``force``."""
    if not force:
        ranges = await settable(conn, settings, project_id, user_id)
        for resource, value in values.items():
            minimum, maximum = ranges[resource]
            if _infinite(value) < _infinite(minimum):
                raise BadRequest(f"Quota limit {value} for {resource} must be greater than "
                                 f"or equal to already used and reserved {minimum}.")
            if _infinite(value) > _infinite(maximum):
                raise BadRequest(f"Quota limit {value} for {resource} must be less than or "
                                 f"equal to {maximum}.")
    await set_limits(conn, project_id, user_id, values)


def _infinite(value: int) -> float:
    return float("inf") if value == UNLIMITED else value
