"""Every route of the identity service: path -> method -> handler."""

from __future__ import annotations

from onestack.identity.handlers import (
    app_creds,
    assignments,
    auth,
    catalog,
    domains,
    groups,
    projects,
    roles,
    users,
    versions,
)
from onestack.kernel.api.routing import RouteTable

ROUTES: RouteTable = {
    "/": {"GET": versions.root},
    "/v3": {"GET": versions.v3},
    # tokens and the caller's own view
    "/v3/auth/tokens": {"POST": auth.issue_token, "GET": auth.validate_token,
                        "DELETE": auth.revoke_token},
    "/v3/auth/catalog": {"GET": auth.auth_catalog},
    "/v3/auth/projects": {"GET": auth.auth_projects},
    "/v3/auth/domains": {"GET": auth.auth_domains},
    "/v3/auth/system": {"GET": auth.auth_system},
    "/v3/OS-REVOKE/events": {"GET": auth.revocation_events},
    # domains and projects
    "/v3/domains": {"GET": domains.list_domains, "POST": domains.create_domain},
    "/v3/domains/{domain_id}": {"GET": domains.get_domain, "PATCH": domains.update_domain,
                                "DELETE": domains.delete_domain},
    "/v3/projects": {"GET": projects.list_projects, "POST": projects.create_project},
    "/v3/projects/{project_id}": {"GET": projects.get_project,
                                  "PATCH": projects.update_project,
                                  "DELETE": projects.delete_project},
    "/v3/projects/{project_id}/tags": {"GET": projects.list_tags, "PUT": projects.replace_tags,
                                       "DELETE": projects.remove_all_tags},
    "/v3/projects/{project_id}/tags/{tag}": {"GET": projects.check_tag,
                                             "PUT": projects.add_tag,
                                             "DELETE": projects.remove_tag},
    # users and groups
    "/v3/users": {"GET": users.list_users, "POST": users.create_user},
    "/v3/users/{user_id}": {"GET": users.get_user, "PATCH": users.update_user,
                            "DELETE": users.delete_user},
    "/v3/users/{user_id}/password": {"POST": users.change_password},
    "/v3/users/{user_id}/projects": {"GET": users.list_user_projects},
    "/v3/users/{user_id}/groups": {"GET": users.list_user_groups},
    "/v3/users/{user_id}/application_credentials": {"GET": app_creds.list_creds,
                                                    "POST": app_creds.create},
    "/v3/users/{user_id}/application_credentials/{app_cred_id}": {
        "GET": app_creds.get_cred, "DELETE": app_creds.delete_cred},
    "/v3/users/{user_id}/access_rules": {"GET": app_creds.list_rules},
    "/v3/users/{user_id}/access_rules/{rule_id}": {"GET": app_creds.get_rule,
                                                   "DELETE": app_creds.delete_rule},
    "/v3/groups": {"GET": groups.list_groups, "POST": groups.create_group},
    "/v3/groups/{group_id}": {"GET": groups.get_group, "PATCH": groups.update_group,
                              "DELETE": groups.delete_group},
    "/v3/groups/{group_id}/users": {"GET": groups.list_members},
    "/v3/groups/{group_id}/users/{user_id}": {"PUT": groups.add_member,
                                              "HEAD": groups.check_member,
                                              "GET": groups.check_member,
                                              "DELETE": groups.remove_member},
    # roles, inference rules and assignments
    "/v3/roles": {"GET": roles.list_roles, "POST": roles.create_role},
    "/v3/roles/{role_id}": {"GET": roles.get_role, "PATCH": roles.update_role,
                            "DELETE": roles.delete_role},
    "/v3/roles/{prior_role_id}/implies": {"GET": roles.list_implied},
    "/v3/roles/{prior_role_id}/implies/{implied_role_id}": {
        "PUT": roles.create_implied, "GET": roles.get_implied, "HEAD": roles.check_implied,
        "DELETE": roles.delete_implied},
    "/v3/role_inferences": {"GET": roles.list_inferences},
    "/v3/role_assignments": {"GET": assignments.list_role_assignments},
    **assignments.grant_routes(),
    # catalog
    "/v3/regions": {"GET": catalog.list_regions, "POST": catalog.create_region},
    "/v3/regions/{region_id}": {"GET": catalog.get_region, "PUT": catalog.create_region_with_id,
                                "PATCH": catalog.update_region,
                                "DELETE": catalog.delete_region},
    "/v3/services": {"GET": catalog.list_services, "POST": catalog.create_service},
    "/v3/services/{service_id}": {"GET": catalog.get_service,
                                  "PATCH": catalog.update_service,
                                  "DELETE": catalog.delete_service},
    "/v3/endpoints": {"GET": catalog.list_endpoints, "POST": catalog.create_endpoint},
    "/v3/endpoints/{endpoint_id}": {"GET": catalog.get_endpoint,
                                    "PATCH": catalog.update_endpoint,
                                    "DELETE": catalog.delete_endpoint},
}
