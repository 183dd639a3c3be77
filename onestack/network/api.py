"""Every route of the networking service (Neutron v2.0): path -> method -> handler.
Every write runs again when the database picks it as a deadlock's victim."""

from __future__ import annotations

from onestack.kernel.api.routing import RouteTable
from onestack.kernel.db.retry import retry_on_deadlock
from onestack.network.handlers import agents, misc, networks, ports, routers, security_groups

_ROUTES: RouteTable = {
    "/": {"GET": misc.versions},
    "/v2.0": {"GET": misc.v2},
    "/v2.0/extensions": {"GET": misc.list_extensions},
    "/v2.0/extensions/{alias}": {"GET": misc.get_extension},
    # networks, subnets, subnet pools
    "/v2.0/networks": {"GET": networks.list_networks, "POST": networks.create_network},
    "/v2.0/networks/{network_id}": {"GET": networks.get_network,
                                    "PUT": networks.update_network,
                                    "DELETE": networks.delete_network},
    "/v2.0/subnets": {"GET": networks.list_subnets, "POST": networks.create_subnet},
    "/v2.0/subnets/{subnet_id}": {"GET": networks.get_subnet, "PUT": networks.update_subnet,
                                  "DELETE": networks.delete_subnet},
    "/v2.0/subnetpools": {"GET": networks.list_pools, "POST": networks.create_pool},
    "/v2.0/subnetpools/{subnetpool_id}": {"GET": networks.get_pool,
                                          "PUT": networks.update_pool,
                                          "DELETE": networks.delete_pool},
    # ports
    "/v2.0/ports": {"GET": ports.list_ports, "POST": ports.create_port},
    "/v2.0/ports/{port_id}": {"GET": ports.get_port, "PUT": ports.update_port,
                              "DELETE": ports.delete_port},
    # routers and floating IPs
    "/v2.0/routers": {"GET": routers.list_routers, "POST": routers.create_router},
    "/v2.0/routers/{router_id}": {"GET": routers.get_router, "PUT": routers.update_router,
                                  "DELETE": routers.delete_router},
    "/v2.0/routers/{router_id}/add_router_interface": {"PUT": routers.add_interface},
    "/v2.0/routers/{router_id}/remove_router_interface": {"PUT": routers.remove_interface},
    "/v2.0/routers/{router_id}/add_extraroutes": {"PUT": routers.add_routes},
    "/v2.0/routers/{router_id}/remove_extraroutes": {"PUT": routers.remove_routes},
    "/v2.0/floatingips": {"GET": routers.list_floatingips, "POST": routers.create_floatingip},
    "/v2.0/floatingips/{floatingip_id}": {"GET": routers.get_floatingip,
                                          "PUT": routers.update_floatingip,
                                          "DELETE": routers.delete_floatingip},
    # security groups
    "/v2.0/security-groups": {"GET": security_groups.list_groups,
                              "POST": security_groups.create_group},
    "/v2.0/security-groups/{security_group_id}": {"GET": security_groups.get_group,
                                                  "PUT": security_groups.update_group,
                                                  "DELETE": security_groups.delete_group},
    "/v2.0/security-group-rules": {"GET": security_groups.list_rules,
                                   "POST": security_groups.create_rule},
    "/v2.0/security-group-rules/{rule_id}": {"GET": security_groups.get_rule,
                                             "DELETE": security_groups.delete_rule},
    # quotas
    "/v2.0/quotas": {"GET": misc.list_quotas},
    "/v2.0/quotas/{project_id}": {"GET": misc.get_quota, "PUT": misc.update_quota,
                                  "DELETE": misc.delete_quota},
    "/v2.0/quotas/{project_id}/default": {"GET": misc.get_default_quota},
    "/v2.0/quotas/{project_id}/details": {"GET": misc.get_quota_details},
    # the backend's agents
    "/v2.0/agents": {"GET": agents.list_agents},
    "/v2.0/agents/{agent_id}": {"GET": agents.get_agent, "PUT": agents.update_agent,
                                "DELETE": agents.delete_agent},
    # tags on every resource with standard attributes
    "/v2.0/{collection}/{resource_id}/tags": {"GET": misc.list_tags,
                                              "PUT": misc.replace_tags,
                                              "DELETE": misc.remove_all_tags},
    "/v2.0/{collection}/{resource_id}/tags/{tag}": {"GET": misc.get_tag,
                                                    "PUT": misc.add_tag,
                                                    "DELETE": misc.remove_tag},
}

ROUTES: RouteTable = {
    path: {method: handler if method == "GET" else retry_on_deadlock(handler)
           for method, handler in methods.items()}
    for path, methods in _ROUTES.items()
}
