"""Request bodies of OS-TRUST trusts."""

from onestack.identity.schemas.common import ID, OPTIONAL_ID

_ROLE_REF = {"type": "object",
             "properties": {"id": ID, "name": {"type": "string", "minLength": 1,
                                               "maxLength": 255},
                            "domain_id": OPTIONAL_ID},
             "minProperties": 1}

trust_create = {
    "type": "object",
    "properties": {
        "trustor_user_id": ID,
        "trustee_user_id": ID,
        "impersonation": {"type": "boolean"},
        "project_id": OPTIONAL_ID,
        "roles": {"type": "array", "items": _ROLE_REF},
        "expires_at": {"type": ["string", "null"]},
        "remaining_uses": {"type": ["integer", "null"], "minimum": 1},
        "allow_redelegation": {"type": ["boolean", "null"]},
        "redelegation_count": {"type": ["integer", "null"], "minimum": 0},
    },
    "required": ["trustor_user_id", "trustee_user_id", "impersonation"],
}
