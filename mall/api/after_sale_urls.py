"""After-sale endpoints (mall/api/after_sales.py)."""
urlpatterns: list = []
