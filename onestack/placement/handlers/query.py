"""Query-string grammar shared by GET /resource_providers and GET
/allocation_candidates: resources, required traits, member_of, request groups."""

from __future__ import annotations

import re
import uuid as uuidlib

from onestack.kernel.api.request import Request
from onestack.placement.handlers.common import at_least
from onestack.placement.objects import errors
from onestack.placement.objects.candidates import Query, RequestGroup
from onestack.placement.objects.store import Store

_GROUP_KEY = re.compile(r"^(resources|required|member_of|in_tree)([a-zA-Z0-9_-]{1,64})?$")


def parse_resources(text: str) -> dict[str, int]:
    resources: dict[str, int] = {}
    for item in text.split(","):
        name, sep, amount = item.partition(":")
        if not sep or not name or not amount.strip().lstrip("-").isdigit():
            raise errors.bad_request(f"Badly formed resources parameter. Expected resources "
                                     f"query string parameter in form: ?resources=VCPU:2,"
                                     f"MEMORY_MB:1024. Got: {text}.", errors.BAD_VALUE)
        if int(amount) < 1:
            raise errors.bad_request(f"Requested resource {name} expected positive integer "
                                     f"amount. Got: {amount}.", errors.BAD_VALUE)
        if name in resources:
            raise errors.bad_request(f"Resource class {name} requested more than once.",
                                     errors.BAD_VALUE)
        resources[name] = int(amount)
    return resources


def parse_required(values: list[str], req: Request, store: Store
                   ) -> tuple[list[set[str]], set[str]]:
    required: list[set[str]] = []
    forbidden: set[str] = set()
    if len(values) > 1 and not at_least(req, 39):
        raise errors.bad_request("Query parameter 'required' may only be given once.",
                                 errors.DUPLICATE_KEY)
    for value in values:
        anyof = value.startswith("in:")
        if anyof and not at_least(req, 39):
            raise errors.bad_request(f"Invalid query string parameters: 'required' value "
                                     f"{value}", errors.BAD_VALUE)
        names = [n.strip() for n in value.removeprefix("in:").split(",")]
        if anyof:
            _known(names, store)
            required.append(set(names))
            continue
        for name in names:
            if name.startswith("!") and at_least(req, 22):
                _known([name[1:]], store)
                forbidden.add(name[1:])
            else:
                _known([name], store)
                required.append({name})
    if any(forbidden & group for group in required if len(group) == 1):
        raise errors.bad_request("Conflicting required and forbidden traits found in the "
                                 "same request group.", errors.BAD_VALUE)
    return required, forbidden


def _known(names: list[str], store: Store) -> None:
    unknown = [n for n in names if n not in store.traits]
    if unknown:
        raise errors.bad_request(f"No such trait(s): {', '.join(unknown)}", errors.BAD_VALUE)


def parse_member_of(values: list[str], req: Request) -> tuple[list[set[str]], set[str]]:
    if len(values) > 1 and not at_least(req, 24):
        raise errors.bad_request("Multiple member_of parameters are not supported before "
                                 "1.24.", errors.BAD_VALUE)
    member_of: list[set[str]] = []
    forbidden: set[str] = set()
    for value in values:
        negative = value.startswith("!") and at_least(req, 32)
        text = value[1:] if negative else value
        names = text.removeprefix("in:").split(",")
        for name in names:
            try:
                uuidlib.UUID(name)
            except ValueError:
                raise errors.bad_request(f"Invalid query string parameters: Expected "
                                         f"'member_of' parameter to contain valid UUID(s). "
                                         f"Got: {name}", errors.BAD_VALUE) from None
        if negative:
            forbidden.update(names)
        else:
            member_of.append(set(names))
    return member_of, forbidden


def parse_in_tree(value: str, store: Store) -> str:
    provider = store.providers.get(value)
    if provider is None:
        # an unknown tree matches nothing
        return "00000000-0000-0000-0000-000000000000"
    return provider.root_uuid


def parse_candidates_query(req: Request, store: Store) -> Query:
    allowed = {"resources", "limit"}
    if at_least(req, 17):
        allowed.add("required")
    if at_least(req, 21):
        allowed.add("member_of")
    if at_least(req, 25):
        allowed.add("group_policy")
    if at_least(req, 31):
        allowed.add("in_tree")
    if at_least(req, 35):
        allowed.add("root_required")
    groups: dict[str, RequestGroup] = {}
    seen: set[str] = set()
    for key, _ in req.query_items:
        found = _GROUP_KEY.match(key)
        suffix = found.group(2) if found else None
        if not (key in allowed or (found and suffix and at_least(req, 25)
                                   and (suffix.isdigit() or at_least(req, 33)))):
            raise errors.bad_request(f"Invalid query string parameters: '{key}' is not "
                                     "allowed.", errors.BAD_VALUE)
        if key in seen and not key.startswith(("required", "member_of")):
            raise errors.bad_request(f"Query parameter '{key}' may only be given once.",
                                     errors.DUPLICATE_KEY)
        seen.add(key)
    for key in seen:
        found = _GROUP_KEY.match(key)
        if not found:
            continue
        suffix = found.group(2) or ""
        group = groups.setdefault(suffix, RequestGroup(suffix=suffix))
        values = req.query_all(key)
        kind = found.group(1)
        if kind == "resources":
            group.resources = parse_resources(values[0])
        elif kind == "required":
            group.required, group.forbidden = parse_required(values, req, store)
        elif kind == "member_of":
            group.member_of, group.forbidden_aggregates = parse_member_of(values, req)
        else:
            group.in_tree = parse_in_tree(values[0], store)
    for suffix, group in groups.items():
        if not group.resources and (suffix or not at_least(req, 35)):
            raise errors.bad_request(f"All request groups must specify resources; group "
                                     f"'{suffix}' has none.", errors.MISSING_VALUE)
    if not groups or not any(g.resources for g in groups.values()):
        raise errors.bad_request("At least one request group must specify resources.",
                                 errors.MISSING_VALUE)
    query = Query(list(groups.values()))
    numbered = [g for g in groups.values() if g.suffix]
    policy = req.query("group_policy")
    if len(numbered) > 1 and policy is None:
        raise errors.bad_request("The \"group_policy\" parameter is required when specifying "
                                 "more than one \"resources{N}\" parameter.",
                                 errors.MISSING_VALUE)
    if policy is not None:
        if policy not in ("none", "isolate"):
            raise errors.bad_request(f"Invalid group_policy {policy!r}", errors.BAD_VALUE)
        query.group_policy = policy
    limit = req.query("limit")
    if limit is not None:
        if not limit.isdigit() or int(limit) < 1:
            raise errors.bad_request("Invalid query string parameters: limit must be a "
                                     "positive integer.", errors.BAD_VALUE)
        query.limit = int(limit)
    root = req.query("root_required")
    if root is not None:
        required, query.root_forbidden = parse_required([root], req, store)
        query.root_required = set().union(*required) if required else set()
    for group in groups.values():
        for rc in group.resources:
            if rc not in store.resource_classes:
                raise errors.bad_request(f"Invalid resource class in resources parameter: "
                                         f"No such resource class {rc}.", errors.BAD_VALUE)
    return query
