from django.urls import path

import core.urls  # noqa: F401  (registers the <id:...> converter)
from supply import api

urlpatterns = [
    path("supplier/stock", api.InventorySyncApi.as_view()),
    path("supplier/products/<id:product_id>/images", api.ProductImageListApi.as_view()),
    path("supplier/products/<id:product_id>/images/order", api.ProductImageOrderApi.as_view()),
    path("supplier/products/<id:product_id>/images/<id:image_id>", api.ProductImageApi.as_view()),
]
