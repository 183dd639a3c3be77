"""Fernet tokens: the key repository every service shares, and the token payload.

The repository follows Keystone's layout: files named by integers, ``0`` is the
staged key, the highest number is the primary (the one that encrypts), the rest
only decrypt. Payloads are self-contained (roles included), so any service can
validate a token without asking identity; identity revokes tokens by events.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

PAYLOAD_VERSION = 1


class TokenInvalid(Exception):
    pass


class KeyRepository:
    def __init__(self, path: Path, max_active_keys: int = 3) -> None:
        self.path = Path(path)
        self.max_active_keys = max(2, max_active_keys)
        self._fernet: MultiFernet | None = None
        self._loaded_at = 0.0

    def initialize(self) -> None:
        """Create the repository with a staged and a primary key, as fernet_setup does."""
        self.path.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path, 0o700)
        if not self._key_numbers():
            self._write_key(0)
            self.rotate()

    def rotate(self) -> None:
        """Promote the staged key to primary, stage a new one, drop the oldest."""
        numbers = self._key_numbers()
        primary = max(numbers) + 1 if numbers else 1
        os.replace(self.path / "0", self.path / str(primary))
        self._write_key(0)
        keep = self.max_active_keys - 2  # besides the primary and the staged key
        secondaries = sorted(n for n in self._key_numbers() if n not in (0, primary))
        for number in secondaries[: max(0, len(secondaries) - keep)]:
            (self.path / str(number)).unlink()
        self._fernet = None

    def _write_key(self, number: int) -> None:
        target = self.path / str(number)
        temporary = self.path / f".{number}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
        os.replace(temporary, target)

    def _key_numbers(self) -> list[int]:
        if not self.path.is_dir():
            return []
        return [int(p.name) for p in self.path.iterdir() if p.name.isdigit()]

    def fernet(self) -> MultiFernet:
        # Other processes may rotate the shared repository: reload now and then.
        if self._fernet is None or time.monotonic() - self._loaded_at > 30:
            numbers = sorted(self._key_numbers(), reverse=True)
            if not numbers:
                raise TokenInvalid(f"no fernet keys in {self.path}")
            keys = [Fernet((self.path / str(n)).read_bytes().strip()) for n in numbers]
            self._fernet = MultiFernet(keys)
            self._loaded_at = time.monotonic()
        return self._fernet


def new_audit_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()


@dataclass
class TokenPayload:
    user_id: str
    methods: list[str]
    expires_at: float
    issued_at: float = field(default_factory=time.time)
    audit_ids: list[str] = field(default_factory=lambda: [new_audit_id()])
    user_domain_id: str = ""
    project_id: str | None = None
    project_domain_id: str | None = None
    domain_id: str | None = None
    system: str | None = None
    roles: list[str] = field(default_factory=list)
    app_cred_id: str | None = None
    trust_id: str | None = None
    is_domain_project: bool = False

    @property
    def scope_type(self) -> str | None:
        if self.project_id:
            return "project"
        if self.domain_id:
            return "domain"
        if self.system:
            return "system"
        return None

    def to_wire(self) -> bytes:
        fields = [PAYLOAD_VERSION, self.user_id, self.methods, round(self.expires_at, 6),
                  round(self.issued_at, 6), self.audit_ids, self.user_domain_id,
                  self.project_id, self.project_domain_id, self.domain_id, self.system,
                  self.roles, self.app_cred_id, self.trust_id, self.is_domain_project]
        return json.dumps(fields, separators=(",", ":")).encode()

    @classmethod
    def from_wire(cls, data: bytes) -> TokenPayload:
        try:
            fields = json.loads(data)
            if fields[0] != PAYLOAD_VERSION:
                raise TokenInvalid("unknown token payload version")
            (_, user_id, methods, expires_at, issued_at, audit_ids, user_domain_id,
             project_id, project_domain_id, domain_id, system, roles, app_cred_id,
             trust_id, is_domain_project) = fields
        except (ValueError, TypeError, IndexError) as exc:
            raise TokenInvalid("malformed token payload") from exc
        return cls(user_id=user_id, methods=methods, expires_at=expires_at,
                   issued_at=issued_at, audit_ids=audit_ids, user_domain_id=user_domain_id,
                   project_id=project_id, project_domain_id=project_domain_id,
                   domain_id=domain_id, system=system, roles=roles, app_cred_id=app_cred_id,
                   trust_id=trust_id, is_domain_project=is_domain_project)


class TokenCodec:
    def __init__(self, keys: KeyRepository) -> None:
        self.keys = keys

    def encode(self, payload: TokenPayload) -> str:
        token = self.keys.fernet().encrypt(payload.to_wire())
        # Fernet output is urlsafe base64 with padding; the padding is noise in headers.
        return token.decode().rstrip("=")

    def decode(self, token: str) -> TokenPayload:
        padded = token + "=" * (-len(token) % 4)
        try:
            data = self.keys.fernet().decrypt(padded.encode())
        except (InvalidToken, ValueError, TypeError) as exc:
            raise TokenInvalid("the token could not be decrypted") from exc
        return TokenPayload.from_wire(data)
