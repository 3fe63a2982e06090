"""Every row lock the mall takes, in one order, so no two flows can deadlock.

Within one transaction locks are taken in this order, and never the other way round:

1. the promotion an order belongs to: its group-buy team (then the team's member rows) or its bargain session;
2. orders, in ascending id;
3. rows that belong to a locked order: its shipments, lines, after-sales, payments and refunds;
4. stock rows, in ascending SKU id (supply's guarded UPDATEs: reserve, release, consume, restock).

`order_for_update` is the only way to lock an existing order: it looks up which promotion the order belongs to and
locks that first. A flow that starts from a child row (a shipment, an after-sale) finds its order without a lock,
locks the order through `order_for_update`, then the child. A team's failure locks the team, then each member's
order. New rows (an order being placed) are invisible to other transactions and need no lock.

Every queryset here is `select_for_update(of=("self",))`, so joined rows are read, not locked.
"""
from django.db.models import QuerySet

from mall.models import AfterSale, BargainSession, GroupBuyTeam, Order, OrderLine, Refund, Shipment


def _for_update(queryset: QuerySet) -> QuerySet:
    return queryset.select_for_update(of=("self",))


def team_for_update(*, team_id: int) -> GroupBuyTeam | None:
    return _for_update(GroupBuyTeam.objects.select_related("campaign").filter(pk=team_id)).first()


def bargain_session_for_update(**lookup) -> BargainSession | None:
    return _for_update(BargainSession.objects.select_related("campaign").filter(**lookup)).first()


def order_for_update(*, order_id: int | None = None, number: str | None = None, buyer=None) -> Order | None:
    """Lock one order, after the promotion rows it belongs to. None when there is no such order (of that buyer)."""
    lookup = {"pk": order_id} if order_id is not None else {"number": number}
    if buyer is not None:
        lookup["buyer"] = buyer
    found = (Order.objects.filter(**lookup)
             .values("pk", "kind", "group_buy_member__team_id").first())
    if found is None:
        return None
    if found["kind"] == Order.Kind.GROUP_BUY and found["group_buy_member__team_id"]:
        team_for_update(team_id=found["group_buy_member__team_id"])
    elif found["kind"] == Order.Kind.BARGAIN:
        bargain_session_for_update(order_id=found["pk"])
    return _for_update(Order.objects.filter(pk=found["pk"])).first()


def orders_for_update(*, order_ids) -> list[Order]:
    """Lock several orders of one promotion (already locked by the caller), in ascending id."""
    return list(_for_update(Order.objects.filter(pk__in=list(order_ids))).order_by("pk"))


def shipment_for_update(*, shipment_id: int, **lookup) -> tuple[Order, Shipment] | tuple[None, None]:
    """Lock a shipment's order, then the shipment."""
    order_id = Shipment.objects.filter(pk=shipment_id, **lookup).values_list("order_id", flat=True).first()
    if order_id is None:
        return None, None
    order = order_for_update(order_id=order_id)
    return order, _for_update(Shipment.objects.filter(pk=shipment_id)).get()


def lines_for_update(*, order: Order, line_ids) -> dict[int, OrderLine]:
    """Lock lines of an order the caller has locked, in ascending id."""
    lines = _for_update(OrderLine.objects.filter(order=order, pk__in=list(line_ids))
                        .select_related("shipment")).order_by("pk")
    return {line.pk: line for line in lines}


def after_sale_for_update(*, after_sale_id: int, **lookup) -> tuple[Order, AfterSale] | tuple[None, None]:
    """Lock an after-sale's order, then the after-sale."""
    order_id = AfterSale.objects.filter(pk=after_sale_id, **lookup).values_list("order_id", flat=True).first()
    if order_id is None:
        return None, None
    order = order_for_update(order_id=order_id)
    after_sale = _for_update(AfterSale.objects.select_related("line").filter(pk=after_sale_id)).get()
    after_sale.order = order
    after_sale.line.order = order
    return order, after_sale


def refund_for_update(*, refund_id: int) -> Refund | None:
    """A refund row alone (the send and retry steps touch nothing else)."""
    return _for_update(Refund.objects.select_related("payment").filter(pk=refund_id)).first()
