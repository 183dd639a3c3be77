"""``/v2/metadefs/namespaces`` and ``/v2/metadefs/resource_types``: the namespaces of
the metadata definitions catalog, and which resource types each applies to."""

from __future__ import annotations

import urllib.parse
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import Response

from onestack.image.handlers.common import enforce, iso, json_body, service_of, viewer_of
from onestack.image.objects import metadefs, namespaces, paging
from onestack.image.objects.images import Viewer
from onestack.image.schemas import metadefs as schemas
from onestack.kernel.api.faults import BadRequest, Forbidden
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.validation import validate

BASE = "/v2/metadefs/namespaces"
FIELDS = ("display_name", "description", "visibility", "protected", "owner")


def _present(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if v is not None}


def render_association(row: dict[str, Any]) -> dict[str, Any]:
    return _present({"name": row["name"], "prefix": row["prefix"],
                     "properties_target": row["properties_target"],
                     "created_at": iso(row["created_at"]),
                     "updated_at": iso(row["updated_at"])})


def render_namespace(row: dict[str, Any], associations: list[dict[str, Any]]
                     ) -> dict[str, Any]:
    doc = _present({"namespace": row["namespace"], "display_name": row["display_name"],
                    "description": row["description"], "visibility": row["visibility"],
                    "protected": row["protected"], "owner": row["owner"],
                    "created_at": iso(row["created_at"]),
                    "updated_at": iso(row["updated_at"]),
                    "self": f"{BASE}/{row['namespace']}",
                    "schema": "/v2/schemas/metadefs/namespace"})
    if associations:
        doc["resource_type_associations"] = [render_association(a) for a in associations]
    return doc


def check_owner(viewer: Viewer, row: dict[str, Any]) -> None:
    """A visible namespace is changed only by its owner project (or an admin)."""
    if not namespaces.is_owner(viewer, row):
        raise Forbidden(f"You are not permitted to modify namespace {row['namespace']}: "
                        f"it belongs to another project.")


async def load_owned(req: Request, conn: AsyncConnection, rule: str) -> dict[str, Any]:
    """The namespace of the path, for a change under ``rule`` by its owner."""
    enforce(req, rule)
    viewer = viewer_of(req)
    row = await namespaces.load(conn, viewer, req.params["namespace"])
    check_owner(viewer, row)
    return row


async def _full(conn: AsyncConnection, row: dict[str, Any], resource_type: str | None = None
                ) -> dict[str, Any]:
    """A namespace with all it holds; with ``resource_type``, its properties named as
    that resource type sees them (the association's prefix first)."""
    ns_id = row["id"]
    associations = (await namespaces.associations(conn, [ns_id]))[ns_id]
    doc = render_namespace(row, associations)
    prefix = ""
    if resource_type is not None:
        found = next((a for a in associations if a["name"] == resource_type), None)
        prefix = (found or {}).get("prefix") or ""
    properties = (await metadefs.list_for(conn, "property", [ns_id]))[ns_id]
    objects = (await metadefs.list_for(conn, "object", [ns_id]))[ns_id]
    tags = (await metadefs.list_for(conn, "tag", [ns_id]))[ns_id]
    if properties:
        doc["properties"] = {prefix + p["name"]: p["definition"] for p in properties}
    if objects:
        doc["objects"] = [{"name": o["name"], **o["definition"]} for o in objects]
    if tags:
        doc["tags"] = [{"name": t["name"]} for t in tags]
    return doc


def _owner(viewer: Viewer, body: dict[str, Any], current: str | None) -> None:
    owner = body.get("owner", current)
    if owner != current and not viewer.is_admin:
        raise Forbidden("Only an admin may give a namespace to another project.")


async def create_namespace(req: Request) -> Response:
    service = service_of(req)
    enforce(req, "add_metadef_namespace")
    viewer = viewer_of(req)
    body = await json_body(req)
    validate(schemas.namespace_create, body)
    _owner(viewer, body, viewer.project_id)
    values = {k: body[k] for k in ("namespace", *FIELDS) if k in body}
    values.setdefault("owner", viewer.project_id)
    properties = body.get("properties") or {}
    for name, spec in properties.items():
        metadefs.check_property(name, spec)
    objects = body.get("objects") or []
    for spec in objects:
        metadefs.check_object(spec)
    async with service.db.writer() as conn:
        row = await namespaces.create(conn, values)
        for item in body.get("resource_type_associations") or []:
            await namespaces.associate(conn, row, item)
        await metadefs.create(conn, "property", row, list(properties.items()))
        await metadefs.create(conn, "object", row, [(o["name"], object_definition(o))
                                                    for o in objects])
        await metadefs.create(conn, "tag", row, [(t["name"], {})
                                                 for t in body.get("tags") or []])
        doc = await _full(conn, row)
    location = f"{service.base_url}{BASE}/{urllib.parse.quote(row['namespace'], safe=':')}"
    return json_response(doc, 201, {"Location": location})


def object_definition(body: dict[str, Any]) -> dict[str, Any]:
    """What an object is beyond its name: description, required list, properties."""
    spec: dict[str, Any] = {"required": body.get("required") or [],
                            "properties": body.get("properties") or {}}
    if body.get("description") is not None:
        spec["description"] = body["description"]
    return spec


async def list_namespaces(req: Request) -> Response:
    service = service_of(req)
    enforce(req, "get_metadef_namespaces")
    visibility = req.query("visibility")
    if visibility not in (None, "public", "private"):
        raise BadRequest(f"Invalid visibility value: {visibility}. It is public or private.")
    kinds = [k.strip() for k in (req.query("resource_types") or "").split(",") if k.strip()]
    async with service.db.reader() as conn:
        rows = await namespaces.list_visible(conn, viewer_of(req), visibility=visibility,
                                             resource_types=kinds)
        rows, more = paging.page(rows, key="namespace", sort_key=req.query("sort_key"),
                                     sort_dir=req.query("sort_dir"),
                                     keys=namespaces.SORT_KEYS, marker=req.query("marker"),
                                     limit=req.query("limit"))
        associations = await namespaces.associations(conn, [r["id"] for r in rows])
    body: dict[str, Any] = {"namespaces": [render_namespace(r, associations[r["id"]])
                                           for r in rows],
                            "first": BASE, "schema": "/v2/schemas/metadefs/namespaces"}
    query = [(k, v) for k, v in req.query_items if k != "marker"]
    if query:
        body["first"] += "?" + urllib.parse.urlencode(query)
    if more and rows:
        query.append(("marker", rows[-1]["namespace"]))
        body["next"] = f"{BASE}?" + urllib.parse.urlencode(query)
    return json_response(body)


async def get_namespace(req: Request) -> Response:
    service = service_of(req)
    enforce(req, "get_metadef_namespace")
    async with service.db.reader() as conn:
        row = await namespaces.load(conn, viewer_of(req), req.params["namespace"])
        doc = await _full(conn, row, req.query("resource_type"))
    return json_response(doc)


async def update_namespace(req: Request) -> Response:
    service = service_of(req)
    viewer = viewer_of(req)
    body = await json_body(req)
    validate(schemas.namespace_update, body)
    async with service.db.writer() as conn:
        row = await load_owned(req, conn, "modify_metadef_namespace")
        _owner(viewer, body, row["owner"])
        values = {k: body[k] for k in ("namespace", *FIELDS) if k in body}
        row = await namespaces.update(conn, row, values)
        doc = await _full(conn, row)
    return json_response(doc)


async def delete_namespace(req: Request) -> Response:
    service = service_of(req)
    async with service.db.writer() as conn:
        row = await load_owned(req, conn, "delete_metadef_namespace")
        if row["protected"]:
            raise Forbidden(f"Metadata definition namespace={row['namespace']} is protected "
                            f"and cannot be deleted.")
        await namespaces.delete(conn, row)
    return empty_response(204)


# -- resource types -------------------------------------------------------------------
async def list_resource_types(req: Request) -> Response:
    service = service_of(req)
    enforce(req, "list_metadef_resource_types")
    async with service.db.reader() as conn:
        rows = await namespaces.resource_types(conn)
    return json_response({"resource_types": [
        {"name": r["name"], "created_at": iso(r["created_at"]),
         "updated_at": iso(r["updated_at"])} for r in rows]})


async def list_associations(req: Request) -> Response:
    service = service_of(req)
    enforce(req, "get_metadef_resource_type")
    async with service.db.reader() as conn:
        row = await namespaces.load(conn, viewer_of(req), req.params["namespace"])
        found = (await namespaces.associations(conn, [row["id"]]))[row["id"]]
    return json_response({"resource_type_associations": [render_association(a)
                                                          for a in found]})


async def add_association(req: Request) -> Response:
    service = service_of(req)
    body = await json_body(req)
    validate(schemas.association_create, body)
    async with service.db.writer() as conn:
        row = await load_owned(req, conn, "add_metadef_resource_type_association")
        found = await namespaces.associate(conn, row, body)
    return json_response(render_association(found), 201)


async def remove_association(req: Request) -> Response:
    service = service_of(req)
    async with service.db.writer() as conn:
        row = await load_owned(req, conn, "remove_metadef_resource_type_association")
        await namespaces.dissociate(conn, row, req.params["resource_type"])
    return empty_response(204)
