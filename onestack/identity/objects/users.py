"""Users and their passwords, with Keystone's security compliance rules: lockout
after failed attempts, password history, minimum age, expiry and complexity."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
from typing import Any

import bcrypt
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.identity.models import password, user
from onestack.identity.objects.common import isotime, new_id, not_found, now, split_extra
from onestack.kernel.api.faults import BadRequest, Conflict, Unauthorized
from onestack.kernel.config import IdentityConfig
from onestack.kernel.db import is_duplicate

USER_COLUMNS = {"id", "name", "domain_id", "enabled", "default_project_id", "password",
                "options", "description"}
# Keyed digests of verified passwords are meaningless outside this process.
_CACHE_KEY = secrets.token_bytes(32)
_SECURE_OPTIONS = {"ignore_change_password_upon_first_use", "ignore_password_expiry",
                   "ignore_lockout_failure_attempts", "lock_password",
                   "multi_factor_auth_enabled", "multi_factor_auth_rules", "ignore_user_inactivity"}


def _row(row: sa.Row[Any] | None) -> dict[str, Any] | None:
    return dict(row._mapping) if row is not None else None


async def get(conn: AsyncConnection, user_id: str) -> dict[str, Any]:
    found = _row((await conn.execute(sa.select(user).where(user.c.id == user_id))).first())
    if found is None:
        raise not_found("user", user_id)
    return found


async def find(conn: AsyncConnection, name: str, domain_id: str) -> dict[str, Any] | None:
    query = sa.select(user).where(user.c.name == name, user.c.domain_id == domain_id)
    return _row((await conn.execute(query)).first())


async def list_all(conn: AsyncConnection, filters: dict[str, Any],
                   ids: set[str] | None = None) -> list[dict[str, Any]]:
    query = sa.select(user)
    for key, value in filters.items():
        if value is not None:
            query = query.where(user.c[key] == value)
    if ids is not None:
        query = query.where(user.c.id.in_(ids))
    return [dict(r._mapping) for r in await conn.execute(query.order_by(user.c.name))]


async def current_password(conn: AsyncConnection, user_id: str) -> dict[str, Any] | None:
    query = (sa.select(password).where(password.c.user_id == user_id)
             .order_by(password.c.id.desc()).limit(1))
    return _row((await conn.execute(query)).first())


def password_expires_at(row: dict[str, Any] | None) -> str | None:
    return isotime(row["expires_at"]) if row and row["expires_at"] else None


def _hash(secret: str, rounds: int) -> str:
    return bcrypt.hashpw(secret.encode()[:72], bcrypt.gensalt(rounds)).decode()


async def hash_secret(secret: str, rounds: int) -> str:
    return await asyncio.to_thread(_hash, secret, rounds)


async def check_secret(secret: str, hashed: str) -> bool:
    return await asyncio.to_thread(bcrypt.checkpw, secret.encode()[:72], hashed.encode())


def _validate_options(options: Any) -> dict[str, Any]:
    if not isinstance(options, dict):
        raise BadRequest("Invalid input for field 'options': must be an object.")
    unknown = set(options) - _SECURE_OPTIONS
    if unknown:
        raise BadRequest(f"Invalid input for field 'options': unknown option(s) "
                         f"{', '.join(sorted(unknown))}.")
    return options


def check_complexity(secret: str, settings: IdentityConfig) -> None:
    if settings.password_regex and not re.match(settings.password_regex, secret):
        detail = settings.password_regex_description or "it does not meet the requirements"
        raise BadRequest(f"The password does not meet the requirements: {detail}.")


async def _store_password(conn: AsyncConnection, user_row: dict[str, Any], secret: str,
                          settings: IdentityConfig, *, self_service: bool) -> None:
    check_complexity(secret, settings)
    # As Keystone: a user's own change may not reuse any of the last N passwords (the
    # current one included); an administrator's reset is not held to the history.
    if self_service and settings.unique_last_password_count > 0:
        recent = await conn.execute(
            sa.select(password.c.hash).where(password.c.user_id == user_row["id"])
            .order_by(password.c.id.desc()).limit(settings.unique_last_password_count))
        for (hashed,) in recent:
            if await check_secret(secret, hashed):
                raise BadRequest("The new password cannot be identical to a previous "
                                 "password. The number of previous passwords that must be "
                                 f"unique is: {settings.unique_last_password_count}.")
    created = now()
    expires = None
    options = user_row.get("options") or {}
    if settings.password_expires_days and not options.get("ignore_password_expiry"):
        expires = created + settings.password_expires_days * 86400
    if (not self_service and settings.change_password_upon_first_use
            and not options.get("ignore_change_password_upon_first_use")):
        expires = created  # an admin-set password must be changed on first use
    await conn.execute(sa.insert(password).values(
        user_id=user_row["id"], hash=await hash_secret(secret, settings.password_hash_rounds),
        created_at=created, expires_at=expires, self_service=self_service))


async def create(conn: AsyncConnection, body: dict[str, Any], settings: IdentityConfig
                 ) -> dict[str, Any]:
    known, extra = split_extra(body, USER_COLUMNS)
    values = {"id": new_id(), "name": known["name"], "domain_id": known["domain_id"],
              "enabled": known.get("enabled", True),
              "default_project_id": known.get("default_project_id"),
              "description": known.get("description"),
              "options": _validate_options(known.get("options") or {}),
              "extra": extra, "created_at": now(), "failed_auth_count": 0}
    try:
        await conn.execute(sa.insert(user).values(**values))
    except sa.exc.IntegrityError as exc:
        if is_duplicate(exc):
            raise Conflict("Conflict occurred attempting to store user - Duplicate entry "
                           f"found with name {values['name']} at domain ID "
                           f"{values['domain_id']}.") from None
        raise
    if known.get("password") is not None:
        await _store_password(conn, values, known["password"], settings, self_service=False)
    return values


async def update(conn: AsyncConnection, current: dict[str, Any], body: dict[str, Any],
                 settings: IdentityConfig, verified: dict[str, bytes]) -> dict[str, Any]:
    known, extra = split_extra(body, USER_COLUMNS)
    if "id" in known and known["id"] != current["id"]:
        raise BadRequest("Cannot change the id of a user.")
    if "domain_id" in known and known["domain_id"] != current["domain_id"]:
        raise BadRequest("Cannot change the domain_id of a user.")
    values = {k: known[k] for k in ("name", "enabled", "default_project_id", "description")
              if k in known}
    if "options" in known:
        merged = {**current["options"], **_validate_options(known["options"] or {})}
        values["options"] = {k: v for k, v in merged.items() if v is not None}
    if extra:
        values["extra"] = {**current["extra"], **extra}
    if values.get("enabled") and not current["enabled"]:
        values["failed_auth_count"] = 0
    if values:
        try:
            await conn.execute(sa.update(user).where(user.c.id == current["id"])
                               .values(**values))
        except sa.exc.IntegrityError as exc:
            if is_duplicate(exc):
                raise Conflict("Conflict occurred attempting to update user - Duplicate "
                               f"entry found with name {values.get('name')}.") from None
            raise
    if known.get("password") is not None:
        verified.pop(current["id"], None)
        await _store_password(conn, {**current, **values}, known["password"], settings,
                              self_service=False)
    return await get(conn, current["id"])


async def change_password(conn: AsyncConnection, current: dict[str, Any], original: str,
                          new: str, settings: IdentityConfig,
                          verified: dict[str, bytes]) -> None:
    # Failed originals count towards the lockout, as failed authentications do.
    stored = await verify_password(conn, current, original, settings, verified,
                                   refuse_expired=False)
    if (current.get("options") or {}).get("lock_password"):
        raise BadRequest("You cannot change your password at this time due to password "
                         "policy disallowing password changes.")
    if settings.minimum_password_age and stored["self_service"]:
        age_days = (now() - stored["created_at"]) / 86400
        if age_days < settings.minimum_password_age:
            raise BadRequest("You cannot change your password at this time due to the "
                             "minimum password age. Once you change your password, it must "
                             f"be used for {settings.minimum_password_age} day(s) before it "
                             "can be changed.")
    verified.pop(current["id"], None)
    await _store_password(conn, current, new, settings, self_service=True)


def _cache_digest(user_id: str, secret: str, hashed: str) -> bytes:
    return hmac.new(_CACHE_KEY, f"{user_id}\0{hashed}\0{secret}".encode(),
                    hashlib.sha256).digest()


async def verify_password(conn: AsyncConnection, user_row: dict[str, Any], secret: str,
                          settings: IdentityConfig, verified: dict[str, bytes], *,
                          refuse_expired: bool = True, stored: dict[str, Any] | None = None
                          ) -> dict[str, Any]:
    """Check the password with lockout accounting; returns the stored password row
    (``stored``, when the caller already read it). ``refuse_expired=False`` accepts an
    expired password (to change it)."""
    refused = Unauthorized("The request you have made requires authentication.")
    options = user_row.get("options") or {}
    lockout_applies = (settings.lockout_failure_attempts > 0
                       and not options.get("ignore_lockout_failure_attempts"))
    if lockout_applies and user_row["failed_auth_count"] >= settings.lockout_failure_attempts:
        locked_since = user_row["failed_auth_at"] or 0
        if now() - locked_since < settings.lockout_duration:
            raise Unauthorized(f"The account is locked for user: {user_row['id']}.")
    if stored is None:
        stored = await current_password(conn, user_row["id"])
    if stored is None:
        raise refused
    digest = _cache_digest(user_row["id"], secret, stored["hash"])
    remembered = verified.get(user_row["id"])
    ok = remembered is not None and hmac.compare_digest(remembered, digest)
    if not ok:
        ok = await check_secret(secret, stored["hash"])
        if ok and settings.password_cache:
            verified[user_row["id"]] = digest
    if not ok:
        if lockout_applies:
            await conn.execute(sa.update(user).where(user.c.id == user_row["id"]).values(
                failed_auth_count=user.c.failed_auth_count + 1, failed_auth_at=now()))
            await conn.commit()
        raise refused
    if user_row["failed_auth_count"]:
        await conn.execute(sa.update(user).where(user.c.id == user_row["id"])
                           .values(failed_auth_count=0, failed_auth_at=None))
        await conn.commit()
    if refuse_expired and stored["expires_at"] is not None and stored["expires_at"] <= now():
        raise Unauthorized(f"The password is expired and needs to be changed for user: "
                           f"{user_row['id']}.")
    return stored
