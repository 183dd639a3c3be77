"""Metadata definition (metadefs) JSON schemas: what a namespace, an object, a
property, a tag and a resource type association may hold. The same rules validate
requests and are published under ``/v2/schemas/metadefs/*``."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

PROPERTY_TYPES = ["array", "boolean", "integer", "number", "object", "string", None]
NAME = {"type": "string", "minLength": 1, "maxLength": 80}
COUNT = {"type": "integer", "minimum": 0}
# Attributes the server sets: a client may send them back (a document it read), and
# they are ignored.
STAMPS: dict[str, Any] = {
    "created_at": {"type": "string", "readOnly": True, "format": "date-time",
                   "description": "Date and time of creation"},
    "updated_at": {"type": "string", "readOnly": True, "format": "date-time",
                   "description": "Date and time of the last modification"},
}
LINKED: dict[str, Any] = {**STAMPS,
                          "self": {"type": "string", "readOnly": True},
                          "schema": {"type": "string", "readOnly": True}}
READ_ONLY = set(LINKED)

# What a property is: a JSON-schema-like definition of one key a resource may carry.
PROPERTY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 255},
        "description": {"type": "string"},
        "type": {"type": ["string", "null"], "enum": PROPERTY_TYPES},
        "enum": {"type": "array", "uniqueItems": True},
        "default": {},
        "minimum": {"type": "number"},
        "maximum": {"type": "number"},
        "minLength": COUNT,
        "maxLength": COUNT,
        "pattern": {"type": "string"},
        "readonly": {"type": "boolean"},
        "operators": {"type": "array", "items": {"type": "string"}},
        "items": {"type": "object", "properties": {
            "type": {"type": ["string", "null"], "enum": PROPERTY_TYPES},
            "enum": {"type": "array"}}, "additionalProperties": False},
        "uniqueItems": {"type": "boolean"},
        "minItems": COUNT,
        "maxItems": COUNT,
        "additionalItems": {"type": "boolean"},
    },
    "required": ["title", "type"],
    "additionalProperties": False,
}
PROPERTIES = {"type": "object", "propertyNames": NAME, "additionalProperties": PROPERTY}

property_create = deepcopy(PROPERTY)
property_create["properties"]["name"] = NAME
property_create["required"] = ["name", "title", "type"]

object_create: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": NAME,
        "description": {"type": "string"},
        "required": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "properties": PROPERTIES,
        **LINKED,
    },
    "required": ["name"],
    "additionalProperties": False,
}

tag_create: dict[str, Any] = {"type": "object",
                              "properties": {"name": NAME, **STAMPS},
                              "required": ["name"], "additionalProperties": False}
tags_create: dict[str, Any] = {"type": "object",
                               "properties": {"tags": {"type": "array",
                                                       "items": tag_create}},
                               "required": ["tags"], "additionalProperties": False}

association_create: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {**NAME, "description": "Resource type names should be aligned with Heat "
                                        "resource types whenever possible"},
        "prefix": {"type": "string", "maxLength": 80,
                   "description": "Prefix of the namespace's properties on this resource "
                                  "type (for example 'hw_' on images)"},
        "properties_target": {"type": "string", "maxLength": 80,
                              "description": "Where the properties go on this resource "
                                             "type (for example 'image' on volumes)"},
        **STAMPS,
    },
    "required": ["name"],
    "additionalProperties": False,
}

namespace_update: dict[str, Any] = {
    "type": "object",
    "properties": {
        "namespace": {**NAME, "description": "The unique namespace text"},
        "display_name": {"type": ["string", "null"], "maxLength": 80},
        "description": {"type": ["string", "null"], "maxLength": 500},
        "visibility": {"type": "string", "enum": ["public", "private"]},
        "protected": {"type": "boolean",
                      "description": "If true, namespace will not be deletable."},
        "owner": {"type": ["string", "null"], "maxLength": 255},
        **LINKED,
    },
    "additionalProperties": False,
}
namespace_create = deepcopy(namespace_update)
namespace_create["required"] = ["namespace"]
namespace_create["properties"].update({
    "resource_type_associations": {"type": "array", "items": association_create},
    "properties": PROPERTIES,
    "objects": {"type": "array", "items": object_create},
    "tags": {"type": "array", "items": tag_create},
})


# -- the documents /v2/schemas/metadefs/* publish -----------------------------------
def _links(*rels: str) -> list[dict[str, str]]:
    return [{"rel": rel, "href": "{%s}" % ("schema" if rel == "describedby" else rel)}
            for rel in rels]


def _document(name: str, schema: dict[str, Any], *, links: tuple[str, ...] = ()
              ) -> dict[str, Any]:
    doc = {"name": name, **deepcopy(schema)}
    doc.pop("type", None)
    if links:
        doc["links"] = _links(*links)
    return doc


def _listing(name: str, key: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "properties": {
        key: {"type": "array", "items": item},
        "first": {"type": "string"}, "next": {"type": "string"},
        "schema": {"type": "string"}}, "links": _links("first", "next", "describedby")}


def namespace_schema() -> dict[str, Any]:
    return _document("namespace", namespace_create, links=("self", "describedby"))


def namespaces_schema() -> dict[str, Any]:
    return _listing("namespaces", "namespaces", namespace_schema())


def object_schema() -> dict[str, Any]:
    return _document("object", object_create, links=("self", "describedby"))


def objects_schema() -> dict[str, Any]:
    return _listing("objects", "objects", object_schema())


def property_schema() -> dict[str, Any]:
    return _document("property", property_create)


def properties_schema() -> dict[str, Any]:
    return {"name": "properties", "properties": {
        "properties": {"type": "object", "additionalProperties": property_schema()},
        "first": {"type": "string"}, "next": {"type": "string"},
        "schema": {"type": "string"}}, "links": _links("first", "next", "describedby")}


def tag_schema() -> dict[str, Any]:
    return _document("tag", tag_create)


def tags_schema() -> dict[str, Any]:
    return _listing("tags", "tags", tag_schema())


def association_schema() -> dict[str, Any]:
    return _document("resource_type_association", association_create)


def associations_schema() -> dict[str, Any]:
    return _listing("resource_type_associations", "resource_type_associations",
                    association_schema())


SCHEMAS = {"metadefs/namespace": namespace_schema, "metadefs/namespaces": namespaces_schema,
           "metadefs/object": object_schema, "metadefs/objects": objects_schema,
           "metadefs/property": property_schema, "metadefs/properties": properties_schema,
           "metadefs/tag": tag_schema, "metadefs/tags": tags_schema,
           "metadefs/resource_type": association_schema,
           "metadefs/resource_types": associations_schema}
