"""Resource classes, traits (global and per provider) and provider aggregates."""

from __future__ import annotations

from starlette.responses import Response

from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.placement.handlers.common import at_least, authorize, body, since, state
from onestack.placement.objects import errors, names, providers
from onestack.placement.objects.standard import RESOURCE_CLASSES
from onestack.placement.schemas import providers as schemas


def _class_body(name: str) -> dict[str, object]:
    return {"name": name, "links": [{"rel": "self", "href": f"/resource_classes/{name}"}]}


async def list_classes(req: Request) -> Response:
    authorize(req, "placement:resource_classes")
    return json_response({"resource_classes": [
        _class_body(n) for n in state(req).store.resource_classes]})


@since(2)
async def create_class(req: Request) -> Response:
    authorize(req, "placement:resource_classes")
    data = await body(req, schemas.RESOURCE_CLASS)
    placement = state(req)
    await names.create_class(placement.db, placement.store, data["name"])
    return empty_response(201, {"Location": f"/resource_classes/{data['name']}"})


async def get_class(req: Request) -> Response:
    authorize(req, "placement:resource_classes")
    name = req.params["name"]
    if name not in state(req).store.resource_classes:
        raise errors.not_found(f"No such resource class {name}.")
    return json_response(_class_body(name))


@since(2)
async def put_class(req: Request) -> Response:
    authorize(req, "placement:resource_classes")
    placement = state(req)
    name = req.params["name"]
    if at_least(req, 7):  # create or confirm
        if name in placement.store.resource_classes:
            if name in RESOURCE_CLASSES:
                raise errors.bad_request(f"Cannot update standard resource class {name}")
            return empty_response(204)
        await names.create_class(placement.db, placement.store, name)
        return empty_response(201, {"Location": f"/resource_classes/{name}"})
    data = await body(req, schemas.RESOURCE_CLASS)
    await names.rename_class(placement.db, placement.store, name, data["name"])
    return json_response(_class_body(data["name"]))


@since(2)
async def delete_class(req: Request) -> Response:
    authorize(req, "placement:resource_classes")
    placement = state(req)
    await names.delete_class(placement.db, placement.store, req.params["name"])
    return empty_response()


# -- traits ------------------------------------------------------------------------------
@since(6)
async def list_traits(req: Request) -> Response:
    authorize(req, "placement:traits")
    store = state(req).store
    found = list(store.traits)
    name = req.query("name")
    if name is not None:
        if name.startswith("in:"):
            wanted = set(name[3:].split(","))
            found = [t for t in found if t in wanted]
        elif name.startswith("startswith:"):
            found = [t for t in found if t.startswith(name[11:])]
        else:
            raise errors.bad_request(f"Badly formatted name parameter. Expected name query "
                                     f"string parameter in form: ?name=startswith:[prefix] "
                                     f"or ?name=in:[name1,name2...]. Got: \"{name}\"")
    associated = req.query("associated")
    if associated is not None:
        if associated not in ("true", "false"):
            raise errors.bad_request("The query parameter \"associated\" only accepts "
                                     "\"true\" or \"false\"")
        used = set().union(*(p.traits for p in store.providers.values()))
        found = [t for t in found if (t in used) == (associated == "true")]
    return json_response({"traits": sorted(found)})


@since(6)
async def get_trait(req: Request) -> Response:
    authorize(req, "placement:traits")
    if req.params["name"] not in state(req).store.traits:
        raise errors.not_found(f"No such trait(s): {req.params['name']}")
    return empty_response(204)


@since(6)
async def put_trait(req: Request) -> Response:
    authorize(req, "placement:traits")
    placement = state(req)
    name = req.params["name"]
    created = await names.ensure_trait(placement.db, placement.store, name)
    return empty_response(201 if created else 204, {"Location": f"/traits/{name}"})


@since(6)
async def delete_trait(req: Request) -> Response:
    authorize(req, "placement:traits")
    placement = state(req)
    await names.delete_trait(placement.db, placement.store, req.params["name"])
    return empty_response()


def _traits_body(provider: providers.Provider) -> dict[str, object]:
    return {"traits": sorted(provider.traits),
            "resource_provider_generation": provider.generation}


@since(6)
async def get_provider_traits(req: Request) -> Response:
    authorize(req, "placement:resource_providers:traits")
    provider = providers.get(state(req).store, req.params["uuid"])
    return json_response(_traits_body(provider))


@since(6)
async def put_provider_traits(req: Request) -> Response:
    authorize(req, "placement:resource_providers:traits")
    placement = state(req)
    provider = providers.get(placement.store, req.params["uuid"])
    data = await body(req, schemas.TRAITS)
    await providers.set_traits(placement.db, placement.store, provider, set(data["traits"]),
                               data["resource_provider_generation"])
    return json_response(_traits_body(provider))


@since(6)
async def delete_provider_traits(req: Request) -> Response:
    authorize(req, "placement:resource_providers:traits")
    placement = state(req)
    provider = providers.get(placement.store, req.params["uuid"])
    await providers.set_traits(placement.db, placement.store, provider, set(),
                               provider.generation)
    return empty_response()


# -- aggregates --------------------------------------------------------------------------
def _aggregates_body(req: Request, provider: providers.Provider) -> dict[str, object]:
    result: dict[str, object] = {"aggregates": sorted(provider.aggregates)}
    if at_least(req, 19):
        result["resource_provider_generation"] = provider.generation
    return result


@since(1)
async def get_aggregates(req: Request) -> Response:
    authorize(req, "placement:resource_providers:aggregates")
    provider = providers.get(state(req).store, req.params["uuid"])
    return json_response(_aggregates_body(req, provider))


@since(1)
async def put_aggregates(req: Request) -> Response:
    authorize(req, "placement:resource_providers:aggregates")
    placement = state(req)
    provider = providers.get(placement.store, req.params["uuid"])
    if at_least(req, 19):
        data = await body(req, schemas.AGGREGATES)
        aggregates, generation = data["aggregates"], data["resource_provider_generation"]
    else:
        aggregates, generation = await body(req, schemas.AGGREGATE_LIST), None
    await providers.set_aggregates(placement.db, placement.store, provider, set(aggregates),
                                   generation)
    return json_response(_aggregates_body(req, provider))
