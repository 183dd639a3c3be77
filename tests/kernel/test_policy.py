"""The oslo.policy rule language, as operators write it."""

from __future__ import annotations

from pathlib import Path

import pytest

from onestack.kernel.api.faults import Forbidden
from onestack.kernel.auth import RequestContext
from onestack.kernel.policy import Enforcer, PolicyError, parse

RULES = {
    "admin_required": "role:admin",
    "owner": "user_id:%(target.user_id)s",
    "admin_or_owner": "rule:admin_required or rule:owner",
    "reader_in_project": "role:reader and project_id:%(target.project_id)s",
    "not_admin": "not role:admin",
    "nobody": "!",
    "anybody": "@",
    "empty": "",
    "system_reader": "role:reader and system_scope:all",
    "literal": "'member':%(target.kind)s",
}


def ctx(*roles: str, user: str = "u1", project: str | None = "p1",
        system: str | None = None) -> RequestContext:
    return RequestContext(user_id=user, roles=frozenset(roles), project_id=project,
                          system_scope=system)


@pytest.mark.parametrize("rule, context, target, expected", [
    ("admin_required", ctx("admin"), {}, True),
    ("admin_required", ctx("Admin"), {}, True),
    ("admin_required", ctx("member"), {}, False),
    ("admin_or_owner", ctx("member"), {"target.user_id": "u1"}, True),
    ("admin_or_owner", ctx("member"), {"target.user_id": "u2"}, False),
    ("admin_or_owner", ctx("member"), {}, False),
    ("reader_in_project", ctx("reader"), {"target.project_id": "p1"}, True),
    ("reader_in_project", ctx("reader"), {"target.project_id": "p2"}, False),
    ("not_admin", ctx("reader"), {}, True),
    ("nobody", ctx("admin"), {}, False),
    ("anybody", ctx(), {}, True),
    ("empty", ctx(), {}, True),
    ("system_reader", ctx("reader", project=None, system="all"), {}, True),
    ("system_reader", ctx("reader"), {}, False),
    ("literal", ctx(), {"target.kind": "member"}, True),
])
def test_rules(rule: str, context: RequestContext, target: dict, expected: bool) -> None:
    assert Enforcer(RULES).allowed(rule, context, target) is expected


def test_parentheses_and_precedence() -> None:
    enforcer = Enforcer({"r": "role:a or role:b and role:c", "p": "(role:a or role:b) and role:c"})
    assert enforcer.allowed("r", ctx("a"))
    assert not enforcer.allowed("p", ctx("a"))
    assert enforcer.allowed("p", ctx("b", "c"))


@pytest.mark.parametrize("bad", ["role:a or", "(role:a", "role:a role:b", "nonsense"])
def test_malformed_rules_are_refused(bad: str) -> None:
    with pytest.raises(PolicyError):
        parse(bad)


def test_enforce_raises_forbidden_naming_the_rule() -> None:
    with pytest.raises(Forbidden, match="admin_required"):
        Enforcer(RULES).enforce("admin_required", ctx("member"))


def test_policy_file_overrides_defaults(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text('"admin_required": "role:admin or role:operator"\n')
    enforcer = Enforcer(RULES, path)
    assert enforcer.allowed("admin_required", ctx("operator"))
    assert enforcer.allowed("admin_or_owner", ctx("operator"), {"target.user_id": "x"})


def test_unknown_rule_name_is_an_error() -> None:
    with pytest.raises(PolicyError):
        Enforcer(RULES).allowed("no_such_rule", ctx())
