"""Every route of the placement service: path -> method -> handler. Each handler is
wrapped once so that its errors carry Placement's codes from 1.23 (the wrapper
keeps the handler's attributes, ``public`` included)."""

from __future__ import annotations

from onestack.kernel.api.routing import RouteTable
from onestack.placement.handlers import allocations, attributes, candidates, providers, root
from onestack.placement.handlers.common import with_codes

RP = "/resource_providers/{uuid}"

_ROUTES: RouteTable = {
    "/": {"GET": root.versions},
    "/resource_providers": {"GET": providers.list_providers,
                            "POST": providers.create_provider},
    RP: {"GET": providers.get_provider, "PUT": providers.update_provider,
         "DELETE": providers.delete_provider},
    RP + "/inventories": {"GET": providers.get_inventories, "PUT": providers.put_inventories,
                          "POST": providers.add_inventory,
                          "DELETE": providers.delete_inventories},
    RP + "/inventories/{resource_class}": {"GET": providers.get_inventory,
                                           "PUT": providers.put_inventory,
                                           "DELETE": providers.delete_inventory},
    RP + "/usages": {"GET": providers.provider_usages},
    RP + "/allocations": {"GET": allocations.provider_allocations},
    RP + "/aggregates": {"GET": attributes.get_aggregates, "PUT": attributes.put_aggregates},
    RP + "/traits": {"GET": attributes.get_provider_traits,
                     "PUT": attributes.put_provider_traits,
                     "DELETE": attributes.delete_provider_traits},
    "/resource_classes": {"GET": attributes.list_classes, "POST": attributes.create_class},
    "/resource_classes/{name}": {"GET": attributes.get_class, "PUT": attributes.put_class,
                                 "DELETE": attributes.delete_class},
    "/traits": {"GET": attributes.list_traits},
    "/traits/{name}": {"GET": attributes.get_trait, "PUT": attributes.put_trait,
                       "DELETE": attributes.delete_trait},
    "/allocations": {"POST": allocations.post_allocations},
    "/allocations/{consumer_uuid}": {"GET": allocations.get_allocations,
                                     "PUT": allocations.put_allocations,
                                     "DELETE": allocations.delete_allocations},
    "/allocation_candidates": {"GET": candidates.list_candidates},
    "/usages": {"GET": allocations.usages},
}

ROUTES: RouteTable = {
    path: {method: with_codes(handler) for method, handler in methods.items()}
    for path, methods in _ROUTES.items()
}
