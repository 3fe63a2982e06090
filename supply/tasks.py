"""Celery tasks of the supply side: thin, idempotent, each calling one service."""
from celery import shared_task

from supply import images


@shared_task(name="supply.product_pictures_generate_task", acks_late=True)
def product_pictures_generate_task(product_ids: list[int]) -> dict[str, int]:
    """Draw (or redraw) the generated pictures of a batch of products. Safe to run twice: a picture that is
    already drawn for the current title and colour is left as it is."""
    return images.product_pictures_generate(product_ids=product_ids)
