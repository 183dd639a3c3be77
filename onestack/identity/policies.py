"""Identity's default policy rules, in the oslo.policy language; a policy file may
override any of them. Personas: ``admin`` may do anything; a system-scoped
``reader`` may read everything; project and domain readers read their own scope;
every user manages their own password, credentials and application credentials."""

ADMIN = "role:admin or is_admin:True"
SYSTEM_READER = "role:reader and system_scope:all"
OWNER = "user_id:%(target.user_id)s"
CREDENTIAL_OWNER = "user_id:%(target.credential.user_id)s"
TRUSTOR = "user_id:%(target.trust.trustor_user_id)s"
TRUSTEE = "user_id:%(target.trust.trustee_user_id)s"

DEFAULTS: dict[str, str] = {
    "admin_required": ADMIN,
    "system_reader": SYSTEM_READER,
    "reader": f"rule:admin_required or ({SYSTEM_READER})",
    "owner": OWNER,
    "admin_or_owner": "rule:admin_required or rule:owner",
    "reader_or_owner": "rule:reader or rule:owner",
    "domain_reader": "rule:reader or (role:reader and domain_id:%(target.domain_id)s)",
    "domain_admin": "rule:admin_required",
    # domains
    "identity:get_domain": "rule:domain_reader or project_domain_id:%(target.domain_id)s"
                           " or user_domain_id:%(target.domain_id)s",
    "identity:list_domains": "rule:reader",
    "identity:create_domain": "rule:admin_required",
    "identity:update_domain": "rule:admin_required",
    "identity:delete_domain": "rule:admin_required",
    "identity:domain_config": "rule:admin_required",
    "identity:get_domain_config": "rule:reader",
    "identity:get_security_compliance_domain_config": "@",
    # projects
    "identity:get_project": "rule:domain_reader or project_id:%(target.project_id)s",
    "identity:list_projects": "rule:domain_reader",
    "identity:list_user_projects": "rule:reader_or_owner",
    "identity:create_project": "rule:admin_required",
    "identity:update_project": "rule:admin_required",
    "identity:delete_project": "rule:admin_required",
    "identity:project_tags": "rule:domain_reader or project_id:%(target.project_id)s",
    "identity:update_project_tags": "rule:admin_required",
    # users, groups
    "identity:get_user": "rule:domain_reader or rule:owner",
    "identity:list_users": "rule:domain_reader",
    "identity:create_user": "rule:admin_required",
    "identity:update_user": "rule:admin_required",
    "identity:delete_user": "rule:admin_required",
    "identity:change_password": "rule:owner",
    "identity:get_group": "rule:domain_reader",
    "identity:list_groups": "rule:domain_reader",
    "identity:list_groups_for_user": "rule:reader_or_owner",
    "identity:create_group": "rule:admin_required",
    "identity:update_group": "rule:admin_required",
    "identity:delete_group": "rule:admin_required",
    "identity:list_users_in_group": "rule:domain_reader",
    "identity:check_user_in_group": "rule:domain_reader",
    "identity:add_user_to_group": "rule:admin_required",
    "identity:remove_user_from_group": "rule:admin_required",
    # roles and assignments
    "identity:get_role": "rule:reader",
    "identity:list_roles": "rule:reader",
    "identity:create_role": "rule:admin_required",
    "identity:update_role": "rule:admin_required",
    "identity:delete_role": "rule:admin_required",
    "identity:implied_roles": "rule:reader",
    "identity:manage_implied_roles": "rule:admin_required",
    "identity:check_grant": "rule:reader",
    "identity:list_grants": "rule:reader",
    "identity:create_grant": "rule:admin_required",
    "identity:revoke_grant": "rule:admin_required",
    "identity:list_role_assignments": "rule:reader"
                                      " or (role:reader and project_id:%(scope.project.id)s)"
                                      " or (role:reader and domain_id:%(scope.domain.id)s)",
    "identity:list_system_grants": "rule:reader or rule:owner",
    # catalog
    "identity:get_region": "@",
    "identity:list_regions": "@",
    "identity:manage_regions": "rule:admin_required",
    "identity:get_service": "rule:reader",
    "identity:list_services": "rule:reader",
    "identity:manage_services": "rule:admin_required",
    "identity:get_endpoint": "rule:reader",
    "identity:list_endpoints": "rule:reader",
    "identity:manage_endpoints": "rule:admin_required",
    "identity:endpoint_filters": "rule:admin_required",
    "identity:get_endpoint_filters": "rule:reader",
    "identity:policies": "rule:admin_required",
    "identity:get_policy": "rule:reader",
    "identity:limits_read": "@",
    "identity:limits_write": "rule:admin_required",
    # credentials, application credentials, trusts
    "identity:application_credentials": "rule:admin_or_owner",
    "identity:access_rules": "rule:admin_or_owner",
    "identity:get_credential": f"rule:reader or {CREDENTIAL_OWNER}",
    # applied to each credential: the others are left out of the list
    "identity:list_credentials": f"rule:reader or {CREDENTIAL_OWNER}",
    "identity:create_credential": f"rule:admin_required or {CREDENTIAL_OWNER}",
    "identity:update_credential": f"rule:admin_required or {CREDENTIAL_OWNER}",
    "identity:delete_credential": f"rule:admin_required or {CREDENTIAL_OWNER}",
    "identity:ec2_get_credential": f"rule:reader or {CREDENTIAL_OWNER}",
    "identity:ec2_list_credentials": "rule:reader_or_owner",
    "identity:ec2_create_credential": "rule:admin_or_owner",
    "identity:ec2_delete_credential": f"rule:admin_required or {CREDENTIAL_OWNER}",
    # OS-TRUST: the trustor creates (and deletes); both parties read
    "identity:create_trust": "user_id:%(trust.trustor_user_id)s",
    "identity:list_trusts": "rule:reader",
    "identity:list_trusts_for_trustor": f"rule:reader or {TRUSTOR}",
    "identity:list_trusts_for_trustee": f"rule:reader or {TRUSTEE}",
    "identity:get_trust": f"rule:reader or {TRUSTOR} or {TRUSTEE}",
    "identity:list_roles_for_trust": f"rule:reader or {TRUSTOR} or {TRUSTEE}",
    "identity:get_role_for_trust": f"rule:reader or {TRUSTOR} or {TRUSTEE}",
    "identity:delete_trust": f"rule:admin_required or {TRUSTOR}",
    # OS-OAUTH1 consumers
    "identity:get_consumer": "rule:reader",
    "identity:list_consumers": "rule:reader",
    "identity:create_consumer": "rule:admin_required",
    "identity:update_consumer": "rule:admin_required",
    "identity:delete_consumer": "rule:admin_required",
    # tokens
    "identity:validate_token": "rule:admin_required or rule:reader or rule:owner"
                               " or role:service",
    "identity:revoke_token": "rule:admin_required or rule:owner",
    "identity:revocation_list": "rule:admin_required or role:service",
}
