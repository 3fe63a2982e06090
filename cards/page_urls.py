"""The H5 card page's addresses (cards/pages.py), at the site's top level: the links people forward are short."""
from django.urls import path

import core.urls  # noqa: F401  (registers the <id:...> converter)
from cards import pages

urlpatterns = [
    path("c/<slug:share_id>", pages.card_page_by_share, name="card-page-by-share"),
    path("c/<slug:share_id>/qr.svg", pages.share_qr, name="card-share-qr"),
    path("card/<id:card_id>", pages.card_page, name="card-page"),
]
