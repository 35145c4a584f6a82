"""Credentials at rest: a JSON model field encrypted with Fernet (cryptography)."""

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


def _fernet() -> MultiFernet:
    raw = settings.RELAIS_ENCRYPTION_KEY
    if raw:
        keys = [k.strip() for k in raw.split(",") if k.strip()]
    else:
        # Embedded default: derive a stable key from SECRET_KEY so the demo needs no set-up.
        digest = hashlib.sha256(("relais-credentials:" + settings.SECRET_KEY).encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "RELAIS_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64 bytes), comma-separated"
        ) from exc


def encrypt_json(value: Any) -> str:
    return _fernet().encrypt(json.dumps(value).encode()).decode()


def decrypt_json(token: str) -> Any:
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "Stored credentials cannot be decrypted with RELAIS_ENCRYPTION_KEY"
        ) from exc


class EncryptedJSONField(models.TextField):
    """Stores a JSON value as a Fernet token; the database never sees the plain text."""

    # For django-stubs: the Python value is a JSON value, not the stored string.
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return {}
        return decrypt_json(value)

    def to_python(self, value):
        if isinstance(value, dict | list):
            return value
        if value in (None, ""):
            return {}
        return decrypt_json(value)

    def get_prep_value(self, value):
        if value is None:
            value = {}
        return encrypt_json(value)
