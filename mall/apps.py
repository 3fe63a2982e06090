from django.apps import AppConfig


class MallConfig(AppConfig):
    name = "mall"
    verbose_name = "商城 Mall"

    def ready(self) -> None:
        # The promotions register their order hooks when imported: every process must know them before it pays or
        # cancels an order of their kind. Enabled payment providers must have their keys, or start-up stops here.
        from mall.services import bargains, group_buys  # noqa: F401
        from mall.services.payment_providers import providers_check

        providers_check()
