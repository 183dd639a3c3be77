"""``/v3/projects``: projects, their hierarchy and their tags."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.identity.handlers.common import (
    allowed,
    body_of,
    collection,
    context_of,
    enforce,
    filter_value,
    identity_of,
    links,
    merge_extra,
)
from onestack.identity.objects import assignments, endpoint_groups, projects, revocations
from onestack.identity.schemas import projects as schemas
from onestack.kernel.api.faults import BadRequest, NotFound
from onestack.kernel.api.request import Request, empty_response, json_response

TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")


def render_project(req: Request, row: dict[str, Any]) -> dict[str, Any]:
    return merge_extra({
        "id": row["id"], "name": row["name"], "domain_id": row["domain_id"],
        "parent_id": row["parent_id"], "is_domain": row["is_domain"],
        "enabled": row["enabled"], "description": row["description"],
        "tags": row.get("tags", []), "options": row.get("options") or {},
        "links": links(req, f"projects/{row['id']}")}, row)


def render_domain(req: Request, row: dict[str, Any]) -> dict[str, Any]:
    return merge_extra({
        "id": row["id"], "name": row["name"], "enabled": row["enabled"],
        "description": row["description"], "tags": row.get("tags", []),
        "options": row.get("options") or {},
        "links": links(req, f"domains/{row['id']}")}, row)


def _target(row: dict[str, Any]) -> dict[str, Any]:
    return {"target.project_id": row["id"], "target.domain_id": row["domain_id"],
            "target.project.id": row["id"], "target.project.domain_id": row["domain_id"]}


def _tag_query(req: Request) -> dict[str, list[str]]:
    return {name: [t for value in req.query_all(name) for t in value.split(",") if t]
            for name in TAG_FILTERS if req.has_query(name)}


async def list_projects(req: Request) -> Response:
    identity = identity_of(req)
    domain_id = req.query("domain_id")
    enforce(req, "identity:list_projects", {"target.domain_id": domain_id})
    filters = {"domain_id": domain_id, "name": req.query("name"),
               "enabled": filter_value(req, "enabled"), "parent_id": req.query("parent_id")}
    want_domains = (req.query("is_domain") or "").lower() == "true"
    async with identity.db.reader() as conn:
        if want_domains:
            found = await projects.list_all(conn, is_domain=True,
                                            filters={k: v for k, v in filters.items()
                                                     if k in ("name", "enabled")},
                                            tags=_tag_query(req))
        else:
            found = await projects.list_all(conn, filters=filters, tags=_tag_query(req))
    return collection(req, "projects", found, lambda p: render_project(req, p))


async def _with_hierarchy(req: Request, conn: Any, row: dict[str, Any]) -> dict[str, Any]:
    rendered = render_project(req, row)
    if req.query_flag("parents_as_list") and req.query_flag("parents_as_ids"):
        raise BadRequest("Cannot use parents_as_list and parents_as_ids together.")
    if req.query_flag("subtree_as_list") and req.query_flag("subtree_as_ids"):
        raise BadRequest("Cannot use subtree_as_list and subtree_as_ids together.")
    if req.query_flag("parents_as_list") or req.query_flag("parents_as_ids"):
        parents = [p for p in await projects.ancestors(conn, row["id"]) if not p["is_domain"]]
        if req.query_flag("parents_as_list"):
            rendered["parents"] = [{"project": render_project(req, p)} for p in parents
                                   if allowed(req, "identity:get_project", _target(p))]
        else:
            nested: Any = None
            for parent in reversed(parents):
                nested = {parent["id"]: nested}
            rendered["parents"] = nested
    if req.query_flag("subtree_as_list") or req.query_flag("subtree_as_ids"):
        below = await projects.descendants(conn, row["id"])
        if req.query_flag("subtree_as_list"):
            rendered["subtree"] = [{"project": render_project(req, p)} for p in below
                                   if allowed(req, "identity:get_project", _target(p))]
        else:
            children: dict[str, list[str]] = {}
            for p in below:
                children.setdefault(p["parent_id"], []).append(p["id"])

            def tree(node: str) -> Any:
                kids = children.get(node)
                return {kid: tree(kid) for kid in kids} if kids else None
            rendered["subtree"] = tree(row["id"])
    return rendered


async def get_project(req: Request) -> Response:
    identity = identity_of(req)
    async with identity.db.reader() as conn:
        row = await projects.get(conn, req.params["project_id"], domain=None)
        enforce(req, "identity:get_project", _target(row))
        rendered = await _with_hierarchy(req, conn, row)
    return json_response({"project": rendered})


async def create_project(req: Request) -> Response:
    enforce(req, "identity:create_project")
    body = await body_of(req, "project", schemas.project_create)
    if body.get("is_domain"):
        body.pop("parent_id", None)
    if not body.get("domain_id") and not body.get("parent_id") and not body.get("is_domain"):
        body["domain_id"] = context_of(req).project_domain_id or context_of(req).domain_id \
            or projects.DEFAULT_DOMAIN
    async with identity_of(req).write() as conn:
        row = await projects.create(conn, body)
    return json_response({"project": render_project(req, row)}, 201)


async def update_project(req: Request) -> Response:
    enforce(req, "identity:update_project")
    body = await body_of(req, "project", schemas.project_update)
    identity = identity_of(req)
    async with identity.write() as conn:
        # A domain is a project too: /v3/projects reaches it (is_domain=true).
        current = await projects.get(conn, req.params["project_id"], domain=None)
        row = await projects.update(conn, current, body)
        if current["enabled"] and not row["enabled"]:
            scope = "domain_id" if row["is_domain"] else "project_id"
            await revocations.revoke(identity, conn, **{scope: row["id"]})
    return json_response({"project": render_project(req, row)})


async def delete_project(req: Request) -> Response:
    enforce(req, "identity:delete_project")
    identity = identity_of(req)
    async with identity.write() as conn:
        current = await projects.get(conn, req.params["project_id"], domain=None)
        if current["is_domain"]:
            from onestack.identity.handlers.domains import purge_domain
            await purge_domain(identity, conn, current)
            return empty_response()
        for project_id in await projects.delete(conn, current,
                                                cascade=req.query_flag("cascade")):
            await assignments.remove_for_target(conn, project_id)
            await endpoint_groups.forget_project(conn, project_id)
            await revocations.revoke(identity, conn, project_id=project_id)
    return empty_response()


async def list_tags(req: Request) -> Response:
    async with identity_of(req).db.reader() as conn:
        row = await projects.get(conn, req.params["project_id"], domain=None)
    enforce(req, "identity:project_tags", _target(row))
    return json_response({"tags": row["tags"]})


async def check_tag(req: Request) -> Response:
    async with identity_of(req).db.reader() as conn:
        row = await projects.get(conn, req.params["project_id"], domain=None)
    enforce(req, "identity:project_tags", _target(row))
    if req.params["tag"] not in row["tags"]:
        raise NotFound(f"Tag {req.params['tag']} not found for project {row['id']}.")
    return empty_response()


async def replace_tags(req: Request) -> Response:
    enforce(req, "identity:update_project_tags")
    document = await req.json()
    if not isinstance(document, dict) or "tags" not in document:
        raise BadRequest("Expecting to find tags in the request body.")
    async with identity_of(req).write() as conn:
        row = await projects.get(conn, req.params["project_id"], domain=None)
        tags = await projects.set_tags(conn, row["id"], document["tags"])
    return json_response({"tags": tags})


async def add_tag(req: Request) -> Response:
    enforce(req, "identity:update_project_tags")
    async with identity_of(req).write() as conn:
        row = await projects.get(conn, req.params["project_id"], domain=None)
        await projects.set_tags(conn, row["id"], [*row["tags"], req.params["tag"]])
    return empty_response(201, {"Location": identity_of(req).url(
        f"projects/{row['id']}/tags/{req.params['tag']}")})


async def remove_tag(req: Request) -> Response:
    enforce(req, "identity:update_project_tags")
    async with identity_of(req).write() as conn:
        row = await projects.get(conn, req.params["project_id"], domain=None)
        if req.params["tag"] not in row["tags"]:
            raise NotFound(f"Tag {req.params['tag']} not found for project {row['id']}.")
        await projects.set_tags(conn, row["id"],
                                [t for t in row["tags"] if t != req.params["tag"]])
    return empty_response()


async def remove_all_tags(req: Request) -> Response:
    enforce(req, "identity:update_project_tags")
    async with identity_of(req).write() as conn:
        row = await projects.get(conn, req.params["project_id"], domain=None)
        await projects.set_tags(conn, row["id"], [])
    return empty_response()
