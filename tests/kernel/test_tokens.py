"""Fernet key repository and token payloads; revocation matching."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from onestack.kernel.auth import RevocationEvent, RevocationList, TokenValidator
from onestack.kernel.tokens import KeyRepository, TokenCodec, TokenInvalid, TokenPayload


def payload(**kw: object) -> TokenPayload:
    values: dict = {"user_id": "u", "methods": ["password"], "expires_at": time.time() + 60,
                    "project_id": "p", "roles": ["member"]}
    values.update(kw)
    return TokenPayload(**values)


def test_round_trip_and_tamper(tmp_path: Path) -> None:
    keys = KeyRepository(tmp_path / "k")
    keys.initialize()
    codec = TokenCodec(keys)
    token = codec.encode(payload(app_cred_id="ac"))
    decoded = codec.decode(token)
    assert (decoded.user_id, decoded.roles, decoded.app_cred_id) == ("u", ["member"], "ac")
    with pytest.raises(TokenInvalid):
        codec.decode(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))


def test_rotation_keeps_recent_keys_valid_and_drops_old(tmp_path: Path) -> None:
    keys = KeyRepository(tmp_path / "k", max_active_keys=3)
    keys.initialize()
    codec = TokenCodec(keys)
    token = codec.encode(payload())
    keys.rotate()
    assert codec.decode(token).user_id == "u"
    keys.rotate()
    keys.rotate()
    assert sorted(int(p.name) for p in (tmp_path / "k").iterdir() if p.name.isdigit())[0] == 0
    assert len([p for p in (tmp_path / "k").iterdir() if p.name.isdigit()]) == 3
    with pytest.raises(TokenInvalid):
        codec.decode(token)


def test_revocation_by_fields_and_issue_time(tmp_path: Path) -> None:
    keys = KeyRepository(tmp_path / "k")
    keys.initialize()
    codec = TokenCodec(keys)
    revocations = RevocationList()
    validator = TokenValidator(codec, revocations)
    before = codec.encode(payload(issued_at=time.time() - 10))
    other_user = codec.encode(payload(user_id="v", issued_at=time.time() - 10))
    assert validator.validate(before).user_id == "u"
    now = time.time()
    revocations.add(RevocationEvent(revoked_at=now, issued_before=now, user_id="u"))
    with pytest.raises(TokenInvalid, match="revoked"):
        validator.validate(before)
    assert validator.validate(other_user).user_id == "v"
    after = codec.encode(payload(issued_at=time.time() + 1))
    assert validator.validate(after).user_id == "u"


def test_expired_tokens_and_the_allow_expired_window(tmp_path: Path) -> None:
    keys = KeyRepository(tmp_path / "k")
    keys.initialize()
    codec = TokenCodec(keys)
    validator = TokenValidator(codec, RevocationList())
    token = codec.encode(payload(expires_at=time.time() - 5))
    with pytest.raises(TokenInvalid, match="expired"):
        validator.validate(token)
    assert validator.validate(token, allow_expired_window=60).user_id == "u"


def test_an_event_that_names_nothing_revokes_nothing(tmp_path: Path) -> None:
    keys = KeyRepository(tmp_path / "k")
    keys.initialize()
    codec = TokenCodec(keys)
    revocations = RevocationList()
    validator = TokenValidator(codec, revocations)
    token = codec.encode(payload(issued_at=time.time() - 10))
    now = time.time()
    revocations.add(RevocationEvent(revoked_at=now, issued_before=now))
    revocations.add(RevocationEvent(revoked_at=now, issued_before=now, role_id="r"))
    assert validator.validate(token).user_id == "u"
