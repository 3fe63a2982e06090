"""Reads of the storefront: categories, listing search, the cart, orders of a shopper."""
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    Model,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    prefetch_related_objects,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.money import ZERO
from mall.coupon_rules import coupon_applies_to, coupon_discount
from mall.models import AfterSale, BargainSession, CartItem, GroupBuyMember, Listing, Order, Shipment, Store, UserCoupon
from supply.models import SKU, Category, Product, Supplier
from supply.selectors import search_match_find, search_run

LISTING_ORDERINGS = {
    "relevance": ("-relevance", "-sold_count", "pk"),
    "newest": ("-created_at", "-pk"),
    "price": ("price", "pk"),
    "-price": ("-price", "-pk"),
    "sales": ("-sold_count", "pk"),
}
PRODUCT_ORDERINGS = {
    "relevance": ("-relevance", "-sold", "pk"),
    "sales": ("-sold", "pk"),
    "price": ("lowest_price", "pk"),
    "-price": ("-lowest_price", "-pk"),
    "newest": ("-created_at", "-pk"),
}


def listings_on_sale() -> QuerySet[Listing]:
    return (Listing.objects.filter(status=Listing.Status.ACTIVE, store__status=Store.Status.OPEN,
                                   sku__product__status=Product.Status.ACTIVE,
                                   sku__product__supplier__status=Supplier.Status.ACTIVE)
            .select_related("store", "sku__product__category", "sku__stock")
            .defer("sku__product__search_document", "sku__product__search_vector"))


def listing_search(*, query: str = "", category_id: int | None = None, store_id: int | None = None,
                   min_price: Decimal | None = None, max_price: Decimal | None = None,
                   ordering: str | None = None) -> QuerySet[Listing]:
    """One row per listing (a store's own search, with `store_id`): ranked like `product_search` when there is a
    query and no other ordering is asked for, newest first otherwise."""
    listings = listings_on_sale()
    if category_id is not None:
        listings = listings.filter(Q(sku__product__category_id=category_id)
                                   | Q(sku__product__category__parent_id=category_id))
    if store_id is not None:
        listings = listings.filter(store_id=store_id)
    if min_price is not None:
        listings = listings.filter(price__gte=min_price)
    if max_price is not None:
        listings = listings.filter(price__lte=max_price)
    match = search_match_find(query=query, products=Product.objects.filter(
        pk__in=listings.values("sku__product_id"))) if query else None
    if match is None:
        ordering = "newest" if ordering in (None, "relevance") else ordering
        return (listings.prefetch_related("sku__product__images")
                .order_by(*LISTING_ORDERINGS.get(ordering, LISTING_ORDERINGS["newest"])))
    listings = listings.filter(match.condition("sku__product__")).annotate(relevance=match.relevance("sku__product__"))
    return (listings.prefetch_related("sku__product__images")
            .order_by(*LISTING_ORDERINGS.get(ordering or "relevance", LISTING_ORDERINGS["relevance"])))


def products_on_sale(*, ids: list[int], min_price: Decimal | None = None,
                     max_price: Decimal | None = None) -> list[int]:
    """Which of these products some open store sells (in the price range): one statement over the given ids (the
    ORM's `pk__in` of a few thousand ids costs more to build and copy than the query takes to run). The open
    stores are read first: a table of a few rows never gets planner statistics from autovacuum, and joined here
    it made PostgreSQL walk every listing of the mall instead of the listings of these products."""
    stores = list(Store.objects.filter(status=Store.Status.OPEN).values_list("pk", flat=True))
    listing, sku = Listing._meta.db_table, SKU._meta.db_table
    conditions, params = [], [ids, Listing.Status.ACTIVE.value, stores]
    if min_price is not None:
        conditions.append("AND l.price >= %s")
        params.append(min_price)
    if max_price is not None:
        conditions.append("AND l.price <= %s")
        params.append(max_price)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT s.product_id FROM {sku} s JOIN {listing} l ON l.sku_id = s.id "  # noqa: S608
            f"WHERE s.product_id = ANY(%s) AND l.status = %s AND l.store_id = ANY(%s) {' '.join(conditions)}", params)
        return [product_id for (product_id,) in cursor.fetchall()]


def product_search(*, query: str = "", category_id: int | None = None, min_price: Decimal | None = None,
                   max_price: Decimal | None = None, ordering: str | None = None) -> QuerySet[Product]:
    """Mall-wide search: each product once, with its listings on sale in every open store within the price range
    (`sku.offers`, cheapest first), `sold` (units those listings sold, all stores), `lowest_price` and, with a
    query, `relevance`. Ordered by relevance when there is a query, by sales otherwise (or as asked).

    Two short steps before the page query: the GIN index finds the matching ids, then their offers are looked up
    by those ids (in one statement with EXISTS the planner joins every listing of the mall to find a few)."""
    products = Product.objects.filter(status=Product.Status.ACTIVE, supplier__status=Supplier.Status.ACTIVE)
    if category_id is not None:
        products = products.filter(Q(category_id=category_id) | Q(category__parent_id=category_id))
    result = search_run(query=query, products=products) if query else None
    ids = result.ids if result is not None else list(products.values_list("pk", flat=True))
    chosen = RawSQL(f'"{Product._meta.db_table}"."id" = ANY(%s)',  # noqa: S611 (a table name and one parameter)
                    (products_on_sale(ids=ids, min_price=min_price, max_price=max_price),),
                    output_field=BooleanField())
    products = Product.objects.alias(chosen=chosen).filter(chosen=True)
    if result is not None:
        products = products.annotate(relevance=result.match.relevance())
    else:
        ordering = "sales" if ordering in (None, "relevance") else ordering
    offers = Listing.objects.filter(sku__product_id=OuterRef("pk"), status=Listing.Status.ACTIVE,
                                    store__status=Store.Status.OPEN)
    if min_price is not None:
        offers = offers.filter(price__gte=min_price)
    if max_price is not None:
        offers = offers.filter(price__lte=max_price)
    # correlated subqueries rather than a join and GROUP BY: they run for the chosen products only
    sold = offers.order_by().values("sku__product_id").annotate(units=Sum("sold_count")).values("units")
    products = products.annotate(sold=Coalesce(Subquery(sold), 0),
                                 lowest_price=Subquery(offers.order_by("price").values("price")[:1]))
    shown = (Listing.objects.filter(status=Listing.Status.ACTIVE, store__status=Store.Status.OPEN)
             .select_related("store", "sku__stock").order_by("price", "store_id", "pk"))
    if min_price is not None:
        shown = shown.filter(price__gte=min_price)
    if max_price is not None:
        shown = shown.filter(price__lte=max_price)
    return (products.select_related("category").defer("search_document", "search_vector", "description", "source")
            .prefetch_related(Prefetch("skus__listings", queryset=shown, to_attr="offers"), "images")
            .order_by(*PRODUCT_ORDERINGS.get(ordering or "relevance", PRODUCT_ORDERINGS["relevance"])))


@dataclass(frozen=True)
class CartLine:
    item: CartItem
    line_total: Decimal  # the listing's price x quantity (checkout preview adds regional prices, shipping, coupons)
    purchasable: bool  # on sale and enough stock for the quantity: counted in the totals, can go to checkout


@dataclass(frozen=True)
class CartStore:
    store: Store
    lines: tuple[CartLine, ...]
    subtotal: Decimal  # of its purchasable lines
    units: int


@dataclass(frozen=True)
class Cart:
    stores: tuple[CartStore, ...]  # the store of the most recently touched item first
    total: Decimal
    units: int


def cart_of(*, user) -> Cart:
    """The shopper's cart grouped by store, as a mini-program shows it (one order per store at checkout). A line
    whose listing went off sale, or wants more than is in stock, stays in the cart but out of the totals."""
    items = list(CartItem.objects.filter(user=user)
                 .select_related("listing__store", "listing__sku__product__category", "listing__sku__stock")
                 .prefetch_related("listing__sku__product__images").order_by("-updated_at", "-pk"))
    on_sale = set(listings_on_sale().filter(pk__in=[item.listing_id for item in items]).values_list("pk", flat=True))
    grouped: dict[int, list[CartLine]] = {}
    for item in items:
        stock = getattr(item.listing.sku, "stock", None)
        purchasable = item.listing_id in on_sale and stock is not None and stock.available >= item.quantity
        grouped.setdefault(item.listing.store_id, []).append(
            CartLine(item=item, line_total=item.listing.price * item.quantity, purchasable=purchasable))
    stores = tuple(CartStore(store=lines[0].item.listing.store, lines=tuple(lines),
                             subtotal=sum((line.line_total for line in lines if line.purchasable), ZERO),
                             units=sum(line.item.quantity for line in lines if line.purchasable))
                   for lines in grouped.values())
    return Cart(stores=stores, total=sum((store.subtotal for store in stores), ZERO),
                units=sum(store.units for store in stores))


@dataclass(frozen=True)
class CartCoupon:
    coupon: UserCoupon
    discount: Decimal  # what it takes off the store's purchasable lines at cart prices (0: not usable now)
    shortfall: Decimal  # how much more of its scope the cart needs to reach the threshold (凑单); 0 when usable


def cart_coupons(*, user, cart: Cart) -> dict[int, tuple[CartCoupon, ...]]:
    """Store id -> the shopper's coupons of that store that are valid now, the best first: what each would take off
    this cart, or how far the cart is from its threshold. Estimated at cart prices; the checkout preview gives
    the exact discount at the shipping address's prices (the same rules: `mall.coupon_rules`)."""
    now = timezone.now()
    coupons = list(UserCoupon.objects.filter(
        user=user, status=UserCoupon.Status.AVAILABLE, valid_from__lte=now, valid_to__gt=now,
        template__is_active=True, template__store_id__in=[store.store.pk for store in cart.stores])
        .select_related("template").prefetch_related("template__categories", "template__listings").order_by("pk"))
    offers: dict[int, tuple[CartCoupon, ...]] = {}
    for store in cart.stores:
        lines = [line for line in store.lines if line.purchasable]
        entries = []
        for coupon in (coupon for coupon in coupons if coupon.template.store_id == store.store.pk):
            in_scope = sum((line.line_total for line in lines if coupon_applies_to(coupon.template, line.item.listing)),
                           ZERO)
            discount = coupon_discount(coupon.template, in_scope)
            shortfall = ZERO if discount > 0 else max(coupon.template.threshold - in_scope, ZERO)
            entries.append(CartCoupon(coupon=coupon, discount=discount, shortfall=shortfall))
        offers[store.store.pk] = tuple(sorted(entries, key=lambda entry: (-entry.discount, entry.shortfall)))
    return offers


def category_tree() -> list[dict]:
    categories = list(Category.objects.all())
    children: dict[int | None, list[Category]] = {}
    for category in categories:
        children.setdefault(category.parent_id, []).append(category)

    def node(category: Category) -> dict:
        return {"id": category.pk, "name": category.name, "name_en": category.name_en,
                "children": [node(child) for child in children.get(category.pk, [])]}

    return [node(root) for root in children.get(None, [])]


def orders_of(*, buyer, status: str | None = None) -> QuerySet[Order]:
    orders = (Order.objects.filter(buyer=buyer)
              .prefetch_related("lines", Prefetch("shipments", queryset=Shipment.objects.select_related("supplier")))
              .order_by("-created_at", "-pk"))
    if status:
        orders = orders.filter(status=status)
    return orders


def order_counts_of(*, buyer) -> dict[str, int]:
    """The badge row of "my orders" (待付款 / 拼团中 / 待发货 / 待收货 / 售后), in one query: orders awaiting payment,
    paid group-buy orders waiting for their team, paid orders not shipped yet, shipped or delivered orders not yet
    confirmed, and orders with an after-sale still open."""
    open_after_sale = Exists(AfterSale.objects.filter(order=OuterRef("pk"), status__in=AfterSale.OPEN_STATUSES))
    Status = Order.Status
    return Order.objects.filter(buyer=buyer).aggregate(
        pending_payment=Count("pk", filter=Q(status=Status.PENDING_PAYMENT)),
        grouping=Count("pk", filter=Q(status=Status.GROUPING)),
        to_ship=Count("pk", filter=Q(status=Status.PAID)),
        to_receive=Count("pk", filter=Q(status__in=[Status.SHIPPED, Status.DELIVERED])),
        after_sale=Count("pk", filter=Q(open_after_sale)),
    )


def relations_remember(instance: Model, **relations: list) -> None:
    """Attach rows a service has just written or read (an order's lines, its shipments) as if they had been
    prefetched, so showing the object does not read them back."""
    cache = instance.__dict__.setdefault("_prefetched_objects_cache", {})
    for name, objects in relations.items():
        queryset = getattr(instance, name).all()
        queryset._result_cache = list(objects)
        queryset._prefetch_done = True
        cache[name] = queryset


def order_details(order: Order) -> Order:
    """The order with what its page shows (lines, shipments with their suppliers): relations already at hand are
    kept, the others are read in one query each."""
    prefetch_related_objects([order], "lines", Prefetch("shipments",
                                                         queryset=Shipment.objects.select_related("supplier")))
    return order


def order_campaign_earns_commission(*, order: Order) -> bool:
    """Whether the group-buy or bargain campaign an order was placed for pays distribution commission."""
    if order.kind == Order.Kind.GROUP_BUY:
        return GroupBuyMember.objects.filter(order=order, team__campaign__earns_commission=True).exists()
    if order.kind == Order.Kind.BARGAIN:
        return BargainSession.objects.filter(order=order, campaign__earns_commission=True).exists()
    return True


def orders_past_after_sale_window(*, order_ids: list[int], delivered_before) -> list[int]:
    """Of these orders, those delivered before `delivered_before` with no after-sale open: their after-sale
    window has closed."""
    open_after_sale = AfterSale.objects.filter(order=OuterRef("pk"), status__in=AfterSale.OPEN_STATUSES)
    return list(Order.objects.filter(pk__in=order_ids, delivered_at__lt=delivered_before)
                .exclude(Exists(open_after_sale)).values_list("pk", flat=True))


def payments_of_buyers(*, buyer_ids, until) -> list[tuple[int, int, object]]:
    """(buyer id, store id, paid at) of every order these buyers paid up to `until`, oldest first; refunded
    orders too (they were paid). `buyer_ids` may be a list or a values("...") subquery."""
    return list(Order.objects.filter(buyer_id__in=buyer_ids, paid_at__isnull=False, paid_at__lte=until)
                .order_by("paid_at", "pk").values_list("buyer_id", "store_id", "paid_at"))


def listing_facts(*, listing_ids) -> dict[int, tuple[str, float, int]]:
    """Listing id -> (its product's leaf category name, price as a float, store id): what interest tags read."""
    return {pk: (category, float(price), store_id) for pk, category, price, store_id in
            Listing.objects.filter(pk__in=listing_ids).values_list("pk", "sku__product__category__name", "price",
                                                                   "store_id")}


def store_prices(*, store_ids) -> dict[int, list[float]]:
    """Each store's prices of its listings on sale (for price bands)."""
    prices: dict[int, list[float]] = {}
    for store_id, price in (Listing.objects.filter(store_id__in=store_ids, status=Listing.Status.ACTIVE)
                            .values_list("store_id", "price")):
        prices.setdefault(store_id, []).append(float(price))
    return prices
