"""Behaviour events the mall emits, with their payload fields. `manage.py events_catalogue` lists them all.

High-volume kinds (product views) are read only by batch consumers; order and refund kinds are low-volume and may
have transactional handlers (points, commission) in apps to the right of mall.
"""
from decimal import Decimal

from django.db import connection
from django.db.models import Sum

from core.events import Actor, batch_consumer, declare
from core.models import BehaviourEvent
from mall.models import Listing, OrderLine

LISTING_SALES = "mall.listing_sales"

# --- browsing and cart ---
declare("product_viewed", meaning="a shopper or an anonymous visitor opened a listing's detail page",
        fields={"sku_id": int}, actor=Actor.VISITOR)
declare("cart_item_added", meaning="a shopper put units of a listing into the cart", fields={"quantity": int})
declare("coupon_claimed", meaning="a shopper claimed a coupon", fields={"template_id": int})

# --- orders ---
declare("order_created", meaning="a shopper placed an order (stock reserved, awaiting payment)",
        fields={"total": Decimal, "kind": str, "store_id": int, "lines": list})
declare("order_paid", meaning="an order was paid",
        fields={"total": Decimal, "store_id": int, "kind": str, "lines": list})
declare("order_cancelled", meaning="an unpaid order was cancelled (by its buyer, its timer or its promotion)",
        fields={"reason": str})
declare("order_shipped", meaning="a supplier shipped its part of an order",
        fields={"shipment_id": int, "carrier": str, "tracking_number": str}, actor=Actor.ANY)
declare("shipment_delivered", meaning="one shipment of an order arrived (`source`: carrier, supplier, buyer, "
        "operator, or auto_confirm when receipt was confirmed by the sweep)",
        fields={"shipment_id": int, "source": str}, actor=Actor.ANY)
declare("order_delivered", meaning="every shipment of an order was delivered", actor=Actor.ANY)
declare("order_completed", meaning="the buyer confirmed receipt (or the confirmation timer did)",
        fields={"auto": bool}, actor=Actor.ANY)

# --- payments and refunds ---
declare("payment_refunded_late", meaning="a payment arrived for an order that was no longer payable (closed, or "
        "already paid): recorded and sent back", fields={"transaction_id": str, "amount": Decimal, "reason": str},
        actor=Actor.ANY)
declare("refund_requested", meaning="a refund was booked on an order and waits to be sent to the provider",
        fields={"amount": Decimal, "reason": str, "refund_id": int}, actor=Actor.ANY)
declare("refund_succeeded", meaning="the payment provider confirmed a refund",
        fields={"amount": Decimal, "refund_id": int}, actor=Actor.ANY)
declare("refund_failed", meaning="the payment provider refused a refund or it kept failing; an operator may retry",
        fields={"amount": Decimal, "refund_id": int, "error": str}, actor=Actor.ANY)

# --- group-buys ---
declare("groupbuy_opened", meaning="a shopper opened a group-buy team", fields={"campaign_id": int})
declare("groupbuy_joined", meaning="a shopper took a seat in a group-buy team")
declare("groupbuy_succeeded", meaning="every seat of a team was paid: its orders ship", fields={"members": list},
        actor=Actor.ANY)
declare("groupbuy_failed", meaning="a team's window closed before it filled: paid members are refunded",
        actor=Actor.ANY)

# --- bargains ---
declare("bargain_campaign_created", meaning="a merchant set up a bargain campaign",
        fields={"listing_id": int, "floor_price": Decimal, "helpers_needed": int}, actor=Actor.ANY)
declare("bargain_opened", meaning="a shopper started bargaining",
        fields={"campaign_id": int, "listing_id": int, "start_price": Decimal, "floor_price": Decimal})
declare("bargain_helped", meaning="a friend cut the price of someone's bargain",
        fields={"cut": Decimal, "price_after": Decimal, "owner_id": int, "floor_reached": bool})
declare("bargain_purchased", meaning="the bargain's owner ordered at the bargained price",
        fields={"order_id": int, "price": Decimal, "floor_reached": bool})
declare("bargain_released", meaning="the unpaid order of a bargain was cancelled: the bargain is live again",
        fields={"order_id": int, "status": str})
declare("bargain_expired", meaning="a bargain's window closed", actor=Actor.ANY)

# --- after-sales ---
declare("after_sale_requested", meaning="a shopper asked for a refund (or a return and refund) of an order line",
        fields={"order_id": int, "line_id": int, "kind": str, "quantity": int, "refund_amount": Decimal})
declare("after_sale_approved", meaning="the store approved an after-sale request",
        fields={"order_id": int, "kind": str}, actor=Actor.ANY)
declare("after_sale_refused", meaning="the store refused an after-sale request", fields={"note": str},
        actor=Actor.ANY)
declare("after_sale_return_shipped", meaning="the shopper sent the goods back",
        fields={"carrier": str, "tracking_number": str})
declare("after_sale_withdrawn", meaning="the shopper withdrew an after-sale request")
declare("after_sale_refunded", meaning="an after-sale request was refunded",
        fields={"order_id": int, "line_id": int, "quantity": int, "amount": Decimal, "shipping_refunded": bool,
                "order_closed": bool}, actor=Actor.ANY)


# --- batch consumers ---
@batch_consumer("order_paid", name=LISTING_SALES, batch_size=1000,
                meaning="销量: units sold per listing (a store's offer), from the lines of paid orders")
def listing_sales_count(events: list[BehaviourEvent]) -> None:
    """Adds each paid order's units to its listings' `sold_count`, in the consumer's transaction: exactly once."""
    sold = (OrderLine.objects.filter(order_id__in=[int(event.object_id) for event in events])
            .values("listing_id").annotate(units=Sum("quantity")).values_list("listing_id", "units"))
    rows = [value for pair in sold for value in pair]
    if not rows:
        return
    table = Listing._meta.db_table
    values = ", ".join(["(%s::bigint, %s::integer)"] * (len(rows) // 2))
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} AS l SET sold_count = l.sold_count + v.units "  # noqa: S608 (our table)
                       f"FROM (VALUES {values}) AS v (listing_id, units) WHERE l.id = v.listing_id", rows)
