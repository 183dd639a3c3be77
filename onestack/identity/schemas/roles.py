"""Request bodies of roles."""

from onestack.identity.schemas.common import DESCRIPTION, LONG_NAME, OPTIONAL_ID

_OPTIONS = {"type": "object", "properties": {"immutable": {"type": ["boolean", "null"]}},
            "additionalProperties": False}
_ROLE = {"name": LONG_NAME, "domain_id": OPTIONAL_ID, "description": DESCRIPTION,
         "options": _OPTIONS}

role_create = {"type": "object", "properties": _ROLE, "required": ["name"]}
role_update = {"type": "object", "properties": _ROLE, "minProperties": 1}
