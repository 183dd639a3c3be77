"""Resource providers and their inventories and usages."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.placement.handlers.common import (
    at_least,
    authorize,
    body,
    render_provider,
    since,
    state,
)
from onestack.placement.handlers.query import (
    parse_in_tree,
    parse_member_of,
    parse_required,
    parse_resources,
)
from onestack.placement.objects import errors, providers
from onestack.placement.objects.candidates import RequestGroup, aggregates_match, traits_match
from onestack.placement.objects.store import Inventory, Provider
from onestack.placement.schemas import providers as schemas


async def list_providers(req: Request) -> Response:
    authorize(req, "placement:resource_providers:list")
    store = state(req).store
    allowed = {"name", "uuid"} | ({"member_of"} if at_least(req, 3) else set())
    allowed |= {"resources"} if at_least(req, 4) else set()
    allowed |= {"in_tree"} if at_least(req, 14) else set()
    allowed |= {"required"} if at_least(req, 18) else set()
    for key, _ in req.query_items:
        if key not in allowed:
            raise errors.bad_request(f"Invalid query string parameters: '{key}' is not "
                                     "allowed.", errors.BAD_VALUE)
    group = RequestGroup()
    if req.query("member_of") is not None:
        group.member_of, group.forbidden_aggregates = parse_member_of(
            req.query_all("member_of"), req)
    if req.query("required") is not None:
        group.required, group.forbidden = parse_required(req.query_all("required"), req,
                                                         store)
    resources = parse_resources(req.query("resources") or "") if req.query(
        "resources") else {}
    for rc in resources:
        if rc not in store.resource_classes:
            raise errors.bad_request(f"Invalid resource class in resources parameter: {rc}",
                                     errors.BAD_VALUE)
    tree = parse_in_tree(req.query("in_tree") or "", store) if req.query("in_tree") else None
    name, uuid = req.query("name"), req.query("uuid")
    found = []
    for provider in sorted(store.providers.values(), key=lambda p: p.id):
        if (name is not None and provider.name != name) or (
                uuid is not None and provider.uuid != uuid):
            continue
        if tree is not None and provider.root_uuid != tree:
            continue
        if (group.member_of or group.forbidden_aggregates) and not aggregates_match(
                provider.aggregates, group):
            continue
        if (group.required or group.forbidden) and not traits_match(provider.traits, group):
            continue
        if resources and not all(
                rc in provider.inventories
                and provider.inventories[rc].fits(n, provider.usage.get(rc, 0))
                for rc, n in resources.items()):
            continue
        found.append(render_provider(provider, req))
    return json_response({"resource_providers": found})


async def create_provider(req: Request) -> Response:
    authorize(req, "placement:resource_providers:create")
    data = await body(req, schemas.PROVIDER_CREATE)
    parent = data.get("parent_provider_uuid") if at_least(req, 14) else None
    if "parent_provider_uuid" in data and not at_least(req, 14):
        raise errors.bad_request("Additional properties are not allowed "
                                 "('parent_provider_uuid' was unexpected)")
    placement = state(req)
    provider = await providers.create(placement.db, placement.store, data["name"],
                                      data.get("uuid"), parent)
    location = {"Location": f"/resource_providers/{provider.uuid}"}
    if at_least(req, 20):
        return json_response(render_provider(provider, req), 200, location)
    return empty_response(201, location)


async def get_provider(req: Request) -> Response:
    authorize(req, "placement:resource_providers:show")
    provider = providers.get(state(req).store, req.params["uuid"])
    return json_response(render_provider(provider, req))


async def update_provider(req: Request) -> Response:
    authorize(req, "placement:resource_providers:update")
    placement = state(req)
    provider = providers.get(placement.store, req.params["uuid"])
    data = await body(req, schemas.PROVIDER_UPDATE)
    if "parent_provider_uuid" in data and not at_least(req, 14):
        raise errors.bad_request("Additional properties are not allowed "
                                 "('parent_provider_uuid' was unexpected)")
    parent = data.get("parent_provider_uuid", provider.parent_uuid)
    await providers.update(placement.db, placement.store, provider, data["name"], parent,
                           allow_reparent=at_least(req, 37))
    return json_response(render_provider(provider, req))


async def delete_provider(req: Request) -> Response:
    authorize(req, "placement:resource_providers:delete")
    placement = state(req)
    provider = providers.get(placement.store, req.params["uuid"])
    await providers.delete(placement.db, placement.store, provider)
    return empty_response()


# -- inventories -------------------------------------------------------------------------
def _inventories_body(provider: Provider) -> dict[str, Any]:
    return {"resource_provider_generation": provider.generation,
            "inventories": {rc: inv.as_dict() for rc, inv in provider.inventories.items()}}


def _inventory(fields: dict[str, Any], rc: str) -> Inventory:
    inventory = Inventory(**{k: v for k, v in fields.items()
                             if k != "resource_provider_generation" and k != "resource_class"})
    if inventory.min_unit > inventory.max_unit:
        raise errors.bad_request(f"Unable to update inventory for resource class {rc}: "
                                 "min_unit must be less than or equal to max_unit.")
    if inventory.reserved > inventory.total:
        raise errors.bad_request(f"Unable to update inventory for resource class {rc}: "
                                 "reserved must not exceed total.")
    return inventory


async def get_inventories(req: Request) -> Response:
    authorize(req, "placement:resource_providers:inventories")
    provider = providers.get(state(req).store, req.params["uuid"])
    return json_response(_inventories_body(provider))


async def put_inventories(req: Request) -> Response:
    authorize(req, "placement:resource_providers:inventories")
    placement = state(req)
    provider = providers.get(placement.store, req.params["uuid"])
    data = await body(req, schemas.INVENTORIES)
    inventories = {rc: _inventory(fields, rc) for rc, fields in data["inventories"].items()}
    await providers.set_inventories(placement.db, placement.store, provider, inventories,
                                    data["resource_provider_generation"])
    return json_response(_inventories_body(provider))


@since(5)
async def delete_inventories(req: Request) -> Response:
    authorize(req, "placement:resource_providers:inventories")
    placement = state(req)
    provider = providers.get(placement.store, req.params["uuid"])
    await providers.set_inventories(placement.db, placement.store, provider, {},
                                    provider.generation)
    return empty_response()


async def add_inventory(req: Request) -> Response:
    authorize(req, "placement:resource_providers:inventories")
    placement = state(req)
    provider = providers.get(placement.store, req.params["uuid"])
    data = await body(req, schemas.NEW_INVENTORY)
    rc = data["resource_class"]
    if rc in provider.inventories:
        raise errors.conflict(f"Inventory for {rc} on resource provider {provider.uuid} "
                              "already exists.")
    inventories = dict(provider.inventories)
    inventories[rc] = _inventory(data, rc)
    await providers.set_inventories(placement.db, placement.store, provider, inventories,
                                    data["resource_provider_generation"])
    return json_response(_one(provider, rc), 201,
                         {"Location": f"/resource_providers/{provider.uuid}/inventories/{rc}"})


def _one(provider: Provider, rc: str) -> dict[str, Any]:
    return {"resource_provider_generation": provider.generation,
            **provider.inventories[rc].as_dict()}


def _existing(provider: Provider, rc: str) -> None:
    if rc not in provider.inventories:
        raise errors.not_found(f"No inventory of class {rc} found for resource provider "
                               f"{provider.uuid}")


async def get_inventory(req: Request) -> Response:
    authorize(req, "placement:resource_providers:inventories")
    provider = providers.get(state(req).store, req.params["uuid"])
    _existing(provider, req.params["resource_class"])
    return json_response(_one(provider, req.params["resource_class"]))


async def put_inventory(req: Request) -> Response:
    authorize(req, "placement:resource_providers:inventories")
    placement = state(req)
    provider = providers.get(placement.store, req.params["uuid"])
    rc = req.params["resource_class"]
    data = await body(req, schemas.ONE_INVENTORY)
    if rc not in provider.inventories and not at_least(req, 26):
        _existing(provider, rc)
    inventories = dict(provider.inventories)
    inventories[rc] = _inventory(data, rc)
    await providers.set_inventories(placement.db, placement.store, provider, inventories,
                                    data["resource_provider_generation"])
    return json_response(_one(provider, rc))


async def delete_inventory(req: Request) -> Response:
    authorize(req, "placement:resource_providers:inventories")
    placement = state(req)
    provider = providers.get(placement.store, req.params["uuid"])
    rc = req.params["resource_class"]
    _existing(provider, rc)
    inventories = {k: v for k, v in provider.inventories.items() if k != rc}
    await providers.set_inventories(placement.db, placement.store, provider, inventories,
                                    provider.generation)
    return empty_response()


async def provider_usages(req: Request) -> Response:
    authorize(req, "placement:resource_providers:usages")
    provider = providers.get(state(req).store, req.params["uuid"])
    usages = {rc: provider.usage.get(rc, 0) for rc in provider.inventories}
    return json_response({"resource_provider_generation": provider.generation,
                          "usages": usages})
