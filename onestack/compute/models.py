"""Compute tables. Times are epoch seconds (floats); the API renders them as Nova
does. Instances are soft-deleted (``deleted_at`` set) so that admins can still list
them with ``deleted=True`` and their actions stay readable, as upstream."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()


def _times() -> list[sa.Column[float]]:
    return [sa.Column("created_at", sa.Float, nullable=False),
            sa.Column("updated_at", sa.Float, nullable=True)]


# -- flavors and keypairs ----------------------------------------------------------
flavor = sa.Table(
    "flavor", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("flavorid", sa.String(255), nullable=False, unique=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("memory_mb", sa.Integer, nullable=False),
    sa.Column("vcpus", sa.Integer, nullable=False),
    sa.Column("root_gb", sa.Integer, nullable=False),
    sa.Column("ephemeral_gb", sa.Integer, nullable=False, default=0),
    sa.Column("swap", sa.Integer, nullable=False, default=0),
    sa.Column("rxtx_factor", sa.Float, nullable=False, default=1.0),
    sa.Column("is_public", sa.Boolean, nullable=False, default=True),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("description", sa.Text, nullable=True),
    *_times(),
)

flavor_extra_spec = sa.Table(
    "flavor_extra_spec", metadata,
    sa.Column("flavor_id", sa.Integer, sa.ForeignKey("flavor.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)

flavor_project = sa.Table(
    "flavor_project", metadata,
    sa.Column("flavor_id", sa.Integer, sa.ForeignKey("flavor.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("project_id", sa.String(255), primary_key=True),
)

keypair = sa.Table(
    "keypair", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.String(255), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("type", sa.String(16), nullable=False, default="ssh"),
    sa.Column("public_key", sa.Text, nullable=False),
    sa.Column("fingerprint", sa.String(255), nullable=False),
    *_times(),
    sa.UniqueConstraint("user_id", "name", name="uniq_keypair_user_name"),
)

# -- servers -----------------------------------------------------------------------
instance = sa.Table(
    "instance", metadata,
    sa.Column("uuid", sa.String(36), primary_key=True),
    sa.Column("display_name", sa.String(255), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("hostname", sa.String(255), nullable=False, default=""),
    sa.Column("project_id", sa.String(255), nullable=False, index=True),
    sa.Column("user_id", sa.String(255), nullable=False),
    sa.Column("reservation_id", sa.String(255), nullable=False),
    sa.Column("launch_index", sa.Integer, nullable=False, default=0),
    # where it runs (host: the compute service; node: its hypervisor)
    sa.Column("host", sa.String(255), nullable=True, index=True),
    sa.Column("node", sa.String(255), nullable=True),
    sa.Column("availability_zone", sa.String(255), nullable=True),
    sa.Column("pinned_availability_zone", sa.String(255), nullable=True),
    # the flavor as it was at boot (and the old/new ones during a resize)
    sa.Column("flavor", sa.JSON, nullable=False),
    sa.Column("old_flavor", sa.JSON, nullable=True),
    sa.Column("new_flavor", sa.JSON, nullable=True),
    sa.Column("image_ref", sa.String(255), nullable=False, default=""),
    # image properties and other bookkeeping Nova keeps as system metadata
    sa.Column("system_metadata", sa.JSON, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("vm_state", sa.String(32), nullable=False),
    sa.Column("task_state", sa.String(64), nullable=True),
    sa.Column("power_state", sa.Integer, nullable=False, default=0),
    sa.Column("progress", sa.Integer, nullable=False, default=0),
    sa.Column("key_name", sa.String(255), nullable=True),
    sa.Column("key_data", sa.Text, nullable=True),
    sa.Column("user_data", sa.Text, nullable=True),
    sa.Column("config_drive", sa.String(255), nullable=False, default=""),
    sa.Column("access_ip_v4", sa.String(64), nullable=True),
    sa.Column("access_ip_v6", sa.String(64), nullable=True),
    sa.Column("locked_by", sa.String(16), nullable=True),
    sa.Column("locked_reason", sa.Text, nullable=True),
    # what the user asked for: networks, security groups, hints, injected files
    sa.Column("request", sa.JSON, nullable=False),
    # the ports and addresses as last seen (Nova's network info cache)
    sa.Column("network_info", sa.JSON, nullable=False),
    sa.Column("fault", sa.JSON, nullable=True),
    sa.Column("launched_at", sa.Float, nullable=True),
    sa.Column("terminated_at", sa.Float, nullable=True),
    sa.Column("deleted_at", sa.Float, nullable=True, index=True),
    # bumped on every write: updates guard on it (optimistic concurrency)
    sa.Column("generation", sa.Integer, nullable=False, default=0),
    *_times(),
)

instance_action = sa.Table(
    "instance_action", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("instance_uuid", sa.String(36), nullable=False, index=True),
    sa.Column("request_id", sa.String(255), nullable=False),
    sa.Column("action", sa.String(255), nullable=False),
    sa.Column("project_id", sa.String(255), nullable=False),
    sa.Column("user_id", sa.String(255), nullable=False),
    sa.Column("message", sa.String(255), nullable=True),
    sa.Column("start_time", sa.Float, nullable=False),
    sa.Column("finish_time", sa.Float, nullable=True),
    sa.Column("updated_at", sa.Float, nullable=True),
)

instance_action_event = sa.Table(
    "instance_action_event", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("action_id", sa.Integer,
              sa.ForeignKey("instance_action.id", ondelete="CASCADE"), index=True),
    sa.Column("event", sa.String(255), nullable=False),
    sa.Column("start_time", sa.Float, nullable=False),
    sa.Column("finish_time", sa.Float, nullable=True),
    sa.Column("result", sa.String(255), nullable=True),
    sa.Column("traceback", sa.Text, nullable=True),
    sa.Column("host", sa.String(255), nullable=True),
    sa.Column("details", sa.Text, nullable=True),
)

server_group = sa.Table(
    "server_group", metadata,
    sa.Column("uuid", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("project_id", sa.String(255), nullable=False, index=True),
    sa.Column("user_id", sa.String(255), nullable=False),
    sa.Column("policy", sa.String(64), nullable=False),
    sa.Column("rules", sa.JSON, nullable=False),
    *_times(),
)

server_group_member = sa.Table(
    "server_group_member", metadata,
    sa.Column("group_uuid", sa.String(36),
              sa.ForeignKey("server_group.uuid", ondelete="CASCADE"), primary_key=True),
    sa.Column("instance_uuid", sa.String(36), primary_key=True, index=True),
)

migration = sa.Table(
    "migration", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("instance_uuid", sa.String(36), nullable=False, index=True),
    sa.Column("migration_type", sa.String(32), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("source_compute", sa.String(255), nullable=True),
    sa.Column("dest_compute", sa.String(255), nullable=True),
    sa.Column("source_node", sa.String(255), nullable=True),
    sa.Column("dest_node", sa.String(255), nullable=True),
    sa.Column("dest_host", sa.String(255), nullable=True),
    sa.Column("old_flavor_id", sa.String(255), nullable=True),
    sa.Column("new_flavor_id", sa.String(255), nullable=True),
    sa.Column("project_id", sa.String(255), nullable=True),
    sa.Column("user_id", sa.String(255), nullable=True),
    *_times(),
)

# -- hosts -------------------------------------------------------------------------
compute_service = sa.Table(
    "compute_service", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("binary", sa.String(255), nullable=False),
    sa.Column("topic", sa.String(255), nullable=True),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("disabled_reason", sa.String(255), nullable=True),
    sa.Column("forced_down", sa.Boolean, nullable=False, default=False),
    sa.Column("last_seen_up", sa.Float, nullable=True),
    sa.Column("report_count", sa.Integer, nullable=False, default=0),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    *_times(),
    sa.UniqueConstraint("host", "binary", name="uniq_service_host_binary"),
)

compute_node = sa.Table(
    "compute_node", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("service_id", sa.Integer,
              sa.ForeignKey("compute_service.id", ondelete="CASCADE"), nullable=False),
    sa.Column("host", sa.String(255), nullable=False, index=True),
    sa.Column("hypervisor_hostname", sa.String(255), nullable=False, unique=True),
    sa.Column("hypervisor_type", sa.String(255), nullable=False),
    sa.Column("hypervisor_version", sa.Integer, nullable=False),
    sa.Column("host_ip", sa.String(64), nullable=False),
    sa.Column("vcpus", sa.Integer, nullable=False),
    sa.Column("memory_mb", sa.Integer, nullable=False),
    sa.Column("local_gb", sa.Integer, nullable=False),
    sa.Column("cpu_info", sa.Text, nullable=False, default="{}"),
    sa.Column("uptime", sa.String(255), nullable=True),
    *_times(),
)

aggregate = sa.Table(
    "aggregate", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    *_times(),
)

aggregate_host = sa.Table(
    "aggregate_host", metadata,
    sa.Column("aggregate_id", sa.Integer,
              sa.ForeignKey("aggregate.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("host", sa.String(255), primary_key=True),
)

aggregate_metadata = sa.Table(
    "aggregate_metadata", metadata,
    sa.Column("aggregate_id", sa.Integer,
              sa.ForeignKey("aggregate.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)

# -- quotas ------------------------------------------------------------------------
quota = sa.Table(
    "quota", metadata,
    sa.Column("project_id", sa.String(255), primary_key=True),
    # "" for the project's own limit, else a user's limit within the project
    sa.Column("user_id", sa.String(255), primary_key=True, default=""),
    sa.Column("resource", sa.String(255), primary_key=True),
    sa.Column("hard_limit", sa.Integer, nullable=False),
)

quota_class = sa.Table(
    "quota_class", metadata,
    sa.Column("class_name", sa.String(255), primary_key=True),
    sa.Column("resource", sa.String(255), primary_key=True),
    sa.Column("hard_limit", sa.Integer, nullable=False),
)

# -- remote consoles ---------------------------------------------------------------
# One-time tokens of console URLs, kept as their sha256 (a stolen database yields no
# usable token); where the console listens: a TCP host and port, or a Unix socket on
# the compute host.
console_auth_token = sa.Table(
    "console_auth_token", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("instance_uuid", sa.String(36), nullable=False, index=True),
    sa.Column("console_type", sa.String(32), nullable=False),
    sa.Column("compute_host", sa.String(255), nullable=True),
    sa.Column("host", sa.String(255), nullable=True),
    sa.Column("port", sa.Integer, nullable=True),
    sa.Column("path", sa.String(255), nullable=True),
    sa.Column("internal_access_path", sa.String(255), nullable=True),
    sa.Column("expires", sa.Float, nullable=False, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
)
