"""Who is calling: token validation and the typed RequestContext handlers receive.

Every service validates tokens locally with the shared key repository and checks
them against the revocation list that identity maintains.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from onestack.kernel.tokens import TokenCodec, TokenInvalid, TokenPayload


@dataclass(frozen=True)
class RequestContext:
    user_id: str
    roles: frozenset[str]
    user_domain_id: str = ""
    project_id: str | None = None
    project_domain_id: str | None = None
    domain_id: str | None = None
    system_scope: str | None = None
    token: str = ""
    payload: TokenPayload | None = None
    request_id: str = ""

    @property
    def scope_type(self) -> str | None:
        if self.project_id:
            return "project"
        if self.domain_id:
            return "domain"
        if self.system_scope:
            return "system"
        return None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def to_dict(self) -> dict[str, Any]:
        """What crosses the bus: everything but the token payload object."""
        return {"user_id": self.user_id, "roles": sorted(self.roles),
                "user_domain_id": self.user_domain_id, "project_id": self.project_id,
                "project_domain_id": self.project_domain_id, "domain_id": self.domain_id,
                "system_scope": self.system_scope, "request_id": self.request_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestContext:
        values = dict(data)
        values["roles"] = frozenset(values.get("roles", ()))
        return cls(**values)

    @classmethod
    def from_payload(cls, token: str, payload: TokenPayload, request_id: str = ""
                     ) -> RequestContext:
        return cls(user_id=payload.user_id, roles=frozenset(payload.roles),
                   user_domain_id=payload.user_domain_id, project_id=payload.project_id,
                   project_domain_id=payload.project_domain_id, domain_id=payload.domain_id,
                   system_scope=payload.system, token=token, payload=payload,
                   request_id=request_id)


@dataclass(frozen=True)
class RevocationEvent:
    """Keystone's revocation event: every field that is set must match the token."""

    revoked_at: float
    issued_before: float
    user_id: str | None = None
    project_id: str | None = None
    domain_id: str | None = None
    role_id: str | None = None
    trust_id: str | None = None
    audit_id: str | None = None
    audit_chain_id: str | None = None
    app_cred_id: str | None = None
    expires_at: float | None = None

    def matches(self, payload: TokenPayload) -> bool:
        if payload.issued_at > self.issued_before:
            return False
        # Tokens carry role names, not ids: identity revokes a role through the users
        # that held it. And an event that names nothing must never revoke everything.
        if self.role_id is not None or not any(
                (self.user_id, self.project_id, self.domain_id, self.trust_id, self.audit_id,
                 self.audit_chain_id, self.app_cred_id)):
            return False
        if self.user_id is not None and self.user_id != payload.user_id:
            return False
        if self.project_id is not None and self.project_id != payload.project_id:
            return False
        if self.domain_id is not None and self.domain_id not in (
                payload.domain_id, payload.user_domain_id, payload.project_domain_id):
            return False
        if self.trust_id is not None and self.trust_id != payload.trust_id:
            return False
        if self.app_cred_id is not None and self.app_cred_id != payload.app_cred_id:
            return False
        if self.audit_id is not None and self.audit_id != payload.audit_ids[0]:
            return False
        if self.audit_chain_id is not None and self.audit_chain_id != payload.audit_ids[-1]:
            return False
        return self.expires_at is None or abs(self.expires_at - payload.expires_at) < 1e-3


@dataclass
class RevocationList:
    """The revocation events in force; ``generation`` changes whenever they do, so
    caches of validated tokens know when to forget."""

    events: list[RevocationEvent] = field(default_factory=list)
    generation: int = 0

    def add(self, event: RevocationEvent) -> None:
        self.events.append(event)
        self.generation += 1

    def replace(self, events: list[RevocationEvent]) -> None:
        self.events = list(events)
        self.generation += 1

    def is_revoked(self, payload: TokenPayload) -> bool:
        return any(event.matches(payload) for event in self.events)

    def prune(self, older_than: float) -> None:
        kept = [e for e in self.events if e.revoked_at >= older_than]
        if len(kept) != len(self.events):
            self.events = kept
            self.generation += 1


class TokenValidator:
    """Decrypt, check expiry and revocation; remember recent answers."""

    def __init__(self, codec: TokenCodec, revocations: RevocationList,
                 cache_size: int = 10000) -> None:
        self.codec = codec
        self.revocations = revocations
        self.cache_size = cache_size
        self._cache: OrderedDict[str, TokenPayload] = OrderedDict()
        self._generation = revocations.generation

    def validate(self, token: str, allow_expired_window: float = 0) -> TokenPayload:
        if self._generation != self.revocations.generation:
            self._cache.clear()
            self._generation = self.revocations.generation
        payload = self._cache.get(token)
        if payload is None:
            payload = self.codec.decode(token)
            if self.revocations.is_revoked(payload):
                raise TokenInvalid("the token has been revoked")
            self._cache[token] = payload
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        if payload.expires_at + allow_expired_window <= time.time():
            raise TokenInvalid("the token has expired")
        return payload
