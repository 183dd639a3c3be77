"""Initial placement schema

Revision ID: 0001
Revises: None
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:

    op.create_table('consumer',
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('consumer_type', sa.String(length=255), nullable=True),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('uuid')
    )
    op.create_index(op.f('ix_consumer_project_id'), 'consumer',
                    ['project_id'], unique=False)
    op.create_index(op.f('ix_consumer_user_id'), 'consumer',
                    ['user_id'], unique=False)
    op.create_table('resource_class',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('resource_provider',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('root_uuid', sa.String(length=36), nullable=False),
    sa.Column('parent_uuid', sa.String(length=36), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
    sa.UniqueConstraint('uuid')
    )
    op.create_index(op.f('ix_resource_provider_parent_uuid'), 'resource_provider',
                    ['parent_uuid'], unique=False)
    op.create_index(op.f('ix_resource_provider_root_uuid'), 'resource_provider',
                    ['root_uuid'], unique=False)
    op.create_table('trait',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('allocation',
    sa.Column('consumer_uuid', sa.String(length=36), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('resource_class', sa.String(length=255), nullable=False),
    sa.Column('used', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['consumer_uuid'], ['consumer.uuid'], ),
    sa.ForeignKeyConstraint(['provider_id'], ['resource_provider.id'], ),
    sa.PrimaryKeyConstraint('consumer_uuid', 'provider_id', 'resource_class')
    )
    op.create_index(op.f('ix_allocation_provider_id'), 'allocation',
                    ['provider_id'], unique=False)
    op.create_table('inventory',
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('resource_class', sa.String(length=255), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('reserved', sa.Integer(), nullable=False),
    sa.Column('min_unit', sa.Integer(), nullable=False),
    sa.Column('max_unit', sa.Integer(), nullable=False),
    sa.Column('step_size', sa.Integer(), nullable=False),
    sa.Column('allocation_ratio', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['resource_provider.id'], ),
    sa.PrimaryKeyConstraint('provider_id', 'resource_class')
    )
    op.create_table('provider_aggregate',
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('aggregate', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['resource_provider.id'], ),
    sa.PrimaryKeyConstraint('provider_id', 'aggregate')
    )
    op.create_index(op.f('ix_provider_aggregate_aggregate'), 'provider_aggregate',
                    ['aggregate'], unique=False)
    op.create_table('provider_trait',
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('trait', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['resource_provider.id'], ),
    sa.PrimaryKeyConstraint('provider_id', 'trait')
    )
