from django.apps import AppConfig


class SupplyConfig(AppConfig):
    name = "supply"
    verbose_name = "供应链 Supply"
