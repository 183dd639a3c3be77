"""What a metadata definition namespace holds: ``…/objects``, ``…/properties`` and
``…/tags`` (one at a time, or all of a namespace at once)."""

from __future__ import annotations

import urllib.parse
from typing import Any

from starlette.responses import Response

from onestack.image.handlers.common import enforce, iso, json_body, service_of, viewer_of
from onestack.image.handlers.namespaces import BASE, load_owned, object_definition
from onestack.image.objects import metadefs, namespaces, paging
from onestack.image.schemas import metadefs as schemas
from onestack.kernel.api.faults import BadRequest, Forbidden, NotFound
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.validation import validate

CHILD_SORT_KEYS = ("name", "created_at", "updated_at")


def render_object(ns: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    return {"name": row["name"], **row["definition"], "created_at": iso(row["created_at"]),
            "updated_at": iso(row["updated_at"]),
            "self": f"{BASE}/{ns['namespace']}/objects/{row['name']}",
            "schema": "/v2/schemas/metadefs/object"}


def render_property(row: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    return {"name": name or row["name"], **row["definition"]}


def render_tag(row: dict[str, Any]) -> dict[str, Any]:
    return {"name": row["name"], "created_at": iso(row["created_at"]),
            "updated_at": iso(row["updated_at"])}


async def _children(req: Request, kind: str, rule: str) -> tuple[dict[str, Any],
                                                                 list[dict[str, Any]]]:
    enforce(req, rule)
    async with service_of(req).db.reader() as conn:
        ns = await namespaces.load(conn, viewer_of(req), req.params["namespace"])
        rows = (await metadefs.list_for(conn, kind, [ns["id"]]))[ns["id"]]
    return ns, rows


async def _one(req: Request, kind: str, rule: str) -> tuple[dict[str, Any], dict[str, Any]]:
    enforce(req, rule)
    async with service_of(req).db.reader() as conn:
        ns = await namespaces.load(conn, viewer_of(req), req.params["namespace"])
        row = await metadefs.get(conn, kind, ns, req.params["name"])
    return ns, row


def _paged(req: Request, key: str, rows: list[dict[str, Any]], path: str,
           body: dict[str, Any]) -> dict[str, Any]:
    rows, more = paging.page(rows, key="name", sort_key=req.query("sort_key"),
                                 sort_dir=req.query("sort_dir"), keys=CHILD_SORT_KEYS,
                                 marker=req.query("marker"), limit=req.query("limit"),
                                 default_dir="asc")
    body[key] = rows
    if more and rows:
        query = [(k, v) for k, v in req.query_items if k != "marker"]
        query.append(("marker", rows[-1]["name"]))
        body["next"] = f"{path}?" + urllib.parse.urlencode(query)
    return body


async def _create(req: Request, kind: str, rule: str, items: list[tuple[str, Any]],
                  *, replace: bool = False) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    async with service_of(req).db.writer() as conn:
        ns = await load_owned(req, conn, rule)
        if replace:
            await metadefs.delete_all(conn, kind, ns)
        rows = await metadefs.create(conn, kind, ns, items)
    return ns, rows


async def _update(req: Request, kind: str, rule: str, name: str, spec: dict[str, Any]
                  ) -> tuple[dict[str, Any], dict[str, Any]]:
    async with service_of(req).db.writer() as conn:
        ns = await load_owned(req, conn, rule)
        row = await metadefs.get(conn, kind, ns, req.params["name"])
        row = await metadefs.update(conn, kind, ns, row, name, spec)
    return ns, row


async def _delete(req: Request, kind: str, rule: str) -> Response:
    async with service_of(req).db.writer() as conn:
        ns = await load_owned(req, conn, rule)
        await metadefs.delete(conn, kind, await metadefs.get(conn, kind, ns,
                                                             req.params["name"]))
    return empty_response(204)


async def _delete_all(req: Request, kind: str, rule: str) -> Response:
    async with service_of(req).db.writer() as conn:
        ns = await load_owned(req, conn, rule)
        if ns["protected"]:
            raise Forbidden(f"Metadata definition namespace={ns['namespace']} is protected: "
                            f"its {kind} definitions cannot be deleted all at once.")
        await metadefs.delete_all(conn, kind, ns)
    return empty_response(204)


# -- objects --------------------------------------------------------------------------
async def list_objects(req: Request) -> Response:
    ns, rows = await _children(req, "object", "get_metadef_objects")
    path = f"{BASE}/{ns['namespace']}/objects"
    body = _paged(req, "objects", rows, path, {"first": path,
                                              "schema": "/v2/schemas/metadefs/objects"})
    body["objects"] = [render_object(ns, r) for r in body["objects"]]
    return json_response(body)


async def _object_body(req: Request) -> dict[str, Any]:
    body = await json_body(req)
    validate(schemas.object_create, body)
    metadefs.check_object(body)
    return body


async def create_object(req: Request) -> Response:
    body = await _object_body(req)
    ns, rows = await _create(req, "object", "add_metadef_object",
                             [(body["name"], object_definition(body))])
    return json_response(render_object(ns, rows[0]), 201)


async def get_object(req: Request) -> Response:
    ns, row = await _one(req, "object", "get_metadef_object")
    return json_response(render_object(ns, row))


async def update_object(req: Request) -> Response:
    body = await _object_body(req)
    ns, row = await _update(req, "object", "modify_metadef_object", body["name"],
                            object_definition(body))
    return json_response(render_object(ns, row))


async def delete_object(req: Request) -> Response:
    return await _delete(req, "object", "delete_metadef_object")


async def delete_objects(req: Request) -> Response:
    return await _delete_all(req, "object", "delete_metadef_objects")


# -- properties -----------------------------------------------------------------------
async def list_properties(req: Request) -> Response:
    _, rows = await _children(req, "property", "get_metadef_properties")
    return json_response({"properties": {r["name"]: r["definition"] for r in rows},
                          "schema": "/v2/schemas/metadefs/properties"})


async def _property_body(req: Request) -> tuple[str, dict[str, Any]]:
    body = await json_body(req)
    validate(schemas.property_create, body)
    spec = {k: v for k, v in body.items() if k != "name"}
    metadefs.check_property(body["name"], spec)
    return body["name"], spec


async def create_property(req: Request) -> Response:
    name, spec = await _property_body(req)
    _, rows = await _create(req, "property", "add_metadef_property", [(name, spec)])
    return json_response(render_property(rows[0]), 201)


async def get_property(req: Request) -> Response:
    """With ``?resource_type=``, the name is as that resource type sees it: the
    association's prefix, then the property's own name."""
    enforce(req, "get_metadef_property")
    name = req.params["name"]
    resource_type = req.query("resource_type")
    async with service_of(req).db.reader() as conn:
        ns = await namespaces.load(conn, viewer_of(req), req.params["namespace"])
        if resource_type is not None:
            found = await namespaces.association_for(conn, ns, resource_type)
            if found is None:
                raise NotFound(f"Namespace {ns['namespace']} is not associated with "
                               f"resource type {resource_type}.")
            prefix = found["prefix"] or ""
            if not name.startswith(prefix):
                raise NotFound(f"Property {name} does not start with the prefix {prefix} "
                               f"of resource type {resource_type}.")
            name = name[len(prefix):]
        row = await metadefs.get(conn, "property", ns, name)
    return json_response(render_property(row, req.params["name"]))


async def update_property(req: Request) -> Response:
    name, spec = await _property_body(req)
    _, row = await _update(req, "property", "modify_metadef_property", name, spec)
    return json_response(render_property(row))


async def delete_property(req: Request) -> Response:
    return await _delete(req, "property", "remove_metadef_property")


async def delete_properties(req: Request) -> Response:
    return await _delete_all(req, "property", "delete_metadef_properties")


# -- tags -----------------------------------------------------------------------------
async def list_tags(req: Request) -> Response:
    ns, rows = await _children(req, "tag", "get_metadef_tags")
    path = f"{BASE}/{ns['namespace']}/tags"
    body = _paged(req, "tags", rows, path, {})
    body["tags"] = [render_tag(r) for r in body["tags"]]
    return json_response(body)


async def create_tag(req: Request) -> Response:
    name = req.params["name"]
    validate(schemas.tag_create, {"name": name})
    _, rows = await _create(req, "tag", "add_metadef_tag", [(name, {})])
    return json_response(render_tag(rows[0]), 201)


async def create_tags(req: Request) -> Response:
    """Several tags at once: they replace the namespace's tags, or with the header
    ``X-Openstack-Append: true`` join them."""
    body = await json_body(req)
    validate(schemas.tags_create, body)
    append = req.headers.get("x-openstack-append", "false").strip().lower()
    if append not in ("true", "false"):
        raise BadRequest(f"Invalid X-Openstack-Append value {append!r}: true or false "
                         f"expected.")
    _, rows = await _create(req, "tag", "add_metadef_tags",
                            [(t["name"], {}) for t in body["tags"]],
                            replace=append == "false")
    return json_response({"tags": [render_tag(r) for r in rows]}, 201)


async def get_tag(req: Request) -> Response:
    _, row = await _one(req, "tag", "get_metadef_tag")
    return json_response(render_tag(row))


async def update_tag(req: Request) -> Response:
    body = await json_body(req)
    validate(schemas.tag_create, body)
    _, row = await _update(req, "tag", "modify_metadef_tag", body["name"], {})
    return json_response(render_tag(row))


async def delete_tag(req: Request) -> Response:
    return await _delete(req, "tag", "delete_metadef_tag")


async def delete_tags(req: Request) -> Response:
    return await _delete_all(req, "tag", "delete_metadef_tags")
