"""Bargain endpoints (mall/api/bargains.py)."""
urlpatterns: list = []
