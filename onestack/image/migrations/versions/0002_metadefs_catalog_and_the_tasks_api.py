"""metadefs catalog and the tasks API

Revision ID: 0002
Revises: 0001
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = '0001'

RESOURCE_TYPES = ("OS::Glance::Image", "OS::Cinder::Volume", "OS::Nova::Flavor",
                  "OS::Nova::Aggregate", "OS::Nova::Server", "OS::Trove::Instance")


def upgrade() -> None:

    op.create_table('metadef_namespace',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('namespace', sa.String(length=80), nullable=False),
    sa.Column('display_name', sa.String(length=80), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('visibility', sa.String(length=32), nullable=False),
    sa.Column('protected', sa.Boolean(), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('namespace')
    )
    op.create_index(op.f('ix_metadef_namespace_owner'), 'metadef_namespace',
                    ['owner'], unique=False)
    op.create_table('metadef_resource_type',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('protected', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('metadef_namespace_resource_type',
    sa.Column('namespace_id', sa.Integer(), nullable=False),
    sa.Column('resource_type_id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=80), nullable=True),
    sa.Column('properties_target', sa.String(length=80), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['namespace_id'], ['metadef_namespace.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_type_id'], ['metadef_resource_type.id'], ),
    sa.PrimaryKeyConstraint('namespace_id', 'resource_type_id')
    )
    op.create_table('metadef_object',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('namespace_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['namespace_id'], ['metadef_namespace.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('namespace_id', 'name', name='uq_metadef_object_name')
    )
    op.create_index(op.f('ix_metadef_object_namespace_id'), 'metadef_object',
                    ['namespace_id'], unique=False)
    op.create_table('metadef_property',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('namespace_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['namespace_id'], ['metadef_namespace.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('namespace_id', 'name', name='uq_metadef_property_name')
    )
    op.create_index(op.f('ix_metadef_property_namespace_id'), 'metadef_property',
                    ['namespace_id'], unique=False)
    op.create_table('metadef_tag',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('namespace_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['namespace_id'], ['metadef_namespace.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('namespace_id', 'name', name='uq_metadef_tag_name')
    )
    op.create_index(op.f('ix_metadef_tag_namespace_id'), 'metadef_tag',
                    ['namespace_id'], unique=False)
    # image_task: a task outlives its image (no foreign key, image_id optional), and
    # has a result and an expiry. Batch mode: SQLite rebuilds the table, the others
    # alter it. The foreign key is unnamed on SQLite; the convention names it there.
    foreign_keys = [fk["name"] or "fk_image_task_image_id_image"
                    for fk in sa.inspect(op.get_bind()).get_foreign_keys("image_task")
                    if fk["referred_table"] == "image"]
    with op.batch_alter_table("image_task", naming_convention={
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}) as batch:
        for name in foreign_keys:
            batch.drop_constraint(name, type_="foreignkey")
        batch.alter_column("image_id", existing_type=sa.String(length=36), nullable=True)
        batch.add_column(sa.Column("result", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.Float(), nullable=True))
    # The resource types OpenStack services attach metadata to.
    moment = time.time()
    op.bulk_insert(sa.table("metadef_resource_type", sa.column("name", sa.String),
                            sa.column("protected", sa.Boolean),
                            sa.column("created_at", sa.Float),
                            sa.column("updated_at", sa.Float)),
                   [{"name": name, "protected": True, "created_at": moment,
                     "updated_at": moment} for name in RESOURCE_TYPES])
