"""Every route of the image service (Glance v2): path -> method -> handler."""

from __future__ import annotations

from onestack.image.handlers import data, images, info, members, metadefs, namespaces, tasks
from onestack.kernel.api.routing import RouteTable

NS = "/v2/metadefs/namespaces"

ROUTES: RouteTable = {
    "/": {"GET": info.root},
    "/versions": {"GET": info.versions},
    "/v2": {"GET": info.root},
    # images
    "/v2/images": {"GET": images.list_images, "POST": images.create_image,
                   "DELETE": images.no_image_id},
    "/v2/images/{image_id}": {"GET": images.get_image, "PATCH": images.update_image,
                              "DELETE": images.delete_image},
    "/v2/images/{image_id}/actions/deactivate": {"POST": images.deactivate},
    "/v2/images/{image_id}/actions/reactivate": {"POST": images.reactivate},
    "/v2/images/{image_id}/tags/{tag}": {"PUT": images.add_tag, "DELETE": images.delete_tag},
    # data: upload and download (streamed), staging and import
    "/v2/images/{image_id}/file": {"PUT": data.upload, "GET": data.download},
    "/v2/images/{image_id}/stage": {"PUT": data.stage},
    "/v2/images/{image_id}/import": {"POST": data.import_image},
    "/v2/images/{image_id}/tasks": {"GET": tasks.image_tasks},
    # members
    "/v2/images/{image_id}/members": {"GET": members.list_members,
                                      "POST": members.add_member},
    "/v2/images/{image_id}/members/{member_id}": {"GET": members.get_member,
                                                  "PUT": members.update_member,
                                                  "DELETE": members.delete_member},
    # tasks
    "/v2/tasks": {"GET": tasks.list_tasks, "POST": tasks.create_task},
    "/v2/tasks/{task_id}": {"GET": tasks.get_task},
    # the metadata definitions catalog
    "/v2/metadefs/resource_types": {"GET": namespaces.list_resource_types},
    NS: {"GET": namespaces.list_namespaces, "POST": namespaces.create_namespace},
    f"{NS}/{{namespace}}": {"GET": namespaces.get_namespace,
                            "PUT": namespaces.update_namespace,
                            "DELETE": namespaces.delete_namespace},
    f"{NS}/{{namespace}}/resource_types": {"GET": namespaces.list_associations,
                                           "POST": namespaces.add_association},
    f"{NS}/{{namespace}}/resource_types/{{resource_type}}": {
        "DELETE": namespaces.remove_association},
    f"{NS}/{{namespace}}/objects": {"GET": metadefs.list_objects,
                                    "POST": metadefs.create_object,
                                    "DELETE": metadefs.delete_objects},
    f"{NS}/{{namespace}}/objects/{{name}}": {"GET": metadefs.get_object,
                                             "PUT": metadefs.update_object,
                                             "DELETE": metadefs.delete_object},
    f"{NS}/{{namespace}}/properties": {"GET": metadefs.list_properties,
                                       "POST": metadefs.create_property,
                                       "DELETE": metadefs.delete_properties},
    f"{NS}/{{namespace}}/properties/{{name}}": {"GET": metadefs.get_property,
                                                "PUT": metadefs.update_property,
                                                "DELETE": metadefs.delete_property},
    f"{NS}/{{namespace}}/tags": {"GET": metadefs.list_tags, "POST": metadefs.create_tags,
                                 "DELETE": metadefs.delete_tags},
    f"{NS}/{{namespace}}/tags/{{name}}": {"GET": metadefs.get_tag,
                                          "POST": metadefs.create_tag,
                                          "PUT": metadefs.update_tag,
                                          "DELETE": metadefs.delete_tag},
    # schemas and discovery
    **{f"/v2/schemas/{name}": {"GET": info.schema_route(name)} for name in info.SCHEMAS},
    "/v2/info/import": {"GET": info.import_info},
    "/v2/info/stores": {"GET": info.stores_info},
    "/v2/info/stores/detail": {"GET": info.stores_detail},
    "/v2/info/usage": {"GET": info.usage},
}
