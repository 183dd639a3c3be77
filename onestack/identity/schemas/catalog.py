"""Request bodies of regions, services and endpoints."""

from onestack.identity.schemas.common import DESCRIPTION, ENABLED, ID

_URL = {"type": "string", "minLength": 0, "maxLength": 1024,
        "pattern": r"^[a-zA-Z0-9+.-]+:.+"}
_REGION_ID = {"type": ["string", "null"], "minLength": 1, "maxLength": 255}

region_create = {"type": "object",
                 "properties": {"id": {"type": "string", "minLength": 1, "maxLength": 255},
                                "description": DESCRIPTION, "parent_region_id": _REGION_ID}}
region_update = {"type": "object",
                 "properties": {"description": DESCRIPTION, "parent_region_id": _REGION_ID}}
service_create = {"type": "object",
                  "properties": {"type": {"type": "string", "minLength": 1, "maxLength": 255},
                                 "name": {"type": "string", "maxLength": 255},
                                 "enabled": ENABLED, "description": DESCRIPTION},
                  "required": ["type"]}
service_update = {"type": "object",
                  "properties": {"type": {"type": "string", "minLength": 1, "maxLength": 255},
                                 "name": {"type": "string", "maxLength": 255},
                                 "enabled": ENABLED, "description": DESCRIPTION},
                  "minProperties": 1}
_ENDPOINT = {"interface": {"type": "string", "enum": ["public", "internal", "admin"]},
             "service_id": ID, "region_id": _REGION_ID, "region": _REGION_ID, "url": _URL,
             "enabled": ENABLED}
endpoint_create = {"type": "object", "properties": _ENDPOINT,
                   "required": ["interface", "service_id", "url"]}
endpoint_update = {"type": "object", "properties": _ENDPOINT, "minProperties": 1}
