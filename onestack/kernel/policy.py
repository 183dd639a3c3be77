"""RBAC rules as data, in the oslo.policy rule language so operators can reuse
what they know: ``role:admin or (role:reader and project_id:%(target.project_id)s)``.

Each service registers its default rules; a policy file (YAML or JSON) overrides
any of them by name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from onestack.kernel.api.faults import Forbidden
from onestack.kernel.auth import RequestContext

Check = Callable[[dict[str, Any], Mapping[str, Any], "Enforcer"], bool]

_TOKEN = re.compile(r"\s*(\(|\)|(?:%\([^)]*\)s|[^\s()])+)")
_INTERPOLATION = re.compile(r"%\((.+?)\)s")


class PolicyError(ValueError):
    pass


def _generic_check(kind: str, match: str) -> Check:
    def check(creds: dict[str, Any], target: Mapping[str, Any], _: Enforcer) -> bool:
        try:
            expected = _INTERPOLATION.sub(lambda m: str(target[m.group(1)]), match)
        except KeyError:
            return False
        if "%(" in match and expected in ("None", ""):
            return False
        if kind.startswith(("'", '"')):
            return kind.strip("'\"") == expected
        actual = creds.get(kind)
        if isinstance(actual, (list, set, frozenset, tuple)):
            return expected in {str(a) for a in actual}
        return str(actual) == expected if actual is not None else False
    return check


def _atom(text: str) -> Check:
    if text == "@":
        return lambda c, t, e: True
    if text == "!":
        return lambda c, t, e: False
    kind, sep, match = text.partition(":")
    if not sep:
        raise PolicyError(f"malformed policy check {text!r}")
    if kind == "rule":
        return lambda c, t, e: e.check_rule(match, c, t)
    if kind == "role":
        lowered = match.lower()
        return lambda c, t, e: lowered in c["roles"]
    return _generic_check(kind, match)


def parse(rule: str) -> Check:
    tokens = _TOKEN.findall(rule or "")
    if not tokens:
        return lambda c, t, e: True
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        position += 1
        return tokens[position - 1]

    def parse_or() -> Check:
        parts = [parse_and()]
        while peek() == "or":
            take()
            parts.append(parse_and())
        return parts[0] if len(parts) == 1 else (
            lambda c, t, e: any(p(c, t, e) for p in parts))

    def parse_and() -> Check:
        parts = [parse_not()]
        while peek() == "and":
            take()
            parts.append(parse_not())
        return parts[0] if len(parts) == 1 else (
            lambda c, t, e: all(p(c, t, e) for p in parts))

    def parse_not() -> Check:
        if peek() == "not":
            take()
            inner = parse_not()
            return lambda c, t, e: not inner(c, t, e)
        if peek() == "(":
            take()
            inner = parse_or()
            if peek() != ")":
                raise PolicyError(f"unbalanced parentheses in {rule!r}")
            take()
            return inner
        token = peek()
        if token is None or token in ("and", "or", ")"):
            raise PolicyError(f"unexpected end of rule {rule!r}")
        return _atom(take())

    check = parse_or()
    if position != len(tokens):
        raise PolicyError(f"unexpected {tokens[position]!r} in rule {rule!r}")
    return check


def credentials(context: RequestContext) -> dict[str, Any]:
    return {
        "user_id": context.user_id,
        "project_id": context.project_id,
        "domain_id": context.domain_id,
        "user_domain_id": context.user_domain_id,
        "project_domain_id": context.project_domain_id,
        "system_scope": context.system_scope,
        "roles": {role.lower() for role in context.roles},
        "is_admin": context.is_admin,
    }


class Enforcer:
    def __init__(self, defaults: Mapping[str, str], policy_file: str | Path | None = None
                 ) -> None:
        self.rules: dict[str, str] = dict(defaults)
        if policy_file:
            self.rules.update(load_policy_file(Path(policy_file)))
        self._compiled = {name: parse(text) for name, text in self.rules.items()}

    def check_rule(self, name: str, creds: dict[str, Any], target: Mapping[str, Any]) -> bool:
        check = self._compiled.get(name)
        return bool(check and check(creds, target, self))

    def allowed(self, name: str, context: RequestContext,
                target: Mapping[str, Any] | None = None) -> bool:
        if name not in self._compiled:
            raise PolicyError(f"no policy rule named {name!r}")
        return self.check_rule(name, credentials(context), target or {})

    def enforce(self, name: str, context: RequestContext,
                target: Mapping[str, Any] | None = None) -> None:
        if not self.allowed(name, context, target):
            raise Forbidden(f"You are not authorized to perform the requested action: {name}.")


def load_policy_file(path: Path) -> dict[str, str]:
    text = path.read_text()
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise PolicyError(f"{path}: a policy file maps rule names to rule strings")
    return data
