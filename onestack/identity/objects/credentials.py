"""Credentials: opaque blobs a user keeps with identity, encrypted at rest with the
credential key repository. EC2 credentials (``type == "ec2"``) are JSON blobs with an
access key and a secret, bound to a project; their id is the SHA-256 of the access
key, so a signed request finds its secret in one lookup (:func:`find_ec2`).

Signed EC2 (signature versions 2 and 4) and S3 (v2 and v4) requests are checked
here too, for ``/v3/ec2tokens`` and ``/v3/s3tokens`` and for services that verify
signatures themselves."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from cryptography.fernet import InvalidToken
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.identity.models import credential
from onestack.identity.objects.common import new_id, not_found, now, parse_time
from onestack.kernel.api.faults import BadRequest, Conflict, Unauthorized
from onestack.kernel.db import is_duplicate
from onestack.kernel.tokens import KeyRepository

EC2 = "ec2"
# How far a signed request's timestamp may be from now (Keystone's [credential]
# auth_ttl), and the longest a presigned v4 request may live (AWS's limit).
SIGNATURE_TTL = 15 * 60
PRESIGNED_MAX = 7 * 24 * 3600
_V4 = "AWS4-HMAC-SHA256"


def ec2_id(access: str) -> str:
    return hashlib.sha256(access.encode()).hexdigest()


def new_key() -> str:
    return secrets.token_hex(16)


def _encrypt(keys: KeyRepository, blob: str) -> str:
    return keys.fernet().encrypt(blob.encode()).decode()


def _decrypt(keys: KeyRepository, stored: str) -> str:
    try:
        return keys.fernet().decrypt(stored.encode()).decode()
    except InvalidToken:
        # Encrypted with a key rotated out of the repository: unreadable, not fatal.
        return ""


def _row(keys: KeyRepository, found: Any) -> dict[str, Any]:
    row = dict(found._mapping)
    row["blob"] = _decrypt(keys, row.pop("encrypted_blob"))
    return row


def ec2_blob(blob: str) -> dict[str, Any]:
    """The JSON of an EC2 blob; 400 unless it carries an access key and a secret."""
    try:
        parsed = json.loads(blob)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("access"), str) \
            or not parsed["access"] or not isinstance(parsed.get("secret"), str):
        raise BadRequest("Invalid input for field 'blob': an ec2 credential's blob is a "
                         "JSON object with 'access' and 'secret' strings.")
    return parsed


def _check_ec2(values: dict[str, Any]) -> None:
    if values["type"] == EC2:
        ec2_blob(values["blob"])
        if not values.get("project_id"):
            raise BadRequest("Invalid input for field 'project_id': an ec2 credential "
                             "needs a project.")


async def get(conn: AsyncConnection, keys: KeyRepository, cred_id: str) -> dict[str, Any]:
    found = (await conn.execute(sa.select(credential).where(credential.c.id == cred_id))
             ).first()
    if found is None:
        raise not_found("credential", cred_id)
    return _row(keys, found)


async def list_all(conn: AsyncConnection, keys: KeyRepository, *,
                   user_id: str | None = None, type_: str | None = None
                   ) -> list[dict[str, Any]]:
    query = sa.select(credential)
    if user_id is not None:
        query = query.where(credential.c.user_id == user_id)
    if type_ is not None:
        query = query.where(credential.c.type == type_)
    return [_row(keys, r) for r in await conn.execute(query.order_by(credential.c.id))]


async def create(conn: AsyncConnection, keys: KeyRepository, body: dict[str, Any],
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
    values = {"user_id": body["user_id"], "project_id": body.get("project_id"),
              "type": body["type"], "blob": body["blob"], "extra": extra or {}}
    _check_ec2(values)
    values["id"] = ec2_id(ec2_blob(body["blob"])["access"]) if body["type"] == EC2 \
        else new_id()
    stored = {k: v for k, v in values.items() if k != "blob"}
    try:
        await conn.execute(sa.insert(credential).values(
            **stored, encrypted_blob=_encrypt(keys, values["blob"])))
    except sa.exc.IntegrityError as exc:
        if is_duplicate(exc):
            raise Conflict("Conflict occurred attempting to store credential - "
                           f"Duplicate ID, {values['id']}.") from None
        raise
    return values


async def update(conn: AsyncConnection, keys: KeyRepository, current: dict[str, Any],
                 changes: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    values = {**current, **changes, "extra": {**(current["extra"] or {}), **extra}}
    _check_ec2(values)
    stored = {k: values[k] for k in ("user_id", "project_id", "type", "extra")}
    await conn.execute(sa.update(credential).where(credential.c.id == current["id"]).values(
        **stored, encrypted_blob=_encrypt(keys, values["blob"])))
    return values


async def delete(conn: AsyncConnection, cred_id: str) -> None:
    result = await conn.execute(sa.delete(credential).where(credential.c.id == cred_id))
    if not result.rowcount:
        raise not_found("credential", cred_id)


async def delete_for_user(conn: AsyncConnection, user_id: str) -> None:
    await conn.execute(sa.delete(credential).where(credential.c.user_id == user_id))


@dataclass(frozen=True)
class Ec2Credential:
    """An EC2/S3 key pair and what a request signed with it may act as."""

    id: str
    access: str
    secret: str
    user_id: str
    project_id: str | None
    trust_id: str | None = None
    app_cred_id: str | None = None


def as_ec2(row: dict[str, Any]) -> Ec2Credential | None:
    try:
        blob = ec2_blob(row["blob"])
    except BadRequest:
        return None
    return Ec2Credential(id=row["id"], access=blob["access"], secret=blob["secret"],
                         user_id=row["user_id"], project_id=row["project_id"],
                         trust_id=blob.get("trust_id"), app_cred_id=blob.get("app_cred_id"))


async def find_ec2(conn: AsyncConnection, keys: KeyRepository, access: str
                   ) -> Ec2Credential | None:
    """The EC2/S3 credential of an access key, or None: what a signed request is
    checked against."""
    found = (await conn.execute(sa.select(credential).where(
        credential.c.id == ec2_id(access), credential.c.type == EC2))).first()
    if found is None:
        return None
    cred = as_ec2(_row(keys, found))
    if cred is None or not hmac.compare_digest(cred.access, access):
        return None
    return cred


# -- signatures ---------------------------------------------------------------------

def _hmac(key: bytes, message: str, digest: Any = hashlib.sha256) -> bytes:
    return hmac.new(key, message.encode(), digest).digest()


def _aws_quote(text: str) -> str:
    return quote(text, safe="-_.~")


def _v4_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(("AWS4" + secret).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def _lower(mapping: dict[str, Any] | None) -> dict[str, str]:
    return {str(k).lower().strip(): str(v) for k, v in (mapping or {}).items()
            if v is not None}


def _v4_auth_fields(headers: dict[str, str], params: dict[str, str]) -> dict[str, str]:
    """Credential, SignedHeaders (and Signature) from the Authorization header or the
    X-Amz-* query parameters of a presigned request."""
    authorization = headers.get("authorization", "")
    if authorization.startswith(_V4):
        fields = {}
        for item in authorization[len(_V4):].split(","):
            name, _, value = item.strip().partition("=")
            fields[name] = value.strip()
        return fields
    return {name: params.get(f"X-Amz-{name}", "")
            for name in ("Credential", "SignedHeaders", "Signature")}


def _signature_v4(secret: str, creds: dict[str, Any]) -> str:
    headers = _lower(creds.get("headers"))
    params = {k: v for k, v in (creds.get("params") or {}).items() if v is not None}
    fields = _v4_auth_fields(headers, params)
    scope = fields.get("Credential", "").split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise Unauthorized("Invalid EC2 signature: malformed credential scope.")
    amz_date = headers.get("x-amz-date") or params.get("X-Amz-Date") or ""
    if not amz_date.startswith(scope[1]):
        raise Unauthorized("Invalid EC2 signature: the request date does not match the "
                           "credential scope.")
    verb = (creds.get("verb") or "GET").upper()
    pairs = sorted((_aws_quote(k), _aws_quote(v)) for k, v in params.items()
                   if k != "X-Amz-Signature")
    query = "" if verb == "POST" else "&".join(f"{k}={v}" for k, v in pairs)
    signed = [h for h in fields.get("SignedHeaders", "").split(";") if h]
    lines = []
    for name in signed:
        value = headers.get(name)
        if value is None and name == "host":
            value = creds.get("host")
        if value is None:
            raise Unauthorized(f"Invalid EC2 signature: signed header {name} is missing.")
        lines.append(f"{name}:{' '.join(value.split())}")
    body_hash = creds.get("body_hash") or headers.get("x-amz-content-sha256") \
        or hashlib.sha256(b"").hexdigest()
    canonical = "\n".join([verb, creds.get("path") or "/", query, *lines, "",
                           ";".join(signed), body_hash])
    to_sign = "\n".join([_V4, amz_date, "/".join(scope[1:]),
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = _v4_key(secret, scope[1], scope[2], scope[3])
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def _signature_v2(secret: str, creds: dict[str, Any]) -> str:
    params = {k: v for k, v in (creds.get("params") or {}).items() if v is not None}
    if params.get("SignatureVersion") != "2":
        raise Unauthorized("Invalid EC2 signature: only signature versions 2 and 4 are "
                           "accepted.")
    digest = hashlib.sha1 if params.get("SignatureMethod") == "HmacSHA1" else hashlib.sha256
    query = "&".join(f"{_aws_quote(k)}={_aws_quote(params[k])}" for k in sorted(params)
                     if k != "Signature")
    to_sign = "\n".join([(creds.get("verb") or "GET").upper(), creds.get("host") or "",
                         creds.get("path") or "/", query])
    return base64.b64encode(_hmac(secret.encode(), to_sign, digest)).decode()


def _is_v4(creds: dict[str, Any]) -> bool:
    return (creds.get("params") or {}).get("X-Amz-Algorithm") == _V4 or \
        _lower(creds.get("headers")).get("authorization", "").startswith(_V4)


def ec2_signature(secret: str, creds: dict[str, Any]) -> str:
    """The signature the request described by ``creds`` (host, verb, path, params,
    headers, body_hash) should carry."""
    return (_signature_v4 if _is_v4(creds) else _signature_v2)(secret, creds)


def _parse_amz_time(text: str) -> float | None:
    try:
        return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return parse_time(text, "timestamp")


def check_ec2_freshness(creds: dict[str, Any]) -> None:
    """Refuse a replayed request: its timestamp must be recent, or within the life a
    presigned request asked for."""
    params = creds.get("params") or {}
    headers = _lower(creds.get("headers"))
    moment = now()
    if params.get("Expires"):
        if (parse_time(params["Expires"], "Expires") or 0) <= moment:
            raise Unauthorized("Credential signature has expired.")
        return
    stamp = params.get("Timestamp") or params.get("X-Amz-Date") or headers.get("x-amz-date")
    if not stamp:
        return
    signed_at = _parse_amz_time(stamp) or 0.0
    lifetime = SIGNATURE_TTL
    if params.get("X-Amz-Expires"):
        try:
            lifetime = min(int(params["X-Amz-Expires"]), PRESIGNED_MAX)
        except ValueError:
            raise BadRequest("Invalid input for field 'X-Amz-Expires'.") from None
        if moment > signed_at + lifetime or signed_at > moment + SIGNATURE_TTL:
            raise Unauthorized("Credential signature has expired.")
    elif abs(moment - signed_at) > lifetime:
        raise Unauthorized("Credential signature has expired.")


def verify_ec2(secret: str, creds: dict[str, Any]) -> None:
    """Raise Unauthorized unless ``creds['signature']`` signs the described request.
    Some clients sign the host without its port: that is accepted too."""
    given = creds.get("signature") or ""
    if not given:
        raise Unauthorized("EC2 signature not supplied.")
    attempts = [creds]
    host = creds.get("host") or ""
    if ":" in host:
        bare = host.rsplit(":", 1)[0]
        headers = {k: (bare if k.lower() == "host" else v)
                   for k, v in (creds.get("headers") or {}).items()}
        attempts.append({**creds, "host": bare, "headers": headers})
    for attempt in attempts:
        if hmac.compare_digest(ec2_signature(secret, attempt).encode(), given.encode()):
            check_ec2_freshness(creds)
            return
    raise Unauthorized("Invalid EC2 signature.")


def verify_s3(secret: str, token: str, signature: str) -> None:
    """An S3 request as swift's s3api hands it over: ``token`` is the base64 string
    to sign; v4 (AWS4-HMAC-SHA256) or v2 (HMAC-SHA1)."""
    try:
        to_sign = base64.b64decode(token, validate=False).decode()
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("Invalid input for field 'token': not base64 text.") from None
    if to_sign.startswith(_V4):
        lines = to_sign.split("\n")
        scope = lines[2].split("/") if len(lines) == 4 else []
        if len(scope) != 4:
            raise Unauthorized("Invalid S3 signature: malformed string to sign.")
        key = _v4_key(secret, scope[0], scope[1], scope[2])
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    else:
        expected = base64.b64encode(_hmac(secret.encode(), to_sign, hashlib.sha1)).decode()
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise Unauthorized("Invalid S3 signature.")
