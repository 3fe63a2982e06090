"""After-sale endpoints (mall/api/after_sales.py)."""
from django.urls import path

import core.urls  # noqa: F401  (registers the <id:...> converter)
from mall.api import after_sales

urlpatterns = [
    path("orders/<id:order_id>/after-sales", after_sales.AfterSaleRequestApi.as_view()),
    path("after-sales", after_sales.AfterSaleListApi.as_view()),
    path("after-sales/<id:after_sale_id>", after_sales.AfterSaleDetailApi.as_view()),
    path("after-sales/<id:after_sale_id>/return-shipment", after_sales.AfterSaleReturnShipmentApi.as_view()),
    path("after-sales/<id:after_sale_id>/withdraw", after_sales.AfterSaleWithdrawApi.as_view()),
]
