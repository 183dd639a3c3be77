"""Initial compute schema

Revision ID: 0001
Revises: None
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:

    op.create_table('aggregate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
    sa.UniqueConstraint('uuid')
    )
    op.create_table('compute_service',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('binary', sa.String(length=255), nullable=False),
    sa.Column('topic', sa.String(length=255), nullable=True),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('disabled_reason', sa.String(length=255), nullable=True),
    sa.Column('forced_down', sa.Boolean(), nullable=False),
    sa.Column('last_seen_up', sa.Float(), nullable=True),
    sa.Column('report_count', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('host', 'binary', name='uniq_service_host_binary'),
    sa.UniqueConstraint('uuid')
    )
    op.create_table('flavor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('flavorid', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('memory_mb', sa.Integer(), nullable=False),
    sa.Column('vcpus', sa.Integer(), nullable=False),
    sa.Column('root_gb', sa.Integer(), nullable=False),
    sa.Column('ephemeral_gb', sa.Integer(), nullable=False),
    sa.Column('swap', sa.Integer(), nullable=False),
    sa.Column('rxtx_factor', sa.Float(), nullable=False),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('flavorid'),
    sa.UniqueConstraint('name')
    )
    op.create_table('instance',
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('display_name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('hostname', sa.String(length=255), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('reservation_id', sa.String(length=255), nullable=False),
    sa.Column('launch_index', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('node', sa.String(length=255), nullable=True),
    sa.Column('availability_zone', sa.String(length=255), nullable=True),
    sa.Column('pinned_availability_zone', sa.String(length=255), nullable=True),
    sa.Column('flavor', sa.JSON(), nullable=False),
    sa.Column('old_flavor', sa.JSON(), nullable=True),
    sa.Column('new_flavor', sa.JSON(), nullable=True),
    sa.Column('image_ref', sa.String(length=255), nullable=False),
    sa.Column('system_metadata', sa.JSON(), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('vm_state', sa.String(length=32), nullable=False),
    sa.Column('task_state', sa.String(length=64), nullable=True),
    sa.Column('power_state', sa.Integer(), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('key_name', sa.String(length=255), nullable=True),
    sa.Column('key_data', sa.Text(), nullable=True),
    sa.Column('user_data', sa.Text(), nullable=True),
    sa.Column('config_drive', sa.String(length=255), nullable=False),
    sa.Column('access_ip_v4', sa.String(length=64), nullable=True),
    sa.Column('access_ip_v6', sa.String(length=64), nullable=True),
    sa.Column('locked_by', sa.String(length=16), nullable=True),
    sa.Column('locked_reason', sa.Text(), nullable=True),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('network_info', sa.JSON(), nullable=False),
    sa.Column('fault', sa.JSON(), nullable=True),
    sa.Column('launched_at', sa.Float(), nullable=True),
    sa.Column('terminated_at', sa.Float(), nullable=True),
    sa.Column('deleted_at', sa.Float(), nullable=True),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('uuid')
    )
    op.create_index(op.f('ix_instance_deleted_at'), 'instance', ['deleted_at'], unique=False)
    op.create_index(op.f('ix_instance_host'), 'instance', ['host'], unique=False)
    op.create_index(op.f('ix_instance_project_id'), 'instance', ['project_id'], unique=False)
    op.create_table('instance_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance_uuid', sa.String(length=36), nullable=False),
    sa.Column('request_id', sa.String(length=255), nullable=False),
    sa.Column('action', sa.String(length=255), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('message', sa.String(length=255), nullable=True),
    sa.Column('start_time', sa.Float(), nullable=False),
    sa.Column('finish_time', sa.Float(), nullable=True),
    sa.Column('updated_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_instance_action_instance_uuid'),
                    'instance_action',
                    ['instance_uuid'], unique=False)
    op.create_table('keypair',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('public_key', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'name', name='uniq_keypair_user_name')
    )
    op.create_table('migration',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('instance_uuid', sa.String(length=36), nullable=False),
    sa.Column('migration_type', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('source_compute', sa.String(length=255), nullable=True),
    sa.Column('dest_compute', sa.String(length=255), nullable=True),
    sa.Column('source_node', sa.String(length=255), nullable=True),
    sa.Column('dest_node', sa.String(length=255), nullable=True),
    sa.Column('dest_host', sa.String(length=255), nullable=True),
    sa.Column('old_flavor_id', sa.String(length=255), nullable=True),
    sa.Column('new_flavor_id', sa.String(length=255), nullable=True),
    sa.Column('project_id', sa.String(length=255), nullable=True),
    sa.Column('user_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uuid')
    )
    op.create_index(op.f('ix_migration_instance_uuid'),
                    'migration',
                    ['instance_uuid'], unique=False)
    op.create_table('quota',
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('resource', sa.String(length=255), nullable=False),
    sa.Column('hard_limit', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('project_id', 'user_id', 'resource')
    )
    op.create_table('quota_class',
    sa.Column('class_name', sa.String(length=255), nullable=False),
    sa.Column('resource', sa.String(length=255), nullable=False),
    sa.Column('hard_limit', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('class_name', 'resource')
    )
    op.create_table('server_group',
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('policy', sa.String(length=64), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('uuid')
    )
    op.create_index(op.f('ix_server_group_project_id'),
                    'server_group',
                    ['project_id'], unique=False)
    op.create_table('aggregate_host',
    sa.Column('aggregate_id', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['aggregate_id'], ['aggregate.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('aggregate_id', 'host')
    )
    op.create_table('aggregate_metadata',
    sa.Column('aggregate_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['aggregate_id'], ['aggregate.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('aggregate_id', 'key')
    )
    op.create_table('compute_node',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('hypervisor_hostname', sa.String(length=255), nullable=False),
    sa.Column('hypervisor_type', sa.String(length=255), nullable=False),
    sa.Column('hypervisor_version', sa.Integer(), nullable=False),
    sa.Column('host_ip', sa.String(length=64), nullable=False),
    sa.Column('vcpus', sa.Integer(), nullable=False),
    sa.Column('memory_mb', sa.Integer(), nullable=False),
    sa.Column('local_gb', sa.Integer(), nullable=False),
    sa.Column('cpu_info', sa.Text(), nullable=False),
    sa.Column('uptime', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['service_id'], ['compute_service.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hypervisor_hostname'),
    sa.UniqueConstraint('uuid')
    )
    op.create_index(op.f('ix_compute_node_host'), 'compute_node', ['host'], unique=False)
    op.create_table('flavor_extra_spec',
    sa.Column('flavor_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['flavor_id'], ['flavor.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('flavor_id', 'key')
    )
    op.create_table('flavor_project',
    sa.Column('flavor_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['flavor_id'], ['flavor.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('flavor_id', 'project_id')
    )
    op.create_table('instance_action_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=True),
    sa.Column('event', sa.String(length=255), nullable=False),
    sa.Column('start_time', sa.Float(), nullable=False),
    sa.Column('finish_time', sa.Float(), nullable=True),
    sa.Column('result', sa.String(length=255), nullable=True),
    sa.Column('traceback', sa.Text(), nullable=True),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('details', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['action_id'], ['instance_action.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_instance_action_event_action_id'),
                    'instance_action_event',
                    ['action_id'], unique=False)
    op.create_table('server_group_member',
    sa.Column('group_uuid', sa.String(length=36), nullable=False),
    sa.Column('instance_uuid', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['group_uuid'], ['server_group.uuid'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_uuid', 'instance_uuid')
    )
    op.create_index(op.f('ix_server_group_member_instance_uuid'),
                    'server_group_member',
                    ['instance_uuid'], unique=False)
