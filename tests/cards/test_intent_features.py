"""Time-windowed features (cards/ml/features.py): only what happened before the moment counts, in its window, and
the label looks only after it."""
import numpy as np
import pytest

from cards.ml.features import (
    DAY,
    FEATURES,
    ChatLog,
    LeadFacts,
    VisitLog,
    converts_within,
    model_inputs,
    snapshots_build,
    window_figures,
)

T = 1_000 * DAY  # the moment the features are taken


def logs():
    """Lead 0 visited 1, 10 and 40 days before T and once after it; lead 1 only 50 days before; lead 2 never.
    Lead 0 wrote twice (a price question 2 days before T, one 35 days before); it bought 20 and 100 days before T
    and 5 and 31 days after."""
    visits = VisitLog(lead=np.array([0, 0, 0, 0, 1]),
                      ended_at=np.array([T - 1 * DAY, T - 10 * DAY, T - 40 * DAY, T + 1 * DAY, T - 50 * DAY]),
                      dwell_seconds=np.array([120.0, 60.0, 600.0, 999.0, 30.0]),
                      products=np.array([2.0, 1.0, 5.0, 9.0, 0.0]), high_intent=np.array([1.0, 0.0, 3.0, 9.0, 0.0]),
                      shares=np.array([0.0, 1.0, 0.0, 9.0, 0.0]))
    chats = ChatLog(lead=np.array([0, 0]), at=np.array([T - 2 * DAY, T - 35 * DAY]),
                    topics={"price": np.array([True, True]), "delivery": np.array([False, True]),
                            "comparison": np.array([False, False]), "after_sale": np.array([False, False])})
    facts = LeadFacts(depth=np.array([2.0, 9.0, 0.0]), referrer_paid_at=np.array([T - DAY, T + DAY, np.inf]),
                      first_seen_at=np.array([T - 60 * DAY, T - 50 * DAY, T]),
                      paid_lead=np.array([0, 0, 0, 0]),
                      paid_at=np.array([T - 100 * DAY, T - 20 * DAY, T + 5 * DAY, T + 31 * DAY]))
    return visits, chats, facts


def test_figures_count_only_the_past_within_each_window():
    visits, chats, facts = logs()
    figures = window_figures(visits=visits, chats=chats, leads=facts, t=T)
    assert list(figures["days_since_visit"]) == [1.0, 50.0, np.inf]
    assert list(figures["visits_7d"]) == [1, 0, 0]
    assert list(figures["visits_30d"]) == [2, 0, 0]  # the visit 40 days back is outside, the one after T unseen
    assert figures["dwell_minutes_30d"][0] == pytest.approx(3.0)  # 120 s + 60 s
    assert (figures["products_30d"][0], figures["high_intent_30d"][0], figures["shares_30d"][0]) == (3, 1, 1)
    assert (figures["chat_30d"][0], figures["asked_price"][0], figures["asked_delivery"][0]) == (1, 1, 0)
    assert list(figures["depth"]) == [2, 6, 0]  # capped at 6
    assert list(figures["referrer_converted"]) == [1, 0, 0]  # lead 1's referrer pays only after T
    assert list(figures["tenure_days"]) == [60, 50, 0]
    assert (figures["purchases_365d"][0], figures["purchases_90d"][0]) == (2, 1)
    assert figures["days_since_purchase"][0] == pytest.approx(20.0) and figures["days_since_purchase"][1] == np.inf


def test_model_inputs_follow_the_feature_list():
    visits, chats, facts = logs()
    x = model_inputs(window_figures(visits=visits, chats=chats, leads=facts, t=T))
    assert x.shape == (3, len(FEATURES))
    column = {name: x[:, index] for index, name in enumerate(FEATURES)}
    assert column["recency"][0] == pytest.approx(2 ** (-1 / 5)) and column["recency"][2] == 0
    assert column["visits_30d"][0] == pytest.approx(np.log1p(2))
    assert column["last_purchase"][0] == pytest.approx(2 ** (-20 / 30))


def test_the_label_looks_only_at_the_window_after_the_moment():
    _visits, _chats, facts = logs()
    assert list(converts_within(leads=facts, rows=np.array([0, 1, 2]), t=T, days=30)) == [1, 0, 0]
    assert list(converts_within(leads=facts, rows=np.array([0]), t=T, days=4)) == [0]  # the payment 5 days after
    assert list(converts_within(leads=facts, rows=np.array([0]), t=T - 20 * DAY, days=30)) == [1]  # +25 days
    # A payment at the moment itself is in the past; one exactly at the window's end is in it.
    assert list(converts_within(leads=facts, rows=np.array([0]), t=T - 20 * DAY, days=1)) == [0]
    assert list(converts_within(leads=facts, rows=np.array([0]), t=T + DAY, days=30)) == [1]  # +4 and +30 days


def test_snapshots_hold_the_leads_active_at_each_moment():
    visits, chats, facts = logs()
    snapshots = snapshots_build(visits=visits, chats=chats, leads=facts, times=[T - 45 * DAY, T], conversion_days=30)
    # 45 days before T only lead 1 had visited (5 days earlier); at T only lead 0 has a visit in its last 30 days.
    assert list(zip(snapshots.lead, snapshots.t, snapshots.y, strict=True)) == [(1, T - 45 * DAY, 0), (0, T, 1)]
    assert snapshots.x.shape == (2, len(FEATURES))
