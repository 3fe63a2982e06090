import re

from django.conf import settings
from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.defaults import bad_request, page_not_found
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

# Imported for what they register on the merchant console: the card, lead, radar and commission pages; the
# share-analytics pages.
import cards.console
import cards.console_analytics  # noqa: F401
from cards import pages as card_pages
from core.api import not_found_json
from core.health import healthz
from mall.consoles import merchant_console  # also registers the shipping page on the supplier console
from supply.console import supplier_console

api_v1 = [
    path("", include("accounts.urls")),
    path("", include("supply.urls")),
    path("", include("mall.urls")),
    path("", include("cards.urls")),
    path("", include("engagement.urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),  # the admin sites' language switch
    path("admin/", admin.site.urls),
    path("supplier/", supplier_console.urls),
    path("merchant/", merchant_console.urls),
    path("api/v1/", include(api_v1)),
    path("", include("cards.page_urls")),  # the H5 card page: /c/<share id>, /card/<card id>
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    # Last: any other /api/ path is a JSON 404 in every mode (handler404 only answers when DEBUG is off).
    re_path(r"^api/", not_found_json),
]

if settings.MEDIA_SERVED_BY_DJANGO:
    # Development only (DEBUG with local files): product pictures from MEDIA_ROOT. Production serves the storage's
    # own URLs (S3-compatible storage, or a web server in front of MEDIA_ROOT).
    urlpatterns.append(re_path(rf"^{re.escape(settings.MEDIA_URL.lstrip('/'))}(?P<path>.*)$", serve,
                               {"document_root": settings.MEDIA_ROOT}))


def handler400(request, exception=None):
    """A request Django refuses before any view (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, too many fields)."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "request_too_large", "message": "请求体过大或字段过多 (request body too large "
                             "or too many fields)", "detail": None}, status=400,
                            json_dumps_params={"ensure_ascii": False})
    return bad_request(request, exception)


def handler404(request, exception=None):
    if request.path.startswith("/api/"):
        return not_found_json(request, exception)
    if request.path.startswith(("/c/", "/card/")):
        return card_pages.page_not_found(request, exception)
    return page_not_found(request, exception)
