"""Floating IP association columns, port security group bindings, agents, project locks

Revision ID: 0002
Revises: 0001
"""

import json

import sqlalchemy as sa
from alembic import op

FIP_COLUMNS = ("floating_network_id", "port_id", "router_id")

revision = "0002"
down_revision = '0001'


def upgrade() -> None:

    op.create_table('agent',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('agent_type', sa.String(length=255), nullable=False),
    sa.Column('binary', sa.String(length=255), nullable=False),
    sa.Column('topic', sa.String(length=255), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('availability_zone', sa.String(length=255), nullable=True),
    sa.Column('configurations', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('started_at', sa.Float(), nullable=False),
    sa.Column('heartbeat_timestamp', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('agent_type', 'host', name='uq_agent_type_host')
    )
    op.create_table('port_security_group',
    sa.Column('port_id', sa.String(length=36), nullable=False),
    sa.Column('security_group_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['port_id'], ['port.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['security_group_id'], ['security_group.id'], ),
    sa.PrimaryKeyConstraint('port_id', 'security_group_id')
    )
    op.create_table('project_lock',
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('project_id', 'name')
    )
    op.create_index(op.f('ix_port_security_group_security_group_id'),
                    'port_security_group', ['security_group_id'], unique=False)
    for name in FIP_COLUMNS:
        op.add_column('floatingip', sa.Column(name, sa.String(length=36), nullable=True))
        op.create_index(op.f(f'ix_floatingip_{name}'), 'floatingip', [name], unique=False)
    _move_floatingip_attributes()
    _bind_port_groups()


def _attrs(value: object) -> dict:
    found = json.loads(value) if isinstance(value, str | bytes) else value
    return found if isinstance(found, dict) else {}


def _move_floatingip_attributes() -> None:
    """What the JSON attributes held now lives in the new columns."""
    bind = op.get_bind()
    fip = sa.table("floatingip", sa.column("id"), sa.column("attrs", sa.JSON),
                   *(sa.column(name) for name in FIP_COLUMNS))
    for ident, raw in bind.execute(sa.select(fip.c.id, sa.type_coerce(fip.c.attrs, sa.Text)))\
            .all():
        attrs = _attrs(raw)
        moved = {name: attrs.pop(name, None) for name in FIP_COLUMNS}
        bind.execute(sa.update(fip).where(fip.c.id == ident).values(**moved, attrs=attrs))


def _bind_port_groups() -> None:
    bind = op.get_bind()
    port = sa.table("port", sa.column("id"), sa.column("attrs"))
    group = sa.table("security_group", sa.column("id"))
    binding = sa.table("port_security_group", sa.column("port_id"),
                       sa.column("security_group_id"))
    groups = set(bind.execute(sa.select(group.c.id)).scalars())
    rows = []
    for ident, raw in bind.execute(sa.select(port.c.id, sa.type_coerce(port.c.attrs, sa.Text))):
        for group_id in dict.fromkeys(_attrs(raw).get("security_groups") or []):
            if group_id in groups:
                rows.append({"port_id": ident, "security_group_id": group_id})
    if rows:
        bind.execute(sa.insert(binding), rows)
