"""The model registry: versioned artefacts in the database, one active version per model name, with their metrics.

A service trains a model, judges it (core.ml.metrics) and registers it here, asking to activate it only when it
is not worse than the version in use; scoring code loads the active version. Artefacts are bytes in a declared
format ("json" for models that are a handful of numbers, such as a logistic regression: readable, and loading
them runs no code); their SHA-256 is checked on every load. Versions of one name are numbered 1, 2, ... under a
per-name transaction lock, so two trainings that finish at once get different numbers.
"""
import hashlib
import json
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import NotFound
from core.ml.models import ModelVersion

JSON = "json"


class ArtefactCorrupt(Exception):
    """A stored artefact does not match its SHA-256: it was changed outside the registry."""


def json_artefact(value: Any) -> bytes:
    """Canonical JSON bytes (sorted keys, no spaces): the same model gives the same bytes and the same hash."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _name_locked(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"core.ml.registry:{name}"])


def model_version_register(*, name: str, artefact: bytes, artefact_format: str, metrics: dict[str, Any],
                           params: dict[str, Any] | None = None, note: str = "", activate: bool = False
                           ) -> ModelVersion:
    """Store a new version of `name` (the next number) and, with `activate`, make it the active one."""
    with transaction.atomic():
        _name_locked(name)
        last = ModelVersion.objects.filter(name=name).order_by("-version").values_list("version", flat=True).first()
        version = ModelVersion.objects.create(
            name=name, version=(last or 0) + 1, artefact=bytes(artefact), artefact_format=artefact_format,
            artefact_sha256=hashlib.sha256(artefact).hexdigest(), metrics=metrics, params=params or {},
            note=note[:500], trained_at=timezone.now())
        if activate:
            _activate(version)
    return version


def model_version_activate(*, name: str, version: int) -> ModelVersion:
    """Make a stored version the active one (an operator rolling back, or a version first kept as a candidate)."""
    with transaction.atomic():
        _name_locked(name)
        found = ModelVersion.objects.select_for_update().filter(name=name, version=version).first()
        if found is None:
            raise NotFound(_("no such model version"), code="model_version_not_found")
        if found.status != ModelVersion.Status.ACTIVE:
            _activate(found)
    return found


def _activate(version: ModelVersion) -> None:
    now = timezone.now()
    ModelVersion.objects.filter(name=version.name, status=ModelVersion.Status.ACTIVE).update(
        status=ModelVersion.Status.RETIRED)
    version.status, version.activated_at = ModelVersion.Status.ACTIVE, now
    version.save(update_fields=["status", "activated_at"])


def model_version_active(*, name: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(name=name, status=ModelVersion.Status.ACTIVE).first()


def artefact_bytes(version: ModelVersion) -> bytes:
    data = bytes(version.artefact)
    if hashlib.sha256(data).hexdigest() != version.artefact_sha256:
        raise ArtefactCorrupt(f"{version}: the stored artefact does not match its SHA-256")
    return data


def artefact_json(version: ModelVersion) -> Any:
    if version.artefact_format != JSON:
        raise ValueError(f"{version} is stored as {version.artefact_format!r}, not JSON")
    return json.loads(artefact_bytes(version))
