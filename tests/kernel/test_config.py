"""Configuration: defaults, TOML file, ONESTACK_* environment, then flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from onestack.kernel.config import ConfigError, load


def test_defaults_follow_openstack_ports_and_sqlite_per_service(tmp_path: Path) -> None:
    config = load(environ={}, state_dir=tmp_path)
    assert config.api.ports["identity"] == 5000
    assert config.api.ports["compute"] == 8774
    assert config.database_url("identity") == f"sqlite+aiosqlite:///{tmp_path}/identity.db"
    assert config.bus.url == "local://"
    assert config.public_url("identity") == "http://127.0.0.1:5000"


def test_file_then_environment_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "onestack.toml"
    path.write_text('log_level = "DEBUG"\n[identity]\ntoken_expiration = 60\n'
                    "[api.ports]\nidentity = 15000\n")
    env = {"ONESTACK_IDENTITY__TOKEN_EXPIRATION": "120", "ONESTACK_API__ACCESS_LOG": "false"}
    config = load(path, environ=env, state_dir=tmp_path)
    assert config.log_level == "DEBUG"
    assert config.identity.token_expiration == 120
    assert config.api.access_log is False
    assert config.api.ports["identity"] == 15000
    assert config.api.ports["compute"] == 8774  # other ports keep their defaults


@pytest.mark.parametrize("text, message", [
    ("[identity]\nno_such_option = 1\n", "unknown option identity.no_such_option"),
    ("[identity]\ntoken_expiration = 'soon'\n", "expected int"),
    ("[identity\n", "config file"),
])
def test_bad_configuration_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load(path, environ={})


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load(tmp_path / "absent.toml", environ={})
