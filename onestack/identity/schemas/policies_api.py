"""Request bodies of ``/v3/policies``: opaque policy blobs with a MIME type. Other
attributes are kept and returned as they came."""

_POLICY = {"blob": {"type": "string"}, "type": {"type": "string", "maxLength": 255}}

policy_create = {"type": "object", "properties": _POLICY, "required": ["blob", "type"]}
policy_update = {"type": "object", "properties": _POLICY, "minProperties": 1}
