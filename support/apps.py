from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = "智能客服 Support"
