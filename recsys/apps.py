from django.apps import AppConfig


class RecsysConfig(AppConfig):
    name = "recsys"
    verbose_name = "推荐 Recommender"
