"""Version discovery, the schema documents and /v2/info, as clients read them."""

from __future__ import annotations

from tests.conftest import Api


async def test_versions(image: Api) -> None:
    root = await image.get("/", token="")
    assert root.status_code == 300
    ids = [v["id"] for v in root.json()["versions"]]
    assert ids[0] == "v2.16" and "v2.0" in ids
    assert root.json()["versions"][0]["links"][0]["href"].endswith("/v2/")
    assert (await image.get("/versions", token="")).status_code == 200


async def test_schemas(image: Api) -> None:
    schema = (await image.get("/v2/schemas/image")).json()
    assert schema["name"] == "image"
    assert schema["additionalProperties"] == {"type": "string", "maxLength": 255}
    assert "qcow2" in schema["properties"]["disk_format"]["enum"]
    assert schema["properties"]["status"]["readOnly"] is True
    for name in ("images", "member", "members", "task", "tasks"):
        assert (await image.get(f"/v2/schemas/{name}")).json()["name"] == name


async def test_info(image: Api) -> None:
    methods = (await image.get("/v2/info/import")).json()["import-methods"]
    assert methods["value"] == ["glance-direct"]
    stores = (await image.get("/v2/info/stores")).json()["stores"]
    assert stores == [{"id": "file", "default": True, "description": "The file store"}]
    usage = (await image.get("/v2/info/usage")).json()["usage"]
    assert usage["image_count_total"]["usage"] == 0


async def test_catalog_has_image(image: Api) -> None:
    identity = Api(image.cloud, "identity", image.token, image.clients)
    services = (await identity.get("/v3/services?type=image")).json()["services"]
    assert len(services) == 1


async def test_token_required(image: Api) -> None:
    assert (await image.get("/v2/images", token="")).status_code == 401
