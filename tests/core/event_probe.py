"""Probe event kinds and handlers, imported by the test worker (celery -I) and by the tests that use them.

On "probe_ping" it records a "probe_pong" event: a database effect that commits together with the delivery.
"""
from core.events import Actor, declare, record_event, subscribe
from core.models import EventDelivery

declare("probe_ping", meaning="test probe: asks the handler to answer", optional={"hello": str}, actor=Actor.ANY)
declare("probe_pong", meaning="test probe: the handler's answer", fields={"ping": int}, actor=Actor.ANY)
declare("probe_flaky", meaning="test probe: its handler fails on the first delivery", actor=Actor.ANY)
declare("probe_flaky_effect", meaning="test probe: the flaky handler's effect", actor=Actor.ANY)
declare("probe_visit", meaning="test probe: a high-volume visitor event read only by batch consumers",
        fields={"page": str}, actor=Actor.VISITOR)


@subscribe("probe_ping", name="tests.probe_pong")
def answer_ping(event) -> None:
    record_event(kind="probe_pong", object_type="core.behaviourevent", object_id=event.pk,
                 payload={"ping": event.pk})


@subscribe("probe_flaky", name="tests.probe_flaky")
def fail_first_then_answer(event) -> None:
    """Fails on the first delivery (attempts are counted in the database, so any process sees them)."""
    if EventDelivery.objects.get(event_id=event.pk, handler="tests.probe_flaky").attempts == 0:
        raise RuntimeError("first delivery of probe_flaky fails on purpose")
    record_event(kind="probe_flaky_effect", object_type="core.behaviourevent", object_id=event.pk)
