"""A service's route table: ``{path: {METHOD: handler}}``, compiled for matching."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from onestack.kernel.api.faults import MethodNotAllowed, NotFound

Handler = Callable[..., Awaitable[Any]]
RouteTable = dict[str, dict[str, Handler]]

_PARAM = re.compile(r"\{(\w+)\}")


def public(handler: Handler) -> Handler:
    """Mark a handler that answers without a token (version documents, token issue)."""
    handler.public = True  # type: ignore[attr-defined]
    return handler


def is_public(handler: Handler) -> bool:
    return getattr(handler, "public", False)


@dataclass
class _Pattern:
    regex: re.Pattern[str]
    methods: dict[str, Handler]
    template: str


class Router:
    def __init__(self, routes: RouteTable) -> None:
        self.static: dict[str, dict[str, Handler]] = {}
        self.patterns: list[_Pattern] = []
        for template, methods in routes.items():
            methods = dict(methods)
            if "GET" in methods and "HEAD" not in methods:
                methods["HEAD"] = methods["GET"]
            if "{" not in template:
                self.static[template.rstrip("/") or "/"] = methods
                continue
            regex = "^" + _PARAM.sub(r"(?P<\1>[^/]+)", template.rstrip("/")) + "/?$"
            self.patterns.append(_Pattern(re.compile(regex), methods, template))

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        methods = self.static.get(path.rstrip("/") or "/")
        params: dict[str, str] = {}
        if methods is None:
            for pattern in self.patterns:
                found = pattern.regex.match(path)
                if found:
                    methods, params = pattern.methods, found.groupdict()
                    break
        if methods is None:
            raise NotFound(f"The resource could not be found: {path}")
        handler = methods.get(method)
        if handler is None:
            allow = ", ".join(sorted(methods))
            raise MethodNotAllowed(f"The method {method} is not allowed for this resource.",
                                   headers={"Allow": allow})
        return handler, params
