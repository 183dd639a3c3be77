"""Request bodies of OS-OAUTH1 consumers. Unknown attributes are kept and returned,
as Keystone does; the id and the secret belong to the server (see the handler)."""

from onestack.identity.schemas.common import DESCRIPTION

consumer_create = {"type": "object", "properties": {"description": DESCRIPTION}}
consumer_update = {"type": "object", "properties": {"description": DESCRIPTION},
                   "minProperties": 1}
