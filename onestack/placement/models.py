"""Placement tables. The database is the source of truth; the service keeps an
in-process copy of the same rows (``objects/store.py``) for reads, and every write
goes through SQL first, guarded by the providers' and consumers' ``generation``."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

resource_class = sa.Table(
    "resource_class", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

trait = sa.Table(
    "trait", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

resource_provider = sa.Table(
    "resource_provider", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("generation", sa.Integer, nullable=False, default=0),
    sa.Column("root_uuid", sa.String(36), nullable=False, index=True),
    sa.Column("parent_uuid", sa.String(36), nullable=True, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

inventory = sa.Table(
    "inventory", metadata,
    sa.Column("provider_id", sa.Integer, sa.ForeignKey("resource_provider.id"),
              primary_key=True),
    sa.Column("resource_class", sa.String(255), primary_key=True),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("reserved", sa.Integer, nullable=False),
    sa.Column("min_unit", sa.Integer, nullable=False),
    sa.Column("max_unit", sa.Integer, nullable=False),
    sa.Column("step_size", sa.Integer, nullable=False),
    sa.Column("allocation_ratio", sa.Float, nullable=False),
)

provider_trait = sa.Table(
    "provider_trait", metadata,
    sa.Column("provider_id", sa.Integer, sa.ForeignKey("resource_provider.id"),
              primary_key=True),
    sa.Column("trait", sa.String(255), primary_key=True),
)

provider_aggregate = sa.Table(
    "provider_aggregate", metadata,
    sa.Column("provider_id", sa.Integer, sa.ForeignKey("resource_provider.id"),
              primary_key=True),
    sa.Column("aggregate", sa.String(36), primary_key=True, index=True),
)

consumer = sa.Table(
    "consumer", metadata,
    sa.Column("uuid", sa.String(36), primary_key=True),
    sa.Column("project_id", sa.String(255), nullable=False, index=True),
    sa.Column("user_id", sa.String(255), nullable=False, index=True),
    sa.Column("consumer_type", sa.String(255), nullable=True),
    sa.Column("generation", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

allocation = sa.Table(
    "allocation", metadata,
    sa.Column("consumer_uuid", sa.String(36), sa.ForeignKey("consumer.uuid"),
              primary_key=True),
    sa.Column("provider_id", sa.Integer, sa.ForeignKey("resource_provider.id"),
              primary_key=True, index=True),
    sa.Column("resource_class", sa.String(255), primary_key=True),
    sa.Column("used", sa.Integer, nullable=False),
)
