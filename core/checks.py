"""System checks: every event kind a handler or a batch consumer listens to is declared; encrypted fields have a
key."""
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from core.crypto import encrypted_fields, key_ring
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


@checks.register(checks.Tags.security, deploy=False)
def field_encryption_configured(app_configs, **kwargs) -> list[checks.CheckMessage]:
    fields = encrypted_fields()
    if not fields:
        return []
    try:
        key_ring()
    except ImproperlyConfigured as error:
        names = ", ".join(sorted({field.purpose for _model, field in fields}))
        return [checks.Error(f"{error} (encrypted fields: {names})", id="core.E003")]
    return []
