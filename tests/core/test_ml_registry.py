"""The model registry (core/ml/registry.py): numbered versions in the database, one active per name, artefacts
checked by their SHA-256."""
import threading

import pytest
from django.db import IntegrityError, connection, transaction

from core.errors import NotFound
from core.ml import registry
from core.ml.models import ModelVersion

pytestmark = pytest.mark.django_db


def register(name: str = "tests.model", *, activate: bool = False, value: float = 0.5) -> ModelVersion:
    return registry.model_version_register(name=name, artefact=registry.json_artefact({"weight": value}),
                                           artefact_format=registry.JSON, metrics={"auc": value},
                                           params={"c": 1.0}, note="trained by a test", activate=activate)


def statuses(name: str = "tests.model") -> list[tuple[int, str]]:
    return list(ModelVersion.objects.filter(name=name).order_by("version").values_list("version", "status"))


def test_versions_are_numbered_per_name_and_activating_one_retires_the_other():
    first = register(activate=True)
    second = register(value=0.6)
    register(name="tests.other")
    assert (first.version, second.version) == (1, 2)
    assert statuses() == [(1, "active"), (2, "candidate")]
    assert registry.model_version_active(name="tests.model").pk == first.pk
    registry.model_version_activate(name="tests.model", version=2)
    assert statuses() == [(1, "retired"), (2, "active")]
    assert registry.model_version_active(name="tests.model").label == "tests.model@v2"
    assert registry.artefact_json(registry.model_version_active(name="tests.model")) == {"weight": 0.6}
    assert statuses("tests.other") == [(1, "candidate")]  # names do not touch each other
    registry.model_version_activate(name="tests.model", version=1)  # an operator rolls back
    assert statuses() == [(1, "active"), (2, "retired")]


def test_the_database_refuses_a_second_active_version():
    register(activate=True)
    second = register()
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=second.pk).update(status=ModelVersion.Status.ACTIVE)
    assert statuses() == [(1, "active"), (2, "candidate")]


def test_an_unknown_version_is_not_found_and_nothing_changes():
    register(activate=True)
    with pytest.raises(NotFound) as refused:
        registry.model_version_activate(name="tests.model", version=7)
    assert refused.value.code == "model_version_not_found"
    assert statuses() == [(1, "active")]


def test_an_artefact_changed_outside_the_registry_is_refused_when_loaded():
    version = register(activate=True)
    ModelVersion.objects.filter(pk=version.pk).update(artefact=registry.json_artefact({"weight": 99}))
    with pytest.raises(registry.ArtefactCorrupt):
        registry.artefact_json(ModelVersion.objects.get(pk=version.pk))


def test_json_artefacts_are_canonical():
    assert registry.json_artefact({"b": 1, "a": [1.5, "意向"]}) == '{"a":[1.5,"意向"],"b":1}'.encode()
    version = register()
    with pytest.raises(ValueError, match="not JSON"):
        registry.artefact_json(ModelVersion(name="x", version=1, artefact=b"\x80", artefact_format="joblib",
                                            artefact_sha256=version.artefact_sha256))


@pytest.mark.django_db(transaction=True)
def test_trainings_finishing_at_once_get_different_numbers():
    errors: list[BaseException] = []

    def train(value: float) -> None:
        try:
            register(value=value)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=train, args=(index / 10,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [version for version, _status in statuses()] == [1, 2, 3, 4, 5, 6]


def test_an_operator_puts_an_older_version_back_in_use_from_the_admin(client):
    from django.urls import reverse

    from tests.factories import UserFactory

    client.force_login(UserFactory(role="operator", is_staff=True, is_superuser=True))
    first = register(activate=True)
    register(activate=True)
    response = client.post(reverse("admin:core_modelversion_changelist"),
                           {"action": "activate_versions", "_selected_action": [first.pk]})
    assert response.status_code == 302
    assert statuses() == [(1, "active"), (2, "retired")]
    page = client.get(reverse("admin:core_modelversion_changelist"))
    assert page.status_code == 200 and "tests.model" in page.content.decode()
