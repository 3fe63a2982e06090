"""The figures of the three admin dashboards (merchant console, supplier console, operator admin): reads only.

Definitions every figure here shares:

- A day is a calendar day in `settings.TIME_ZONE` (Asia/Shanghai): timestamps are truncated in that zone, never in
  UTC, so an order paid at 00:30 Beijing time counts on that day, not on the day before. "Today" is
  `timezone.localdate()` in that zone unless the caller passes `today`; a period of N days ends with today,
  inclusive.
- 销售额 sales (GMV for the operator) = the sum of `Order.total` (what the shopper paid: goods after discounts plus
  shipping) of the orders **paid** in the period, by `paid_at`; refunds are not deducted. This is what the home
  pages of CRMEB (支付金额 / 销售额) and litemall count: the orders paid that day, whatever happened to them later,
  so yesterday's figure does not change when a customer returns something today. An order that is paid belongs to
  the day of its payment, group-buy orders still waiting for their team included (a failed team's refund shows in
  refunded); unpaid and cancelled orders never count.
- 退款 refunded = the sum of `Order.refunded_total` of those same orders, as of now (money already sent back or
  booked to go back). `sales - refunded` is the net sales of the period's orders.
- 订单数 orders = the number of orders paid in the period (支付订单数).

Each function runs a handful of aggregate queries (counted by the tests); series are filled with zero days in
Python from at most one row per day.
"""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import BooleanField, Count, Exists, F, Func, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from core.models import BehaviourEvent
from core.money import ZERO
from mall.models import AfterSale, Listing, Order, OrderLine, Shipment
from supply.console import LOW_STOCK
from supply.models import Stock

SERIES_DAYS = 30
TOP_LISTINGS = 10
# After-sales whose next step is the merchant's: approve or refuse a request, confirm (or refuse) a returned parcel.
AFTER_SALES_TO_DECIDE = (AfterSale.Status.REQUESTED, AfterSale.Status.RETURN_SHIPPED)


# --- shared shapes ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DailySales:
    """One day of a sales series: the orders paid that day (Asia/Shanghai) and what they paid."""

    day: date
    sales: Decimal  # sum of Order.total of the orders paid that day
    orders: int  # number of orders paid that day
    refunded: Decimal  # sum of Order.refunded_total of those orders, as of now


@dataclass(frozen=True)
class TopListing:
    listing_id: int
    title: str  # the listing's product title (as it reads now)
    units: int  # units ordered on order lines of orders paid in the period
    sales: Decimal  # sum of those lines' paid_amount (after their share of coupons, without shipping)


@dataclass(frozen=True)
class MerchantFigures:
    today: date
    month_start: date  # the first day of today's calendar month
    today_sales: Decimal
    today_orders: int
    today_refunded: Decimal
    month_sales: Decimal  # month_start .. today, inclusive
    month_orders: int
    month_refunded: Decimal
    orders_to_ship: int  # 待发货: status "paid" (paid, team complete, at least one shipment still pending)
    after_sales_to_decide: int  # 待处理售后: requested (approve/refuse) or return shipped (confirm receipt)
    low_stock_listings: int  # active listings whose SKU has available < LOW_STOCK (sold-out ones included)
    daily: tuple[DailySales, ...]  # the last 30 days, oldest first, every day present
    top_listings: tuple[TopListing, ...]  # up to 10 of the last 30 days, by sales, then units


@dataclass(frozen=True)
class ProvinceSales:
    region_code: str  # the province code of the order's address snapshot ("" if the snapshot has none)
    province: str  # the province name of the snapshot
    amount: Decimal  # sum of the supplier's lines' paid_amount (what shoppers paid for its goods, no shipping)
    supply_amount: Decimal  # sum of cost_price x quantity of those lines: what the supplier is owed for them
    units: int
    orders: int  # orders with at least one of the suppliers' lines


@dataclass(frozen=True)
class SupplierFigures:
    today: date
    shipments_to_send: int  # pending shipments of orders that may ship now (paid; not cancelled, not grouping)
    stock_outs: int  # the suppliers' SKUs with stock available = 0
    low_stock: int  # 0 < available < LOW_STOCK
    provinces: tuple[ProvinceSales, ...]  # the last 30 days, by amount (largest first), then province code


@dataclass(frozen=True)
class OrderFunnel:
    """Distinct actors of each stage over the period; each stage is counted on its own (see operator_figures)."""

    viewed: int
    added_to_cart: int
    ordered: int
    paid: int


@dataclass(frozen=True)
class DailyCustomers:
    day: date
    new: int  # customers whose first paid order ever was paid this day
    returning: int  # customers paying this day whose first paid order was on an earlier day


@dataclass(frozen=True)
class OperatorFigures:
    today: date
    start: date  # first day of the period (today - days + 1)
    days: int
    gmv: Decimal  # the period's total of gmv_daily.sales
    orders: int
    refunded: Decimal
    gmv_daily: tuple[DailySales, ...]  # every day of the period, oldest first, all stores
    funnel: OrderFunnel
    customers_daily: tuple[DailyCustomers, ...]  # every day of the period, oldest first


def last_paid_day(*, store_ids: list[int] | None = None, supplier_ids: list[int] | None = None) -> date | None:
    """The local day of the latest paid order of these stores (or with lines of these suppliers; None = all), or
    None when there is none: where a dashboard opens when its settings say "latest" (the demo's orders are old)."""
    orders = _scoped(Order.objects.filter(paid_at__isnull=False), "store_id", store_ids)
    if supplier_ids is not None:
        orders = orders.filter(Exists(OrderLine.objects.filter(order_id=OuterRef("pk"), supplier_id__in=supplier_ids)))
    latest = orders.order_by("-paid_at").values_list("paid_at", flat=True).first()
    return timezone.localdate(latest, timezone=_zone()) if latest else None


# --- helpers ----------------------------------------------------------------------------------------------------
def _zone() -> tzinfo:
    return timezone.get_default_timezone()


def _today(today: date | None) -> date:
    return today if today is not None else timezone.localdate(timezone=_zone())


def _day_start(day: date) -> datetime:
    """The instant a local calendar day begins (aware)."""
    return datetime.combine(day, time.min, tzinfo=_zone())


def _paid_between(orders: QuerySet[Order], first: date, last: date, prefix: str = "") -> QuerySet:
    """Rows whose order was paid from the start of `first` to the end of `last` (local days)."""
    return orders.filter(**{f"{prefix}paid_at__gte": _day_start(first),
                            f"{prefix}paid_at__lt": _day_start(last + timedelta(days=1))})


class _EqualsAny(Func):
    """`field = ANY(array)`: a condition to filter on."""

    arg_joiner = " = ANY("
    template = "%(expressions)s)"
    output_field = BooleanField()


def _rows_of_orders_paid(rows: QuerySet, orders: QuerySet[Order], first: date, last: date) -> QuerySet:
    """Rows pointing at an order (`order_id`: order lines) of `orders` paid from `first` to `last`.

    Written as `order_id = ANY(ARRAY(SELECT id ...))` rather than a join: PostgreSQL then reads the period's lines
    through the order_id index instead of scanning every line ever sold to hash-join them with the period's orders
    (on five times the demo data: 50 ms instead of 280 ms). It cannot know how long the array is and guesses a few
    hundred rows, so this suits aggregates that join nothing else afterwards."""
    return rows.filter(_EqualsAny(F("order_id"), ArraySubquery(_paid_between(orders, first, last).values("pk"))))


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def _daily_sales(orders: QuerySet[Order], first: date, last: date) -> dict[date, DailySales]:
    """One query: every day from `first` to `last`, zero days included."""
    rows = (_paid_between(orders, first, last)
            .annotate(day=TruncDate("paid_at", tzinfo=_zone())).values("day")
            .annotate(sales=Sum("total"), orders=Count("id"), refunded=Sum("refunded_total")).order_by("day"))
    found = {row["day"]: row for row in rows}
    series = {}
    for day in _days(first, last):
        row = found.get(day)
        series[day] = (DailySales(day=day, sales=row["sales"], orders=row["orders"], refunded=row["refunded"])
                       if row else DailySales(day=day, sales=ZERO, orders=0, refunded=ZERO))
    return series


def _scoped(queryset: QuerySet, field: str, ids: list[int] | None) -> QuerySet:
    return queryset if ids is None else queryset.filter(**{f"{field}__in": ids})


# --- merchant console -------------------------------------------------------------------------------------------
def merchant_figures(*, store_ids: list[int] | None, today: date | None = None) -> MerchantFigures:
    """The merchant console's home page for these stores (None: every store, for operators). Six queries at most.

    Sales, orders and refunded follow the module's definitions (orders paid in the period, by paid_at, Order.total,
    refunds shown apart). The month is today's calendar month up to today. To-do counts are as of now:
    orders to ship = orders in status "paid" (待发货: paid, a group-buy's team complete, some shipment still
    pending; partly shipped orders stay here until their last shipment leaves); after-sales to decide = requests
    waiting for approval and returned parcels waiting for the merchant's confirmation; low stock = active listings
    whose SKU has fewer than LOW_STOCK units available. Top listings: order lines of the orders paid in the last 30
    days, by the lines' paid amount.
    """
    today = _today(today)
    month_start = today.replace(day=1)
    series_start = today - timedelta(days=SERIES_DAYS - 1)
    orders = _scoped(Order.objects.all(), "store_id", store_ids)

    by_day = _daily_sales(orders, min(series_start, month_start), today)
    month = [by_day[day] for day in _days(month_start, today)]
    today_figures = by_day[today]

    orders_to_ship = orders.filter(status=Order.Status.PAID).count()
    after_sales = _scoped(AfterSale.objects.filter(status__in=AFTER_SALES_TO_DECIDE), "order__store_id", store_ids)
    low_stock = _scoped(Listing.objects.filter(status=Listing.Status.ACTIVE, sku__stock__available__lt=LOW_STOCK),
                        "store_id", store_ids)

    lines = _rows_of_orders_paid(OrderLine.objects.all(), orders, series_start, today)
    # Titles are read for the ten winners only: grouping every line by its title too would sort all of them.
    top = list(lines.values("listing_id").annotate(units=Sum("quantity"), sales=Sum("paid_amount"))
               .order_by("-sales", "-units", "listing_id")[:TOP_LISTINGS])
    titles = dict(Listing.objects.filter(pk__in=[row["listing_id"] for row in top])
                  .values_list("pk", "sku__product__title")) if top else {}

    return MerchantFigures(
        today=today, month_start=month_start,
        today_sales=today_figures.sales, today_orders=today_figures.orders, today_refunded=today_figures.refunded,
        month_sales=sum((day.sales for day in month), ZERO), month_orders=sum(day.orders for day in month),
        month_refunded=sum((day.refunded for day in month), ZERO),
        orders_to_ship=orders_to_ship, after_sales_to_decide=after_sales.count(), low_stock_listings=low_stock.count(),
        daily=tuple(by_day[day] for day in _days(series_start, today)),
        top_listings=tuple(TopListing(listing_id=row["listing_id"], title=titles[row["listing_id"]], units=row["units"],
                                      sales=row["sales"]) for row in top),
    )


# --- supplier console -------------------------------------------------------------------------------------------
def supplier_figures(*, supplier_ids: list[int] | None, today: date | None = None) -> SupplierFigures:
    """The supplier console's home page for these suppliers (None: every supplier, for operators). Three queries.

    Shipments to send = pending shipments of orders that may ship now (status "paid": paid, a group-buy's team
    complete; the same rule as `orders.shipment_ship`, which also admits an order already marked shipped). Cancelled
    shipments (everything refunded before it left) and group-buy orders still waiting for their team are not counted.
    Stock-outs and low stock count the suppliers' stock rows (as the console's stock filter does): available = 0,
    and 0 < available < LOW_STOCK. Provinces: the suppliers' own order lines (never the rest of a mixed order) of
    orders paid in the last 30 days, grouped by the province of the order's address snapshot; amount is the lines'
    paid_amount (refunds not deducted, shipping not included), supply_amount their cost_price x quantity, orders
    the number of orders with such lines.
    """
    today = _today(today)
    start = today - timedelta(days=SERIES_DAYS - 1)

    shipments = _scoped(Shipment.objects.filter(status=Shipment.Status.PENDING,
                                                order__status__in=(Order.Status.PAID, Order.Status.SHIPPED)),
                        "supplier_id", supplier_ids)
    stock = _scoped(Stock.objects.all(), "sku__product__supplier_id", supplier_ids).aggregate(
        stock_outs=Count("pk", filter=Q(available=0)),
        low=Count("pk", filter=Q(available__gt=0, available__lt=LOW_STOCK)))

    return SupplierFigures(today=today, shipments_to_send=shipments.count(), stock_outs=stock["stock_outs"],
                           low_stock=stock["low"],
                           provinces=_province_sales(supplier_ids=supplier_ids, first=start, last=today))


def _province_sales(*, supplier_ids: list[int] | None, first: date, last: date) -> tuple[ProvinceSales, ...]:
    """The suppliers' lines of the orders paid from `first` to `last`, summed per order, then per province of the
    order's address snapshot: one statement.

    Raw SQL because the ORM cannot group a subquery: summing per order first reads each order's snapshot once (not
    once per line), counts orders without a COUNT(DISTINCT) that would sort every line, and lets the lines be found
    through the order_id index (`order_id = ANY(ARRAY(...))`, see `_rows_of_orders_paid`)."""
    lines = connection.ops.quote_name(OrderLine._meta.db_table)
    orders = connection.ops.quote_name(Order._meta.db_table)
    params = {"start": _day_start(first), "end": _day_start(last + timedelta(days=1)), "suppliers": supplier_ids}
    of_suppliers = "" if supplier_ids is None else "AND supplier_id = ANY(%(suppliers)s)"
    sql = f"""
        SELECT COALESCE(o.address ->> 'region_code', ''), COALESCE(o.address ->> 'province', ''),
               SUM(l.amount), SUM(l.supply_amount), SUM(l.units), COUNT(*)
        FROM (SELECT order_id, SUM(paid_amount) AS amount, SUM(cost_price * quantity) AS supply_amount,
                     SUM(quantity) AS units
              FROM {lines}
              WHERE order_id = ANY(ARRAY(SELECT id FROM {orders} WHERE paid_at >= %(start)s AND paid_at < %(end)s))
                    {of_suppliers}
              GROUP BY order_id) AS l
        JOIN {orders} AS o ON o.id = l.order_id
        GROUP BY 1, 2
        ORDER BY 3 DESC, 1, 2"""  # noqa: S608 (table names from the models, values as parameters)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return tuple(ProvinceSales(region_code=region_code, province=province, amount=amount,
                                   supply_amount=supply_amount, units=units, orders=order_count)
                     for region_code, province, amount, supply_amount, units, order_count in cursor.fetchall())


# --- operator admin ---------------------------------------------------------------------------------------------
FUNNEL_KINDS = ("product_viewed", "cart_item_added", "order_created", "order_paid")


def operator_figures(*, today: date | None = None, days: int = SERIES_DAYS) -> OperatorFigures:
    """The operator dashboard over the last `days` days (today included), every store. Three queries.

    GMV per day: the module's sales definition over every store (Order.total of orders paid that day).

    The funnel counts distinct actors per stage over the period, from the behaviour events (mall/events.py):
    viewed = `product_viewed` (a listing's detail page: logged-in users by user id plus anonymous visitors by
    visitor id, so a visitor who later logs in counts twice); added_to_cart = `cart_item_added` (users);
    ordered = `order_created` (users who placed an order); paid = `order_paid` (users with an order paid).
    Each stage is counted on its own, not as a cohort: a payer of the period need not have viewed in it (the demo's
    imported history has `order_paid` events only), so a later stage may exceed an earlier one.

    Customers per day: distinct buyers with an order paid that day; new if their first paid order ever (before the
    period too) was paid that day, returning if it was paid on an earlier day.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    today = _today(today)
    start = today - timedelta(days=days - 1)
    zone = _zone()

    gmv_daily = tuple(_daily_sales(Order.objects.all(), start, today).values())

    events = BehaviourEvent.objects.filter(kind__in=FUNNEL_KINDS, created_at__gte=_day_start(start),
                                           created_at__lt=_day_start(today + timedelta(days=1)))
    funnel = events.aggregate(
        viewers=Count("actor_id", distinct=True, filter=Q(kind="product_viewed")),
        visitors=Count("visitor_id", distinct=True, filter=Q(kind="product_viewed", actor_id__isnull=True)
                       & ~Q(visitor_id="")),
        added_to_cart=Count("actor_id", distinct=True, filter=Q(kind="cart_item_added")),
        ordered=Count("actor_id", distinct=True, filter=Q(kind="order_created")),
        paid=Count("actor_id", distinct=True, filter=Q(kind="order_paid")))

    # An order is its buyer's first paid order when no order of theirs was paid before it (an anti-join, run once
    # over the buyer's orders): its buyer is new on its day. Everyone else paying that day is returning.
    earlier = Order.objects.filter(buyer_id=OuterRef("buyer_id"), paid_at__lt=OuterRef("paid_at"))
    customers = (_paid_between(Order.objects.all(), start, today)
                 .annotate(day=TruncDate("paid_at", tzinfo=zone)).values("day")
                 .annotate(paying=Count("buyer_id", distinct=True),
                           new=Count("buyer_id", distinct=True, filter=~Exists(earlier)))
                 .order_by("day"))
    found = {row["day"]: row for row in customers}

    return OperatorFigures(
        today=today, start=start, days=days,
        gmv=sum((day.sales for day in gmv_daily), ZERO), orders=sum(day.orders for day in gmv_daily),
        refunded=sum((day.refunded for day in gmv_daily), ZERO), gmv_daily=gmv_daily,
        funnel=OrderFunnel(viewed=funnel["viewers"] + funnel["visitors"], added_to_cart=funnel["added_to_cart"],
                           ordered=funnel["ordered"], paid=funnel["paid"]),
        customers_daily=tuple(DailyCustomers(day=day, new=found[day]["new"],
                                             returning=found[day]["paying"] - found[day]["new"])
                              if day in found else DailyCustomers(day=day, new=0, returning=0)
                              for day in _days(start, today)),
    )
