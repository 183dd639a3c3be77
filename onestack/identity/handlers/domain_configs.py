"""``/v3/domains/{domain_id}/config``: a domain's own identity and LDAP options, by
whole config, group or option; ``/v3/domains/config/.../default`` shows the defaults."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.identity.handlers.common import enforce, identity_of
from onestack.identity.objects import domain_configs, projects
from onestack.identity.objects.projects import DEFAULT_DOMAIN
from onestack.kernel.api.faults import BadRequest
from onestack.kernel.api.request import Request, empty_response, json_response


def _part(req: Request) -> tuple[str, str | None, str | None]:
    return (req.params["domain_id"], req.params.get("group"), req.params.get("option"))


async def _config_body(req: Request) -> Any:
    document = await req.json()
    if not isinstance(document, dict) or "config" not in document:
        raise BadRequest("Expecting to find config in the request body.")
    return document["config"]


async def _domain(conn: Any, domain_id: str) -> None:
    await projects.get(conn, domain_id, domain=True)  # 404 when it does not exist


async def put_config(req: Request) -> Response:
    enforce(req, "identity:domain_config")
    domain_id = req.params["domain_id"]
    config = await _config_body(req)
    async with identity_of(req).write() as conn:
        await _domain(conn, domain_id)
        stored, created = await domain_configs.replace(conn, domain_id, config)
    return json_response({"config": stored}, 201 if created else 200)


async def show_config(req: Request) -> Response:
    domain_id, group, option = _part(req)
    if group == domain_configs.SECURITY_COMPLIANCE:
        return await _security_compliance(req, domain_id, option)
    enforce(req, "identity:get_domain_config")
    async with identity_of(req).db.reader() as conn:
        await _domain(conn, domain_id)
        shown = await domain_configs.show(conn, domain_id, group, option)
    return json_response({"config": shown})


async def _security_compliance(req: Request, domain_id: str, option: str | None
                               ) -> Response:
    """Any user may read the password rules, to know what a new password needs."""
    enforce(req, "identity:get_security_compliance_domain_config")
    async with identity_of(req).db.reader() as conn:
        await _domain(conn, domain_id)
    if domain_id != DEFAULT_DOMAIN:
        raise domain_configs.invalid("reading security compliance information for any "
                                     "domain other than the default domain is not "
                                     "supported")
    return json_response({"config": domain_configs.security_compliance(
        identity_of(req).settings, option)})


async def update_config(req: Request) -> Response:
    enforce(req, "identity:domain_config")
    domain_id, group, option = _part(req)
    config = await _config_body(req)
    async with identity_of(req).write() as conn:
        await _domain(conn, domain_id)
        stored = await domain_configs.update(conn, domain_id, config, group, option)
    return json_response({"config": stored})


async def delete_config(req: Request) -> Response:
    enforce(req, "identity:domain_config")
    domain_id, group, option = _part(req)
    async with identity_of(req).write() as conn:
        await _domain(conn, domain_id)
        await domain_configs.delete(conn, domain_id, group, option)
    return empty_response()


async def show_default(req: Request) -> Response:
    enforce(req, "identity:get_domain_config")
    shown = domain_configs.default(req.params.get("group"), req.params.get("option"))
    return json_response({"config": shown})


def routes() -> dict[str, dict[str, Any]]:
    one = {"GET": show_config, "PATCH": update_config, "DELETE": delete_config}
    return {
        # the defaults first: their paths would otherwise read as a domain id "config"
        "/v3/domains/config/default": {"GET": show_default},
        "/v3/domains/config/{group}/default": {"GET": show_default},
        "/v3/domains/config/{group}/{option}/default": {"GET": show_default},
        "/v3/domains/{domain_id}/config": {"PUT": put_config, **one},
        "/v3/domains/{domain_id}/config/{group}": one,
        "/v3/domains/{domain_id}/config/{group}/{option}": one,
    }
