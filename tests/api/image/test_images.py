"""Images: create, show, list with filters, sorting and paging, JSON-patch update,
tags, deactivate/reactivate and delete, as a client sees them."""

from __future__ import annotations

from tests.api.image.conftest import Projects, make_image
from tests.conftest import Api

PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}


async def test_create_show_and_defaults(image: Api) -> None:
    created = await make_image(image, name="cirros", os_type="linux")
    assert created["status"] == "queued"
    assert created["visibility"] == "shared"
    assert created["os_type"] == "linux"
    assert created["checksum"] is None and created["size"] is None
    assert created["self"] == f"/v2/images/{created['id']}"
    assert created["schema"] == "/v2/schemas/image"
    shown = await image.get(f"/v2/images/{created['id']}")
    assert shown.status_code == 200
    assert shown.json()["name"] == "cirros"


async def test_create_with_id_and_duplicate_is_409(image: Api) -> None:
    wanted = "00000000-1111-2222-3333-444455556666"
    created = await make_image(image, id=wanted)
    assert created["id"] == wanted
    again = await image.post("/v2/images", json={"id": wanted})
    assert again.status_code == 409


async def test_create_refuses_read_only_reserved_and_bad_values(image: Api) -> None:
    for body, status in (({"status": "active"}, 403), ({"size": 3}, 403),
                         ({"location": "x"}, 403), ({"os_glance_foo": "x"}, 403),
                         ({"disk_format": "wrong"}, 400), ({"min_ram": -1}, 400),
                         ({"protected": "yes"}, 400), ({"name": "n" * 256}, 400),
                         ({"custom": 5}, 400), ({"visibility": "everyone"}, 400)):
        response = await image.post("/v2/images", json=body)
        assert response.status_code == status, (body, response.text)


async def test_non_admin_cannot_publicize_and_reader_cannot_write(projects: Projects
                                                                  ) -> None:
    public = await projects.alice.post("/v2/images", json={"visibility": "public"})
    assert public.status_code == 403
    community = await projects.alice.post("/v2/images", json={"visibility": "community"})
    assert community.status_code == 201
    assert (await projects.reader.post("/v2/images", json={})).status_code == 403


async def test_json_patch_update(image: Api) -> None:
    created = await make_image(image, os_type="linux")
    changes = [{"op": "replace", "path": "/name", "value": "renamed"},
               {"op": "add", "path": "/min_ram", "value": 64},
               {"op": "add", "path": "/hw_disk_bus", "value": "virtio"},
               {"op": "remove", "path": "/os_type"}]
    response = await image.patch(f"/v2/images/{created['id']}", json=changes,
                                 headers=PATCH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["min_ram"], body["hw_disk_bus"]) == ("renamed", 64, "virtio")
    assert "os_type" not in body
    old_style = await image.patch(f"/v2/images/{created['id']}",
                                  json=[{"replace": "/name", "value": "v20"}],
                                  headers={"Content-Type": "application/"
                                           "openstack-images-v2.0-json-patch"})
    assert old_style.json()["name"] == "v20"


async def test_json_patch_errors(image: Api) -> None:
    url = f"/v2/images/{(await make_image(image))['id']}"
    cases = [
        ({"op": "replace", "path": "/name"}, 400),  # not a list
        ([{"op": "move", "path": "/name", "value": "x"}], 400),
        ([{"op": "add", "path": "/a/b", "value": "x"}], 400),
        ([{"op": "add", "path": "/custom", "value": {"not": "a string"}}], 400),
        ([{"op": "add", "path": "/min_disk", "value": "big"}], 400),
        ([{"op": "replace", "path": "/status", "value": "active"}], 403),
        ([{"op": "remove", "path": "/name"}], 403),
        ([{"op": "remove", "path": "/missing"}], 409),
        ([{"op": "replace", "path": "/missing", "value": "x"}], 409),
    ]
    for changes, status in cases:
        response = await image.patch(url, json=changes, headers=PATCH)
        assert response.status_code == status, (changes, response.text)
    malformed = await image.request("PATCH", url, content=b"[{", headers=PATCH)
    assert malformed.status_code == 400
    wrong_type = await image.patch(url, json=[], headers={"Content-Type": "application/json"})
    assert wrong_type.status_code == 415


async def test_list_filters_sorting_and_paging(image: Api) -> None:
    made = [await make_image(image, name=f"img-{i}", min_ram=i, os_distro="d" * (i % 2 + 1))
            for i in range(5)]
    listed = (await image.get("/v2/images?sort_key=name&sort_dir=asc")).json()
    assert [i["name"] for i in listed["images"]] == [f"img-{i}" for i in range(5)]
    assert listed["schema"] == "/v2/schemas/images"
    page = (await image.get("/v2/images?limit=2&sort=name:asc")).json()
    assert [i["name"] for i in page["images"]] == ["img-0", "img-1"]
    page2 = (await image.get(page["next"])).json()
    assert [i["name"] for i in page2["images"]] == ["img-2", "img-3"]
    by_property = (await image.get("/v2/images?os_distro=dd")).json()["images"]
    assert {i["name"] for i in by_property} == {"img-1", "img-3"}
    by_name = (await image.get("/v2/images?name=in:img-0,img-4")).json()["images"]
    assert {i["id"] for i in by_name} == {made[0]["id"], made[4]["id"]}
    since = (await image.get("/v2/images?changes-since=2000-01-01T00:00:00Z")).json()
    assert len(since["images"]) == 5
    later = (await image.get("/v2/images?changes-since=2999-01-01T00:00:00Z")).json()
    assert later["images"] == []
    for bad in ("sort_key=nope", "sort_dir=up", "limit=-1", "marker=not-there",
                "visibility=everyone"):
        assert (await image.get(f"/v2/images?{bad}")).status_code == 400, bad


async def test_tags(image: Api) -> None:
    created = await make_image(image, tags=["a"])
    url = f"/v2/images/{created['id']}"
    assert (await image.put(f"{url}/tags/b")).status_code == 204
    assert (await image.put(f"{url}/tags/b")).status_code == 204
    assert sorted((await image.get(url)).json()["tags"]) == ["a", "b"]
    tagged = (await image.get("/v2/images?tag=a&tag=b")).json()["images"]
    assert [i["id"] for i in tagged] == [created["id"]]
    assert (await image.delete(f"{url}/tags/a")).status_code == 204
    assert (await image.delete(f"{url}/tags/a")).status_code == 404


async def test_protected_deactivate_reactivate_and_delete(image: Api) -> None:
    created = await make_image(image, data=b"x" * 100, protected=True)
    url = f"/v2/images/{created['id']}"
    assert (await image.delete(url)).status_code == 403
    assert (await image.post(f"{url}/actions/deactivate")).status_code == 204
    assert (await image.get(url)).json()["status"] == "deactivated"
    assert (await image.post(f"{url}/actions/reactivate")).status_code == 204
    assert (await image.get(url)).json()["status"] == "active"
    queued = await make_image(image)
    deactivate = await image.post(f"/v2/images/{queued['id']}/actions/deactivate")
    assert deactivate.status_code == 400
    await image.patch(url, json=[{"op": "replace", "path": "/protected", "value": False}],
                      headers=PATCH)
    assert (await image.delete(url)).status_code == 204
    assert (await image.get(url)).status_code == 404


async def test_count_quota(image: Api) -> None:
    image.cloud.config.image.quota_images_per_project = 1
    await make_image(image)
    assert (await image.post("/v2/images", json={})).status_code == 413
