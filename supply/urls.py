from django.urls import path

from supply import api

urlpatterns = [
    path("supplier/stock", api.InventorySyncApi.as_view()),
]
