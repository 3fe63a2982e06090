"""The demo loader (mall/demo.py, `manage.py load_demo`) against the real UCI Online Retail file."""
import csv
import gzip
import re
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, F, Sum
from django.utils import timezone

from accounts.models import Role, User
from core.models import BehaviourEvent, EventDelivery
from mall import demo
from mall.management.commands.load_demo import default_data_dir
from mall.models import AfterSale, Listing, Order, OrderLine, Payment, Refund, Shipment, Store, StoreStaff
from supply.models import SKU, Category, PricingRule, Product, SearchWord, ShippingRate, Stock, Supplier
from supply.terms import terms_version
from supply.terms.compose import title_translate
from tests.factories import AddressFactory, ListingFactory, ProductFactory, SKUFactory, SupplierFactory, UserFactory
from tests.mall.conftest import place

pytestmark = pytest.mark.django_db

CSV_PATH = default_data_dir() / demo.CSV_RELATIVE_PATH
SHANGHAI = ZoneInfo("Asia/Shanghai")
LIMIT = 300

needs_data = pytest.mark.skipif(not CSV_PATH.exists(), reason=f"{CSV_PATH} is not there")


def write_csv(path, records) -> None:
    """A gzip CSV in the layout of online_retail.csv.gz; records are (invoice, code, quantity, date, price,
    customer) with the description "RED MUG" and the country "United Kingdom"."""
    with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
                         "CustomerID", "Country"])
        for invoice, code, quantity, when, price, customer in records:
            writer.writerow([invoice, code, "RED MUG ", quantity, when, price, customer, "United Kingdom"])


def first_invoices_from_the_csv(limit: int) -> tuple[set[str], dict[str, datetime]]:
    """Independently of the loader: the sales invoices among the first `limit` invoices with a customer (by date,
    then number) that hold a product sale row, and every invoice's first date."""
    first_date: dict[str, str] = {}
    has_product_sale: set[str] = set()
    product_code = re.compile(r"\d{5}[A-Z]*")
    with gzip.open(CSV_PATH, "rt", encoding="utf-8", newline="") as handle:
        records = csv.reader(handle)
        next(records)
        for invoice, code, _description, quantity, when, price, customer, _country in records:
            if not customer:
                continue
            if invoice not in first_date or when < first_date[invoice]:
                first_date[invoice] = when
            if product_code.fullmatch(code.strip().upper()) and int(quantity) > 0 and float(price) > 0:
                has_product_sale.add(invoice)
    window = sorted(first_date, key=lambda invoice: (first_date[invoice], invoice))[:limit]
    dates = {invoice: datetime.fromisoformat(first_date[invoice]).replace(tzinfo=SHANGHAI) for invoice in window}
    return {invoice for invoice in window if not invoice.startswith("C") and invoice in has_product_sale}, dates


def table_counts() -> dict[str, int]:
    models = [Category, Supplier, ShippingRate, PricingRule, Product, SKU, Stock, Store, StoreStaff, Listing, User,
              Order, Payment, Shipment, OrderLine, AfterSale, Refund, BehaviourEvent]
    counts = {model.__name__: model.objects.count() for model in models}
    counts["sold"] = Stock.objects.aggregate(total=Sum("sold"))["total"]
    counts["refunded"] = Order.objects.aggregate(total=Sum("refunded_total"))["total"]
    counts["refunded_units"] = OrderLine.objects.aggregate(total=Sum("refunded_quantity"))["total"]
    return counts


# --- the mapping rules (pure) -----------------------------------------------------------------------------------
def test_categories_follow_the_keyword_table():
    cases = {
        "WHITE HANGING HEART T-LIGHT HOLDER": "home.lighting",
        "CHRISTMAS DECOUPAGE CANDLE": "seasonal.christmas",
        "CHILDRENS CUTLERY SPACEBOY ": "kids.children",
        "LUNCH BAG RED RETROSPOT": "kitchen.containers",
        "REGENCY CAKESTAND 3 TIER": "kitchen.tableware",
        "JUMBO BAG RED RETROSPOT": "bags.bags",
        "ASSORTED COLOUR BIRD ORNAMENT": "home.storage",
        "VINTAGE ZINC WATERING CAN SMALL": "garden.gardening",
        "GROOVY CACTUS INFLATABLE": "other.misc",
    }
    for description, key in cases.items():
        assert demo.category_key_for(description=description) == key, description
    leaves = {child[0] for spec in demo.CATEGORY_TREE for child in spec.children}
    assert {key for key, _keywords in demo.CATEGORY_RULES} <= leaves
    assert all(demo.supplier_index_for(category_key=leaf) in range(5) for leaf in leaves)


def test_prices_convert_at_the_fixed_rate_and_keep_cost_below_floor_below_suggested():
    assert demo.prices_for(modal_price_gbp=Decimal("2.55")) == (Decimal("26.42"), Decimal("22.46"), Decimal("15.85"))
    assert demo.prices_for(modal_price_gbp=Decimal("0.001"))[0] == Decimal("1.00")
    for pence in range(1, 5000, 7):
        suggested, floor, cost = demo.prices_for(modal_price_gbp=Decimal(pence) / 100)
        assert Decimal("1.00") <= suggested and cost <= floor <= suggested
        for store_index in range(len(demo.STORES)):
            assert demo.listing_price_for(store_index=store_index, suggested=suggested, floor=floor) >= floor


def test_plan_skips_non_products_merges_rows_and_matches_cancellations_to_the_latest_earlier_order(tmp_path):
    path = tmp_path / "retail.csv.gz"
    write_csv(path, [
        ("500001", "85123A", 6, "2010-12-01 09:00:00", "2.55", "12345"),
        ("500001", "85123a", 4, "2010-12-01 09:00:00", "2.55", "12345"),  # same product and price: one line
        ("500001", "POST", 1, "2010-12-01 09:00:00", "18.00", "12345"),  # postage is not a product
        ("500002", "85123A", 5, "2010-12-05 10:00:00", "2.95", "12345"),
        ("500002", "22423", 0, "2010-12-05 10:00:00", "12.75", "12345"),  # no units: not a sale
        ("500003", "POST", 1, "2010-12-06 10:00:00", "18.00", "12345"),  # nothing left: no order
        ("C500004", "85123A", -7, "2010-12-07 10:00:00", "2.95", "12345"),  # the latest order 500002, capped at 5
        ("C500005", "85123A", -3, "2010-12-08 10:00:00", "2.55", "12345"),  # 500002 used up: back to 500001
        ("C500006", "22423", -1, "2010-12-08 11:00:00", "12.75", "12345"),  # never bought: unmatched
        ("500007", "22423", 2, "2010-12-09 10:00:00", "12.75", ""),  # no customer: catalogue only, no order
    ])
    plan = demo.demo_plan_build(rows=demo.csv_rows_read(path=path))

    assert set(plan.products) == {"85123A", "22423"}
    assert [order.number for order in plan.orders] == ["D500001", "D500002"]
    first, second = plan.orders
    assert [(line.code, line.quantity, line.unit_price) for line in first.lines] == [("85123A", 10, Decimal("26.42"))]
    assert second.lines[0].unit_price == Decimal("30.56")  # 2.95 x 10.36 = 30.562
    assert [(refund.order_number, refund.quantity, refund.amount) for refund in plan.refunds] == [
        ("D500002", 5, Decimal("152.80")), ("D500001", 3, Decimal("79.26"))]
    assert (plan.cancellation_rows, plan.cancellations_matched, plan.cancellations_unmatched) == (3, 2, 1)
    assert plan.cancelled_units_not_refunded == 2
    assert first.created_at == datetime(2010, 12, 1, 9, 0, tzinfo=SHANGHAI)
    assert plan.products["85123A"].title == "RED MUG"
    customer = plan.customers[12345]
    assert (customer.phone, customer.nickname, customer.region_code) == ("19900012345", "顾客12345", "510000")


@needs_data
@pytest.mark.slow
def test_full_plan_matches_the_counts_that_let_a_second_run_skip_the_csv():
    plan = demo.demo_plan_build(rows=demo.csv_rows_read(path=CSV_PATH))
    assert demo.demo_counts_planned(plan=plan) == demo.FULL_DEMO_COUNTS
    assert plan.cancellations_matched + plan.cancellations_unmatched == plan.cancellation_rows
    assert 3_700 <= len(plan.products) <= 4_000
    assert all(product.cost_price <= product.floor_price <= product.suggested_price
               for product in plan.products.values())


# --- the command against the database ---------------------------------------------------------------------------
@needs_data
def test_load_demo_builds_consistent_history_and_a_second_run_changes_nothing():
    call_command("load_demo", "--limit-invoices", str(LIMIT), "--quiet")

    expected_invoices, invoice_dates = first_invoices_from_the_csv(LIMIT)
    orders = Order.objects.filter(idempotency_key__startswith="demo:")
    assert {number[1:] for number in orders.values_list("number", flat=True)} == expected_invoices
    assert len(expected_invoices) > 200

    # Real dates (auto_now_add overwritten), Asia/Shanghai wall-clock time of the invoice.
    for number, created_at, paid_at, completed_at in orders.values_list("number", "created_at", "paid_at",
                                                                         "completed_at"):
        assert created_at == paid_at == invoice_dates[number[1:]]
        assert (created_at.year, created_at.month) == (2010, 12)
        assert (completed_at - created_at).days == 10
    first = Order.objects.get(number="D536365")
    assert first.created_at == datetime(2010, 12, 1, 8, 26, tzinfo=SHANGHAI)
    assert Shipment.objects.filter(order=first).values("created_at").distinct().get()["created_at"] == first.created_at

    # Amounts add up; refunds never exceed what was paid.
    line_sums = {row["order_id"]: row for row in OrderLine.objects.filter(order__in=orders).values("order_id")
                 .annotate(paid=Sum("paid_amount"), refunded=Sum("refunded_amount"))}
    for order in orders:
        assert order.total == order.subtotal == line_sums[order.pk]["paid"]
        assert order.refunded_total == line_sums[order.pk]["refunded"] <= order.total
        assert order.refunded_total == (Refund.objects.filter(order=order).aggregate(s=Sum("amount"))["s"] or 0)
        if order.refunded_total == 0:
            assert (order.status, order.payment_status, order.after_sale_status) == ("completed", "paid", "none")
        elif order.refunded_total < order.total:
            assert order.payment_status == order.after_sale_status == "partially_refunded"
        else:
            assert (order.status, order.payment_status) == ("closed", "refunded")
    assert not OrderLine.objects.filter(order__in=orders, refunded_amount__gt=F("paid_amount")).exists()
    assert not OrderLine.objects.filter(order__in=orders).exclude(
        refunded_amount=F("unit_price") * F("refunded_quantity")).exists()
    assert Refund.objects.filter(order__in=orders).exists()
    assert AfterSale.objects.filter(order__in=orders).aggregate(s=Sum("quantity"))["s"] == (
        OrderLine.objects.filter(order__in=orders).aggregate(s=Sum("refunded_quantity"))["s"])
    assert Payment.objects.filter(order__in=orders, provider="demo").count() == orders.count()

    # Every line's supplier ships it within the same order; no empty shipment.
    for line in OrderLine.objects.filter(order__in=orders).select_related("shipment", "listing", "order"):
        assert (line.shipment.order_id, line.shipment.supplier_id) == (line.order_id, line.supplier_id)
        assert (line.listing.store_id, line.listing.sku_id) == (line.order.store_id, line.sku_id)
    assert not Shipment.objects.filter(order__in=orders).annotate(n=Count("lines")).filter(n=0).exists()

    # Catalogue: prices within the constraints, stock counts what the orders sold.
    assert not SKU.objects.filter(cost_price__gt=F("floor_price")).exists()
    assert not SKU.objects.filter(floor_price__gt=F("suggested_price")).exists()
    assert not SKU.objects.filter(suggested_price__lt=Decimal("1.00")).exists()
    assert not Listing.objects.filter(price__lt=F("sku__floor_price")).exists()
    assert not Stock.objects.exclude(available__range=(50, 500)).exists()
    sold = defaultdict(int, OrderLine.objects.values_list("sku_id").annotate(units=Sum("quantity")))
    for sku_id, units in Stock.objects.values_list("sku_id", "sold"):
        assert units == sold[sku_id]
    assert Product.objects.filter(search_document__contains="holder").exists()
    # Chinese display titles from the term dictionary, the English catalogue title kept in the import record; the
    # order lines snapshot the Chinese title
    heart = Product.objects.get(skus__code="85123A")
    assert (heart.title, heart.source["title"]) == ("白色爱心挂式茶蜡烛台", "WHITE HANGING HEART T-LIGHT HOLDER")
    for title, source in Product.objects.values_list("title", "source"):
        assert title == title_translate(source["title"])[:200]
    assert not OrderLine.objects.filter(order__in=orders).exclude(title=F("sku__product__title")).exists()
    assert not Product.objects.filter(search_vector__isnull=True).exists()
    assert not Product.objects.exclude(shipping_template__supplier=F("supplier")).exists()

    # One order_paid event per order, at the order's time, with the payload the live flow writes; history gets no
    # delivery rows, so no handler reacts to it. Shoppers cannot log in with a password.
    events = BehaviourEvent.objects.filter(kind="order_paid", object_type="mall.order")
    assert events.count() == orders.count()
    assert not EventDelivery.objects.filter(event_id__in=events.values("pk")).exists()  # history: no handlers
    event = events.get(object_id=str(first.pk))
    assert event.created_at == first.created_at and event.actor_id == first.buyer_id
    assert event.payload["total"] == str(first.total) and ["85123A", 6] in event.payload["lines"]
    lines_by_order = defaultdict(list)
    for order_id, code, quantity in OrderLine.objects.filter(order__in=orders).order_by("id").values_list(
            "order_id", "sku_code", "quantity"):
        lines_by_order[order_id].append([code, quantity])
    by_order = {order.pk: order for order in orders}
    for event in events:
        order = by_order[int(event.object_id)]
        assert event.payload == {"total": str(order.total), "store_id": order.store_id, "kind": "normal",
                                 "lines": lines_by_order[order.pk]}
        assert (event.actor_id, event.visitor_id, event.created_at) == (order.buyer_id, "", order.created_at)
        assert event.transaction_id is not None  # the database default, not written by the loader
    for payment in Payment.objects.filter(order__in=orders).select_related("order"):
        assert payment.payload == {"order_number": payment.order.number, "amount": str(payment.order.total),
                                   "source": "UCI Online Retail"}
        assert payment.created_at == payment.updated_at == payment.order.created_at
    for after_sale in AfterSale.objects.filter(order__in=orders):
        assert after_sale.created_at == after_sale.updated_at == after_sale.decided_at == after_sale.refunded_at
    assert not Refund.objects.filter(order__in=orders).exclude(created_at=F("updated_at")).exists()
    assert not Refund.objects.filter(order__in=orders).exclude(succeeded_at=F("created_at")).exists()
    assert not Shipment.objects.filter(order__in=orders).exclude(updated_at=F("delivered_at")).exists()
    # 自动确认收货 counts from the order's shipping time: history carries it, equal to its shipments'
    assert not Order.objects.filter(pk__in=by_order, shipped_at__isnull=True).exists()
    assert not Shipment.objects.filter(order__in=orders).exclude(shipped_at=F("order__shipped_at")).exists()
    shoppers = User.objects.filter(role=Role.SHOPPER, phone__startswith="199")
    assert shoppers.count() == demo.FULL_DEMO_COUNTS["customers"]
    assert not shoppers.first().has_usable_password()

    # The foreign keys PostgreSQL checks at commit (the test's transaction never commits): check them now.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    before = table_counts()
    call_command("load_demo", "--limit-invoices", str(LIMIT), "--quiet")
    assert table_counts() == before


@needs_data
def test_a_complete_demo_is_recognised_without_reading_the_csv(monkeypatch):
    def unreadable(**_kwargs):
        raise AssertionError("the CSV must not be read when the demo is complete")

    monkeypatch.setattr(demo, "FULL_DEMO_COUNTS", demo.demo_counts_stored())
    monkeypatch.setattr(demo, "csv_rows_read", unreadable)
    report = demo.demo_load(data_dir=default_data_dir(), progress=False)
    assert report["csv_read"] is False
    assert set(report["written"].values()) == {0}


def test_copy_writes_text_format_escapes_and_leaves_defaults_to_the_model_and_the_database():
    """The COPY writer: tabs, newlines, backslashes and JSON survive; columns not named get the model default
    (visitor_id ""), NULL (actor) or the database default (transaction_id)."""
    tricky = "tab\there, back\\slash, new\nline, carriage\rreturn, \\N, 中文"
    when = datetime(2011, 1, 2, 3, 4, 5, tzinfo=SHANGHAI)
    written = demo._copy_rows(model=BehaviourEvent, columns=("kind", "object_type", "object_id", "payload",
                                                              "created_at"),
                              rows=[("demo_copy_test", tricky, "", {"text": tricky, "list": [1, "二", None]}, when)])
    assert written == 1
    event = BehaviourEvent.objects.get(kind="demo_copy_test")
    assert (event.object_type, event.object_id, event.created_at) == (tricky, "", when)
    assert event.payload == {"text": tricky, "list": [1, "二", None]}
    assert (event.actor_id, event.visitor_id) == (None, "")
    assert event.transaction_id is not None


def test_copy_refuses_a_row_without_a_value_for_a_required_column():
    with pytest.raises(ValueError, match="needs a value for kind"):
        demo._copy_rows(model=BehaviourEvent, columns=("object_type", "created_at"), rows=[("x", timezone.now())])


def test_products_of_an_earlier_load_get_chinese_titles_and_their_order_lines_follow():
    """A database loaded before titles were translated: English title, no source["title"], no search vector."""
    supplier = SupplierFactory(name=demo.SUPPLIERS[0].name)
    english = "WHITE HANGING HEART T-LIGHT HOLDER"
    product = ProductFactory(supplier=supplier, title=english, search_document="", search_vector=None,
                             source={"data_set": demo.DATA_SET, "stock_code": "85123A"})
    other = ProductFactory(title="安吉白茶", search_document="", search_vector=None)  # not a demo product
    listing = ListingFactory(sku=SKUFactory(product=product))
    buyer = UserFactory()
    line = place(buyer, AddressFactory(user=buyer), listing, key="old-demo-order-1").lines.get()
    assert line.title == english

    assert demo.product_titles_ensure() == 1
    product.refresh_from_db()
    line.refresh_from_db()
    other.refresh_from_db()
    assert (product.title, product.source) == ("白色爱心挂式茶蜡烛台", {
        "data_set": demo.DATA_SET, "stock_code": "85123A", "title": english, "terms_version": terms_version()})
    assert line.title == "白色爱心挂式茶蜡烛台"
    assert other.title == "安吉白茶" and other.search_vector  # only indexed
    assert "holder" in product.search_document and "'烛台'" in product.search_vector
    assert SearchWord.objects.filter(word="hanging").exists()

    before = (list(Product.objects.order_by("pk").values()), list(SearchWord.objects.values_list("word")))
    assert demo.product_titles_ensure() == 0  # a second run changes nothing
    assert (list(Product.objects.order_by("pk").values()), list(SearchWord.objects.values_list("word"))) == before

    # a title made with another version of the dictionary is made again, and so are its order lines
    Product.objects.filter(pk=product.pk).update(title="旧标题", source={**product.source, "terms_version": "old"})
    OrderLine.objects.filter(pk=line.pk).update(title="旧标题")
    assert demo.product_titles_ensure() == 1
    product.refresh_from_db()
    line.refresh_from_db()
    assert (product.title, line.title, product.source["terms_version"]) == ("白色爱心挂式茶蜡烛台",) * 2 + (
        terms_version(),)
