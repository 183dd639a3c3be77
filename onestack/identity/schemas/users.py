"""Request bodies of users and password changes."""

from onestack.identity.schemas.common import DESCRIPTION, ENABLED, ID, LONG_NAME, OPTIONAL_ID

_PASSWORD = {"type": ["string", "null"], "maxLength": 4096}
_USER = {"name": LONG_NAME, "domain_id": ID, "default_project_id": OPTIONAL_ID,
         "enabled": ENABLED, "password": _PASSWORD, "description": DESCRIPTION,
         "email": {"type": ["string", "null"]}, "options": {"type": "object"}}

user_create = {"type": "object", "properties": _USER, "required": ["name"]}
user_update = {"type": "object", "properties": _USER, "minProperties": 1}
password_change = {"type": "object",
                   "properties": {"original_password": {"type": "string"},
                                  "password": {"type": "string", "maxLength": 4096}},
                   "required": ["original_password", "password"]}
