"""The rebuild action: a new disk from an image (the same or another), with new
name, metadata, password, key, user data or hostname when given."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.responses import Response

from onestack.compute.handlers.common import (
    at_least,
    authorize,
    bus_context,
    context_of,
    state,
    target_of,
)
from onestack.compute.handlers.server_actions import begin, check_state, needs_host, show_after
from onestack.compute.handlers.server_create import _ref
from onestack.compute.handlers.servers import check_locked
from onestack.compute.objects import keypairs, states
from onestack.compute.schemas.servers import DESCRIPTION, HOSTNAME, IPV4, IPV6, METADATA, NAME
from onestack.kernel.api.faults import BadRequest
from onestack.kernel.api.request import Request
from onestack.kernel.api.validation import validate

_SCHEMAS: dict[int, dict[str, Any]] = {}


def _schema(minor: int) -> dict[str, Any]:
    if minor not in _SCHEMAS:
        props: dict[str, Any] = {
            "imageRef": {"type": "string", "minLength": 1}, "name": NAME,
            "adminPass": {"type": "string"}, "metadata": METADATA,
            "preserve_ephemeral": {"type": "boolean"}, "accessIPv4": IPV4,
            "accessIPv6": IPV6,
            "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]}}
        if minor < 57:
            props["personality"] = {"type": "array"}
        if minor >= 19:
            props["description"] = DESCRIPTION
        if minor >= 54:
            props["key_name"] = {"type": ["string", "null"]}
        if minor >= 57:
            props["user_data"] = {"type": ["string", "null"], "maxLength": 65535}
        if minor >= 63:
            props["trusted_image_certificates"] = {"type": ["array", "null"]}
        if minor >= 90:
            props["hostname"] = HOSTNAME
        _SCHEMAS[minor] = {"type": "object", "properties": props, "required": ["imageRef"],
                           "additionalProperties": False}
    return _SCHEMAS[minor]


async def rebuild(req: Request, instance: dict[str, Any], data: Any) -> Response:
    minor = req.version.minor if req.version is not None else 1
    data = validate(_schema(minor), data)
    authorize(req, "os_compute_api:servers:rebuild",
              target_of(req, instance["project_id"], instance["user_id"]))
    check_locked(req, instance)
    check_state(instance, "rebuild", {states.ACTIVE, states.STOPPED, states.ERROR})
    host = needs_host(instance, "rebuild")
    compute = state(req)
    image_id = _ref(data["imageRef"])
    image = await compute.image.get_image(bus_context(req), image_id)
    if image is None:
        raise BadRequest(f"Image {image_id} could not be found.")
    if image["status"] != "active":
        raise BadRequest(f"Image {image_id} is not active.")
    if (image.get("min_ram") or 0) > instance["flavor"]["memory_mb"]:
        raise BadRequest("Flavor's memory is too small for requested image.")
    if (image.get("min_disk") or 0) > instance["flavor"]["root_gb"] and \
            instance["flavor"]["root_gb"]:
        raise BadRequest("Flavor's disk is too small for requested image.")
    changes: dict[str, Any] = {"task_state": states.REBUILDING, "image_ref": image_id,
                               "request": {**instance["request"],
                                           "image_properties": image.get("properties", {})}}
    if "OS-DCF:diskConfig" in data:
        changes["request"]["disk_config"] = data["OS-DCF:diskConfig"]
    for source, column in (("name", "display_name"), ("metadata", "metadata"),
                           ("accessIPv4", "access_ip_v4"), ("accessIPv6", "access_ip_v6"),
                           ("description", "description"), ("user_data", "user_data"),
                           ("hostname", "hostname")):
        if source in data:
            changes[column] = data[source]
    if "key_name" in data:
        if data["key_name"] is None:
            changes.update(key_name=None, key_data=None)
        else:
            async with compute.db.reader() as conn:
                key = await keypairs.get_public_key(conn, context_of(req).user_id,
                                                    data["key_name"])
            if key is None:
                raise BadRequest("Invalid key_name provided.")
            changes.update(key_name=key["name"], key_data=key["public_key"])
    password = data.get("adminPass") or secrets.token_urlsafe(9)
    updated = await begin(req, instance, "rebuild", changes)
    await compute.agents.cast(host, "rebuild", bus_context(req), instance=updated,
                              admin_password=password)
    extra: dict[str, Any] = {"adminPass": password}
    if at_least(req, 57):
        extra["user_data"] = updated["user_data"]
    return await show_after(req, updated, extra=extra)
