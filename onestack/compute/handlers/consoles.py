"""Remote consoles: ``POST /servers/{id}/remote-consoles`` (2.6), the older actions
(os-getVNCConsole, os-getSerialConsole, os-getSPICEConsole, os-getRDPConsole; up to
2.5) and ``GET /os-console-auth-tokens/{token}`` for admins. A console URL carries a
one-time token; the proxies in consoleproxy.py take it and bridge to where the
server's host says the console listens. This cloud offers noVNC and serial consoles;
SPICE, RDP and MKS are "unavailable" (400), as in a Nova where they are disabled."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.responses import Response

from onestack.compute.handlers.common import (
    at_least,
    authorize,
    body,
    bus_context,
    state,
    target_of,
)
from onestack.compute.handlers.servers import owned
from onestack.compute.objects import console_tokens, states
from onestack.kernel.api.faults import BadRequest, Conflict, NotFound, Unauthorized
from onestack.kernel.api.request import Request, json_response
from onestack.kernel.api.routing import RouteTable
from onestack.kernel.api.validation import validate

if TYPE_CHECKING:
    from onestack.compute.service import Compute

Instance = dict[str, Any]

# (protocol, type) -> the console the driver serves
KINDS = {("vnc", "novnc"): "novnc", ("serial", "serial"): "serial"}
# consoles of a protocol Nova has, that this cloud does not enable
UNAVAILABLE = {"spice", "rdp", "mks"}
# a guest shows a console while it runs (also paused, rescued, resized)
RUNNING = {states.ACTIVE, states.PAUSED, states.RESCUED, states.RESIZED}


def _remote_console_schema(protocols: list[str], types: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": {"remote_console": {
        "type": "object",
        "properties": {"protocol": {"type": "string", "enum": protocols},
                       "type": {"type": "string", "enum": types}},
        "required": ["protocol", "type"], "additionalProperties": False}},
        "required": ["remote_console"], "additionalProperties": False}


_PROTOCOLS = ["vnc", "spice", "rdp", "serial"]
_TYPES = ["novnc", "xvpvnc", "rdp-html5", "spice-html5", "serial"]
REMOTE_CONSOLE_26 = _remote_console_schema(_PROTOCOLS, _TYPES)
REMOTE_CONSOLE_28 = _remote_console_schema([*_PROTOCOLS, "mks"], [*_TYPES, "webmks"])
REMOTE_CONSOLE_299 = _remote_console_schema([*_PROTOCOLS, "mks"],
                                            [*_TYPES, "webmks", "spice-direct"])


def _action_schema(types: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": {"type": {"type": "string", "enum": types}},
            "required": ["type"], "additionalProperties": False}


def console_url(compute: Compute, kind: str, token: str) -> str:
    """Nova's URL forms: noVNC's page with the websocket path (token inside) as its
    ``path`` parameter; the serial proxy's websocket with the token itself."""
    settings = compute.settings
    if kind == "novnc":
        base = (settings.novncproxy_base_url
                or compute.config.public_url("compute-novncproxy")).rstrip("/")
        if not base.split("?", 1)[0].endswith(".html"):
            base += "/vnc_lite.html"
        query = urlencode({"path": f"?token={token}"})
    else:
        base = settings.serialproxy_base_url or (
            "ws" + compute.config.public_url("compute-serialproxy").removeprefix("http"))
        if "?" not in base and not base.endswith("/"):
            base += "/"
        query = f"token={token}"
    return f"{base}{'&' if '?' in base else '?'}{query}"


def _check_ready(instance: Instance, action: str) -> None:
    uuid = instance["uuid"]
    if not instance["host"]:
        raise Conflict(f"Instance {uuid} is not ready")
    if instance["task_state"] in (states.DELETING, states.MIGRATING):
        raise Conflict(f"Cannot '{action}' instance {uuid} while it is in task_state "
                       f"{instance['task_state']}")
    if instance["vm_state"] not in RUNNING:
        raise Conflict(f"Instance {uuid} is not ready")


def _kind(protocol: str, console_type: str) -> str:
    if protocol in UNAVAILABLE:
        raise BadRequest(f"Unavailable console type {console_type}.")
    kind = KINDS.get((protocol, console_type))
    if kind is None:
        raise BadRequest(f"Invalid console type {console_type}")
    return kind


async def _console(req: Request, instance: Instance, protocol: str, console_type: str,
                   action: str) -> str:
    """Authorize, check the server, ask its host where the console is, issue a token;
    answers the URL."""
    authorize(req, "os_compute_api:os-remote-consoles",
              target_of(req, instance["project_id"], instance["user_id"]))
    _check_ready(instance, action)
    kind = _kind(protocol, console_type)
    compute = state(req)
    found = await compute.agents.get_console_endpoint(bus_context(req), instance, kind)
    if found.get("error") == "unavailable":
        raise BadRequest(f"Unavailable console type {console_type}.")
    if found.get("error"):
        raise Conflict(f"Instance {instance['uuid']} is not ready")
    async with compute.db.writer() as conn:
        token = await console_tokens.issue(
            conn, instance_uuid=instance["uuid"], console_type=kind,
            ttl=compute.settings.console_token_ttl, compute_host=instance["host"],
            host=found.get("host"), port=found.get("port"), path=found.get("path"))
    return console_url(compute, kind, token)


# -- 2.6: one resource for every protocol ----------------------------------------------
async def create(req: Request) -> Response:
    if not at_least(req, 6):
        raise NotFound("The resource could not be found.")
    schema = (REMOTE_CONSOLE_299 if at_least(req, 99) else
              REMOTE_CONSOLE_28 if at_least(req, 8) else REMOTE_CONSOLE_26)
    wanted = (await body(req, schema))["remote_console"]
    instance = await owned(req, req.params["server_id"])
    url = await _console(req, instance, wanted["protocol"], wanted["type"], "create")
    return json_response({"remote_console": {"protocol": wanted["protocol"],
                                             "type": wanted["type"], "url": url}})


# -- up to 2.5: one action per protocol ------------------------------------------------
def _legacy(protocol: str, types: list[str], action: str) -> Any:
    schema = _action_schema(types)

    async def run(req: Request, instance: Instance, data: Any) -> Response:
        if at_least(req, 6):
            raise NotFound("The resource could not be found.")
        console_type = validate(schema, data)["type"]
        url = await _console(req, instance, protocol, console_type, action)
        return json_response({"console": {"type": console_type, "url": url}})
    return run


ACTIONS = {
    "os-getVNCConsole": _legacy("vnc", ["novnc", "xvpvnc"], "get_vnc_console"),
    "os-getSerialConsole": _legacy("serial", ["serial"], "get_serial_console"),
    "os-getSPICEConsole": _legacy("spice", ["spice-html5"], "get_spice_console"),
    "os-getRDPConsole": _legacy("rdp", ["rdp-html5"], "get_rdp_console"),
}


# -- what a token stands for (admins: console proxies of other clouds) -----------------
async def show_token(req: Request) -> Response:
    """Where the token's console is. Before 2.31 only RDP consoles were shown (401 for
    the others, as Nova). A console on a Unix socket shows its compute host, no port,
    and the socket's path as internal_access_path."""
    authorize(req, "os_compute_api:os-console-auth-tokens")
    token = req.params["token"].strip()
    if not token:
        raise BadRequest("token not provided")
    async with state(req).db.reader() as conn:
        found = await console_tokens.find(conn, token)
    if found is None:
        raise NotFound("Token not found")
    if not at_least(req, 31) and found["console_type"] != "rdp-html5":
        raise Unauthorized("The requested console type details are not accessible")
    console = {"instance_uuid": found["instance_uuid"],
               "host": found["host"] or found["compute_host"], "port": found["port"],
               "internal_access_path": found["internal_access_path"] or found["path"]}
    if at_least(req, 99):
        console["tls_port"] = None
    return json_response({"console": console})


ROUTES: RouteTable = {
    "/servers/{server_id}/remote-consoles": {"POST": create},
    "/os-console-auth-tokens/{token}": {"GET": show_token},
}
