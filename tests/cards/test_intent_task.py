"""The intent model's training task on a real Celery worker (the `ml` queue), on the demo's first months: it
registers a judged version, activates it, and the leads are scored with it; a retraining on the same data is not
worse, so it replaces the first."""
import pytest
from celery.result import allow_join_result
from django.core.management import call_command

from cards.models import Lead
from cards.tasks import intent_train_task
from config.celery import app
from core.ml.models import ModelVersion
from mall.management.commands.load_demo import default_data_dir

CSV_PATH = default_data_dir() / "online_retail" / "online_retail.csv.gz"

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow,
              pytest.mark.skipif(not CSV_PATH.exists(), reason=f"{CSV_PATH} is not there")]

LIMIT = 7000  # invoices: December 2010 to about April 2011


@pytest.fixture
def worker_settings(monkeypatch):
    """The worker process reads its settings from the environment: score as of the demo's last visit, and ask for
    fewer labels than the default (this is a fraction of the demo)."""
    monkeypatch.setenv("CARDS_INTENT_AS_OF", "latest")
    monkeypatch.setenv("CARDS_INTENT_MIN_LABELS", "100")


@pytest.fixture
def real_broker():
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = True


def test_the_training_task_registers_and_activates_a_judged_model_on_a_real_worker(worker_settings,
                                                                                  celery_worker_process, real_broker):
    call_command("load_demo", "--limit-invoices", str(LIMIT), "--quiet")
    call_command("load_demo_cards", "--quiet")
    with allow_join_result():
        first = intent_train_task.delay().get(timeout=240)
    assert first["status"] == "activated", first
    version = ModelVersion.objects.get(name="cards.intent", version=1)
    assert version.status == ModelVersion.Status.ACTIVE and first["scored_with"] == "cards.intent@v1"
    held_out = version.metrics["held_out"]
    assert held_out["n"] > 500 and held_out["positives"] > 50
    assert held_out["auc"] > version.metrics["points_held_out"]["auc"]  # it beat the points formula to get here
    assert version.metrics["held_out_walk_forward"]["ece"] <= 0.05
    assert set(version.metrics["coefficients"]) >= {"recency", "visits_30d", "asked_price", "referrer_converted"}
    scored = Lead.objects.filter(intent_model="cards.intent@v1")
    assert scored.count() == first["scored"] > 0
    assert scored.exclude(intent_reasons=[]).exists() and scored.exclude(tags=[]).exists()

    with allow_join_result():
        second = intent_train_task.delay().get(timeout=240)
    assert second["status"] == "activated" and "was" in second["note"]  # the same data: not worse, a tie
    assert list(ModelVersion.objects.order_by("version").values_list("version", "status")) == [
        (1, "retired"), (2, "active")]
