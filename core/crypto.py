"""Encrypted fields: AES-256-GCM with a key ring from settings, so keys can be rotated without downtime.

FIELD_ENCRYPTION_KEYS lists keys as `id:base64(32 bytes)`, newest first. New values are encrypted with the first;
every listed key still decrypts, so a rotation is: put the new key first, run `manage.py encryption_rotate` (it
re-encrypts every stored value whose key is not the current one), then drop the old key. A stored value reads
`v1:<key id>:<base64url(nonce | ciphertext | tag)>`; the field's purpose (model and field name) is the associated
data, so a ciphertext copied into another field does not decrypt there.

Outside DEBUG there is no default key: start-up refuses when a model has an encrypted field and no key is configured
(`core.checks`). In DEBUG a development key is derived from SECRET_KEY, never to be used with real data.
"""
import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models

FORMAT = "v1"
NONCE_BYTES = 12


class DecryptionFailed(Exception):
    """A stored value cannot be decrypted: its key is not in the ring, or it was tampered with."""


@dataclass(frozen=True)
class KeyRing:
    current_id: str
    keys: dict[str, AESGCM]


def _parse_keys(spec: list[str]) -> KeyRing:
    keys: dict[str, AESGCM] = {}
    for entry in spec:
        key_id, _, encoded = entry.strip().partition(":")
        if not key_id or not encoded or ":" in encoded:
            raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS entries read 'id:base64key' (32-byte keys)")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error as error:
            raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS: key {key_id!r} is not base64") from error
        if len(raw) != 32:
            raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS: key {key_id!r} must be 32 bytes (AES-256)")
        keys[key_id] = AESGCM(raw)
    return KeyRing(current_id=next(iter(keys)), keys=keys)


@cache
def key_ring() -> KeyRing:
    spec = [entry for entry in settings.FIELD_ENCRYPTION_KEYS if entry.strip()]
    if spec:
        return _parse_keys(spec)
    if settings.DEBUG:
        derived = hashlib.sha256(b"field-encryption-dev-key:" + settings.SECRET_KEY.encode()).digest()
        return KeyRing(current_id="dev", keys={"dev": AESGCM(derived)})
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEYS is empty. Outside debug there is no default: set it to 'id:base64key' with a random "
        "32-byte key (python -c \"import os,base64;print('k1:'+base64.b64encode(os.urandom(32)).decode())\").")


def _forget_keys(*, setting: str, **kwargs) -> None:
    if setting in ("FIELD_ENCRYPTION_KEYS", "DEBUG", "SECRET_KEY"):
        key_ring.cache_clear()


setting_changed.connect(_forget_keys)


def encrypt(plaintext: str, *, purpose: str) -> str:
    ring = key_ring()
    nonce = os.urandom(NONCE_BYTES)
    sealed = ring.keys[ring.current_id].encrypt(nonce, plaintext.encode(), purpose.encode())
    return f"{FORMAT}:{ring.current_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def key_id_of(token: str) -> str | None:
    parts = token.split(":", 2)
    return parts[1] if len(parts) == 3 and parts[0] == FORMAT else None


def decrypt(token: str, *, purpose: str) -> str:
    key_id = key_id_of(token)
    ring = key_ring()
    if key_id is None or key_id not in ring.keys:
        raise DecryptionFailed(f"no key {key_id!r} in FIELD_ENCRYPTION_KEYS")
    try:
        blob = base64.urlsafe_b64decode(token.split(":", 2)[2])
        return ring.keys[key_id].decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], purpose.encode()).decode()
    except (InvalidTag, ValueError, binascii.Error) as error:
        raise DecryptionFailed("the value was tampered with or belongs to another field") from error


class EncryptedTextField(models.TextField):
    """Text stored encrypted (AES-256-GCM); Python code sees the plain text. Not searchable or orderable: keep a
    derived, non-secret column beside it for that (e.g. a masked phone)."""

    def contribute_to_class(self, cls, name, private_only=False):
        super().contribute_to_class(cls, name, private_only)
        self.purpose = f"{cls._meta.label_lower}.{name}"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value, purpose=self.purpose)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value, purpose=self.purpose)


def encrypted_fields() -> list[tuple[type[models.Model], EncryptedTextField]]:
    # A proxy model's rows are its concrete model's: counted (and re-encrypted) once, there.
    return [(model, field) for model in apps.get_models() if not model._meta.proxy
            for field in model._meta.concrete_fields if isinstance(field, EncryptedTextField)]


def encryption_rotate(*, batch_size: int = 500) -> dict[str, int]:
    """Re-encrypt with the current key every stored value encrypted with another. Returns rows changed per field."""
    current = key_ring().current_id
    changed: dict[str, int] = {}
    for model, field in encrypted_fields():
        count = 0
        stale = model._default_manager.exclude(**{f"{field.attname}__startswith": f"{FORMAT}:{current}:"}).exclude(
            **{field.attname: ""}).exclude(**{f"{field.attname}__isnull": True})
        # values_list decrypts through the field; update() encrypts again with the current key.
        for pk, plaintext in stale.values_list("pk", field.attname).iterator(chunk_size=batch_size):
            count += model._default_manager.filter(pk=pk).update(**{field.attname: plaintext})
        changed[field.purpose] = count
    return changed
