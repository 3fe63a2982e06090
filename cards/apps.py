from django.apps import AppConfig


class CardsConfig(AppConfig):
    name = "cards"
    verbose_name = "智能名片 Cards"
