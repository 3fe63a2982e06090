"""Bargain (砍价): the cut arithmetic, the session's rules, buying at the floor, concurrent helpers, the API."""
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.models import BehaviourEvent
from mall.models import BargainCampaign, BargainHelp, BargainSession, Order
from mall.services import bargains, orders
from supply.models import Stock
from tests.factories import (
    AddressFactory,
    ListingFactory,
    ProductFactory,
    ShippingRateFactory,
    SKUFactory,
    StoreFactory,
    SupplierFactory,
    UserFactory,
)
from tests.helpers import race

CENT = Decimal("0.01")


@pytest.fixture
def item(db):
    """A 50.00 listing of a SKU whose lowest resale price is 30.00, shipped at 10.00 (free from 99.00)."""
    supplier = SupplierFactory()
    rate = ShippingRateFactory(template__supplier=supplier)
    product = ProductFactory(supplier=supplier, shipping_template=rate.template)
    return ListingFactory(store=StoreFactory(), sku=SKUFactory(product=product), price=Decimal("50.00"))


def make_campaign(listing, **overrides) -> BargainCampaign:
    values = {"floor_price": Decimal("30.00"), "helpers_needed": 5, "starts_at": timezone.now() - timedelta(hours=1),
              "ends_at": timezone.now() + timedelta(days=3)}
    values.update(overrides)
    return bargains.bargain_campaign_create(listing=listing, **values)


@pytest.fixture
def campaign(item):
    return make_campaign(item)


@pytest.fixture
def owner(db):
    return UserFactory(nickname="王小明")


def help_n(session, count: int, *, seed: int = 7) -> list[BargainHelp]:
    rng = random.Random(seed)
    return [bargains.bargain_help(session_id=session.pk, helper=UserFactory(), rng=rng) for _ in range(count)]


def snapshot(session_id: int) -> tuple:
    session = BargainSession.objects.get(pk=session_id)
    return (session.current_price, session.helper_count, session.status, session.order_id,
            BargainHelp.objects.filter(session_id=session_id).count())


# --- the cut arithmetic -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("remaining", "helpers"), [
    ("20.00", 1), ("20.00", 2), ("20.00", 5), ("20.00", 17), ("0.01", 1), ("0.05", 5), ("0.10", 10),
    ("1.00", 100), ("1.01", 100), ("999.99", 3), ("0.37", 12),
])
@pytest.mark.parametrize(("low", "high"), [("0.2", "1.8"), ("1", "1"), ("0.001", "9.999"), ("0.5", "0.6")])
def test_the_price_reaches_the_floor_exactly_at_the_last_helper_and_never_below(remaining, helpers, low, high):
    for seed in range(60):
        rng = random.Random(seed)
        left = Decimal(remaining)
        for helpers_left in range(helpers, 0, -1):
            cut = bargains.bargain_cut(remaining=left, helpers_left=helpers_left, min_ratio=Decimal(low),
                                       max_ratio=Decimal(high), rng=rng)
            assert cut >= CENT and cut == cut.quantize(CENT)
            left -= cut
            assert left >= CENT * (helpers_left - 1), (seed, helpers_left)  # every later helper can still cut
        assert left == 0, seed


def test_with_one_cent_per_helper_left_every_helper_cuts_exactly_one_cent():
    rng = random.Random(1)
    cuts = [bargains.bargain_cut(remaining=CENT * k, helpers_left=k, min_ratio=Decimal("0.2"),
                                 max_ratio=Decimal("1.8"), rng=rng) for k in range(8, 0, -1)]
    assert cuts == [CENT] * 8


def test_cuts_vary_around_the_fair_share():
    rng = random.Random(3)
    cuts = [bargains.bargain_cut(remaining=Decimal("100.00"), helpers_left=10, min_ratio=Decimal("0.2"),
                                 max_ratio=Decimal("1.8"), rng=rng) for _ in range(500)]
    assert min(cuts) >= Decimal("2.00") and max(cuts) <= Decimal("18.00")
    assert len(set(cuts)) > 50
    assert Decimal("9.00") < sum(cuts) / len(cuts) < Decimal("11.00")


def test_a_cut_that_cannot_leave_a_cent_per_helper_is_refused():
    with pytest.raises(ValueError):
        bargains.bargain_cut(remaining=Decimal("0.04"), helpers_left=5, min_ratio=Decimal("0.2"),
                             max_ratio=Decimal("1.8"), rng=random.Random(0))


# --- campaigns --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("overrides", "code"), [
    ({"floor_price": Decimal("29.99")}, "bargain_floor_below_sku_floor"),
    ({"floor_price": Decimal("50.00")}, "bargain_floor_not_below_price"),
    ({"floor_price": Decimal("49.99"), "helpers_needed": 2}, "bargain_spread_too_small"),
    ({"helpers_needed": 0}, "bargain_helpers_invalid"),
    ({"min_cut_ratio": Decimal("2"), "max_cut_ratio": Decimal("1")}, "bargain_ratio_invalid"),
    ({"ends_at": timezone.now() - timedelta(days=1)}, "bargain_dates_invalid"),
])
def test_a_campaign_that_cannot_work_is_refused(item, overrides, code):
    with pytest.raises(Exception) as refused:
        make_campaign(item, **overrides)
    assert refused.value.code == code
    assert BargainCampaign.objects.count() == 0


def test_a_spread_of_exactly_one_cent_per_helper_is_accepted(item):
    campaign = make_campaign(item, floor_price=Decimal("49.95"), helpers_needed=5)
    assert campaign.pk and campaign.helpers_needed == 5


# --- sessions ---------------------------------------------------------------------------------------------------
def test_opening_copies_the_prices_and_opening_again_returns_the_live_session(campaign, owner):
    session = bargains.bargain_open(owner=owner, campaign_id=campaign.pk)
    assert (session.start_price, session.current_price, session.floor_price) == (
        Decimal("50.00"), Decimal("50.00"), Decimal("30.00"))
    assert session.helpers_needed == 5 and session.status == BargainSession.Status.ACTIVE
    assert timezone.now() + timedelta(hours=23) < session.expires_at <= timezone.now() + timedelta(hours=24)
    assert bargains.bargain_open(owner=owner, campaign_id=campaign.pk).pk == session.pk
    assert BargainSession.objects.count() == 1
    assert BehaviourEvent.objects.filter(kind="bargain_opened").count() == 1


def test_a_campaign_not_running_cannot_be_opened(item, owner):
    later = make_campaign(item, starts_at=timezone.now() + timedelta(days=1),
                          ends_at=timezone.now() + timedelta(days=2))
    with pytest.raises(Exception) as refused:
        bargains.bargain_open(owner=owner, campaign_id=later.pk)
    assert refused.value.code == "bargain_campaign_closed"
    with pytest.raises(Exception) as missing:
        bargains.bargain_open(owner=owner, campaign_id=999_999)
    assert missing.value.code == "bargain_campaign_not_found"
    assert BargainSession.objects.count() == 0


def test_an_expired_live_session_does_not_block_a_new_one(campaign, owner):
    first = bargains.bargain_open(owner=owner, campaign_id=campaign.pk)
    BargainSession.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    second = bargains.bargain_open(owner=owner, campaign_id=campaign.pk)
    assert second.pk != first.pk
    assert BargainSession.objects.get(pk=first.pk).status == BargainSession.Status.EXPIRED


def test_helpers_bring_the_price_to_the_floor_exactly_at_the_configured_count(campaign, owner):
    session = bargains.bargain_open(owner=owner, campaign_id=campaign.pk)
    helps = help_n(session, 4)
    session.refresh_from_db()
    assert session.status == BargainSession.Status.ACTIVE and session.current_price > Decimal("30.00")
    helps += help_n(session, 1, seed=8)
    session.refresh_from_db()
    assert session.current_price == Decimal("30.00")
    assert session.status == BargainSession.Status.FLOOR_REACHED and session.helper_count == 5
    assert sum(h.cut_amount for h in helps) == Decimal("20.00")
    assert [h.price_after for h in helps] == sorted((h.price_after for h in helps), reverse=True)
    assert BehaviourEvent.objects.filter(kind="bargain_helped").count() == 5
    before = snapshot(session.pk)
    with pytest.raises(Exception) as refused:
        bargains.bargain_help(session_id=session.pk, helper=UserFactory())
    assert refused.value.code == "bargain_closed"
    assert snapshot(session.pk) == before


@pytest.mark.parametrize("helpers_needed", [1, 2, 3, 7])
def test_any_helper_count_lands_on_the_floor_including_the_tightest_spread(item, owner, helpers_needed):
    floor = Decimal("50.00") - CENT * helpers_needed  # every helper can cut exactly one cent
    for floor_price in (Decimal("30.00"), floor):
        BargainSession.objects.filter(owner=owner).update(status=BargainSession.Status.EXPIRED)
        campaign = make_campaign(item, floor_price=floor_price, helpers_needed=helpers_needed)
        session = bargains.bargain_open(owner=owner, campaign_id=campaign.pk)
        help_n(session, helpers_needed, seed=helpers_needed)
        session.refresh_from_db()
        assert session.current_price == floor_price
        assert session.status == BargainSession.Status.FLOOR_REACHED


def test_a_second_help_by_the_same_user_is_refused_and_changes_nothing(campaign, owner):
    session = bargains.bargain_open(owner=owner, campaign_id=campaign.pk)
    friend = UserFactory()
    bargains.bargain_help(session_id=session.pk, helper=friend)
    before = snapshot(session.pk)
    with pytest.raises(Exception) as refused:
        bargains.bargain_help(session_id=session.pk, helper=friend)
    assert refused.value.code == "bargain_already_helped"
    assert snapshot(session.pk) == before


def test_the_owner_cannot_help_their_own_bargain(campaign, owner):
    session = bargains.bargain_open(owner=owner, campaign_id=campaign.pk)
    before = snapshot(session.pk)
    with pytest.raises(Exception) as refused:
        bargains.bargain_help(session_id=session.pk, helper=owner)
    assert refused.value.code == "bargain_self_help"
    assert snapshot(session.pk) == before


def test_an_expired_session_refuses_help_and_the_sweep_expires_it(campaign, owner):
    session = bargains.bargain_open(owner=owner, campaign_id=campaign.pk)
    help_n(session, 1)
    BargainSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    before = snapshot(session.pk)
    with pytest.raises(Exception) as refused:
        bargains.bargain_help(session_id=session.pk, helper=UserFactory())
    assert refused.value.code == "bargain_closed"
    assert snapshot(session.pk) == before
    assert bargains.bargain_sessions_expire_due() == 1
    assert bargains.bargain_sessions_expire_due() == 0
    assert BargainSession.objects.get(pk=session.pk).status == BargainSession.Status.EXPIRED


# --- buying -----------------------------------------------------------------------------------------------------
def test_buying_at_the_floor_places_a_bargain_order_at_the_floor_price(campaign, owner):
    address = AddressFactory(user=owner)
    session = bargains.bargain_open(owner=owner, campaign_id=campaign.pk)
    help_n(session, 5)
    order = bargains.bargain_buy(owner=owner, session_id=session.pk, address_id=address.pk,
                                 idempotency_key="bargain-buy-0001")
    assert order.kind == Order.Kind.BARGAIN
    line = order.lines.get()
    assert (line.quantity, line.unit_price, line.list_price) == (1, Decimal("30.00"), Decimal("50.00"))
    assert order.subtotal == Decimal("30.00") and order.total == Decimal("40.00")  # + 10.00 shipping
    session.refresh_from_db()
    assert session.status == BargainSession.Status.PURCHASED and session.order_id == order.pk
    again = bargains.bargain_buy(owner=owner, session_id=session.pk, address_id=address.pk,
                                 idempotency_key="bargain-buy-0001")
    assert again.pk == order.pk and Order.objects.count() == 1
    with pytest.raises(Exception) as refused:
        bargains.bargain_buy(owner=owner, session_id=session.pk, address_id=address.pk,
                             idempotency_key="bargain-buy-0002")
    assert refused.value.code == "bargain_already_purchased"
    assert Order.objects.count() == 1
    assert Stock.objects.get(sku=campaign.listing.sku).reserved == 1


def test_buying_before_the_floor_is_refused_unless_the_campaign_allows_it(item, owner):
    address = AddressFactory(user=owner)
    strict = make_campaign(item)
    session = bargains.bargain_open(owner=owner, campaign_id=strict.pk)
    help_n(session, 2)
    before = snapshot(session.pk)
    with pytest.raises(Exception) as refused:
        bargains.bargain_buy(owner=owner, session_id=session.pk, address_id=address.pk,
                             idempotency_key="bargain-early-001")
    assert refused.value.code == "bargain_floor_not_reached"
    assert snapshot(session.pk) == before and Order.objects.count() == 0

    lenient = make_campaign(item, allow_buy_at_current_price=True)
    session = bargains.bargain_open(owner=owner, campaign_id=lenient.pk)
    help_n(session, 2)
    session.refresh_from_db()
    order = bargains.bargain_buy(owner=owner, session_id=session.pk, address_id=address.pk,
                                 idempotency_key="bargain-early-002")
    assert order.lines.get().unit_price == session.current_price > Decimal("30.00")


def test_someone_else_cannot_buy_my_session_and_an_expired_one_cannot_be_bought(campaign, owner):
    session = bargains.bargain_open(owner=owner, campaign_id=campaign.pk)
    help_n(session, 5)
    stranger = UserFactory()
    with pytest.raises(Exception) as refused:
        bargains.bargain_buy(owner=stranger, session_id=session.pk, address_id=AddressFactory(user=stranger).pk,
                             idempotency_key="bargain-steal-01")
    assert refused.value.code == "bargain_not_found"
    BargainSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(Exception) as closed:
        bargains.bargain_buy(owner=owner, session_id=session.pk, address_id=AddressFactory(user=owner).pk,
                             idempotency_key="bargain-late-001")
    assert closed.value.code == "bargain_closed"
    assert Order.objects.count() == 0


def test_cancelling_the_unpaid_order_gives_the_session_back(campaign, owner):
    address = AddressFactory(user=owner)
    session = bargains.bargain_open(owner=owner, campaign_id=campaign.pk)
    help_n(session, 5)
    order = bargains.bargain_buy(owner=owner, session_id=session.pk, address_id=address.pk,
                                 idempotency_key="bargain-cancel-1")
    orders.order_cancel(order_id=order.pk, buyer=owner, actor=owner)
    bargains.bargain_release_for_order(order=order)  # what order cancellation calls once it is wired in
    session.refresh_from_db()
    assert session.status == BargainSession.Status.FLOOR_REACHED and session.order_id is None
    second = bargains.bargain_buy(owner=owner, session_id=session.pk, address_id=address.pk,
                                  idempotency_key="bargain-cancel-2")
    assert second.pk != order.pk and second.lines.get().unit_price == Decimal("30.00")


# --- concurrency ------------------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_concurrent_helpers_never_exceed_the_count_and_land_exactly_on_the_floor(item):
    campaign = make_campaign(item, helpers_needed=6)
    owner = UserFactory()
    session = bargains.bargain_open(owner=owner, campaign_id=campaign.pk)
    friends = [UserFactory() for _ in range(15)]
    results, errors = race(len(friends), lambda index: bargains.bargain_help(session_id=session.pk,
                                                                             helper=friends[index]))
    assert len(results) == 6
    assert len(errors) == 9 and {getattr(e, "code", repr(e)) for e in errors} == {"bargain_closed"}
    session.refresh_from_db()
    assert session.helper_count == 6 and session.current_price == Decimal("30.00")
    assert session.status == BargainSession.Status.FLOOR_REACHED
    assert sum(h.cut_amount for h in BargainHelp.objects.filter(session=session)) == Decimal("20.00")


# --- API --------------------------------------------------------------------------------------------------------
def test_the_whole_bargain_through_the_api(campaign, api_client):
    from rest_framework.test import APIClient

    owner = UserFactory(nickname="王小明")
    owner_client = APIClient()
    owner_client.force_authenticate(owner)

    listed = api_client.get("/api/v1/bargains")
    assert listed.status_code == 200 and [c["id"] for c in listed.json()["results"]] == [campaign.pk]

    assert api_client.post(f"/api/v1/bargains/{campaign.pk}/open").status_code == 401
    opened = owner_client.post(f"/api/v1/bargains/{campaign.pk}/open")
    assert opened.status_code == 201
    session_id = opened.json()["id"]
    assert opened.json()["current_price"] == "50.00" and opened.json()["is_mine"] is True

    mine = owner_client.post(f"/api/v1/bargain-sessions/{session_id}/help")
    assert mine.status_code == 422 and mine.json()["code"] == "bargain_self_help"
    for index in range(5):
        friend = APIClient()
        friend.force_authenticate(UserFactory(nickname="李四" if index == 0 else "欧阳娜娜"))
        helped = friend.post(f"/api/v1/bargain-sessions/{session_id}/help")
        assert helped.status_code == 201, helped.json()
        assert helped.json()["floor_reached"] is (index == 4)
        if index == 0:
            again = friend.post(f"/api/v1/bargain-sessions/{session_id}/help")
            assert again.status_code == 422 and again.json()["code"] == "bargain_already_helped"

    status = api_client.get(f"/api/v1/bargain-sessions/{session_id}")  # anonymous: the page friends open
    body = status.json()
    assert status.status_code == 200
    assert body["status"] == "floor_reached" and body["current_price"] == "30.00" and body["can_buy"] is True
    assert body["owner_name"] == "王*明" and body["order_id"] is None
    assert [h["helper_name"] for h in body["helps"]][:2] == ["李*", "欧**娜"]
    assert body["helps"][-1]["price_after"] == "30.00"
    assert sum(Decimal(h["cut_amount"]) for h in body["helps"]) == Decimal("20.00")

    address = AddressFactory(user=owner)
    bad = owner_client.post(f"/api/v1/bargain-sessions/{session_id}/buy", {"address_id": "x"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"
    assert set(bad.json()["detail"]) == {"address_id", "idempotency_key"}
    bought = owner_client.post(f"/api/v1/bargain-sessions/{session_id}/buy",
                               {"address_id": address.pk, "idempotency_key": "api-bargain-01"}, format="json")
    assert bought.status_code == 201
    assert bought.json()["kind"] == "bargain" and bought.json()["lines"][0]["unit_price"] == "30.00"
    assert owner_client.get(f"/api/v1/bargain-sessions/{session_id}").json()["order_id"] == bought.json()["id"]
    assert api_client.get("/api/v1/bargain-sessions/999999").json()["code"] == "bargain_not_found"
