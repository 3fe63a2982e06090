"""The intent score (意向度): the probability that a lead's visitor pays an order in the card's store within the
conversion window, from the time-windowed features of cards.ml.features.

Model: a scikit-learn logistic regression on standardised features, then Platt scaling (a one-feature logistic
regression on its logit), so that a shown 80 % means about 80 %. The trained model is a handful of numbers
(`params`, JSON), applied here with NumPy: scoring never needs scikit-learn's pickles.

Time-based split (`time_split`): the snapshot times are ordered; the last HELD_OUT_SHARE of them is the held-out
later period the model is judged on; of the times before it, the regression is fitted on the earlier part and
calibrated on the later CALIBRATION_SHARE (`evaluation_calibration`). A row is used only when its label was known
before the part that follows it begins (its time plus the conversion window), so no label reaches across a boundary.

Two calibrations. Purchases drift with the season (the demo's UCI orders rise towards Christmas), so a calibration
fitted months ago under-states today's rate. The model judged on the held-out period uses the calibration fitted
before it (`evaluation_calibration`: a fair comparison with other versions, which never saw those rows). The
version scores leads with `calibration`, refitted on the latest RECALIBRATION_DAYS of snapshots whose labels are
complete (the regression itself is unchanged); `walk_forward` measures that recipe on the held-out period, each
snapshot time calibrated only on labels complete at that time.

Why this score: each feature's contribution is its coefficient times its standardised value (times the
calibration slope), i.e. how much it moves this lead's log-odds away from those of an average lead; the largest
positive ones are shown in Chinese with the lead's own figures.

The points formula (`points`) stands in until enough labels exist, and says so.
"""
import math
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from cards.ml.features import DAY, FEATURES

HELD_OUT_SHARE = 0.25
CALIBRATION_SHARE = 0.25
RECALIBRATION_DAYS = 30
REGULARISATION_C = 1.0
MAX_REASONS = 3
MIN_CONTRIBUTION = 0.05  # log-odds: smaller pushes are not worth a sentence


@dataclass(frozen=True)
class Split:
    fit: np.ndarray  # boolean masks over the snapshot rows
    calibrate: np.ndarray
    test: np.ndarray
    calibrate_from: float  # snapshot times
    test_from: float


def time_split(times: np.ndarray, *, conversion_days: float, held_out_share: float = HELD_OUT_SHARE,
               calibration_share: float = CALIBRATION_SHARE) -> Split:
    distinct = np.unique(times)
    if distinct.size < 4:
        raise ValueError("a time-based split needs at least 4 snapshot times")
    test_from = distinct[max(1, math.floor(distinct.size * (1 - held_out_share)))]
    window = conversion_days * DAY
    known_before_test = distinct[distinct + window <= test_from]
    if known_before_test.size < 2:
        raise ValueError("no training time whose labels are known before the held-out period")
    calibrate_from = known_before_test[max(1, math.floor(known_before_test.size * (1 - calibration_share)))]
    fit = times + window <= calibrate_from
    calibrate = (times >= calibrate_from) & (times + window <= test_from)
    test = times >= test_from
    return Split(fit=fit, calibrate=calibrate, test=test, calibrate_from=float(calibrate_from),
                 test_from=float(test_from))


def _both_classes(labels: np.ndarray) -> bool:
    return labels.size > 0 and labels.min() != labels.max()


def platt(z: np.ndarray, y: np.ndarray) -> dict:
    """Platt scaling: the slope and intercept of a logistic regression of the labels on the log-odds `z`."""
    fitted = LogisticRegression(C=1e6, max_iter=2000).fit(z.reshape(-1, 1), y)
    return {"slope": float(fitted.coef_[0][0]), "intercept": float(fitted.intercept_[0])}


def _recent(times: np.ndarray, *, until: float, days: float) -> np.ndarray:
    return (times <= until) & (times > until - days * DAY)


def train(x: np.ndarray, y: np.ndarray, *, split: Split, times: np.ndarray, c: float = REGULARISATION_C) -> dict:
    """Fit on `split.fit`, calibrate on `split.calibrate` (`evaluation_calibration`) and on the latest
    RECALIBRATION_DAYS of `times` (`calibration`; every row's label must be complete). JSON-ready parameters."""
    for part, mask in (("fit", split.fit), ("calibration", split.calibrate)):
        if not _both_classes(y[mask]):
            raise ValueError(f"the {part} part needs both converted and not converted leads")
    scaler = StandardScaler().fit(x[split.fit])
    regression = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(x[split.fit]), y[split.fit])
    params = {"features": list(FEATURES), "mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist(),
              "coef": regression.coef_[0].tolist(), "intercept": float(regression.intercept_[0])}
    z = logit(params, x)
    params["evaluation_calibration"] = platt(z[split.calibrate], y[split.calibrate])
    latest = _recent(times, until=float(times.max()), days=RECALIBRATION_DAYS)
    params["calibration"] = (platt(z[latest], y[latest]) if _both_classes(y[latest])
                             else dict(params["evaluation_calibration"]))
    return params


def walk_forward(params: dict, x: np.ndarray, y: np.ndarray, times: np.ndarray, *, rows: np.ndarray,
                 conversion_days: float) -> np.ndarray:
    """Probabilities for `rows` as the deployed recipe gives them: at each snapshot time, the regression calibrated
    on the latest RECALIBRATION_DAYS of rows whose labels were complete at that time."""
    z = logit(params, x)
    probabilities = np.zeros(y.size)
    for moment in np.unique(times[rows]):
        known = _recent(times, until=moment - conversion_days * DAY, days=RECALIBRATION_DAYS)
        calibration = platt(z[known], y[known]) if _both_classes(y[known]) else params["evaluation_calibration"]
        here = rows & (times == moment)
        probabilities[here] = _sigmoid(calibration["slope"] * z[here] + calibration["intercept"])
    return probabilities[rows]


def _standardised(params: dict, x: np.ndarray) -> np.ndarray:
    if list(params["features"]) != list(FEATURES):
        raise ValueError("the model was trained on other features than this code computes")
    return (x - np.asarray(params["mean"])) / np.asarray(params["scale"])


def logit(params: dict, x: np.ndarray) -> np.ndarray:
    """The regression's log-odds before calibration."""
    return _standardised(params, x) @ np.asarray(params["coef"]) + params["intercept"]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def predict(params: dict, x: np.ndarray, *, calibration: str = "calibration") -> np.ndarray:
    """Calibrated probabilities: with the deployed calibration, or `calibration="evaluation_calibration"`."""
    chosen = params[calibration]
    return _sigmoid(chosen["slope"] * logit(params, x) + chosen["intercept"])


def contributions(params: dict, x: np.ndarray) -> np.ndarray:
    """Per lead and feature: how far the feature moves the calibrated log-odds from an average lead's."""
    return _standardised(params, x) * np.asarray(params["coef"]) * params["calibration"]["slope"]


# --- activation ---------------------------------------------------------------------------------------------------
def activation_decision(*, held_out: dict, walk_forward: dict, points_held_out: dict, active_held_out: dict | None,
                        active_label: str = "", max_ece: float) -> tuple[bool, str]:
    """Whether a new version replaces what is in use, from reports (core.ml.metrics.binary_report) on the same
    held-out rows: it must be calibrated as it will be used (the walk-forward ECE at most `max_ece`), and not worse
    than the active version (log loss, both with the calibration fitted before the held-out period) or, with no
    version active, than the points formula (AUC). Returns the decision and a note that says why."""
    if walk_forward["ece"] > max_ece:
        return False, f"not activated: ECE {walk_forward['ece']:.3f} above {max_ece}"
    if active_held_out is None:
        if (held_out["auc"] or 0) < (points_held_out["auc"] or 0):
            return False, (f"not activated: AUC {held_out['auc']:.3f} below the points formula's "
                           f"{points_held_out['auc']:.3f}")
        return True, (f"activated: AUC {held_out['auc']:.3f} (points formula {points_held_out['auc']:.3f}), "
                      f"ECE {walk_forward['ece']:.3f}")
    if held_out["log_loss"] > active_held_out["log_loss"]:
        return False, (f"not activated: log loss {held_out['log_loss']:.4f} worse than {active_label}'s "
                       f"{active_held_out['log_loss']:.4f} on the same held-out rows")
    return True, (f"activated: log loss {held_out['log_loss']:.4f} (was {active_held_out['log_loss']:.4f} with "
                  f"{active_label}), AUC {held_out['auc']:.3f}, ECE {walk_forward['ece']:.3f}")


# --- why this score ---------------------------------------------------------------------------------------------
def _count(value: float) -> int:
    return round(float(value))


def _ago(days: float, what: str) -> str | None:
    if not math.isfinite(days):
        return None
    return ("今天" if days < 1 else f"{int(days)}天前") + what


def _reason(feature: str, figures: dict[str, float]) -> str | None:
    """The Chinese sentence for a feature that raised a score, with the lead's own figures."""
    days = figures["days_since_visit"]
    sentences = {
        "recency": _ago(days, "访问过名片"),
        "visits_7d": f"近7天访问{_count(figures['visits_7d'])}次",
        "visits_30d": f"近30天访问{_count(figures['visits_30d'])}次",
        "dwell_30d": f"近30天累计停留{max(1, _count(figures['dwell_minutes_30d']))}分钟",
        "products_30d": f"近30天浏览商品{_count(figures['products_30d'])}次",
        "high_intent_30d": f"近30天{_count(figures['high_intent_30d'])}次存电话、加微信或拨打电话",
        "chat_30d": f"近30天发来{_count(figures['chat_30d'])}条咨询",
        "asked_price": "咨询过价格",
        "asked_comparison": "对比过商品",
        "asked_delivery": "问过物流配送",
        "asked_after_sale": "问过售后",
        "depth": f"经第{_count(figures['depth'])}层转发来访",
        "referrer_converted": "推荐人已在本店成交",
        "shares_30d": f"近30天转发名片{_count(figures['shares_30d'])}次",
        "tenure": f"已关注{_count(figures['tenure_days'])}天",
        "purchases_365d": f"近一年在本店下单{_count(figures['purchases_365d'])}次",
        "purchases_90d": f"近90天在本店下单{_count(figures['purchases_90d'])}次",
        "last_purchase": _ago(figures["days_since_purchase"], "在本店下过单"),
    }
    return sentences.get(feature)


def reasons(params: dict, x: np.ndarray, figures: dict[str, np.ndarray]) -> list[list[str]]:
    """Per lead, up to MAX_REASONS sentences for the features that raised its score most."""
    pushes = contributions(params, x)
    names = list(FEATURES)
    out = []
    for row in range(x.shape[0]):
        own = {name: float(values[row]) for name, values in figures.items()}
        order = np.argsort(-pushes[row])
        sentences = []
        for index in order[:MAX_REASONS]:
            if pushes[row, index] < MIN_CONTRIBUTION:
                break
            sentence = _reason(names[index], own)
            if sentence:
                sentences.append(sentence)
        out.append(sentences)
    return out


# --- the points formula -----------------------------------------------------------------------------------------
POINTS_VERSION = "points-v1"
POINTS_NOTE = "规则积分（成交样本不足，模型未启用）"


def _recency_points(days: float) -> int:
    for limit, points in ((1, 30), (3, 20), (7, 10), (14, 5)):
        if days <= limit:
            return points
    return 0


def points(figures: dict[str, np.ndarray]) -> tuple[np.ndarray, list[list[str]]]:
    """The documented stand-in: points for what a lead did in the last 30 days, capped at 100, shown as
    points / 100. Not a calibrated probability; its first reason says it is the points formula.

    recency of the last visit: today 30, 3 days 20, 7 days 10, 14 days 5; 5 per visit (up to 4 visits);
    dwell: 10 from 3 minutes (5 from 1 minute); 2 per product viewed (up to 5); 8 per high-intent action (save
    phone, copy WeChat id, call, authorise phone; up to 3); 8 for chatting and 5 more for asking the price;
    3 when their referrer has bought in the store."""
    count = figures["visits_30d"].size
    scores = np.zeros(count)
    explained: list[list[str]] = []
    for row in range(count):
        parts = []
        days = float(figures["days_since_visit"][row])
        recency = _recency_points(days)
        if recency:
            parts.append((recency, _ago(days, "访问过名片")))
        visits = int(figures["visits_30d"][row])
        if visits:
            parts.append((5 * min(visits, 4), f"近30天访问{visits}次"))
        dwell = float(figures["dwell_minutes_30d"][row])
        if dwell >= 1:
            parts.append((10 if dwell >= 3 else 5, f"近30天累计停留{round(dwell)}分钟"))
        products = int(figures["products_30d"][row])
        if products:
            parts.append((2 * min(products, 5), f"近30天浏览商品{products}次"))
        high = int(figures["high_intent_30d"][row])
        if high:
            parts.append((8 * min(high, 3), f"近30天{high}次存电话、加微信或拨打电话"))
        if figures["chat_30d"][row]:
            parts.append((8, f"近30天发来{int(figures['chat_30d'][row])}条咨询"))
        if figures["asked_price"][row]:
            parts.append((5, "咨询过价格"))
        if figures["referrer_converted"][row]:
            parts.append((3, "推荐人已在本店成交"))
        total = min(sum(value for value, _text in parts), 100)
        scores[row] = total / 100
        parts.sort(key=lambda part: -part[0])
        explained.append([POINTS_NOTE] + [f"{text} +{value}" for value, text in parts[:MAX_REASONS]])
    return scores, explained
