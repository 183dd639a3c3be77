"""Networking tables. Every resource table has the same standard columns
(Neutron's standard attributes) and keeps its resource-specific attributes in one
JSON column, ``attrs``; the columns the service looks rows up by, and those that
must be unique, are real columns."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

ID = sa.String(36)


def resource_table(name: str, *columns: sa.SchemaItem) -> sa.Table:
    return sa.Table(
        name, metadata,
        sa.Column("id", ID, primary_key=True),
        sa.Column("project_id", sa.String(255), nullable=False, index=True),
        sa.Column("name", sa.String(255), nullable=False, default=""),
        sa.Column("description", sa.String(255), nullable=False, default=""),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("revision_number", sa.Integer, nullable=False, default=0),
        sa.Column("tags", sa.JSON, nullable=False, default=list),
        sa.Column("attrs", sa.JSON, nullable=False, default=dict),
        *columns,
    )


network = resource_table("network")
subnetpool = resource_table("subnetpool")
subnet = resource_table(
    "subnet",
    sa.Column("network_id", ID, sa.ForeignKey("network.id"), nullable=False, index=True),
)
port = resource_table(
    "port",
    sa.Column("network_id", ID, sa.ForeignKey("network.id"), nullable=False, index=True),
    sa.Column("mac_address", sa.String(32), nullable=False),
    sa.Column("device_id", sa.String(255), nullable=False, default="", index=True),
    sa.Column("device_owner", sa.String(255), nullable=False, default=""),
    sa.UniqueConstraint("network_id", "mac_address", name="uq_port_network_mac"),
)
router = resource_table("router")
# The association of a floating IP is looked up from both sides (a port being
# deleted, a router losing its gateway, a network being deleted): real columns.
floatingip = resource_table(
    "floatingip",
    sa.Column("floating_network_id", ID, nullable=True, index=True),
    sa.Column("port_id", ID, nullable=True, index=True),
    sa.Column("router_id", ID, nullable=True, index=True),
)
security_group = resource_table("security_group")
security_group_rule = resource_table(
    "security_group_rule",
    sa.Column("security_group_id", ID, sa.ForeignKey("security_group.id", ondelete="CASCADE"),
              nullable=False, index=True),
)

# The security groups of each port (also in the port's attributes, which the API
# renders): "which ports use this group" is an indexed lookup, not a scan of ports.
port_security_group = sa.Table(
    "port_security_group", metadata,
    sa.Column("port_id", ID, sa.ForeignKey("port.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("security_group_id", ID, sa.ForeignKey("security_group.id"), primary_key=True,
              index=True),
)

# One row per address in use on a network: the primary key is what makes a double
# allocation impossible, whatever the number of concurrent writers.
ip_allocation = sa.Table(
    "ip_allocation", metadata,
    sa.Column("network_id", ID, primary_key=True),
    sa.Column("ip_address", sa.String(64), primary_key=True),
    sa.Column("subnet_id", ID, nullable=False, index=True),
    sa.Column("port_id", ID, sa.ForeignKey("port.id", ondelete="CASCADE"), nullable=False,
              index=True),
)

# Segmentation ids (VXLAN VNIs, VLAN ids) and flat physical networks in use.
segment_allocation = sa.Table(
    "segment_allocation", metadata,
    sa.Column("network_type", sa.String(32), primary_key=True),
    sa.Column("physical_network", sa.String(64), primary_key=True),
    sa.Column("segmentation_id", sa.Integer, primary_key=True),
    sa.Column("network_id", ID, nullable=False, index=True),
)

quota = sa.Table(
    "quota", metadata,
    sa.Column("project_id", sa.String(255), primary_key=True),
    sa.Column("resource", sa.String(64), primary_key=True),
    sa.Column("limit", sa.Integer, nullable=False),
)

# Rows a transaction locks to take its turn at something per project: counting and
# then creating against a quota ("port", ...), making the default security group
# ("default_security_group"). See objects/locks.py.
project_lock = sa.Table(
    "project_lock", metadata,
    sa.Column("project_id", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
)

# A project whose default security group exists (created on first use).
default_security_group = sa.Table(
    "default_security_group", metadata,
    sa.Column("project_id", sa.String(255), primary_key=True),
    sa.Column("security_group_id", ID, sa.ForeignKey("security_group.id", ondelete="CASCADE"),
              nullable=False),
)

# The dataplane agents the backend runs, one per type and host, as their heartbeats
# record them (Neutron's agents table); admin_state_up and description are the
# operator's.
agent = sa.Table(
    "agent", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("agent_type", sa.String(255), nullable=False),
    sa.Column("binary", sa.String(255), nullable=False),
    sa.Column("topic", sa.String(255), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("admin_state_up", sa.Boolean, nullable=False, default=True),
    sa.Column("description", sa.String(255), nullable=True),
    sa.Column("availability_zone", sa.String(255), nullable=True),
    sa.Column("configurations", sa.JSON, nullable=False, default=dict),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("heartbeat_timestamp", sa.Float, nullable=False),
    sa.UniqueConstraint("agent_type", "host", name="uq_agent_type_host"),
)

TABLES: dict[str, sa.Table] = {
    "network": network, "subnet": subnet, "subnetpool": subnetpool, "port": port,
    "router": router, "floatingip": floatingip, "security_group": security_group,
    "security_group_rule": security_group_rule,
}
