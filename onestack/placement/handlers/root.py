"""The version document at ``/``: the microversion range, without a token."""

from __future__ import annotations

from starlette.responses import Response

from onestack.kernel.api.request import Request, json_response
from onestack.kernel.api.routing import public
from onestack.placement.microversions import SPEC


@public
async def versions(req: Request) -> Response:
    return json_response({"versions": [{
        "id": "v1.0", "status": "CURRENT", "min_version": str(SPEC.minimum),
        "max_version": str(SPEC.maximum), "links": [{"rel": "self", "href": ""}]}]})
