"""The intent model's pure code (cards/ml): the time-based split, training and calibration on synthetic data whose
true probabilities are known, the walk-forward recipe, why-this-score sentences, the points formula and the
activation rule."""
import numpy as np
import pytest

from cards.ml import intent
from cards.ml.features import DAY, FEATURES
from core.ml.metrics import binary_report, expected_calibration_error

CONVERSION_DAYS = 30
WEEK = 7 * DAY


def synthetic(*, seed: int = 7, weeks: int = 40, per_week: int = 1500, sharpness: float = 1.0):
    """Rows at weekly snapshot times whose label is drawn from a known logistic model of the first three features;
    the other features are noise. Returns x, y, times, and the true probabilities."""
    rng = np.random.default_rng(seed)
    times = np.repeat(np.arange(weeks) * WEEK, per_week).astype(float)
    x = rng.normal(size=(times.size, len(FEATURES)))
    true_logit = sharpness * (1.2 * x[:, 0] - 0.8 * x[:, 1] + 0.5 * x[:, 2] - 1.0)
    truth = 1 / (1 + np.exp(-true_logit))
    y = (rng.random(times.size) < truth).astype(int)
    return x, y, times, truth


def test_the_split_never_lets_a_label_cross_into_a_later_part():
    times = np.repeat(np.arange(40) * WEEK, 3).astype(float)
    split = intent.time_split(times, conversion_days=CONVERSION_DAYS)
    window = CONVERSION_DAYS * DAY
    assert split.test_from == 30 * WEEK  # the last quarter of the 40 snapshot times is held out
    assert (times[split.test] >= split.test_from).all() and split.test.sum() == 10 * 3
    assert (times[split.fit] + window <= split.calibrate_from).all()
    assert (times[split.calibrate] >= split.calibrate_from).all()
    assert (times[split.calibrate] + window <= split.test_from).all()
    assert not (split.fit & split.calibrate).any() and not (split.calibrate & split.test).any()
    with pytest.raises(ValueError, match="at least 4"):
        intent.time_split(np.array([0.0, WEEK, 2 * WEEK]), conversion_days=CONVERSION_DAYS)


def test_a_model_trained_on_synthetic_data_is_calibrated_and_ranks_like_the_truth():
    x, y, times, truth = synthetic()
    split = intent.time_split(times, conversion_days=CONVERSION_DAYS)
    params = intent.train(x, y, split=split, times=times)
    predicted = intent.predict(params, x[split.test], calibration="evaluation_calibration")
    report = binary_report(y[split.test], predicted)
    assert report["ece"] < 0.02
    best_possible = binary_report(y[split.test], truth[split.test])["auc"]
    assert report["auc"] > best_possible - 0.01
    assert np.abs(predicted - truth[split.test]).mean() < 0.03  # close to the true probabilities, row by row
    assert params["coef"][0] > 0 > params["coef"][1]  # the signs of the true model


def test_platt_scaling_repairs_an_underconfident_regression():
    # A heavily regularised regression shrinks its log-odds towards 0: every prediction too close to the base rate.
    x, y, times, _truth = synthetic(sharpness=2.5)
    split = intent.time_split(times, conversion_days=CONVERSION_DAYS)
    params = intent.train(x, y, split=split, times=times, c=0.0005)
    raw = {**params, "identity": {"slope": 1.0, "intercept": 0.0}}
    uncalibrated = expected_calibration_error(y[split.test], intent.predict(raw, x[split.test], calibration="identity"))
    calibrated = expected_calibration_error(y[split.test], intent.predict(params, x[split.test],
                                                                          calibration="evaluation_calibration"))
    assert uncalibrated > 0.1
    assert calibrated < 0.03
    assert params["evaluation_calibration"]["slope"] > 2  # the log-odds had to be stretched


def test_the_deployed_calibration_follows_a_drift_the_evaluation_one_cannot_see():
    # The true base rate rises in the last weeks (a season): the recalibration on the latest complete labels
    # moves the intercept up, and walk-forward predictions over the held-out period are better calibrated.
    rng = np.random.default_rng(3)
    weeks, per_week = 40, 1500
    times = np.repeat(np.arange(weeks) * WEEK, per_week).astype(float)
    x = rng.normal(size=(times.size, len(FEATURES)))
    season = np.clip((times / WEEK - 20) / 10, 0, 1.5)  # from week 20 the log-odds rise by up to 1.5
    truth = 1 / (1 + np.exp(-(1.2 * x[:, 0] - 1.5 + season)))
    y = (rng.random(times.size) < truth).astype(int)
    split = intent.time_split(times, conversion_days=CONVERSION_DAYS)
    params = intent.train(x, y, split=split, times=times)
    assert params["calibration"]["intercept"] > params["evaluation_calibration"]["intercept"] + 0.3
    frozen = expected_calibration_error(y[split.test], intent.predict(params, x[split.test],
                                                                      calibration="evaluation_calibration"))
    walked = expected_calibration_error(y[split.test], intent.walk_forward(params, x, y, times, rows=split.test,
                                                                           conversion_days=CONVERSION_DAYS))
    assert walked < frozen


def test_walk_forward_uses_only_labels_known_at_each_snapshot():
    x, y, times, _truth = synthetic()
    split = intent.time_split(times, conversion_days=CONVERSION_DAYS)
    params = intent.train(x, y, split=split, times=times)
    before = intent.walk_forward(params, x, y, times, rows=split.test, conversion_days=CONVERSION_DAYS)
    changed = y.copy()
    changed[split.test] = 1 - changed[split.test]  # every held-out label flipped
    after = intent.walk_forward(params, x, changed, times, rows=split.test, conversion_days=CONVERSION_DAYS)
    first = times[split.test] == split.test_from
    np.testing.assert_allclose(before[first], after[first])  # the first held-out week knew none of them
    assert not np.allclose(before[~first], after[~first])  # later weeks are calibrated on the weeks before them


def test_training_refuses_a_part_with_one_class():
    x, y, times, _truth = synthetic(weeks=20, per_week=50)
    split = intent.time_split(times, conversion_days=CONVERSION_DAYS)
    with pytest.raises(ValueError, match="both converted and not converted"):
        intent.train(x, np.zeros_like(y), split=split, times=times)


def test_a_model_of_other_features_is_refused_when_applied():
    x, y, times, _truth = synthetic(weeks=20, per_week=200)
    params = intent.train(x, y, split=intent.time_split(times, conversion_days=CONVERSION_DAYS), times=times)
    with pytest.raises(ValueError, match="other features"):
        intent.predict({**params, "features": ["something", "else"]}, x)


def figures(**values) -> dict[str, np.ndarray]:
    base = {"days_since_visit": np.inf, "visits_7d": 0, "visits_30d": 0, "dwell_minutes_30d": 0, "products_30d": 0,
            "high_intent_30d": 0, "shares_30d": 0, "chat_30d": 0, "asked_price": 0, "asked_comparison": 0,
            "asked_delivery": 0, "asked_after_sale": 0, "depth": 0, "referrer_converted": 0, "tenure_days": 0,
            "purchases_365d": 0, "purchases_90d": 0, "days_since_purchase": np.inf}
    base.update(values)
    return {name: np.array([value], dtype=float) for name, value in base.items()}


def test_the_points_formula_adds_up_as_documented_and_says_what_it_is():
    # today 30 + 2 visits 10 + 4 minutes 10 + 3 products 6 + 1 high-intent 8 + chat 8 + price 5 + referrer 3 = 80
    scores, reasons = intent.points(figures(days_since_visit=0.5, visits_30d=2, dwell_minutes_30d=4, products_30d=3,
                                            high_intent_30d=1, chat_30d=1, asked_price=1, referrer_converted=1))
    assert scores[0] == pytest.approx(0.80)
    assert reasons[0][0] == intent.POINTS_NOTE
    assert reasons[0][1:] == ["今天访问过名片 +30", "近30天访问2次 +10", "近30天累计停留4分钟 +10"]
    capped, _reasons = intent.points(figures(days_since_visit=0.1, visits_30d=9, dwell_minutes_30d=30,
                                             products_30d=20, high_intent_30d=9, chat_30d=4, asked_price=1,
                                             referrer_converted=1))
    assert capped[0] == 1.0  # 30 + 20 + 10 + 10 + 24 + 8 + 5 + 3 = 110, capped at 100
    idle, idle_reasons = intent.points(figures(days_since_visit=40))
    assert idle[0] == 0.0 and idle_reasons[0] == [intent.POINTS_NOTE]


def test_why_this_score_names_the_features_that_raised_it_in_chinese():
    params = {"features": list(FEATURES), "mean": [0.0] * len(FEATURES), "scale": [1.0] * len(FEATURES),
              "coef": [0.0] * len(FEATURES), "intercept": -1.0,
              "calibration": {"slope": 1.0, "intercept": 0.0}}
    params["coef"][FEATURES.index("recency")] = 2.0
    params["coef"][FEATURES.index("asked_price")] = 1.0
    params["coef"][FEATURES.index("visits_30d")] = 0.5
    params["coef"][FEATURES.index("depth")] = -1.0  # a feature that lowers the score is never a reason
    raw = figures(days_since_visit=2.5, visits_30d=3, asked_price=1, depth=4)
    from cards.ml.features import model_inputs

    x = model_inputs(raw)
    assert intent.reasons(params, x, raw) == [["2天前访问过名片", "咨询过价格", "近30天访问3次"]]
    expected = 1 / (1 + np.exp(-(-1.0 + 2.0 * 2 ** (-2.5 / 5) + 1.0 + 0.5 * np.log1p(3) - 4.0)))
    assert intent.predict(params, x)[0] == pytest.approx(expected)


def report(auc: float, ece: float, log_loss: float) -> dict:
    return {"auc": auc, "ece": ece, "log_loss": log_loss}


def test_a_version_is_activated_only_when_calibrated_and_not_worse():
    decide = intent.activation_decision
    good = report(0.78, 0.05, 0.52)
    calibrated, miscalibrated = report(0.78, 0.04, 0.52), report(0.78, 0.09, 0.52)
    points = report(0.64, 0.09, 0.65)
    assert decide(held_out=good, walk_forward=calibrated, points_held_out=points, active_held_out=None,
                  max_ece=0.05)[0]
    refused, note = decide(held_out=good, walk_forward=miscalibrated, points_held_out=points, active_held_out=None,
                           max_ece=0.05)
    assert not refused and "ECE 0.090" in note
    assert not decide(held_out=report(0.60, 0.04, 0.6), walk_forward=calibrated, points_held_out=points,
                      active_held_out=None, max_ece=0.05)[0]  # ranks worse than the points formula
    assert decide(held_out=good, walk_forward=calibrated, points_held_out=points,
                  active_held_out=report(0.78, 0.05, 0.52), active_label="cards.intent@v1", max_ece=0.05)[0]  # a tie
    refused, note = decide(held_out=good, walk_forward=calibrated, points_held_out=points,
                           active_held_out=report(0.80, 0.03, 0.50), active_label="cards.intent@v1", max_ece=0.05)
    assert not refused and "cards.intent@v1" in note
