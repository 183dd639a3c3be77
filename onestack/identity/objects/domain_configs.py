"""Domain-specific configuration: per-domain overrides of the ``identity`` and ``ldap``
option groups, as Keystone's domain configuration API keeps them.

Only the options Keystone accepts per domain may be set. Sensitive options (the LDAP
password) are stored but never shown. The ``security_compliance`` group is read-only
and reflects the server's own settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.identity.models import domain_config
from onestack.kernel.api.faults import Forbidden, NotFound

if TYPE_CHECKING:
    from onestack.kernel.config import IdentityConfig

# The options a domain may override, with the value in force when it does not.
DEFAULTS: dict[str, dict[str, Any]] = {
    "identity": {"driver": "sql", "list_limit": None},
    "ldap": {
        "url": "ldap://localhost", "user": None, "suffix": "cn=example,cn=com",
        "query_scope": "one", "page_size": 0, "alias_dereferencing": "default",
        "debug_level": None, "chase_referrals": None,
        "user_tree_dn": None, "user_filter": None, "user_objectclass": "inetOrgPerson",
        "user_id_attribute": "cn", "user_name_attribute": "sn",
        "user_mail_attribute": "mail", "user_description_attribute": "description",
        "user_pass_attribute": "userPassword", "user_enabled_attribute": "enabled",
        "user_enabled_invert": False, "user_enabled_mask": 0,
        "user_enabled_default": "True", "user_attribute_ignore": ["default_project_id"],
        "user_default_project_id_attribute": None, "user_enabled_emulation": False,
        "user_enabled_emulation_dn": None,
        "user_enabled_emulation_use_group_config": False,
        "user_additional_attribute_mapping": [],
        "group_tree_dn": None, "group_filter": None, "group_objectclass": "groupOfNames",
        "group_id_attribute": "cn", "group_name_attribute": "ou",
        "group_members_are_ids": False, "group_member_attribute": "member",
        "group_desc_attribute": "description", "group_attribute_ignore": [],
        "group_additional_attribute_mapping": [],
        "tls_cacertfile": None, "tls_cacertdir": None, "use_tls": False,
        "tls_req_cert": "demand", "use_pool": True, "pool_size": 10, "pool_retry_max": 3,
        "pool_retry_delay": 0.1, "pool_connection_timeout": -1,
        "pool_connection_lifetime": 600, "use_auth_pool": True, "auth_pool_size": 100,
        "auth_pool_connection_lifetime": 60,
    },
}
# Stored when given, never returned.
SENSITIVE: dict[str, set[str]] = {"identity": set(), "ldap": {"password"}}
SECURITY_COMPLIANCE = "security_compliance"
SECURITY_OPTIONS = ("password_regex", "password_regex_description")


def invalid(reason: str) -> Forbidden:
    return Forbidden(f"Invalid domain specific configuration: {reason}.")


def _known(group: str, option: str | None = None) -> None:
    if group not in DEFAULTS:
        raise invalid(f"group {group} is not supported for domain specific configurations")
    if option is not None and option not in DEFAULTS[group] and option not in SENSITIVE[group]:
        raise invalid(f"option {option} in group {group} is not supported for domain "
                      "specific configurations")


def check(config: Any) -> list[tuple[str, str, Any]]:
    """Flatten ``{group: {option: value}}`` after checking every group and option."""
    if not isinstance(config, dict):
        raise invalid("config is not a dictionary")
    if not config:
        raise invalid("config is empty")
    flat = []
    for group, options in config.items():
        _known(group)
        if not isinstance(options, dict) or not options:
            raise invalid(f"group {group} must map option names to values")
        for option, value in options.items():
            _known(group, option)
            flat.append((group, option, value))
    return flat


def not_found(domain_id: str, group: str | None = None, option: str | None = None
              ) -> NotFound:
    where = f"domain {domain_id}"
    if group:
        where += f", group {group}"
    if option:
        where += f", option {option}"
    return NotFound(f"Could not find domain config for {where}.")


async def _rows(conn: AsyncConnection, domain_id: str) -> list[tuple[str, str, Any]]:
    rows = await conn.execute(sa.select(domain_config.c.group, domain_config.c.option,
                                        domain_config.c.value)
                              .where(domain_config.c.domain_id == domain_id))
    return [(r.group, r.option, r.value) for r in rows]


def _nest(rows: list[tuple[str, str, Any]]) -> dict[str, dict[str, Any]]:
    config: dict[str, dict[str, Any]] = {}
    for group, option, value in sorted(rows, key=lambda r: (r[0], r[1])):
        if option not in SENSITIVE.get(group, set()):
            config.setdefault(group, {})[option] = value
    return config


async def show(conn: AsyncConnection, domain_id: str, group: str | None = None,
               option: str | None = None) -> dict[str, Any]:
    """The whole config, one group (``{group: {...}}``) or one option
    (``{option: value}``); 404 when that part is not set."""
    if group is not None:
        _known(group, option)
        if option in SENSITIVE[group]:
            raise invalid(f"option {option} in group {group} is sensitive and cannot be "
                          "read")
    config = _nest(await _rows(conn, domain_id))
    if group is None:
        if not config:
            raise not_found(domain_id)
        return config
    if group not in config or (option is not None and option not in config[group]):
        raise not_found(domain_id, group, option)
    if option is None:
        return {group: config[group]}
    return {option: config[group][option]}


async def _upsert(conn: AsyncConnection, domain_id: str,
                  items: list[tuple[str, str, Any]]) -> None:
    for group, option, value in items:
        key = (domain_config.c.domain_id == domain_id, domain_config.c.group == group,
               domain_config.c.option == option)
        await conn.execute(sa.delete(domain_config).where(*key))
        await conn.execute(sa.insert(domain_config).values(
            domain_id=domain_id, group=group, option=option, value=value))


async def replace(conn: AsyncConnection, domain_id: str, config: Any
                  ) -> tuple[dict[str, Any], bool]:
    """Set the whole config; returns it and whether the domain had none before."""
    items = check(config)
    existed = bool(await _rows(conn, domain_id))
    await conn.execute(sa.delete(domain_config).where(domain_config.c.domain_id == domain_id))
    await _upsert(conn, domain_id, items)
    return _nest(await _rows(conn, domain_id)), not existed


async def update(conn: AsyncConnection, domain_id: str, config: Any,
                 group: str | None = None, option: str | None = None) -> dict[str, Any]:
    """Merge options into the config: anywhere, within one group, or one option (whose
    body is ``{option: value}``). Returns the whole config."""
    if group is not None and option is not None:
        config = {group: config}
    items = check(config)
    if group is not None:
        _known(group, option)
        if list(config) != [group]:
            raise invalid(f"trying to update group {group}, so that, and only that, group "
                          "must be specified in the config")
        if option is not None and list(config[group]) != [option]:
            raise invalid(f"trying to update option {option} in group {group}, so that, "
                          "and only that, option must be specified in the config")
    await _upsert(conn, domain_id, items)
    return _nest(await _rows(conn, domain_id))


async def delete(conn: AsyncConnection, domain_id: str, group: str | None = None,
                 option: str | None = None) -> None:
    query = sa.delete(domain_config).where(domain_config.c.domain_id == domain_id)
    if group is not None:
        _known(group, option)
        present = {(g, o) for g, o, _ in await _rows(conn, domain_id)}
        if not any(g == group and (option is None or o == option) for g, o in present):
            raise not_found(domain_id, group, option)
        query = query.where(domain_config.c.group == group)
        if option is not None:
            query = query.where(domain_config.c.option == option)
    await conn.execute(query)


def default(group: str | None = None, option: str | None = None) -> dict[str, Any]:
    """What a domain gets when it overrides nothing, in the shapes of ``show``."""
    if group is None:
        return {g: dict(options) for g, options in DEFAULTS.items()}
    _known(group, option)
    if option is None:
        return {group: dict(DEFAULTS[group])}
    if option not in DEFAULTS[group]:
        raise invalid(f"option {option} in group {group} is sensitive and has no default "
                      "to show")
    return {option: DEFAULTS[group][option]}


def security_compliance(settings: IdentityConfig, option: str | None = None
                        ) -> dict[str, Any]:
    """The password rules users may read, to know what a new password must satisfy."""
    values = {name: getattr(settings, name) or None for name in SECURITY_OPTIONS}
    if option is None:
        return {SECURITY_COMPLIANCE: values}
    if option not in values:
        raise invalid(f"reading option {option} of group {SECURITY_COMPLIANCE} is not "
                      "supported")
    return {option: values[option]}
