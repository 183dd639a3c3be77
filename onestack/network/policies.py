"""Networking's default policy rules (Neutron's names, oslo.policy language); a policy
file (``[api] policy_file``) overrides any of them by name.

Ownership is checked in the handlers on top of these, as upstream's defaults read:
a project sees and changes its own resources and sees shared and external networks,
and ``context_is_admin`` sees and changes everything. An ``ACTION:attribute`` rule
applies when a request sets that attribute (to other than its default); a
``get_RESOURCE:attribute`` rule decides who sees the attribute in responses.
"""

from __future__ import annotations

ADMIN_ONLY = "rule:admin_only"
MEMBER = "rule:project_member"
ANYONE = "@"  # ownership and visibility are the handlers' checks

RESOURCES = ("network", "subnet", "subnetpool", "port", "router", "floatingip",
             "security_group", "security_group_rule")

DEFAULTS: dict[str, str] = {
    "context_is_admin": "role:admin or is_admin:True",
    "admin_only": "rule:context_is_admin",
    # A reader alone (no member or manager role) reads but does not create.
    "project_member": "rule:context_is_admin or role:member or role:manager or not role:reader",
    "network_owner": "project_id:%(network:project_id)s",
    # every resource: read by whoever the handlers find owns it (or may see it);
    # created, changed and deleted only by project members, never by a reader alone
    **{f"get_{resource}": ANYONE for resource in RESOURCES},
    **{f"{verb}_{resource}": MEMBER for resource in RESOURCES
       for verb in ("create", "update", "delete")},
    "delete_security_group_rule": MEMBER,
    # networks: sharing, external and provider attributes are the operator's
    "create_network:shared": ADMIN_ONLY,
    "create_network:router:external": ADMIN_ONLY,
    "create_network:provider:network_type": ADMIN_ONLY,
    "create_network:provider:physical_network": ADMIN_ONLY,
    "create_network:provider:segmentation_id": ADMIN_ONLY,
    "update_network:shared": ADMIN_ONLY,
    "update_network:router:external": ADMIN_ONLY,
    "get_network:provider:network_type": ADMIN_ONLY,
    "get_network:provider:physical_network": ADMIN_ONLY,
    "get_network:provider:segmentation_id": ADMIN_ONLY,
    # subnet pools
    "create_subnetpool:shared": ADMIN_ONLY,
    "create_subnetpool:is_default": ADMIN_ONLY,
    # ports: binding is the operator's (and compute's); a MAC address of one's choice
    # on a network one owns
    "create_port:mac_address": "rule:context_is_admin or rule:network_owner",
    "create_port:binding:host_id": ADMIN_ONLY,
    "create_port:binding:profile": ADMIN_ONLY,
    "update_port:mac_address": ADMIN_ONLY,
    "update_port:binding:host_id": ADMIN_ONLY,
    "update_port:binding:profile": ADMIN_ONLY,
    "get_port:binding:host_id": ADMIN_ONLY,
    "get_port:binding:vif_type": ADMIN_ONLY,
    "get_port:binding:vif_details": ADMIN_ONLY,
    "get_port:binding:profile": ADMIN_ONLY,
    # routers: SNAT and the gateway's own addresses
    "create_router:external_gateway_info:enable_snat": ADMIN_ONLY,
    "create_router:external_gateway_info:external_fixed_ips": ADMIN_ONLY,
    "update_router:external_gateway_info:enable_snat": ADMIN_ONLY,
    "update_router:external_gateway_info:external_fixed_ips": ADMIN_ONLY,
    "add_router_interface": MEMBER,
    "remove_router_interface": MEMBER,
    "get_router:distributed": ADMIN_ONLY,
    "get_router:ha": ADMIN_ONLY,
    # floating IPs: an address of one's choice
    "create_floatingip:floating_ip_address": ADMIN_ONLY,
    # quotas: a project reads its own; the operator sets them
    "get_quota": "rule:context_is_admin or project_id:%(project_id)s",
    "update_quota": ADMIN_ONLY,
    "delete_quota": ADMIN_ONLY,
    # the dataplane's agents are the operator's
    "get_agent": ADMIN_ONLY,
    "update_agent": ADMIN_ONLY,
    "delete_agent": ADMIN_ONLY,
}


def guarded_reads(rules: dict[str, str]) -> dict[str, tuple[tuple[str, str], ...]]:
    """resource kind -> (attribute, rule) of every get_KIND:attribute rule, defaults
    and policy file alike."""
    found: dict[str, list[tuple[str, str]]] = {}
    for name in rules:
        action, sep, attribute = name.partition(":")
        if sep and action.startswith("get_"):
            found.setdefault(action[4:], []).append((attribute, name))
    return {kind: tuple(pairs) for kind, pairs in found.items()}
