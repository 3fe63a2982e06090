"""Bargain endpoints (mall/api/bargains.py)."""
from django.urls import path

import core.urls  # noqa: F401  (registers the <id:...> converter)
from mall.api import bargains

urlpatterns = [
    path("bargains", bargains.BargainCampaignListApi.as_view()),
    path("bargains/<id:campaign_id>/open", bargains.BargainOpenApi.as_view()),
    path("bargain-sessions/<id:session_id>", bargains.BargainSessionApi.as_view()),
    path("bargain-sessions/<id:session_id>/help", bargains.BargainHelpApi.as_view()),
    path("bargain-sessions/<id:session_id>/buy", bargains.BargainBuyApi.as_view()),
]
