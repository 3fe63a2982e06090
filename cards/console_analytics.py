"""The merchant console's share analytics (分享分析): a list of the cards the user may read (a rep: their own; a
store's manager or owner: the store's) and, for each, one page with every share-graph analytic (cards/analytics.py):
figures per level with the second-level share ratio and branching factor, the propagation tree (three levels, deeper
on request, always bounded), top spreaders, the chains of the card's converted leads, and the attribution of an
order looked up by its number. Read-only: nothing here writes. config/urls.py imports this module.
"""
import json

from django.contrib import admin
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from cards import analytics
from cards.models import CardAnalytics, Lead, Referral, Share
from core.errors import DomainError
from mall.consoles import merchant_console
from mall.dashboard_pages import BRAND, MUTED, _chart, _series
from mall.models import Order
from supply.console import ConsoleModelAdmin

TREE_NODES = 300


@admin.register(CardAnalytics, site=merchant_console)
class CardAnalyticsAdmin(ConsoleModelAdmin):
    icon = "hub"
    menu_title = "分享分析 Share analytics"
    owner_path = "store"
    console_can_add = False
    console_can_change = False
    list_display = ("name", "store", "owner", "status", "share_count", "referral_count", "open_analytics")
    list_filter = ("status",)
    search_fields = ("name",)

    def get_queryset(self, request):
        cards = super().get_queryset(request)
        if not request.user.is_superuser:
            cards = cards.filter(pk__in=analytics.cards_visible_to(user=request.user).values("pk"))
        return cards.select_related("store", "owner").annotate(shares_total=_count_of(Share),
                                                                referrals_total=_count_of(Referral))

    @admin.display(description="分享次数 shares", ordering="shares_total")
    def share_count(self, card) -> int:
        return card.shares_total

    @admin.display(description="带来访客 referred", ordering="referrals_total")
    def referral_count(self, card) -> int:
        return card.referrals_total

    @admin.display(description="分析 analytics")
    def open_analytics(self, card):
        return format_html('<a class="text-primary-600" href="{}/change/">查看 open</a>', card.pk)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        card = self.get_queryset(request).filter(pk=object_id).first() if str(object_id).isdigit() else None
        if card is None:
            raise Http404("no such card")
        request.current_app = self.admin_site.name  # the page's links reverse within this console
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "card": card,
                   "title": f"分享分析 · {card.name}", "has_view_permission": True}
        try:
            context.update(self._analytics(request, card))
        except DomainError as error:  # the graph down: say so on the page
            context["graph_error"] = str(error.message)
        return TemplateResponse(request, "cards/console/card_analytics.html", context)

    def _analytics(self, request, card) -> dict:
        user = request.user if not request.user.is_superuser else card.owner
        depth = _number(request.GET.get("depth"), default=analytics.DEFAULT_DEPTH, high=analytics.MAX_DEPTH)
        levels = analytics.levels(card=card)
        tree = analytics.card_tree_for(user=user, card_id=card.pk, depth=depth, limit=TREE_NODES)
        spreaders = analytics.card_spreaders_for(user=user, card_id=card.pk, limit=10)
        converted = Lead.objects.filter(card=card, converted_at__isnull=False).order_by("-converted_at")[:5]
        chains = [analytics.lead_chain_for(user=user, lead_id=lead.pk) for lead in converted]
        attribution, order_number = None, request.GET.get("order", "").strip()[:32]
        if order_number:
            order = Order.objects.filter(number=order_number, store_id=card.store_id).first()
            attribution = (analytics.order_attribution_for(user=user, order_id=order.pk) if order is not None
                           else {"missing": True})
        labels = [f"第{row['level']}层" for row in levels["levels"]]
        chart = _chart("各层人数 people per level", "bar", labels, [
            _series("人数 people", (row["people"] for row in levels["levels"]), BRAND),
            _series("再次转发 forwarded", (row["forwarders"] for row in levels["levels"]), MUTED)])
        return {"levels": levels, "tree": tree, "tree_html": _tree_html(tree), "depth": depth,
                "depths": range(1, analytics.MAX_DEPTH + 1), "spreaders": spreaders["spreaders"], "chains": chains,
                "attribution": attribution, "order_number": order_number, "chart": chart,
                "chart_json": json.dumps(levels["levels"])}


def _count_of(model):
    """Rows of `model` per card, as a subquery (two joined counts would multiply each other's rows)."""
    counted = model.objects.filter(card=OuterRef("pk")).order_by().values("card").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted), 0)


def _number(value, *, default: int, high: int) -> int:
    return int(value) if value and value.isdigit() and 1 <= int(value) <= high else default


CHANNELS = {"friend": "好友", "group": "群聊", "moments": "朋友圈", "poster": "海报", "qr": "二维码"}


def _tree_html(tree: dict):
    """The tree as nested lists (every value escaped by format_html): each person with the channel that brought
    them and, for the rep's leads, a link to the lead."""
    children: dict[str, list[dict]] = {}
    for node in tree["nodes"]:
        children.setdefault(node["parent"], []).append(node)

    def branch(ref: str):
        nodes = children.get(ref, [])
        if not nodes:
            return ""
        items = format_html_join("", "<li data-ref=\"{}\"><span class=\"font-medium\">{}</span> "
                                 "<span class=\"text-xs text-base-500\">· {} · {}</span>{}</li>",
                                 ((node["person"]["ref"], node["person"]["label"],
                                   CHANNELS.get(node["channel"], node["channel"]), node["at"][:10],
                                   branch(node["person"]["ref"])) for node in nodes))
        return format_html("<ul class=\"ml-5 border-l border-base-200 pl-3\">{}</ul>", items)

    root = tree["root"]
    return format_html("<div data-tree><span class=\"font-semibold\">{}</span>{}</div>", root["label"],
                       branch(root["ref"]))
