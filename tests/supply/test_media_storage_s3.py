"""Pictures on S3-compatible storage (django-storages + boto3), as docker-compose runs them on MinIO: against a
local S3 server this suite starts (moto's, speaking the S3 REST protocol on 127.0.0.1), never a patched client."""
import io
import json
import os
import socket
import subprocess
import sys
import uuid

import boto3
import pytest
from botocore.config import Config
from django.core.files.storage import default_storage
from PIL import Image
from rest_framework.test import APIClient

from supply.models import ProductImage
from tests.factories import ListingFactory, ProductFactory, SKUFactory, SupplierFactory
from tests.supply import pictures
from tests.supply.test_product_images import upload

pytestmark = pytest.mark.django_db
CREDENTIALS = {"aws_access_key_id": "mall-test", "aws_secret_access_key": "mall-test-secret"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def s3_storage_settings(endpoint: str, bucket: str) -> dict:
    """What config/settings.py builds from the MEDIA_S3_* variables."""
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": bucket, "endpoint_url": endpoint, "access_key": CREDENTIALS["aws_access_key_id"],
        "secret_key": CREDENTIALS["aws_secret_access_key"], "region_name": "us-east-1",
        "custom_domain": f"media.example.com/{bucket}", "url_protocol": "https:", "querystring_auth": False,
        "file_overwrite": True, "object_parameters": {"CacheControl": "public, max-age=31536000, immutable"},
        "client_config": Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1},
                                s3={"addressing_style": "path"})}}


@pytest.fixture
def bucket(s3_endpoint, settings):
    name = f"mall-media-{uuid.uuid4().hex[:8]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **CREDENTIALS)
    client.create_bucket(Bucket=name)
    settings.STORAGES = {**settings.STORAGES, "default": s3_storage_settings(s3_endpoint, name)}
    return client, name


def objects(client, bucket: str) -> dict[str, dict]:
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {entry["Key"]: client.head_object(Bucket=bucket, Key=entry["Key"]) for entry in listed}


def test_an_upload_goes_to_the_bucket_and_shoppers_get_the_public_urls(bucket, django_capture_on_commit_callbacks):
    client, name = bucket
    assert default_storage.bucket_name == name
    supplier = SupplierFactory()
    product = ProductFactory(supplier=supplier)
    listing = ListingFactory(sku=SKUFactory(product=product))
    files_before = pictures.stored_files()
    response = upload(supplier, product.pk, pictures.jpeg(2000, 1000))
    assert response.status_code == 201, response.json()
    image = ProductImage.objects.get(product=product)
    stored = objects(client, name)
    assert set(stored) == {image.file.name, image.thumbnail_medium.name, image.thumbnail_small.name}
    assert all(head["ContentType"] == "image/jpeg" for head in stored.values())
    assert stored[image.file.name]["CacheControl"] == "public, max-age=31536000, immutable"
    body = client.get_object(Bucket=name, Key=image.thumbnail_small.name)["Body"].read()
    assert Image.open(io.BytesIO(body)).size == (360, 180)
    assert pictures.stored_files() == files_before  # nothing went to the local folder

    picture = APIClient().get(f"/api/v1/listings/{listing.pk}").json()["images"][0]
    assert picture["small_url"] == f"https://media.example.com/{name}/{image.thumbnail_small.name}"
    assert picture["large_url"] == f"https://media.example.com/{name}/{image.file.name}"
    assert "?" not in picture["large_url"]  # public, unsigned: a URL that does not expire

    with django_capture_on_commit_callbacks(execute=True):
        response = APIClient().delete(f"/api/v1/supplier/products/{product.pk}/images/{image.pk}",
                                      HTTP_AUTHORIZATION=f"Bearer {supplier.issued_token}")
    assert response.status_code == 204 and objects(client, name) == {}


def test_an_unreachable_storage_is_a_503_and_writes_no_row(settings):
    settings.STORAGES = {**settings.STORAGES, "default": s3_storage_settings(f"http://127.0.0.1:{free_port()}",
                                                                             "nowhere")}
    supplier = SupplierFactory()
    product = ProductFactory(supplier=supplier)
    response = upload(supplier, product.pk, pictures.jpeg())
    assert (response.status_code, response.json()["code"]) == (503, "image_storage_unavailable")
    assert not ProductImage.objects.filter(product=product).exists()


def settings_with(**environment) -> dict:
    """config/settings.py read by a fresh interpreter with these variables set."""
    script = ("import json; from django.conf import settings as s; "
              "o = s.STORAGES['default'].get('OPTIONS', {}); "
              "print(json.dumps({'backend': s.STORAGES['default']['BACKEND'], 'media_root': str(s.MEDIA_ROOT), "
              "'served': s.MEDIA_SERVED_BY_DJANGO, 'options': {k: v for k, v in o.items() if k != 'client_config'},"
              "'addressing': o['client_config'].s3['addressing_style'] if 'client_config' in o else None}))")
    env = {key: value for key, value in os.environ.items() if not key.startswith("MEDIA_")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DJANGO_SECRET_KEY="x" * 50, **environment)
    result = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {script}"], env=env,
                            capture_output=True, text=True, check=True, timeout=60)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_storage_is_chosen_by_environment_variables(tmp_path):
    local = settings_with(DJANGO_DEBUG="1", MEDIA_ROOT=str(tmp_path))
    assert local == {"backend": "django.core.files.storage.FileSystemStorage", "media_root": str(tmp_path),
                     "served": True, "options": {}, "addressing": None}
    assert settings_with(DJANGO_DEBUG="0")["served"] is False  # production never serves MEDIA_ROOT itself
    s3 = settings_with(DJANGO_DEBUG="0", MEDIA_S3_BUCKET="mall-media", MEDIA_S3_ENDPOINT_URL="http://minio:9000",
                       MEDIA_S3_ACCESS_KEY_ID="key", MEDIA_S3_SECRET_ACCESS_KEY="secret",
                       MEDIA_S3_CUSTOM_DOMAIN="localhost:9000/mall-media", MEDIA_S3_URL_PROTOCOL="http:")
    assert s3["backend"] == "storages.backends.s3.S3Storage" and s3["served"] is False
    assert {key: s3["options"][key] for key in ("bucket_name", "endpoint_url", "access_key", "secret_key",
                                                "custom_domain", "url_protocol", "querystring_auth")} == {
        "bucket_name": "mall-media", "endpoint_url": "http://minio:9000", "access_key": "key",
        "secret_key": "secret", "custom_domain": "localhost:9000/mall-media", "url_protocol": "http:",
        "querystring_auth": False}
    assert s3["addressing"] == "path"
