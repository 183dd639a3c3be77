"""What every networking handler shares: the caller, body parsing, visibility, and
Neutron's list semantics (filters, tags, sorting, pagination, field selection)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from onestack.kernel.api.faults import BadRequest, Forbidden
from onestack.kernel.api.request import Request, json_response, raw_json_response
from onestack.kernel.auth import RequestContext
from onestack.network.objects.common import Row, bad_request, isotime
from onestack.network.objects.policy import Caller, caller_for, project_target

if TYPE_CHECKING:
    from starlette.responses import Response

    from onestack.network.service import Networking

RESERVED = {"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse", "tags",
            "tags-any", "not-tags", "not-tags-any"}


def net_of(req: Request) -> Networking:
    return req.app


def context_of(req: Request) -> RequestContext:
    assert req.context is not None
    return req.context


def allowed(req: Request, rule: str, target: dict[str, Any] | None = None) -> bool:
    return net_of(req).policy.allowed(rule, context_of(req), target)


def authorize(req: Request, rule: str, target: dict[str, Any] | None = None) -> None:
    """The policy rule ``rule`` allows the caller, or 403 as Neutron words it."""
    if not allowed(req, rule, target):
        raise Forbidden(f"(rule:{rule}) is disallowed by policy", type="HTTPForbidden")


def authorize_attributes(req: Request, action: str, body: dict[str, Any],
                         target: dict[str, Any], defaults: dict[str, Any] | None = None
                         ) -> None:
    """Neutron's attribute rules: ``ACTION:attribute`` applies when the request sets
    the attribute to other than its default (one level of nesting, as in
    ``create_router:external_gateway_info:enable_snat``)."""
    rules = net_of(req).policy.rules
    for key, value in body.items():
        if value == (defaults or {}).get(key):
            continue
        if f"{action}:{key}" in rules:
            authorize(req, f"{action}:{key}", target)
        if isinstance(value, dict):
            for inner in value:
                if f"{action}:{key}:{inner}" in rules:
                    authorize(req, f"{action}:{key}:{inner}", target)


def creatable(req: Request, kind: str, body: dict[str, Any],
              defaults: dict[str, Any] | None = None, **target: Any) -> str:
    """The project a new resource goes to, once policy allows creating it with the
    attributes the body sets (``target``: more for the rules to see)."""
    project = owner_for(req, body)
    where = project_target(project, **target)
    authorize(req, f"create_{kind}", where)
    authorize_attributes(req, f"create_{kind}", body, where, defaults)
    return project


def changeable(req: Request, caller: Caller, kind: str, current: Row,
               body: dict[str, Any] | None = None, **target: Any) -> None:
    """An update (of what ``body`` sets) or a delete (``body`` None) of a row the
    caller can see: they own it, and policy allows the action and its attributes."""
    action = f"{'update' if body is not None else 'delete'}_{kind}"
    if not caller.owns(current):
        raise Forbidden(f"(rule:{action}) is disallowed by policy", type="HTTPForbidden")
    where = project_target(current["project_id"], **target)
    authorize(req, action, where)
    if body is not None:
        authorize_attributes(req, action, body, where)


def caller_of(req: Request) -> Caller:
    """The caller as the policy sees them: admin or not, and what responses hide."""
    return caller_for(net_of(req), context_of(req))


async def body_of(req: Request, key: str) -> dict[str, Any]:
    document = await req.json()
    if not isinstance(document, dict) or not isinstance(document.get(key), dict):
        raise BadRequest(f"Resource body required: {key}", type="HTTPBadRequest")
    return document[key]


def owner_for(req: Request, body: dict[str, Any]) -> str:
    """The project a new resource belongs to: an admin may name another one."""
    caller = caller_of(req)
    project = body.pop("project_id", None) or body.pop("tenant_id", None)
    body.pop("tenant_id", None)
    if project and project != caller.project_id and not caller.is_admin:
        raise bad_request("Specifying 'project_id' or 'tenant_id' other than the "
                          "authenticated project in request requires admin privileges",
                          "HTTPBadRequest")
    return project or caller.project_id


def standard(row: Row, *, named: bool = True) -> dict[str, Any]:
    out = {"id": row["id"], "project_id": row["project_id"], "tenant_id": row["project_id"],
           "description": row.get("description", ""), "tags": list(row.get("tags") or []),
           "created_at": isotime(row["created_at"]), "updated_at": isotime(row["updated_at"]),
           "revision_number": row["revision_number"]}
    if named:
        out["name"] = row.get("name", "")
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _matches(item: dict[str, Any], key: str, wanted: list[str]) -> bool:
    if key == "fixed_ips":
        ips = item.get("fixed_ips") or []
        for condition in wanted:
            name, _, value = condition.partition("=")
            if name == "ip_address_substr":
                if not any(value in ip["ip_address"] for ip in ips):
                    return False
            elif not any(ip.get(name) == value for ip in ips):
                return False
        return True
    if key not in item:
        return True  # unknown attributes are not filters (no filter-validation)
    value = item[key]
    if isinstance(value, list):
        return any(_text(v) in wanted for v in value) or (not value and "" in wanted)
    text = _text(value)
    if isinstance(value, bool):
        return text in {w.lower() for w in wanted}
    return text in wanted


def _tag_filter(req: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def wanted(name: str) -> list[set[str]]:
        return [set(v.split(",")) - {""} for v in req.query_all(name)]
    all_of, any_of = wanted("tags"), wanted("tags-any")
    none_of, not_any = wanted("not-tags"), wanted("not-tags-any")
    if not (all_of or any_of or none_of or not_any):
        return items
    kept = []
    for item in items:
        tags = set(item.get("tags") or [])
        if all_of and not all(group <= tags for group in all_of):
            continue
        if any_of and not any(group & tags for group in any_of):
            continue
        if none_of and any(group <= tags for group in none_of):
            continue
        if not_any and any(group & tags for group in not_any):
            continue
        kept.append(item)
    return kept


def _sort_value(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, bool | int | float):
        return (1, value)
    return (2, json.dumps(value) if isinstance(value, dict | list) else str(value))


def shown(req: Request, kind: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rendered resources less the attributes the caller's get_KIND:attribute rules
    hide."""
    hidden = caller_of(req).hides(kind)
    if not hidden:
        return items
    return [{k: v for k, v in item.items() if k not in hidden} for item in items]


def listing(req: Request, collection: str, items: Iterable[dict[str, Any]],
            sort: bool = True) -> Response:
    """Filter, sort, page and select fields of rendered resources."""
    filters: dict[str, list[str]] = {}
    for key, value in req.query_items:
        if key not in RESERVED:
            filters.setdefault(key, []).append(value)
    chosen = [i for i in shown(req, collection[:-1], list(items))
              if all(_matches(i, k, v) for k, v in filters.items())]
    chosen = _tag_filter(req, chosen)
    keys = req.query_all("sort_key")
    dirs = req.query_all("sort_dir")
    if keys:
        for position in range(len(keys) - 1, -1, -1):
            direction = dirs[position] if position < len(dirs) else "asc"
            if direction not in ("asc", "desc"):
                raise bad_request(f"{direction} is an invalid value for sort_dir, "
                                  "valid values are 'asc' and 'desc'", "HTTPBadRequest")
            chosen.sort(key=lambda i, k=keys[position]: _sort_value(i.get(k)),
                        reverse=direction == "desc")
    links: list[dict[str, str]] = []
    limit_text = req.query("limit")
    marker = req.query("marker")
    reverse = req.query_flag("page_reverse")
    if limit_text or marker:
        ordered = list(reversed(chosen)) if reverse else chosen
        start = 0
        if marker:
            ids = [i["id"] for i in ordered]
            start = ids.index(marker) + 1 if marker in ids else 0
        try:
            limit = int(limit_text) if limit_text else 0
        except ValueError:
            raise bad_request(f"Limit must be an integer 0 or greater and not "
                              f"'{limit_text}'", "HTTPBadRequest") from None
        page = ordered[start:start + limit] if limit > 0 else ordered[start:]
        more = limit > 0 and start + limit < len(ordered)
        if reverse:
            page.reverse()
        base = net_of(req).base_url + req.path
        other = [(k, v) for k, v in req.query_items if k not in ("marker", "page_reverse")]
        if page and (more or (reverse and marker)):
            links.append({"rel": "next", "href": base + "?" + urlencode(
                [*other, ("marker", page[-1]["id"])])})
        if page and (marker or (reverse and more)):
            links.append({"rel": "previous", "href": base + "?" + urlencode(
                [*other, ("marker", page[0]["id"]), ("page_reverse", "True")])})
        chosen = page
    fields = [f for value in req.query_all("fields") for f in value.split(",") if f]
    if fields:
        chosen = [{k: i[k] for k in fields if k in i} for i in chosen]
    body: dict[str, Any] = {collection: chosen}
    if links:
        body[f"{collection}_links"] = links
    return raw_json_response(json.dumps(body, separators=(",", ":")).encode())


def one(req: Request, key: str, item: dict[str, Any], status: int = 200) -> Response:
    item = shown(req, key, [item])[0]
    fields = [f for value in req.query_all("fields") for f in value.split(",") if f]
    if fields:
        item = {k: item[k] for k in fields if k in item}
    return json_response({key: item}, status)
