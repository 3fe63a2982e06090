from django.apps import AppConfig


class MallConfig(AppConfig):
    name = "mall"
    verbose_name = "商城 Mall"
