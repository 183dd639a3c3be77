"""Image tables. Extra properties and tags live in JSON columns of the image row:
Glance's filters on them are applied after the visibility query."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

ID = sa.String(64)

image = sa.Table(
    "image", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(255), nullable=True),
    sa.Column("status", sa.String(30), nullable=False, index=True),
    sa.Column("visibility", sa.String(20), nullable=False, index=True),
    sa.Column("protected", sa.Boolean, nullable=False, default=False),
    sa.Column("os_hidden", sa.Boolean, nullable=False, default=False),
    sa.Column("owner", ID, nullable=True, index=True),
    sa.Column("size", sa.BigInteger, nullable=True),
    sa.Column("virtual_size", sa.BigInteger, nullable=True),
    sa.Column("checksum", sa.String(32), nullable=True),
    sa.Column("os_hash_algo", sa.String(64), nullable=True),
    sa.Column("os_hash_value", sa.String(128), nullable=True),
    sa.Column("min_ram", sa.Integer, nullable=False, default=0),
    sa.Column("min_disk", sa.Integer, nullable=False, default=0),
    sa.Column("disk_format", sa.String(20), nullable=True),
    sa.Column("container_format", sa.String(20), nullable=True),
    sa.Column("properties", sa.JSON, nullable=False, default=dict),
    sa.Column("tags", sa.JSON, nullable=False, default=list),
    # Where the data is: "<store>:<key>", set once the data is complete.
    sa.Column("location", sa.Text, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False, index=True),
)

member = sa.Table(
    "image_member", metadata,
    sa.Column("image_id", sa.String(36), sa.ForeignKey("image.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("member_id", ID, primary_key=True),
    sa.Column("status", sa.String(20), nullable=False, default="pending"),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# The tasks of /v2/tasks ("import") and the records of image imports
# ("api_image_import"). A task outlives its image (a failed import removes the image
# it made), so ``image_id`` is a plain column; ``expires_at`` is set once it ends.
task = sa.Table(
    "image_task", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("image_id", sa.String(36), nullable=True, index=True),
    sa.Column("type", sa.String(30), nullable=False),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("owner", ID, nullable=True),
    sa.Column("user_id", ID, nullable=True),
    sa.Column("request_id", sa.String(64), nullable=True),
    sa.Column("input", sa.JSON, nullable=False, default=dict),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Column("expires_at", sa.Float, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# -- the metadata definitions catalog (metadefs) ----------------------------------------
NAME = sa.String(80)


def _owned_by_namespace() -> sa.Column[int]:
    return sa.Column("namespace_id", sa.Integer,
                     sa.ForeignKey("metadef_namespace.id", ondelete="CASCADE"),
                     nullable=False, index=True)


namespace = sa.Table(
    "metadef_namespace", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("namespace", NAME, nullable=False, unique=True),
    sa.Column("display_name", NAME, nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("visibility", sa.String(32), nullable=False),
    sa.Column("protected", sa.Boolean, nullable=False, default=False),
    sa.Column("owner", sa.String(255), nullable=True, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

resource_type = sa.Table(
    "metadef_resource_type", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", NAME, nullable=False, unique=True),
    sa.Column("protected", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

association = sa.Table(
    "metadef_namespace_resource_type", metadata,
    sa.Column("namespace_id", sa.Integer,
              sa.ForeignKey("metadef_namespace.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("resource_type_id", sa.Integer, sa.ForeignKey("metadef_resource_type.id"),
              primary_key=True),
    sa.Column("prefix", NAME, nullable=True),
    sa.Column("properties_target", NAME, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# Objects, properties and tags: named within their namespace. ``definition`` holds
# what the API documents for each (a property's JSON-schema-like definition; an
# object's description, required list and properties; nothing for a tag).
definition = {
    kind: sa.Table(
        f"metadef_{kind}", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _owned_by_namespace(),
        sa.Column("name", NAME, nullable=False),
        sa.Column("definition", sa.JSON, nullable=False, default=dict),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("namespace_id", "name", name=f"uq_metadef_{kind}_name"),
    )
    for kind in ("object", "property", "tag")
}
