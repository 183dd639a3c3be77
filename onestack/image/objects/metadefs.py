"""What a metadata definition namespace holds: objects, properties and tags, each
named uniquely within its namespace, with the checks a definition must pass beyond
its JSON schema."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.image.models import definition
from onestack.image.objects.images import now
from onestack.kernel.api.faults import BadRequest, Conflict, NotFound

KINDS = ("object", "property", "tag")
_BOUNDS = (("minimum", "maximum"), ("minLength", "maxLength"), ("minItems", "maxItems"))


def check_property(name: str, spec: dict[str, Any]) -> None:
    """What the schema cannot say: a pattern compiles, lower bounds are not above
    upper ones, a default is one of the enum values."""
    if "pattern" in spec:
        try:
            re.compile(spec["pattern"])
        except re.error as exc:
            raise BadRequest(f"Property {name}: invalid pattern {spec['pattern']!r}: "
                             f"{exc}.") from None
    for low, high in _BOUNDS:
        if low in spec and high in spec and spec[low] > spec[high]:
            raise BadRequest(f"Property {name}: {low} ({spec[low]}) is greater than "
                             f"{high} ({spec[high]}).")
    if "enum" in spec and "default" in spec and spec["default"] not in spec["enum"]:
        raise BadRequest(f"Property {name}: the default {spec['default']!r} is not one of "
                         f"its enum values.")


def check_object(spec: dict[str, Any]) -> None:
    properties = spec.get("properties") or {}
    for name, prop in properties.items():
        check_property(name, prop)
    missing = [r for r in spec.get("required") or [] if r not in properties]
    if missing:
        raise BadRequest(f"Object {spec['name']}: required properties "
                         f"{', '.join(missing)} are not defined in its properties.")


def _missing(kind: str, name: str, ns: dict[str, Any]) -> NotFound:
    return NotFound(f"Metadata definition {kind}={name} was not found in "
                    f"namespace={ns['namespace']}.")


def _exists(kind: str, name: str, ns: dict[str, Any]) -> Conflict:
    return Conflict(f"A metadata definition {kind} with name={name} already exists in "
                    f"namespace={ns['namespace']}.")


async def list_for(conn: AsyncConnection, kind: str, namespace_ids: list[int]
                   ) -> dict[int, list[dict[str, Any]]]:
    table = definition[kind]
    found: dict[int, list[dict[str, Any]]] = {i: [] for i in namespace_ids}
    if namespace_ids:
        rows = await conn.execute(sa.select(table).where(
            table.c.namespace_id.in_(namespace_ids)).order_by(table.c.created_at,
                                                                table.c.id))
        for r in rows:
            found[r.namespace_id].append(dict(r._mapping))
    return found


async def find(conn: AsyncConnection, kind: str, ns: dict[str, Any], name: str
               ) -> dict[str, Any] | None:
    table = definition[kind]
    row = (await conn.execute(sa.select(table).where(
        table.c.namespace_id == ns["id"], table.c.name == name))).first()
    return dict(row._mapping) if row is not None else None


async def get(conn: AsyncConnection, kind: str, ns: dict[str, Any], name: str
              ) -> dict[str, Any]:
    row = await find(conn, kind, ns, name)
    if row is None:
        raise _missing(kind, name, ns)
    return row


async def create(conn: AsyncConnection, kind: str, ns: dict[str, Any],
                 items: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """New definitions ``(name, definition)``; a name taken, in the namespace or twice
    in ``items``, is a conflict and nothing is written."""
    names = [name for name, _ in items]
    for name in names:
        if names.count(name) > 1:
            raise Conflict(f"Duplicate metadata definition {kind} name={name} in the "
                           f"request.")
        if await find(conn, kind, ns, name) is not None:
            raise _exists(kind, name, ns)
    moment = now()
    rows = [{"namespace_id": ns["id"], "name": name, "definition": spec,
             "created_at": moment, "updated_at": moment} for name, spec in items]
    if rows:
        try:
            await conn.execute(sa.insert(definition[kind]), rows)
        except sa.exc.IntegrityError:
            raise Conflict(f"A metadata definition {kind} of this request already exists "
                           f"in namespace={ns['namespace']}.") from None
    return rows


async def update(conn: AsyncConnection, kind: str, ns: dict[str, Any], row: dict[str, Any],
                 name: str, spec: dict[str, Any]) -> dict[str, Any]:
    if name != row["name"] and await find(conn, kind, ns, name) is not None:
        raise _exists(kind, name, ns)
    table = definition[kind]
    try:
        await conn.execute(sa.update(table).where(table.c.id == row["id"]).values(
            name=name, definition=spec, updated_at=now()))
    except sa.exc.IntegrityError:
        raise _exists(kind, name, ns) from None
    return await get(conn, kind, ns, name)


async def delete(conn: AsyncConnection, kind: str, row: dict[str, Any]) -> None:
    table = definition[kind]
    await conn.execute(sa.delete(table).where(table.c.id == row["id"]))


async def delete_all(conn: AsyncConnection, kind: str, ns: dict[str, Any]) -> None:
    table = definition[kind]
    await conn.execute(sa.delete(table).where(table.c.namespace_id == ns["id"]))
