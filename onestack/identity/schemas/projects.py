"""Request bodies of projects and domains."""

from onestack.identity.schemas.common import DESCRIPTION, ENABLED, NAME, OPTIONAL_ID, TAGS

_OPTIONS = {"type": "object", "properties": {"immutable": {"type": ["boolean", "null"]}},
            "additionalProperties": False}
_PROJECT = {"name": NAME, "description": DESCRIPTION, "enabled": ENABLED,
            "domain_id": OPTIONAL_ID, "parent_id": OPTIONAL_ID,
            "is_domain": {"type": "boolean"}, "tags": TAGS, "options": _OPTIONS}
_DOMAIN = {"name": NAME, "description": DESCRIPTION, "enabled": ENABLED, "tags": TAGS,
           "options": _OPTIONS, "explicit_domain_id": OPTIONAL_ID}

project_create = {"type": "object", "properties": _PROJECT, "required": ["name"]}
project_update = {"type": "object", "properties": _PROJECT, "minProperties": 1}
domain_create = {"type": "object", "properties": _DOMAIN, "required": ["name"]}
domain_update = {"type": "object", "properties": _DOMAIN, "minProperties": 1}
tags_update = {"type": "object", "properties": {"tags": TAGS}, "required": ["tags"]}
