"""Version discovery: ``/`` (300 Multiple Choices) and ``/v3``."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.identity.handlers.common import identity_of
from onestack.kernel.api.request import Request, json_response
from onestack.kernel.api.routing import public

VERSION_ID = "v3.14"
UPDATED = "2020-04-07T00:00:00Z"


def _version(req: Request) -> dict[str, Any]:
    return {"id": VERSION_ID, "status": "stable", "updated": UPDATED,
            "links": [{"rel": "self", "href": identity_of(req).base_url + "/v3/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.identity-v3+json"}]}


@public
async def root(req: Request) -> Response:
    return json_response({"versions": {"values": [_version(req)]}}, 300)


@public
async def v3(req: Request) -> Response:
    return json_response({"version": _version(req)})
