"""Distribution rebates through real orders: two levels from the share chain, postage excluded, rates snapshotted;
frozen on delivery, withdrawable after the after-sale window; reversed by refunds (debt when already spent); group-
buy prices earn nothing unless the campaign says so; withdrawals never take a balance below zero, even at once."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from cards.models import CommissionAccount, CommissionEntry, DistributionPlan, Withdrawal
from cards.services import commission, sharing
from core.errors import BusinessRuleViolation, ValidationFailed
from mall.models import Order
from mall.services import after_sales, orders, refunds
from tests.cards.conftest import track, visits_run
from tests.factories import AddressFactory, ListingFactory, ProductFactory, SKUFactory, SupplierFactory, UserFactory
from tests.helpers import race
from tests.mall.conftest import pay, place, send_refunds

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def chain(card, rep, store):
    """rep -> promoter -> buyer: the buyer logged in and arrived through the promoter's forward."""
    commission.distribution_plan_save(store_id=store.pk, level1_rate=Decimal("0.10"), level2_rate=Decimal("0.05"))
    promoter, buyer = UserFactory(), UserFactory()
    root = sharing.share_create(card_id=card.pk, user_id=rep.pk)
    forwarded = sharing.share_create(parent_id=root.pk, user_id=promoter.pk, channel="group")
    track(card, user=buyer, share=forwarded, visit="open-0001")
    visits_run()
    return {"rep": rep, "promoter": promoter, "buyer": buyer}


@pytest.fixture
def listing(store):
    """50.00 a unit; shipping 10.00 (first kg) below 99.00."""
    from tests.factories import ShippingRateFactory

    supplier = SupplierFactory()
    rate = ShippingRateFactory(template__supplier=supplier)
    product = ProductFactory(supplier=supplier, shipping_template=rate.template)
    return ListingFactory(store=store, sku=SKUFactory(product=product), price=Decimal("50.00"))


def _balances(user) -> dict[str, Decimal]:
    account = CommissionAccount.objects.get(user=user)
    return {name: getattr(account, name) for name in ("pending", "frozen", "withdrawable", "withdrawing", "debt")
            if getattr(account, name)}


def _deliver(order: Order) -> None:
    for shipment in order.shipments.all():
        orders.shipment_ship(shipment_id=shipment.pk, supplier=shipment.supplier, carrier="SF",
                             tracking_number=f"SF{shipment.pk:010d}")
        orders.shipment_deliver(shipment_id=shipment.pk)


def _past_the_window(order: Order) -> None:
    Order.objects.filter(pk=order.pk).update(delivered_at=timezone.now() - timedelta(days=8))


def test_a_paid_order_earns_both_levels_on_the_goods_without_postage(chain, listing):
    order = pay(place(chain["buyer"], AddressFactory(user=chain["buyer"]), listing))
    assert (order.total, order.shipping_fee) == (Decimal("60.00"), Decimal("10.00"))
    entries = {entry.level: entry for entry in CommissionEntry.objects.filter(order=order)}
    assert entries[1].account.user_id == chain["promoter"].pk and entries[2].account.user_id == chain["rep"].pk
    assert (entries[1].base_amount, entries[1].rate, entries[1].amount) == (Decimal("50.00"), Decimal("0.1000"),
                                                                              Decimal("5.00"))
    assert entries[2].amount == Decimal("2.50")
    assert _balances(chain["promoter"]) == {"pending": Decimal("5.00")}
    DistributionPlan.objects.update(level1_rate=Decimal("0.20"))
    assert CommissionEntry.objects.get(order=order, level=1).rate == Decimal("0.1000")  # snapshotted


def test_earnings_freeze_on_delivery_and_become_withdrawable_after_the_window(chain, listing):
    order = pay(place(chain["buyer"], AddressFactory(user=chain["buyer"]), listing))
    _deliver(order)
    assert _balances(chain["promoter"]) == {"frozen": Decimal("5.00")}
    assert commission.commissions_settle_due() == 0  # still inside the after-sale window
    _past_the_window(order)
    assert commission.commissions_settle_due() == 2
    assert commission.commissions_settle_due() == 0
    assert _balances(chain["promoter"]) == {"withdrawable": Decimal("5.00")}
    assert set(CommissionEntry.objects.values_list("status", flat=True)) == {"withdrawable"}


def test_an_open_after_sale_keeps_the_earning_frozen(chain, listing):
    order = pay(place(chain["buyer"], AddressFactory(user=chain["buyer"]), listing))
    _deliver(order)
    after_sales.after_sale_request(buyer=chain["buyer"], order_id=order.pk, line_id=order.lines.get().pk,
                                   kind="refund_only", quantity=1, reason="不想要了")
    _past_the_window(order)
    assert commission.commissions_settle_due() == 0
    assert _balances(chain["promoter"]) == {"frozen": Decimal("5.00")}


def test_a_refund_after_withdrawal_becomes_debt_that_later_earnings_pay_off(chain, listing):
    buyer = chain["buyer"]
    address = AddressFactory(user=buyer)
    order = pay(place(buyer, address, listing, quantity=2, key="order-key-0001"))  # 100.00, free shipping
    _deliver(order)
    _past_the_window(order)
    commission.commissions_settle_due()
    promoter = chain["promoter"]
    assert _balances(promoter) == {"withdrawable": Decimal("10.00")}
    commission.withdrawal_request(user=promoter, amount=Decimal("10.00"), idempotency_key="withdraw-0001")
    # After the window, the platform refunds half of the goods anyway (a goodwill refund, paid back by the provider).
    with transaction.atomic():
        refunds.refund_request(order=order, amount=Decimal("50.00"), reason="平台补偿 goodwill",
                               reference=f"goodwill:{order.pk}")
    send_refunds()
    reversal = CommissionEntry.objects.get(order=order, level=1, kind="reversal")
    assert reversal.amount == Decimal("-5.00")
    assert _balances(promoter) == {"withdrawing": Decimal("10.00"), "debt": Decimal("5.00")}
    # The next earning pays the debt first.
    second = pay(place(buyer, address, listing, quantity=2, key="order-key-0002"))
    _deliver(second)
    _past_the_window(second)
    commission.commissions_settle_due()
    assert _balances(promoter) == {"withdrawing": Decimal("10.00"), "withdrawable": Decimal("5.00")}


def test_a_group_buy_order_earns_nothing_unless_its_campaign_says_so(chain, listing):
    from mall.services import group_buys
    from tests.factories import GroupBuyCampaignFactory

    campaign = GroupBuyCampaignFactory(listing=listing, team_price=Decimal("40.00"), team_size=2)
    buyer = chain["buyer"]
    team = group_buys.group_buy_open(buyer=buyer, campaign_id=campaign.pk, address_id=AddressFactory(user=buyer).pk,
                                     quantity=1, idempotency_key="team-open-0001")
    order = pay(team.members.get().order)
    assert order.kind == Order.Kind.GROUP_BUY
    assert not CommissionEntry.objects.filter(order=order).exists()


def test_a_third_level_is_refused():
    with pytest.raises(ValidationFailed) as refused:
        commission.distribution_plan_validate(level1_rate=Decimal("0.1"), level2_rate=Decimal("0.05"), levels=3)
    assert refused.value.code == "too_many_levels"


def test_concurrent_withdrawals_never_take_the_balance_below_zero(chain, listing):
    promoter = chain["promoter"]
    account = CommissionAccount.objects.create(user=promoter, withdrawable=Decimal("25.00"))

    def withdraw(index):
        return commission.withdrawal_request(user=promoter, amount=Decimal("10.00"),
                                             idempotency_key=f"withdraw-{index:04d}")

    results, errors = race(8, withdraw)
    assert len(results) == 2 and len(errors) == 6
    assert all(isinstance(error, BusinessRuleViolation) for error in errors)
    account.refresh_from_db()
    assert (account.withdrawable, account.withdrawing) == (Decimal("5.00"), Decimal("20.00"))
    assert Withdrawal.objects.count() == 2
    approved = commission.withdrawal_decide(withdrawal_id=results[0].pk, approve=True)
    rejected = commission.withdrawal_decide(withdrawal_id=results[1].pk, approve=False, note="账户信息有误")
    assert (approved.status, rejected.status) == ("approved", "rejected")
    account.refresh_from_db()
    assert (account.withdrawable, account.withdrawing, account.withdrawn) == (
        Decimal("15.00"), Decimal("0.00"), Decimal("10.00"))
    with pytest.raises(BusinessRuleViolation):
        commission.withdrawal_decide(withdrawal_id=approved.pk, approve=False)
