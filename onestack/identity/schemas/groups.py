"""Request bodies of groups."""

_GROUP = {"name": {"type": "string", "minLength": 1, "maxLength": 64},
          "domain_id": {"type": "string", "minLength": 1, "maxLength": 64},
          "description": {"type": ["string", "null"]}}
group_create = {"type": "object", "properties": _GROUP, "required": ["name"]}
group_update = {"type": "object", "properties": _GROUP, "minProperties": 1}
