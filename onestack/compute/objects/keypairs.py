"""Key pairs: a user's named public keys (SSH, or X.509 certificates from 2.2), each
with Nova's fingerprint; generated on request with ``cryptography`` (the private
key is returned once and never stored)."""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import time
from typing import Any

import sqlalchemy as sa
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.compute import models as m
from onestack.kernel.api.faults import BadRequest, Conflict, NotFound
from onestack.kernel.db import is_duplicate

Keypair = dict[str, Any]
SSH = "ssh"
X509 = "x509"
# The UPN extension Windows uses to map a certificate to a user (WinRM).
_UPN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")


def not_found(user_id: str, name: str) -> NotFound:
    return NotFound(f"Keypair {name} not found for user {user_id}")


def invalid(reason: str) -> BadRequest:
    return BadRequest(f"Keypair data is invalid: {reason}")


def _colons(hexdigest: str) -> str:
    return ":".join(hexdigest[i:i + 2] for i in range(0, len(hexdigest), 2))


def fingerprint(public_key: str, key_type: str = SSH) -> str:
    """Nova's fingerprint: MD5 of an SSH key's blob, SHA-1 of a certificate (DER)."""
    if key_type == X509:
        try:
            cert = x509.load_pem_x509_certificate(public_key.encode())
        except (ValueError, TypeError) as exc:
            raise invalid(f"failed to generate X509 fingerprint. Error message: {exc}"
                          ) from None
        return _colons(binascii.hexlify(cert.fingerprint(hashes.SHA1())).decode())
    try:
        serialization.load_ssh_public_key(public_key.strip().encode())
        blob = base64.b64decode(public_key.strip().split()[1])
    except (ValueError, TypeError, IndexError, binascii.Error, UnsupportedAlgorithm):
        raise invalid("failed to generate fingerprint") from None
    return _colons(hashlib.md5(blob, usedforsecurity=False).hexdigest())


def generate(user_id: str, key_type: str = SSH) -> tuple[str, str, str]:
    """A new key pair: (private key, public key, fingerprint). SSH keys are RSA 2048 in
    the traditional PEM form; X.509 ones a self-signed client certificate with its key
    as base64 PKCS#12, as Nova makes them for WinRM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == X509:
        cert = _client_certificate(key, user_id)
        public = cert.public_bytes(serialization.Encoding.PEM).decode()
        bundle = pkcs12.serialize_key_and_certificates(
            None, key, cert, None, serialization.NoEncryption())
        return base64.b64encode(bundle).decode(), public, fingerprint(public, X509)
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    openssh = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                            serialization.PublicFormat.OpenSSH).decode()
    public = f"{openssh} Generated-by-Nova"
    return private, public, fingerprint(public)


def _client_certificate(key: rsa.RSAPrivateKey, user_id: str) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id)])
    now = datetime.datetime.now(datetime.UTC)
    upn = x509.OtherName(_UPN_OID, b"\x0c" + bytes([len(f"{user_id}@localhost")])
                         + f"{user_id}@localhost".encode())
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
            .add_extension(x509.SubjectAlternativeName([upn]), False)
            .sign(key, hashes.SHA256()))


# -- persistence -------------------------------------------------------------------
def _row(row: Any) -> Keypair:
    return dict(row._mapping)


async def list_for_user(conn: AsyncConnection, user_id: str) -> list[Keypair]:
    table = m.keypair
    rows = await conn.execute(sa.select(table).where(table.c.user_id == user_id)
                              .order_by(table.c.name, table.c.id))
    return [_row(r) for r in rows]


async def find(conn: AsyncConnection, user_id: str, name: str) -> Keypair | None:
    table = m.keypair
    row = (await conn.execute(sa.select(table).where(table.c.user_id == user_id,
                                                     table.c.name == name))).first()
    return None if row is None else _row(row)


async def get(conn: AsyncConnection, user_id: str, name: str) -> Keypair:
    found = await find(conn, user_id, name)
    if found is None:
        raise not_found(user_id, name)
    return found


async def get_public_key(conn: AsyncConnection, user_id: str, name: str
                         ) -> dict[str, Any] | None:
    """What a server booted with ``key_name`` keeps: name, public_key and type."""
    found = await find(conn, user_id, name)
    if found is None:
        return None
    return {"name": found["name"], "public_key": found["public_key"], "type": found["type"]}


async def create(conn: AsyncConnection, user_id: str, name: str, key_type: str,
                 public_key: str, print_: str) -> Keypair:
    def exists() -> Conflict:
        return Conflict(f"Key pair '{name}' already exists.")
    if await find(conn, user_id, name) is not None:
        raise exists()
    row = {"user_id": user_id, "name": name, "type": key_type, "public_key": public_key,
           "fingerprint": print_, "created_at": time.time(), "updated_at": None}
    try:
        result = await conn.execute(m.keypair.insert().values(**row))
    except sa.exc.IntegrityError as exc:
        if is_duplicate(exc):
            raise exists() from None
        raise
    inserted = result.inserted_primary_key
    row["id"] = inserted[0] if inserted else None
    return row


async def delete(conn: AsyncConnection, user_id: str, name: str) -> None:
    table = m.keypair
    result = await conn.execute(table.delete().where(table.c.user_id == user_id,
                                                     table.c.name == name))
    if not result.rowcount:
        raise not_found(user_id, name)
