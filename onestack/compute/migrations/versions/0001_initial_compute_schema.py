"""Initial compute schema (development: built from models.py; frozen before release)

Revision ID: 0001
Revises: None
"""

from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    from onestack.compute.models import metadata

    metadata.create_all(op.get_bind())
