"""Request bodies of credentials, EC2 credentials and EC2/S3 token requests."""

from onestack.identity.schemas.common import ID, OPTIONAL_ID

_TYPE = {"type": "string", "minLength": 1, "maxLength": 255}
_CREDENTIAL = {"blob": {"type": "string", "minLength": 1}, "type": _TYPE,
               "user_id": ID, "project_id": OPTIONAL_ID}

credential_create = {"type": "object", "properties": _CREDENTIAL,
                     "required": ["blob", "type", "user_id"]}
credential_update = {"type": "object", "properties": _CREDENTIAL, "minProperties": 1}

ec2_create = {"type": "object", "properties": {"tenant_id": ID}, "required": ["tenant_id"]}

_STRING_MAP = {"type": "object", "additionalProperties": {"type": ["string", "null"]}}
ec2_token = {
    "type": "object",
    "properties": {
        "access": {"type": "string", "minLength": 1},
        "signature": {"type": "string", "minLength": 1},
        "host": {"type": ["string", "null"]},
        "verb": {"type": ["string", "null"]},
        "path": {"type": ["string", "null"]},
        "params": _STRING_MAP,
        "headers": _STRING_MAP,
        "body_hash": {"type": ["string", "null"]},
    },
    "required": ["access", "signature"],
}
s3_token = {
    "type": "object",
    "properties": {"access": {"type": "string", "minLength": 1},
                   "signature": {"type": "string", "minLength": 1},
                   "token": {"type": "string", "minLength": 1}},
    "required": ["access", "signature", "token"],
}
