"""Scoring leads (cards/services/intent.py): visits and chat made through the real services and the visit consumer;
the points formula stands in (and says so) until a model is active; an active model's probability, reasons and
version land on the lead with its interest tags; too few labels train nothing."""
from decimal import Decimal

import numpy as np
import pytest

from cards.ml.features import FEATURES
from cards.ml.intent import POINTS_NOTE, POINTS_VERSION
from cards.models import Lead
from cards.services import intent, messages
from core.ml import registry
from core.ml.models import ModelVersion
from tests.cards.conftest import track, visits_run
from tests.factories import CategoryFactory, ListingFactory, ProductFactory, SKUFactory

pytestmark = pytest.mark.django_db(transaction=True)

ALICE, BOB = "device-alice-0001", "device-bob-00002"


@pytest.fixture
def candles(store):
    category = CategoryFactory(name="蜡烛灯饰")
    return [ListingFactory(store=store, price=Decimal(price), sku=SKUFactory(product=ProductFactory(category=category)))
            for price in ("80.00", "95.00")]


@pytest.fixture
def cheap_listings(store):
    return [ListingFactory(store=store, price=Decimal(price)) for price in ("5.00", "8.00", "12.00", "20.00")]


@pytest.fixture
def visits(card, candles, cheap_listings):
    """Alice comes twice, looks at both candles, copies the WeChat id, stays 4 minutes and asks the price; Bob looks
    once at the card for 10 seconds."""
    track(card, visitor=ALICE, visit="alice-visit-1")
    for listing in candles:
        track(card, visitor=ALICE, visit="alice-visit-1", action="view_product", listing_id=listing.pk)
    track(card, visitor=ALICE, visit="alice-visit-1", action="copy_wechat")
    track(card, visitor=ALICE, visit="alice-visit-1", action="leave", dwell_seconds=240)
    track(card, visitor=ALICE, visit="alice-visit-2")
    messages.message_from_visitor(card_id=card.pk, text="这两个蜡烛台多少钱？能包邮吗", client_key="m-1",
                                  visitor_id=ALICE)
    track(card, visitor=BOB, visit="bob-visit-1")
    track(card, visitor=BOB, visit="bob-visit-1", action="leave", dwell_seconds=10)
    visits_run()


def lead_of(device: str) -> Lead:
    return Lead.objects.get(visitor_key=f"v:{device}")


def test_the_points_formula_stands_in_and_says_so(visits):
    before = {lead.pk: (lead.visits, lead.dwell_seconds, lead.actions, lead.stage) for lead in Lead.objects.all()}
    result = intent.leads_score()
    assert result["scored"] == 2 and result["model"] == POINTS_VERSION
    alice, bob = lead_of(ALICE), lead_of(BOB)
    # Alice: today 30 + 2 visits 10 + 4 minutes 10 + 2 products 4 + 1 high-intent 8 + chat 8 + price 5 = 75
    assert alice.intent_score == Decimal("0.750") and alice.intent_model == POINTS_VERSION
    assert alice.intent_reasons == [POINTS_NOTE, "今天访问过名片 +30", "近30天访问2次 +10", "近30天累计停留4分钟 +10"]
    assert bob.intent_score == Decimal("0.350")  # today 30 + 1 visit 5
    assert alice.tags == ["蜡烛灯饰", "高价位", "问价格", "关注物流"]
    assert bob.tags == []
    # Scoring writes the score, its reasons and tags, nothing the visit consumer keeps.
    after = {lead.pk: (lead.visits, lead.dwell_seconds, lead.actions, lead.stage) for lead in Lead.objects.all()}
    assert after == before


def model_params(**coefficients: float) -> dict:
    return {"features": list(FEATURES), "mean": [0.0] * len(FEATURES), "scale": [1.0] * len(FEATURES),
            "coef": [coefficients.get(name, 0.0) for name in FEATURES], "intercept": 0.0,
            "calibration": {"slope": 1.0, "intercept": 0.0},
            "evaluation_calibration": {"slope": 1.0, "intercept": 0.0}}


def activate(params: dict) -> ModelVersion:
    return registry.model_version_register(name=intent.MODEL_NAME, artefact=registry.json_artefact(params),
                                           artefact_format=registry.JSON, metrics={}, activate=True)


def test_an_active_model_scores_with_its_reasons_and_names_its_version(visits):
    version = activate(model_params(visits_30d=1.0))
    result = intent.leads_score()
    assert result["model"] == version.label == "cards.intent@v1"
    alice, bob = lead_of(ALICE), lead_of(BOB)
    # p = sigmoid(log(1 + visits)) = (1 + visits) / (2 + visits)
    assert alice.intent_score == Decimal("0.750") and bob.intent_score == Decimal("0.667")
    assert alice.intent_model == bob.intent_model == "cards.intent@v1"
    assert alice.intent_reasons == ["近30天访问2次"] and bob.intent_reasons == ["近30天访问1次"]
    assert alice.tags == ["蜡烛灯饰", "高价位", "问价格", "关注物流"]


def test_a_model_this_code_cannot_apply_leaves_the_points_formula_in_charge(visits):
    activate({**model_params(visits_30d=1.0), "features": ["an", "older", "feature", "set"]})
    assert intent.leads_score()["model"] == POINTS_VERSION
    assert lead_of(ALICE).intent_reasons[0] == POINTS_NOTE


def test_too_few_labels_train_nothing(visits):
    result = intent.intent_model_train()
    assert result.status == "too_few_labels" and result.version is None
    assert "points formula stands in" in result.note
    assert not ModelVersion.objects.exists()


def test_the_probability_is_the_models_own(visits):
    params = model_params(recency=1.5, asked_price=0.7, products_30d=0.4)
    activate(params)
    intent.leads_score()
    alice = lead_of(ALICE)
    # Alice visited moments ago (recency ~1), asked the price, viewed 2 products.
    expected = 1 / (1 + np.exp(-(1.5 * 1.0 + 0.7 + 0.4 * np.log1p(2))))
    assert float(alice.intent_score) == pytest.approx(expected, abs=0.002)
    assert alice.intent_reasons == ["今天访问过名片", "咨询过价格", "近30天浏览商品2次"]
