"""Version discovery: ``/`` lists the API versions, ``/v2.1`` describes the current
one and ``/v2`` the legacy one (all without a token)."""

from __future__ import annotations

from starlette.responses import Response

from onestack.compute.handlers.common import state
from onestack.compute.microversions import SPEC
from onestack.kernel.api.request import Request, json_response
from onestack.kernel.api.routing import public

UPDATED = "2013-07-23T11:33:21Z"


def _v21(req: Request) -> dict[str, object]:
    return {"id": "v2.1", "status": "CURRENT", "version": str(SPEC.maximum),
            "min_version": str(SPEC.minimum), "updated": UPDATED,
            "links": [{"rel": "self", "href": f"{state(req).base_url}/v2.1/"}]}


def _v2(req: Request) -> dict[str, object]:
    return {"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "",
            "updated": "2011-01-21T11:33:21Z",
            "links": [{"rel": "self", "href": f"{state(req).base_url}/v2/"}]}


@public
async def versions(req: Request) -> Response:
    return json_response({"versions": [_v2(req), _v21(req)]}, status=200)


def _document(body: dict[str, object], media_version: str) -> Response:
    body["links"] = [*body["links"],  # type: ignore[misc]
                     {"rel": "describedby", "type": "text/html",
                      "href": "http://docs.openstack.org/"}]
    body["media-types"] = [{"base": "application/json",
                            "type": f"application/vnd.openstack.compute+json;"
                                    f"version={media_version}"}]
    return json_response({"version": body})


@public
async def version_v21(req: Request) -> Response:
    return _document(_v21(req), "2.1")


@public
async def version_v2(req: Request) -> Response:
    return _document(_v2(req), "2")


ROUTES = {
    "/": {"GET": versions},
    "/v2": {"GET": version_v2},
    "/v2.1": {"GET": version_v21},
}
