from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "核心 Core"

    def ready(self) -> None:
        # Every app's events.py declares its kinds and subscribes its handlers and batch consumers here, in every
        # process (web, worker, beat, tests), so writers and consumers see the same registry.
        from core import checks, consumers  # noqa: F401  (registers the system check and the kernel's consumer)

        autodiscover_modules("events")
        # Every process knows every task by name (services schedule their app's tasks by name, without importing
        # tasks.py, which imports them); Celery's own autodiscovery runs only in workers.
        autodiscover_modules("tasks")
        # An encrypted field with no key (outside debug) refuses start-up here, in every process, not at the first
        # read of a secret.
        from core.crypto import encrypted_fields, key_ring

        if encrypted_fields():
            key_ring()
