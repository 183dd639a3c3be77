"""Image JSON schemas: the documents ``/v2/schemas/*`` publish (clients validate with
them) and the rules create and update apply to each attribute."""

from __future__ import annotations

from typing import Any

DISK_FORMATS = ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso",
                "ploop"]
CONTAINER_FORMATS = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]
STATUSES = ["queued", "saving", "active", "killed", "deleted", "uploading", "importing",
            "pending_delete", "deactivated"]
VISIBILITIES = ["community", "public", "private", "shared"]
UUID = "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"

# Attributes the server sets: a client naming them is refused (403).
READ_ONLY = {"status", "checksum", "os_hash_algo", "os_hash_value", "size", "virtual_size",
             "created_at", "updated_at", "direct_url", "self", "file", "schema", "stores",
             "locations"}
RESERVED = {"location", "deleted", "deleted_at"}

ATTRIBUTES: dict[str, dict[str, Any]] = {
    "id": {"type": "string", "pattern": UUID,
           "description": "An identifier for the image"},
    "name": {"type": ["null", "string"], "maxLength": 255,
             "description": "Descriptive name for the image"},
    "status": {"type": "string", "readOnly": True, "enum": STATUSES,
               "description": "Status of the image"},
    "visibility": {"type": "string", "enum": VISIBILITIES,
                   "description": "Scope of image accessibility"},
    "protected": {"type": "boolean",
                  "description": "If true, image will not be deletable."},
    "os_hidden": {"type": "boolean",
                  "description": "If true, image will not appear in default image list "
                                 "response."},
    "checksum": {"type": ["null", "string"], "readOnly": True, "maxLength": 32,
                 "description": "md5 hash of image contents."},
    "os_hash_algo": {"type": ["null", "string"], "readOnly": True, "maxLength": 64,
                     "description": "Algorithm to calculate the os_hash_value"},
    "os_hash_value": {"type": ["null", "string"], "readOnly": True, "maxLength": 128,
                      "description": "Hexdigest of the image contents"},
    "owner": {"type": ["null", "string"], "maxLength": 255,
              "description": "Owner of the image"},
    "size": {"type": ["null", "integer"], "readOnly": True,
             "description": "Size of image file in bytes"},
    "virtual_size": {"type": ["null", "integer"], "readOnly": True,
                     "description": "Virtual size of image in bytes"},
    "container_format": {"type": ["null", "string"], "enum": [None, *CONTAINER_FORMATS],
                         "description": "Format of the container"},
    "disk_format": {"type": ["null", "string"], "enum": [None, *DISK_FORMATS],
                    "description": "Format of the disk"},
    "created_at": {"type": "string", "readOnly": True,
                   "description": "Date and time of image registration"},
    "updated_at": {"type": "string", "readOnly": True,
                   "description": "Date and time of the last image modification"},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 255},
             "description": "List of strings related to the image"},
    "direct_url": {"type": "string", "readOnly": True,
                   "description": "URL to access the image file kept in external store"},
    "min_ram": {"type": "integer", "minimum": 0,
                "description": "Amount of ram (in MB) required to boot image."},
    "min_disk": {"type": "integer", "minimum": 0,
                 "description": "Amount of disk space (in GB) required to boot image."},
    "self": {"type": "string", "readOnly": True, "description": "An image self url"},
    "file": {"type": "string", "readOnly": True, "description": "An image file url"},
    "stores": {"type": "string", "readOnly": True,
               "description": "Store in which image data resides."},
    "schema": {"type": "string", "readOnly": True,
               "description": "An image schema url"},
    "locations": {"type": "array", "items": {"type": "object"},
                  "description": "A set of URLs to access the image file kept in "
                                 "external store"},
    "kernel_id": {"type": ["null", "string"], "pattern": UUID, "is_base": False,
                  "description": "ID of image stored in Glance that should be used as the "
                                 "kernel when booting an AMI-style image."},
    "ramdisk_id": {"type": ["null", "string"], "pattern": UUID, "is_base": False,
                   "description": "ID of image stored in Glance that should be used as the "
                                  "ramdisk when booting an AMI-style image."},
    "instance_uuid": {"type": "string", "is_base": False,
                      "description": "Metadata which can be used to record which instance "
                                     "this image is associated with."},
    "architecture": {"type": "string", "is_base": False,
                     "description": "Operating system architecture"},
    "os_distro": {"type": "string", "is_base": False,
                  "description": "Common name of operating system distribution"},
    "os_version": {"type": "string", "is_base": False,
                   "description": "Operating system version as specified by the "
                                  "distributor"},
    "description": {"type": "string", "is_base": False,
                    "description": "A human-readable string describing this image."},
    "cim_pep_name": {"type": "string", "is_base": False,
                     "description": "Common Information Model PEP name"},
}
# Columns of the image table (the rest are extra properties, stored as strings).
CORE = {"id", "name", "status", "visibility", "protected", "os_hidden", "checksum",
        "os_hash_algo", "os_hash_value", "owner", "size", "virtual_size",
        "container_format", "disk_format", "created_at", "updated_at", "tags", "min_ram",
        "min_disk"}
EXTRA = {"type": "string", "maxLength": 255}

LINKS = [{"rel": "self", "href": "{self}"}, {"rel": "enclosure", "href": "{file}"},
         {"rel": "describedby", "href": "{schema}"}]


def image_schema() -> dict[str, Any]:
    return {"name": "image", "properties": ATTRIBUTES, "additionalProperties": EXTRA,
            "links": LINKS}


def images_schema() -> dict[str, Any]:
    return {"name": "images",
            "properties": {"images": {"type": "array", "items": image_schema()},
                           "schema": {"type": "string"}, "first": {"type": "string"},
                           "next": {"type": "string"}},
            "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                      {"rel": "describedby", "href": "{schema}"}]}


MEMBER_ATTRIBUTES: dict[str, dict[str, Any]] = {
    "member_id": {"type": "string", "description": "An identifier for the image member "
                                                   "(tenantId)"},
    "image_id": {"type": "string", "pattern": UUID,
                 "description": "An identifier for the image"},
    "created_at": {"type": "string", "description": "Date and time of image member creation"},
    "updated_at": {"type": "string", "description": "Date and time of last modification of "
                                                    "image member"},
    "status": {"type": "string", "enum": ["pending", "accepted", "rejected"],
               "description": "The status of this image member"},
    "schema": {"type": "string", "readOnly": True},
}


def member_schema() -> dict[str, Any]:
    return {"name": "member", "properties": MEMBER_ATTRIBUTES}


def members_schema() -> dict[str, Any]:
    return {"name": "members",
            "properties": {"members": {"type": "array", "items": member_schema()},
                           "schema": {"type": "string"}},
            "links": [{"rel": "describedby", "href": "{schema}"}]}


def task_schema() -> dict[str, Any]:
    return {"name": "task", "properties": {
        "id": {"type": "string", "pattern": UUID}, "type": {"type": "string"},
        "status": {"type": "string", "enum": ["pending", "processing", "success",
                                              "failure"]},
        "input": {"type": ["null", "object"]}, "result": {"type": ["null", "object"]},
        "owner": {"type": "string"}, "message": {"type": "string"},
        "image_id": {"type": "string"}, "request_id": {"type": "string"},
        "user_id": {"type": "string"}, "expires_at": {"type": ["null", "string"]},
        "created_at": {"type": "string"}, "updated_at": {"type": "string"},
        "self": {"type": "string"}, "schema": {"type": "string"}}}


def tasks_schema() -> dict[str, Any]:
    return {"name": "tasks", "properties": {
        "tasks": {"type": "array", "items": task_schema()},
        "schema": {"type": "string"}, "first": {"type": "string"}, "next": {"type": "string"}}}


# What a client may set, validated per attribute (create and PATCH).
WRITABLE = {name: {k: v for k, v in spec.items() if k not in ("description", "is_base")}
            for name, spec in ATTRIBUTES.items() if not spec.get("readOnly")
            and name not in ("locations",)}
member_create = {"type": "object", "properties": {"member": {"type": "string",
                                                             "minLength": 1,
                                                             "maxLength": 255}},
                 "required": ["member"], "additionalProperties": False}
member_update = {"type": "object", "properties": {"status": {
    "type": "string", "enum": ["pending", "accepted", "rejected"]}},
    "required": ["status"], "additionalProperties": False}
