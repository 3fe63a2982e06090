from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "核心 Core"

    def ready(self) -> None:
        # Every app's events.py subscribes its handlers here, in every process (web, worker, beat, tests),
        # so writers and consumers see the same registry.
        autodiscover_modules("events")
