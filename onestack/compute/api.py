"""Every route of the compute API. Each handler module declares its own ``ROUTES``
(paths below ``/v2.1``); this table joins them."""

from __future__ import annotations

import functools
from typing import Any

from onestack.compute.handlers import (
    aggregates,
    availability_zones,
    consoles,
    extensions,
    flavors,
    floating_ips,
    hypervisors,
    images,
    keypairs,
    limits,
    migrations,
    os_hosts,
    quotas,
    root,
    security_groups,
    server_actions,
    server_activity,
    server_extras,
    server_groups,
    server_migrations,
    server_parts,
    servers,
    services,
    usage,
)
from onestack.kernel.api.routing import Handler, RouteTable

MODULES = (flavors, keypairs, limits, quotas, usage, server_groups, aggregates,
           availability_zones, services, hypervisors, migrations, servers, server_actions,
           server_parts, server_activity, server_migrations, server_extras, os_hosts,
           extensions, images, security_groups, floating_ips, consoles)


# Writes here change what the scheduler's host snapshot holds (zones, aggregates,
# enabled and forced-down services): the conductor reloads it after any of them.
HOST_WRITERS = (aggregates, services, os_hosts)


def _changes_hosts(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def run(req: Any) -> Any:
        try:
            return await handler(req)
        finally:
            req.app.hosts_changed()
    return run


def _join() -> RouteTable:
    routes: RouteTable = dict(root.ROUTES)
    for module in MODULES:
        for path, methods in module.ROUTES.items():
            full = "/v2.1" + path
            if full in routes:
                raise RuntimeError(f"{full} is routed twice")
            if module in HOST_WRITERS:
                methods = {verb: handler if verb == "GET" else _changes_hosts(handler)
                           for verb, handler in methods.items()}
            routes[full] = methods
    return routes


ROUTES = _join()
