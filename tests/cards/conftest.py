import pytest

from cards.events import VISITS
from cards.services import sharing
from core.events import consumer_run
from mall.models import StoreStaff
from tests.factories import StoreFactory, UserFactory


@pytest.fixture
def store(db):
    return StoreFactory()


@pytest.fixture
def rep(store):
    user = UserFactory(role="merchant_staff")
    StoreStaff.objects.create(store=store, user=user, role=StoreStaff.Role.SALES_REP)
    return user


@pytest.fixture
def card(rep, store):
    card = sharing.card_save(owner=rep, store_id=store.pk, name="王小明", title="销售经理", company="好物旗舰店",
                             phone="13800138000", wechat_id="wxm-2026")
    return sharing.card_publish(owner=rep, card_id=card.pk)


def visits_run() -> int:
    """Run the visit consumer until it has caught up (tests call it where the beat schedule would)."""
    return consumer_run(name=VISITS)


def track(card, *, visitor: str = "", user=None, visit: str = "visit-0001", action: str = "view_card",
          share=None, **extra) -> None:
    sharing.card_track(visit_id=visit, action=action, share_id=share.pk if share else None,
                       card_id=None if share else card.pk, user_id=user.pk if user else None,
                       visitor_id=visitor, **extra)
