"""Initial network schema

Revision ID: 0001
Revises: None
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:

    op.create_table('floatingip',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('attrs', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_floatingip_project_id'), 'floatingip',
                    ['project_id'], unique=False)
    op.create_table('network',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('attrs', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_network_project_id'), 'network',
                    ['project_id'], unique=False)
    op.create_table('quota',
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('resource', sa.String(length=64), nullable=False),
    sa.Column('limit', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('project_id', 'resource')
    )
    op.create_table('router',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('attrs', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_router_project_id'), 'router',
                    ['project_id'], unique=False)
    op.create_table('security_group',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('attrs', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_security_group_project_id'), 'security_group',
                    ['project_id'], unique=False)
    op.create_table('segment_allocation',
    sa.Column('network_type', sa.String(length=32), nullable=False),
    sa.Column('physical_network', sa.String(length=64), nullable=False),
    sa.Column('segmentation_id', sa.Integer(), nullable=False),
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('network_type', 'physical_network', 'segmentation_id')
    )
    op.create_index(op.f('ix_segment_allocation_network_id'), 'segment_allocation',
                    ['network_id'], unique=False)
    op.create_table('subnetpool',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('attrs', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_subnetpool_project_id'), 'subnetpool',
                    ['project_id'], unique=False)
    op.create_table('default_security_group',
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('security_group_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['security_group_id'], ['security_group.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id')
    )
    op.create_table('port',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('attrs', sa.JSON(), nullable=False),
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.Column('mac_address', sa.String(length=32), nullable=False),
    sa.Column('device_id', sa.String(length=255), nullable=False),
    sa.Column('device_owner', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['network.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('network_id', 'mac_address', name='uq_port_network_mac')
    )
    op.create_index(op.f('ix_port_device_id'), 'port',
                    ['device_id'], unique=False)
    op.create_index(op.f('ix_port_network_id'), 'port',
                    ['network_id'], unique=False)
    op.create_index(op.f('ix_port_project_id'), 'port',
                    ['project_id'], unique=False)
    op.create_table('security_group_rule',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('attrs', sa.JSON(), nullable=False),
    sa.Column('security_group_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['security_group_id'], ['security_group.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_security_group_rule_project_id'), 'security_group_rule',
                    ['project_id'], unique=False)
    op.create_index(op.f('ix_security_group_rule_security_group_id'), 'security_group_rule',
                    ['security_group_id'], unique=False)
    op.create_table('subnet',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('attrs', sa.JSON(), nullable=False),
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['network.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_subnet_network_id'), 'subnet',
                    ['network_id'], unique=False)
    op.create_index(op.f('ix_subnet_project_id'), 'subnet',
                    ['project_id'], unique=False)
    op.create_table('ip_allocation',
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.Column('ip_address', sa.String(length=64), nullable=False),
    sa.Column('subnet_id', sa.String(length=36), nullable=False),
    sa.Column('port_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['port_id'], ['port.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('network_id', 'ip_address')
    )
    op.create_index(op.f('ix_ip_allocation_port_id'), 'ip_allocation',
                    ['port_id'], unique=False)
    op.create_index(op.f('ix_ip_allocation_subnet_id'), 'ip_allocation',
                    ['subnet_id'], unique=False)
