"""Stock clients against a live cloud: openstacksdk with clouds.yaml, and the
openstack CLI with admin-openrc."""

from __future__ import annotations

import json
import subprocess

import openstack
import openstack.config
import openstack.connection

from tests.conftest import LiveCloud


def cli(live_cloud: LiveCloud, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openstack", *args], env=live_cloud.env(**env),
                          capture_output=True, text=True, timeout=120)


def test_openstacksdk_with_clouds_yaml(live_cloud: LiveCloud) -> None:
    config = openstack.config.OpenStackConfig(config_files=[str(live_cloud.clouds_yaml)])
    conn = openstack.connection.Connection(config=config.get_one("onestack"))
    try:
        project = conn.identity.create_project(name="sdk-project", domain_id="default",
                                               description="from the sdk")
        assert conn.identity.get_project(project.id).description == "from the sdk"
        names = {p.name for p in conn.identity.projects()}
        assert {"admin", "sdk-project"} <= names
        types = {s.type for s in conn.identity.services()}
        assert "identity" in types
        conn.identity.delete_project(project.id)
        assert "sdk-project" not in {p.name for p in conn.identity.projects()}
    finally:
        conn.close()


def test_cli_catalog_and_endpoints(live_cloud: LiveCloud) -> None:
    listed = cli(live_cloud, "catalog", "list", "-f", "json")
    assert listed.returncode == 0, listed.stderr
    assert "identity" in {entry["Type"] for entry in json.loads(listed.stdout)}
    endpoints = cli(live_cloud, "endpoint", "list", "--service", "identity", "-f", "json")
    assert endpoints.returncode == 0, endpoints.stderr
    assert {e["Interface"] for e in json.loads(endpoints.stdout)} == {
        "public", "internal", "admin"}


def test_cli_reports_conflicts_and_missing_things(live_cloud: LiveCloud) -> None:
    first = cli(live_cloud, "role", "create", "cli-role")
    assert first.returncode == 0, first.stderr
    again = cli(live_cloud, "role", "create", "cli-role")
    assert again.returncode != 0 and "409" in again.stderr
    missing = cli(live_cloud, "project", "show", "no-such-project")
    assert missing.returncode != 0 and "No Project found" in missing.stderr
