"""Probe event handlers, imported by the test worker (celery -I) and by the tests that use it.

On "probe_ping" it records a "probe_pong" event: a database effect that commits together with the delivery.
"""
from core.events import record_event, subscribe


@subscribe("probe_ping", name="tests.probe_pong")
def answer_ping(event) -> None:
    record_event(kind="probe_pong", object_type="core.behaviourevent", object_id=event.pk,
                 payload={"ping": event.pk})


@subscribe("probe_flaky", name="tests.probe_flaky")
def fail_first_then_answer(event) -> None:
    """Fails on the first delivery (attempts are counted in the database, so any process sees them)."""
    from core.models import EventDelivery

    if EventDelivery.objects.get(event=event, handler="tests.probe_flaky").attempts == 0:
        raise RuntimeError("first delivery of probe_flaky fails on purpose")
    record_event(kind="probe_flaky_effect", object_type="core.behaviourevent", object_id=event.pk)
