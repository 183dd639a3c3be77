"""Placement's default policy rules, in the oslo.policy language; a policy file may
override any of them. Placement is an admin and service API: every rule asks for the
``admin`` or the ``service`` role, except the version document, which is public."""

ADMIN_OR_SERVICE = "role:admin or role:service or is_admin:True"

DEFAULTS: dict[str, str] = {
    "admin_or_service": ADMIN_OR_SERVICE,
    "placement:resource_providers:list": "rule:admin_or_service",
    "placement:resource_providers:create": "rule:admin_or_service",
    "placement:resource_providers:show": "rule:admin_or_service",
    "placement:resource_providers:update": "rule:admin_or_service",
    "placement:resource_providers:delete": "rule:admin_or_service",
    "placement:resource_providers:inventories": "rule:admin_or_service",
    "placement:resource_providers:aggregates": "rule:admin_or_service",
    "placement:resource_providers:traits": "rule:admin_or_service",
    "placement:resource_providers:usages": "rule:admin_or_service",
    "placement:resource_providers:allocations:list": "rule:admin_or_service",
    "placement:resource_classes": "rule:admin_or_service",
    "placement:traits": "rule:admin_or_service",
    "placement:allocations": "rule:admin_or_service",
    "placement:allocation_candidates:list": "rule:admin_or_service",
    "placement:usages": "rule:admin_or_service",
    "placement:reshaper:reshape": "rule:admin_or_service",
}
