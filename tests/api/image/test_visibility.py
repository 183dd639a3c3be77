"""Who sees what: owner, member, other project, admin and reader, for each
visibility; and the member workflow (add, accept/reject, list)."""

from __future__ import annotations

from tests.api.image.conftest import Projects, make_image
from tests.conftest import Api

PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}


async def _ids(api: Api, query: str = "") -> set[str]:
    response = await api.get(f"/v2/images{query}")
    assert response.status_code == 200, response.text
    return {i["id"] for i in response.json()["images"]}


async def test_visibility_matrix(image: Api, projects: Projects) -> None:
    alice, bob, reader = projects.alice, projects.bob, projects.reader
    made = {v: (await make_image(alice, name=v, visibility=v))["id"]
            for v in ("private", "shared", "community")}
    made["public"] = (await make_image(image, name="public", visibility="public"))["id"]
    # (viewer, visibility) -> can GET
    expected = [
        (alice, "private", True), (alice, "shared", True), (alice, "community", True),
        (reader, "private", True), (reader, "shared", True),
        (bob, "private", False), (bob, "shared", False), (bob, "community", True),
        (bob, "public", True), (image, "private", True), (image, "shared", True),
    ]
    for viewer, visibility, visible in expected:
        status = (await viewer.get(f"/v2/images/{made[visibility]}")).status_code
        assert status == (200 if visible else 404), (visibility, status)
    assert await _ids(alice) == {made["private"], made["shared"], made["community"],
                                 made["public"]}
    assert await _ids(bob) == {made["public"]}
    assert made["community"] in await _ids(bob, "?visibility=community")
    assert await _ids(image) >= set(made.values())
    # readers read, never write; other projects can't change what they see
    rename = [{"op": "replace", "path": "/name", "value": "x"}]
    assert (await reader.patch(f"/v2/images/{made['private']}", json=rename,
                               headers=PATCH)).status_code == 403
    assert (await reader.delete(f"/v2/images/{made['private']}")).status_code == 403
    assert (await bob.patch(f"/v2/images/{made['community']}", json=rename,
                            headers=PATCH)).status_code == 403
    assert (await bob.delete(f"/v2/images/{made['private']}")).status_code == 404
    assert (await image.delete(f"/v2/images/{made['private']}")).status_code == 204


async def test_members_workflow(projects: Projects) -> None:
    alice, bob = projects.alice, projects.bob
    shared = await make_image(alice, visibility="shared")
    url = f"/v2/images/{shared['id']}/members"
    added = await alice.post(url, json={"member": projects.two["id"]})
    assert added.status_code == 200, added.text
    assert added.json()["status"] == "pending"
    assert (await alice.post(url, json={"member": projects.two["id"]})).status_code == 409
    # pending: bob can GET it, but it is not in his default list
    assert (await bob.get(f"/v2/images/{shared['id']}")).status_code == 200
    assert shared["id"] not in await _ids(bob)
    assert shared["id"] in await _ids(bob, "?member_status=pending&visibility=shared")
    me = f"{url}/{projects.two['id']}"
    assert (await alice.put(me, json={"status": "accepted"})).status_code == 403
    assert (await bob.put(me, json={"status": "maybe"})).status_code == 400
    accepted = await bob.put(me, json={"status": "accepted"})
    assert accepted.json()["status"] == "accepted"
    assert shared["id"] in await _ids(bob)
    assert (await bob.post(url, json={"member": "someone"})).status_code == 403
    listed = (await alice.get(url)).json()
    assert [m["member_id"] for m in listed["members"]] == [projects.two["id"]]
    assert listed["schema"] == "/v2/schemas/members"
    rejected = await bob.put(me, json={"status": "rejected"})
    assert rejected.json()["status"] == "rejected"
    assert shared["id"] not in await _ids(bob)
    assert (await alice.delete(me)).status_code == 204
    assert (await bob.get(f"/v2/images/{shared['id']}")).status_code == 404


async def test_members_only_for_shared_images(projects: Projects) -> None:
    private = await make_image(projects.alice, visibility="private")
    added = await projects.alice.post(f"/v2/images/{private['id']}/members",
                                      json={"member": projects.two["id"]})
    assert added.status_code == 403
