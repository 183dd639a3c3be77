"""``/limits``: the caller's project's absolute limits and what it uses (another
project's with ``tenant_id``, for admins); Nova has no rate limits any more."""

from __future__ import annotations

from starlette.responses import Response

from onestack.compute.handlers.common import at_least, authorize, context_of, state
from onestack.compute.handlers.params import strict_query
from onestack.compute.objects import quotas
from onestack.kernel.api.request import Request, json_response
from onestack.kernel.api.routing import RouteTable

ABSOLUTE = {
    "ram": ("maxTotalRAMSize",),
    "instances": ("maxTotalInstances",),
    "cores": ("maxTotalCores",),
    "key_pairs": ("maxTotalKeypairs",),
    "floating_ips": ("maxTotalFloatingIps",),
    "metadata_items": ("maxServerMeta", "maxImageMeta"),
    "injected_files": ("maxPersonality",),
    "injected_file_content_bytes": ("maxPersonalitySize",),
    "security_groups": ("maxSecurityGroups",),
    "security_group_rules": ("maxSecurityGroupRules",),
    "server_groups": ("maxServerGroups",),
    "server_group_members": ("maxServerGroupMembers",),
}
USED = {
    "totalRAMUsed": "ram",
    "totalCoresUsed": "cores",
    "totalInstancesUsed": "instances",
    "totalFloatingIpsUsed": "floating_ips",
    "totalSecurityGroupsUsed": "security_groups",
    "totalServerGroupsUsed": "server_groups",
}


def _gone(req: Request) -> tuple[str, ...]:
    gone: tuple[str, ...] = ()
    if at_least(req, 36):
        gone += ("floating_ips", "security_groups", "security_group_rules")
    if at_least(req, 57):
        gone += ("injected_files", "injected_file_content_bytes")
    return gone


async def show(req: Request) -> Response:
    strict_query(req, ["tenant_id"])
    authorize(req, "os_compute_api:limits", {})
    project_id = context_of(req).project_id or ""
    if req.has_query("tenant_id"):
        authorize(req, "os_compute_api:limits:other_project")
        project_id = req.query("tenant_id") or ""
    compute = state(req)
    async with compute.db.reader() as conn:
        values = await quotas.detail(conn, compute.settings, project_id)
    gone = _gone(req)
    absolute: dict[str, int] = {}
    for resource, names in ABSOLUTE.items():
        if resource in gone:
            continue
        for name in names:
            if name == "maxImageMeta" and at_least(req, 39):
                continue
            absolute[name] = values[resource]["limit"]
    for name, resource in USED.items():
        if resource not in gone:
            absolute[name] = values[resource]["in_use"]
    return json_response({"limits": {"rate": [], "absolute": absolute}})


ROUTES: RouteTable = {"/limits": {"GET": show}}
