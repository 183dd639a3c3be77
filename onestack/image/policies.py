"""Image default policy rules (Glance's names, oslo.policy language). Ownership is
checked in the handlers on top of these: an image is its owner project's, and
``context_is_admin`` sees and changes every image."""

ADMIN = "role:admin or is_admin:True"
MEMBER = "rule:context_is_admin or role:member"
READER = "rule:context_is_admin or role:member or role:reader"

DEFAULTS: dict[str, str] = {
    "context_is_admin": ADMIN,
    "get_image": READER,
    "get_images": READER,
    "add_image": MEMBER,
    "modify_image": MEMBER,
    "delete_image": MEMBER,
    "upload_image": MEMBER,
    "download_image": READER,
    "publicize_image": "rule:context_is_admin",
    "communitize_image": MEMBER,
    "set_image_owner": "rule:context_is_admin",
    "deactivate": MEMBER,
    "reactivate": MEMBER,
    "import_image": MEMBER,
    "get_members": READER,
    "get_member": READER,
    "add_member": MEMBER,
    "modify_member": MEMBER,
    "delete_member": MEMBER,
    "get_task": READER,
    # /v2/tasks: an operator's API (Glance's default), each call checks
    # tasks_api_access and its own rule; a project sees only its own tasks.
    "tasks_api_access": "rule:context_is_admin",
    "get_tasks": READER,
    "add_task": MEMBER,
    "stores_info_detail": "rule:context_is_admin",
    "get_usage": READER,
    # The metadata definitions catalog: everyone reads what is visible to them (public
    # namespaces and their own project's); the catalog is the operator's to change.
    # Where a policy lets projects change it, they change only what they own.
    "metadef_default": READER,
    "metadef_admin": "rule:context_is_admin",
    "get_metadef_namespace": "rule:metadef_default",
    "get_metadef_namespaces": "rule:metadef_default",
    "add_metadef_namespace": "rule:metadef_admin",
    "modify_metadef_namespace": "rule:metadef_admin",
    "delete_metadef_namespace": "rule:metadef_admin",
    "list_metadef_resource_types": "rule:metadef_default",
    "get_metadef_resource_type": "rule:metadef_default",
    "add_metadef_resource_type_association": "rule:metadef_admin",
    "remove_metadef_resource_type_association": "rule:metadef_admin",
    **{f"{verb}_metadef_{kind}": rule
       for kind in ("object", "property", "tag")
       for verb, rule in (("get", "rule:metadef_default"), ("add", "rule:metadef_admin"),
                          ("modify", "rule:metadef_admin"),
                          ("remove" if kind == "property" else "delete",
                           "rule:metadef_admin"))},
    "get_metadef_objects": "rule:metadef_default",
    "get_metadef_properties": "rule:metadef_default",
    "get_metadef_tags": "rule:metadef_default",
    "add_metadef_tags": "rule:metadef_admin",
    "delete_metadef_objects": "rule:metadef_admin",
    "delete_metadef_properties": "rule:metadef_admin",
    "delete_metadef_tags": "rule:metadef_admin",
}
