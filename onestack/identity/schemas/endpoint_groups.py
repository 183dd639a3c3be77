"""Request bodies of OS-EP-FILTER endpoint groups. The filters themselves are checked
by the domain (only ``service_id``, ``region_id`` and ``interface`` select endpoints)."""

from onestack.identity.schemas.common import DESCRIPTION, LONG_NAME

_GROUP = {"name": LONG_NAME, "description": DESCRIPTION, "filters": {"type": "object"}}

endpoint_group_create = {"type": "object", "properties": _GROUP,
                         "required": ["name", "filters"]}
endpoint_group_update = {"type": "object", "properties": _GROUP, "minProperties": 1}
