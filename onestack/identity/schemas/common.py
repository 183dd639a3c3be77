"""Schema pieces shared by identity resources."""

ID = {"type": "string", "minLength": 1, "maxLength": 64}
NAME = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[^\s].*$|^$"}
LONG_NAME = {"type": "string", "minLength": 1, "maxLength": 255}
DESCRIPTION = {"type": ["string", "null"]}
ENABLED = {"type": "boolean"}
OPTIONAL_ID = {"type": ["string", "null"], "minLength": 1, "maxLength": 64}
TAGS = {"type": "array", "maxItems": 80,
        "items": {"type": "string", "minLength": 1, "maxLength": 255,
                  "pattern": r"^[^,/]*$"}}
