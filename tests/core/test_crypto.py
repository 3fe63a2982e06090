"""Encrypted fields (core/crypto.py): AES-256-GCM, bound to their field, rotatable, and no default key outside
debug."""
import base64
import os
import subprocess
import sys

import pytest
from django.db import connection
from django.test import override_settings

from cards.models import BusinessCard
from core.crypto import DecryptionFailed, decrypt, encrypt, encryption_rotate, key_id_of
from tests.conftest import PROJECT_ROOT
from tests.factories import StoreFactory, UserFactory

OLD_KEY = "k1:" + base64.b64encode(b"o" * 32).decode()
NEW_KEY = "k2:" + base64.b64encode(b"n" * 32).decode()


def test_a_value_decrypts_only_for_its_purpose_and_tampering_is_detected():
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        token = encrypt("13800138000", purpose="cards.businesscard.phone")
        assert token.startswith("v1:k2:") and "13800138000" not in token
        assert encrypt("13800138000", purpose="cards.businesscard.phone") != token  # a fresh nonce each time
        assert decrypt(token, purpose="cards.businesscard.phone") == "13800138000"
        with pytest.raises(DecryptionFailed):
            decrypt(token, purpose="support.message.text")
        flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
        with pytest.raises(DecryptionFailed):
            decrypt(flipped, purpose="cards.businesscard.phone")
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]), pytest.raises(DecryptionFailed):
        decrypt(token, purpose="cards.businesscard.phone")  # its key left the ring


@pytest.mark.django_db
def test_rotation_re_encrypts_with_the_new_key_and_the_old_key_can_then_go():
    store = StoreFactory()
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        card = BusinessCard.objects.create(owner=UserFactory(), store=store, name="王小明", phone="13800138000")
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        assert BusinessCard.objects.get(pk=card.pk).phone == "13800138000"  # the old key still reads it
        assert encryption_rotate()["cards.businesscard.phone"] == 1
        assert encryption_rotate()["cards.businesscard.phone"] == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM cards_businesscard WHERE id = %s", [card.pk])
        assert key_id_of(cursor.fetchone()[0]) == "k2"
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        assert BusinessCard.objects.get(pk=card.pk).phone == "13800138000"


def test_start_up_outside_debug_refuses_encrypted_fields_without_a_key():
    env = {key: value for key, value in os.environ.items() if key != "FIELD_ENCRYPTION_KEYS"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DJANGO_DEBUG="0", DJANGO_SECRET_KEY="x" * 50,
               FIELD_ENCRYPTION_KEYS="")
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS is empty" in result.stderr
