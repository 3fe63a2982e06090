"""System checks of the event spine: every kind a handler or a batch consumer listens to is declared."""
from django.core import checks

from core.events import batch_consumers, kinds_declared, subscriptions


@checks.register()
def event_kinds_declared(app_configs, **kwargs) -> list[checks.CheckMessage]:
    problems = []
    declared = {kind.name for kind in kinds_declared()}
    for kind, handlers in subscriptions().items():
        if kind not in declared:
            problems.append(checks.Error(f"handlers {handlers} subscribe to undeclared event kind {kind!r}",
                                         id="core.E001"))
    for consumer in batch_consumers():
        for kind in sorted(consumer.kinds - declared):
            problems.append(checks.Error(f"batch consumer {consumer.name} reads undeclared event kind {kind!r}",
                                         id="core.E002"))
    return problems
