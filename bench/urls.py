"""The URLs a benchmark server answers: the product's own, plus two probes measured against each other.

- GET /bench/bare: a bare Django view answering 204, the baseline of what the server can do at all;
- POST /bench/visit: a minimal DRF endpoint recording one behaviour event for an anonymous visitor (the shape of
  the card-visit tracking endpoint to come), in autocommit: one INSERT per request.
"""
from django.http import HttpResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler400, handler404  # noqa: F401  (Django looks them up on the root URLconf)
from config.urls import urlpatterns as product_urlpatterns
from core.api import BeaconNegotiation
from core.events import record_event
from core.parsers import SafeJSONParser


def bare(request):
    return HttpResponse(status=204)


class VisitApi(APIView):
    """As lean as a DRF view gets: no authentication, no throttling, JSON in, no body out."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    parser_classes = [SafeJSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = BeaconNegotiation

    def post(self, request):
        record_event(kind="product_viewed", visitor_id=request.headers.get("X-Visitor-Id", "")[:64] or "anonymous",
                     object_type="mall.listing", object_id=request.data.get("listing_id", 0),
                     payload={"sku_id": int(request.data.get("sku_id", 0))})
        return Response(status=204)


urlpatterns = [
    path("bench/bare", bare),
    path("bench/visit", VisitApi.as_view()),
    *product_urlpatterns,
]
