"""Identity tables. Domains are projects with ``is_domain`` set, as in Keystone, so a
project tree and its domain share one table and one hierarchy."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# Keystone's sentinel for "no domain": a domain's own domain_id, and a global role's.
ROOT_DOMAIN = "<<keystone.domain.root>>"
NULL_DOMAIN = "<<null>>"

ID = sa.String(64)

project = sa.Table(
    "project", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("domain_id", ID, nullable=False),
    sa.Column("parent_id", ID, sa.ForeignKey("project.id"), nullable=True),
    sa.Column("is_domain", sa.Boolean, nullable=False, default=False),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("extra", sa.JSON, nullable=False, default=dict),
    sa.Column("options", sa.JSON, nullable=False, default=dict),
    sa.UniqueConstraint("domain_id", "name", name="uq_project_domain_name"),
)

project_tag = sa.Table(
    "project_tag", metadata,
    sa.Column("project_id", ID, sa.ForeignKey("project.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
)

user = sa.Table(
    "user", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("domain_id", ID, nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("default_project_id", ID, nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("extra", sa.JSON, nullable=False, default=dict),
    sa.Column("options", sa.JSON, nullable=False, default=dict),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("last_active_at", sa.Float, nullable=True),
    sa.Column("failed_auth_count", sa.Integer, nullable=False, default=0),
    sa.Column("failed_auth_at", sa.Float, nullable=True),
    sa.UniqueConstraint("domain_id", "name", name="uq_user_domain_name"),
)

password = sa.Table(
    "password", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", ID, sa.ForeignKey("user.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=True),
    sa.Column("self_service", sa.Boolean, nullable=False, default=False),
)

group = sa.Table(
    "group", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("domain_id", ID, nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("extra", sa.JSON, nullable=False, default=dict),
    sa.UniqueConstraint("domain_id", "name", name="uq_group_domain_name"),
)

user_group = sa.Table(
    "user_group_membership", metadata,
    sa.Column("user_id", ID, sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("group_id", ID, sa.ForeignKey("group.id", ondelete="CASCADE"),
              primary_key=True),
)

role = sa.Table(
    "role", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("domain_id", ID, nullable=False, default=NULL_DOMAIN),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("extra", sa.JSON, nullable=False, default=dict),
    sa.Column("options", sa.JSON, nullable=False, default=dict),
    sa.UniqueConstraint("name", "domain_id", name="uq_role_name_domain"),
)

implied_role = sa.Table(
    "implied_role", metadata,
    sa.Column("prior_role_id", ID, sa.ForeignKey("role.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("implied_role_id", ID, sa.ForeignKey("role.id", ondelete="CASCADE"),
              primary_key=True),
)

# type: UserProject, GroupProject, UserDomain, GroupDomain, UserSystem, GroupSystem
assignment = sa.Table(
    "assignment", metadata,
    sa.Column("type", sa.String(16), primary_key=True),
    sa.Column("actor_id", ID, primary_key=True),
    sa.Column("target_id", ID, primary_key=True),
    sa.Column("role_id", ID, sa.ForeignKey("role.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("inherited", sa.Boolean, primary_key=True, default=False),
    sa.Index("ix_assignment_actor", "actor_id"),
    sa.Index("ix_assignment_target", "target_id"),
)

region = sa.Table(
    "region", metadata,
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("parent_region_id", sa.String(255), nullable=True),
    sa.Column("extra", sa.JSON, nullable=False, default=dict),
)

service = sa.Table(
    "service", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("type", sa.String(255), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("extra", sa.JSON, nullable=False, default=dict),
)

endpoint = sa.Table(
    "endpoint", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("interface", sa.String(8), nullable=False),
    sa.Column("service_id", ID, sa.ForeignKey("service.id"), nullable=False),
    sa.Column("region_id", sa.String(255), sa.ForeignKey("region.id"), nullable=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("extra", sa.JSON, nullable=False, default=dict),
)

credential = sa.Table(
    "credential", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("user_id", ID, nullable=False, index=True),
    sa.Column("project_id", ID, nullable=True),
    sa.Column("type", sa.String(255), nullable=False),
    # The blob is stored encrypted with the credential key repository.
    sa.Column("encrypted_blob", sa.Text, nullable=False),
    sa.Column("extra", sa.JSON, nullable=False, default=dict),
)

application_credential = sa.Table(
    "application_credential", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("secret_hash", sa.String(255), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("user_id", ID, nullable=False),
    sa.Column("project_id", ID, nullable=True),
    sa.Column("system", sa.String(64), nullable=True),
    sa.Column("expires_at", sa.Float, nullable=True),
    sa.Column("unrestricted", sa.Boolean, nullable=False, default=False),
    sa.Column("roles", sa.JSON, nullable=False, default=list),
    sa.Column("access_rules", sa.JSON, nullable=False, default=list),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("user_id", "name", name="uq_app_cred_user_name"),
)

access_rule = sa.Table(
    "access_rule", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("user_id", ID, nullable=False, index=True),
    sa.Column("service", sa.String(64), nullable=False),
    sa.Column("path", sa.String(128), nullable=False),
    sa.Column("method", sa.String(16), nullable=False),
)

trust = sa.Table(
    "trust", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("trustor_user_id", ID, nullable=False),
    sa.Column("trustee_user_id", ID, nullable=False),
    sa.Column("project_id", ID, nullable=True),
    sa.Column("impersonation", sa.Boolean, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=True),
    sa.Column("remaining_uses", sa.Integer, nullable=True),
    sa.Column("redelegation_count", sa.Integer, nullable=True),
    sa.Column("redelegated_trust_id", ID, nullable=True),
    sa.Column("roles", sa.JSON, nullable=False, default=list),
    sa.Column("deleted_at", sa.Float, nullable=True),
    sa.Column("extra", sa.JSON, nullable=False, default=dict),
)

# OS-OAUTH1 consumers; the secret signs requests (HMAC), so it is kept encrypted with
# the credential key repository rather than hashed.
consumer = sa.Table(
    "consumer", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("encrypted_secret", sa.Text, nullable=False),
    sa.Column("extra", sa.JSON, nullable=False, default=dict),
)

revocation_event = sa.Table(
    "revocation_event", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", ID, nullable=True),
    sa.Column("project_id", ID, nullable=True),
    sa.Column("domain_id", ID, nullable=True),
    sa.Column("role_id", ID, nullable=True),
    sa.Column("trust_id", ID, nullable=True),
    sa.Column("audit_id", sa.String(32), nullable=True),
    sa.Column("audit_chain_id", sa.String(32), nullable=True),
    sa.Column("app_cred_id", ID, nullable=True),
    sa.Column("expires_at", sa.Float, nullable=True),
    sa.Column("issued_before", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float, nullable=False, index=True),
)

policy = sa.Table(
    "policy", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("type", sa.String(255), nullable=False),
    sa.Column("blob", sa.Text, nullable=False),
    sa.Column("extra", sa.JSON, nullable=False, default=dict),
)

endpoint_group = sa.Table(
    "endpoint_group", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("filters", sa.JSON, nullable=False),
)

project_endpoint = sa.Table(
    "project_endpoint", metadata,
    sa.Column("endpoint_id", ID, primary_key=True),
    sa.Column("project_id", ID, primary_key=True),
)

project_endpoint_group = sa.Table(
    "project_endpoint_group", metadata,
    sa.Column("endpoint_group_id", ID, sa.ForeignKey("endpoint_group.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("project_id", ID, primary_key=True),
)

registered_limit = sa.Table(
    "registered_limit", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("service_id", ID, nullable=False),
    sa.Column("region_id", sa.String(255), nullable=True),
    sa.Column("resource_name", sa.String(255), nullable=False),
    sa.Column("default_limit", sa.Integer, nullable=False),
    sa.Column("description", sa.Text, nullable=True),
)

limit = sa.Table(
    "limit", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("project_id", ID, nullable=True),
    sa.Column("domain_id", ID, nullable=True),
    sa.Column("registered_limit_id", ID,
              sa.ForeignKey("registered_limit.id", ondelete="CASCADE"), nullable=False),
    sa.Column("resource_limit", sa.Integer, nullable=False),
    sa.Column("description", sa.Text, nullable=True),
)

domain_config = sa.Table(
    "domain_config", metadata,
    sa.Column("domain_id", ID, primary_key=True),
    sa.Column("group", sa.String(255), primary_key=True),
    sa.Column("option", sa.String(255), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
)
