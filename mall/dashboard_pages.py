"""The landing dashboards of the three admin sites, drawn from `mall.dashboards` figures: the sites' unfold
settings name these callbacks (DASHBOARD_CALLBACK), each puts a `dashboard` into its index page's context for
templates/admin/dashboard.html (figure cards, Chart.js charts through unfold's chart components, tables).

Nothing here computes a figure; it only says which figures a site shows, how they read, and where a card leads
(to-do cards open the filtered list that holds the work)."""
import json
from collections.abc import Callable, Iterable
from datetime import date

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from core.money import yuan
from mall import dashboards
from mall.consoles import merchant_console
from supply.console import supplier_console

BRAND = "var(--color-primary-600)"
MUTED = "var(--color-primary-300)"
GREY = "var(--color-base-300)"


def _chart_options(kind: str, stacked: bool) -> dict:
    """Chart.js options of our charts: unfold's own draw bars 4 px wide and on top of each other (`grouped: false`),
    which hides every dataset but the first; ours group (or stack) them, with a legend naming each."""
    options = {"animation": False, "responsive": True, "maintainAspectRatio": False,
               "plugins": {"legend": {"display": True, "align": "end", "labels": {"boxWidth": 10, "boxHeight": 10}}},
               "scales": {"x": {"stacked": stacked, "grid": {"display": False}},
                          "y": {"stacked": stacked, "beginAtZero": True}}}
    if kind == "bar":
        options.update(grouped=not stacked, maxBarThickness=28, categoryPercentage=0.8, barPercentage=0.9)
    else:
        options.update(elements={"point": {"radius": 0}, "line": {"borderWidth": 2, "tension": 0}})
    return options


def _chart(title: str, kind: str, labels: Iterable[str], datasets: list[dict], *, wide: bool = False,
           stacked: bool = False) -> dict:
    return {"title": title, "type": kind, "height": 260, "span_class": "lg:col-span-2" if wide else "",
            "data": json.dumps({"labels": list(labels), "datasets": datasets}, ensure_ascii=False),
            "options": json.dumps(_chart_options(kind, stacked))}


def _series(label: str, values: Iterable, color: str, **extra) -> dict:
    return {"label": label, "data": [float(value) for value in values], "borderColor": color,
            "backgroundColor": color, **extra}


def _kpi(key: str, title: str, value, note: str = "", href: str | None = None) -> dict:
    return {"key": key, "title": title, "value": value, "note": note, "href": href}


def _day_labels(days) -> list[str]:
    return [f"{day.month}/{day.day}" for day in days]


def _as_of(request, latest: Callable[[], date | None]) -> date:
    """The day a dashboard looks back from: `?day=YYYY-MM-DD` (never after today), else today, or the day of the
    latest paid order in view when DASHBOARD_DEFAULT_DAY is "latest" (the demo's orders are from 2010-2011)."""
    today = timezone.localdate()
    try:
        chosen = date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        chosen = None
    if chosen is None and settings.DASHBOARD_DEFAULT_DAY == "latest":
        chosen = latest()
    return min(chosen or today, today)


def _period(day: date) -> dict:
    return {"day": day.isoformat(), "today": timezone.localdate().isoformat()}


def _table(title: str, headers: list[str], rows: list[list]) -> dict:
    return {"title": title, "table": {"headers": headers, "rows": rows}}


# --- merchant console -----------------------------------------------------------------------------------------
def merchant_dashboard(request, context):
    store_ids = merchant_console.scope_ids(request)
    day = _as_of(request, lambda: dashboards.last_paid_day(store_ids=store_ids))
    figures = dashboards.merchant_figures(store_ids=store_ids, today=day)
    orders = reverse("merchant_console:mall_order_changelist")
    after_sales = reverse("merchant_console:mall_aftersale_changelist")
    listings = reverse("merchant_console:mall_listing_changelist")
    days = [entry.day for entry in figures.daily]
    context["dashboard"] = {
        "period": _period(day),
        "kpis": [
            _kpi("today_sales", "当日销售额 sales of the day", yuan(figures.today_sales),
                 f"{figures.today_orders} 笔支付订单 paid orders"),
            _kpi("month_sales", "本月销售额 sales this month", yuan(figures.month_sales),
                 f"{figures.month_orders} 笔订单 orders · 退款 refunded {yuan(figures.month_refunded)}"),
            _kpi("orders_to_ship", "待发货订单 orders to ship", figures.orders_to_ship,
                 "由供应商发货 shipped by suppliers", f"{orders}?status__exact=paid"),
            _kpi("after_sales_to_decide", "待处理售后 after-sales to decide", figures.after_sales_to_decide,
                 f"库存紧张的商品 low-stock listings: {figures.low_stock_listings}", after_sales),
        ],
        "charts": [
            _chart("近 30 天销售额 sales, last 30 days", "line", _day_labels(days), [
                _series("销售额 sales (¥)", (entry.sales for entry in figures.daily), BRAND),
                _series("退款 refunded (¥)", (entry.refunded for entry in figures.daily), GREY),
            ]),
            _chart("近 30 天订单数 paid orders, last 30 days", "bar", _day_labels(days), [
                _series("订单 orders", (entry.orders for entry in figures.daily), BRAND),
            ]),
        ],
        "tables": [
            _table("近 30 天热销商品 top listings, last 30 days", ["商品 listing", "件数 units", "销售额 sales"],
                   [[entry.title, entry.units, yuan(entry.sales)] for entry in figures.top_listings]),
        ],
        "low_stock_href": listings,
    }
    return context


# --- supplier console -----------------------------------------------------------------------------------------
def supplier_dashboard(request, context):
    supplier_ids = supplier_console.scope_ids(request)
    day = _as_of(request, lambda: dashboards.last_paid_day(supplier_ids=supplier_ids))
    figures = dashboards.supplier_figures(supplier_ids=supplier_ids, today=day)
    shipments = reverse("supplier_console:mall_shipment_changelist")
    stock = reverse("supplier_console:supply_stock_changelist")
    provinces = figures.provinces[:12]
    context["dashboard"] = {
        "period": _period(day),
        "kpis": [
            _kpi("shipments_to_send", "待发货 shipments to send", figures.shipments_to_send,
                 "已支付，等待发货 paid, waiting", f"{shipments}?status__exact=pending"),
            _kpi("stock_outs", "已售罄规格 SKUs sold out", figures.stock_outs, "可用库存为 0 (nothing available)",
                 f"{stock}?level=sold_out"),
            _kpi("low_stock", "库存紧张 low stock", figures.low_stock, "可用库存少于 10 (fewer than 10 available)",
                 f"{stock}?level=low"),
            _kpi("province_sales", "近 30 天货款 supply amount, 30 days",
                 yuan(sum((entry.supply_amount for entry in figures.provinces), dashboards.ZERO)),
                 f"{sum(entry.units for entry in figures.provinces)} 件 units"),
        ],
        "charts": [
            _chart("近 30 天各省销售额 sales by province, last 30 days", "bar",
                   [entry.province or "未知 unknown" for entry in provinces], [
                       _series("销售额 sales (¥)", (entry.amount for entry in provinces), BRAND),
                       _series("货款 supply amount (¥)", (entry.supply_amount for entry in provinces), MUTED),
                   ], wide=True),
        ],
        "tables": [
            _table("各省明细 by province", ["省份 province", "订单 orders", "件数 units", "销售额 sales"],
                   [[entry.province or "未知 unknown", entry.orders, entry.units, yuan(entry.amount)]
                    for entry in provinces]),
        ],
    }
    return context


# --- operator admin -------------------------------------------------------------------------------------------
def operator_dashboard(request, context):
    day = _as_of(request, dashboards.last_paid_day)
    figures = dashboards.operator_figures(today=day)
    days = [entry.day for entry in figures.gmv_daily]
    funnel = figures.funnel
    stages = [("浏览商品 viewed a product", funnel.viewed), ("加入购物车 added to cart", funnel.added_to_cart),
              ("提交订单 ordered", funnel.ordered), ("支付 paid", funnel.paid)]
    new_customers = sum(entry.new for entry in figures.customers_daily)
    returning = sum(entry.returning for entry in figures.customers_daily)
    context["dashboard"] = {
        "period": _period(day),
        "kpis": [
            _kpi("gmv", f"近 {figures.days} 天 GMV", yuan(figures.gmv), f"{figures.orders} 笔支付订单 paid orders",
                 reverse("admin:mall_order_changelist")),
            _kpi("refunded", "退款 refunded", yuan(figures.refunded), "这些订单至今的退款 refunds of those orders"),
            _kpi("new_customers", "新客户 new customers", new_customers, "首次支付 first paid order"),
            _kpi("returning_customers", "回头客 returning customers", returning, "再次支付 paid again"),
        ],
        "charts": [
            _chart(f"每日 GMV (近 {figures.days} 天) GMV per day", "line", _day_labels(days), [
                _series("GMV (¥)", (entry.sales for entry in figures.gmv_daily), BRAND),
            ], wide=True),
            _chart("下单漏斗 order funnel", "bar", [label for label, _count in stages], [
                _series("人数 people", (count for _label, count in stages), BRAND),
            ]),
            _chart("新客户与回头客 new and returning customers", "bar", _day_labels(days), [
                _series("新客户 new", (entry.new for entry in figures.customers_daily), BRAND),
                _series("回头客 returning", (entry.returning for entry in figures.customers_daily), MUTED),
            ], stacked=True),
        ],
    }
    return context

