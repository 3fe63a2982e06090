"""The admin sites' common theme (django-unfold, every asset served from our own static files): the operator admin
at /admin/ is an `OperatorSite`, the merchant and supplier consoles build on `ThemedAdminSite` too.

Each site reads its own unfold settings (`settings_name`: UNFOLD, UNFOLD_MERCHANT, UNFOLD_SUPPLIER in
config/settings.py). Where a site's settings list no sidebar, the sidebar is the site's own app list: every model
the user may see, grouped by app, with the icon its ModelAdmin names (`icon = "shopping_cart"`, a Material Symbols
name) and its `menu_title` where the page is more than a list of the model's rows, so a model registered on a
site appears in its menu without anyone keeping a second list.
"""
from django.contrib.admin.apps import AdminConfig
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.utils.translation import gettext_lazy as _
from unfold.sites import UnfoldAdminSite

DEFAULT_ICON = "table_rows"


class ThemedAdminSite(UnfoldAdminSite):
    site_url = None  # no "view site" link: the admin sites are the site for their users

    def get_sidebar_list(self, request):
        configured = super().get_sidebar_list(request)
        if configured:
            return configured
        index = self._get_navigation_items(request, [
            {"title": _("首页 Dashboard"), "icon": "dashboard", "link": self._index_url()}])
        groups = [{"title": None, "items": index}]
        for app in self.get_app_list(request):
            items = [{"title": self._title_of(model), "link": model["admin_url"], "icon": self._icon_of(model["model"])}
                     for model in app["models"] if model.get("admin_url")]
            groups.append({"title": app["name"], "collapsible": False,
                           "items": self._get_navigation_items(request, items)})
        return groups

    def login(self, request, extra_context=None):
        # unfold's login page posts no "next" field: without one, a login opened directly would land on
        # LOGIN_REDIRECT_URL (a 404 here) instead of this site's dashboard.
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            request.GET = request.GET.copy()
            request.GET[REDIRECT_FIELD_NAME] = self._index_url()
        return super().login(request, extra_context)

    def _index_url(self) -> str:
        from django.urls import reverse

        return reverse(f"{self.name}:index")

    def _title_of(self, entry: dict) -> str:
        """The menu title: the model's plural name, unless its ModelAdmin names the page (`menu_title`)."""
        return getattr(self._registry.get(entry["model"]), "menu_title", None) or entry["name"]

    def _icon_of(self, model) -> str:
        model_admin = self._registry.get(model)
        return getattr(model_admin, "icon", DEFAULT_ICON)

    def _get_is_active(self, request, link, *args, **kwargs) -> bool:
        # The dashboard's link is a prefix of every page of the site: it is active on the dashboard only.
        if link == self._index_url():
            return request.path == link
        return super()._get_is_active(request, link, *args, **kwargs)


class OperatorSite(ThemedAdminSite):
    """运营后台: every model of the platform, for operators (staff users)."""

    settings_name = "UNFOLD"
    site_header = "S2B2C 智能名片商城"
    site_title = "运营后台 Operator admin"
    index_title = "运营总览 Operations"
    index_template = "admin/operator_index.html"


class OperatorAdminConfig(AdminConfig):
    """django.contrib.admin with the operator site as `admin.site`, so every `@admin.register` lands on it."""

    default_site = "core.sites.OperatorSite"

