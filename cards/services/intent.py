"""The intent score (意向度) of leads: load what the leads did, train and judge the model, register it in the model
registry (core.ml), and score every lead with its reasons and interest tags.

- Training (`intent_model_train`, the Celery task `cards.intent_train_task` on the `ml` queue): snapshots every
  SNAPSHOT_DAYS back from `as_of` minus the conversion window; at each snapshot every lead with a visit in the last
  30 days is a row, with its features at that moment (cards.ml.features) and its label: did its visitor pay an
  order in the card's store within CARDS_CONVERSION_DAYS after it (the rule of Lead.converted_at /
  lead_converted, counted from the snapshot). Time-based split, logistic regression, Platt calibration
  (cards.ml.intent). Judged on the held-out later period against the points formula and the active version; the
  new version is activated only when it is calibrated (the expected calibration error of its deployed recipe on
  the held-out period, `held_out_walk_forward`, at most CARDS_INTENT_MAX_ECE) and not worse: a log loss on the
  held-out rows no higher than the active version's, both with the calibration fitted before that period (or, with
  none active, an AUC no lower than the points formula's). Until enough labels exist (CARDS_INTENT_MIN_LABELS
  converted and not converted rows) no model is trained and the points formula stands in.
- Scoring (`leads_score`, the task `cards.leads_score_task`): every lead seen within SCORE_DAYS of `as_of` gets
  `intent_score`, `intent_reasons` (Chinese, why), `intent_model` (the model version, or the points formula) and
  `tags` (cards.services.tags), written in batches by lead id.

`as_of` is now, or with CARDS_INTENT_AS_OF=latest the time of the latest card visit (the demo's history ended in
2011; `make run` sets it).
"""
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from cards.ml import intent as intent_model
from cards.ml.features import DAY, WINDOW_DAYS, ChatLog, LeadFacts, VisitLog, snapshots_build, window_figures
from cards.ml.features import model_inputs as features_model_inputs
from cards.ml.tags import TOPICS, chat_topics
from cards.models import BusinessCard, CardMessage, CardVisit, Lead, Referral
from cards.services import tags as lead_tags
from cards.services.sharing import Action
from core.db.bulk import update_from_values
from core.ml.metrics import binary_report
from core.ml.models import ModelVersion
from core.ml.registry import JSON, artefact_json, json_artefact, model_version_active, model_version_register
from mall import selectors as mall_selectors

logger = logging.getLogger(__name__)

MODEL_NAME = "cards.intent"
SNAPSHOT_DAYS = 7
SCORE_DAYS = 365
TAG_DAYS = 90
WRITE_BATCH = 1000
HIGH_INTENT_COUNTED = tuple(action for action in Action.HIGH_INTENT if action not in (Action.CHAT, Action.ORDER))


def intent_as_of() -> datetime:
    if settings.CARDS_INTENT_AS_OF == "latest":
        latest = CardVisit.objects.aggregate(latest=Max("last_seen_at"))["latest"]
        if latest is not None:
            return latest
    return timezone.now()


# --- loading ----------------------------------------------------------------------------------------------------
@dataclass
class LeadData:
    """Everything the model and the tags read about a set of leads, as arrays indexed like `ids`."""

    ids: np.ndarray
    store_ids: np.ndarray
    visits: VisitLog
    chats: ChatLog
    facts: LeadFacts
    viewed: list[list[int]]  # listing ids viewed within TAG_DAYS before the lead's last visit
    chat_texts: list[list[str]]  # what the visitor wrote within TAG_DAYS before the lead's last visit
    as_of: datetime


def _seconds(moment: datetime) -> float:
    return moment.timestamp()


def lead_data_load(*, as_of: datetime, since: datetime) -> LeadData:
    """The leads seen between `since` and `as_of`, with their visits, chat and purchases up to `as_of`."""
    rows = list(Lead.objects.filter(last_seen_at__gte=since, first_seen_at__lte=as_of).order_by("pk")
                .values_list("pk", "owner_id", "card_id", "store_id", "visitor_key", "user_id", "first_seen_at",
                             "last_seen_at"))
    index = {(row[1], row[4]): position for position, row in enumerate(rows)}
    count = len(rows)
    owners = dict(BusinessCard.objects.values_list("pk", "owner_id"))
    # Interest tags read what the visitor did in the TAG_DAYS before their own last visit (up to as_of).
    tag_since = [_seconds(min(row[7], as_of) - timedelta(days=TAG_DAYS)) for row in rows]
    viewed: list[list[int]] = [[] for _ in range(count)]
    chat_texts: list[list[str]] = [[] for _ in range(count)]

    visit_lead, visit_end, visit_dwell, visit_products, visit_high, visit_shares = [], [], [], [], [], []
    visits = (CardVisit.objects.filter(last_seen_at__gte=since - timedelta(days=WINDOW_DAYS), last_seen_at__lte=as_of)
              .values_list("card_id", "visitor_key", "last_seen_at", "dwell_seconds", "actions", "products"))
    for card_id, key, last_seen_at, dwell, actions, products in visits.iterator(chunk_size=5000):
        position = index.get((owners.get(card_id), key))
        if position is None:
            continue
        ended = _seconds(last_seen_at)
        visit_lead.append(position)
        visit_end.append(ended)
        visit_dwell.append(dwell)
        visit_products.append(actions.get(Action.VIEW_PRODUCT, 0))
        visit_high.append(sum(actions.get(action, 0) for action in HIGH_INTENT_COUNTED))
        visit_shares.append(actions.get(Action.SHARE, 0))
        if ended >= tag_since[position]:
            viewed[position] += products
    visit_log = VisitLog(lead=np.array(visit_lead, dtype=int), ended_at=np.array(visit_end, dtype=float),
                         dwell_seconds=np.array(visit_dwell, dtype=float),
                         products=np.array(visit_products, dtype=float), high_intent=np.array(visit_high, dtype=float),
                         shares=np.array(visit_shares, dtype=float))

    chat_lead, chat_at, chat_flags = [], [], {topic: [] for topic in TOPICS}
    messages = (CardMessage.objects.filter(direction=CardMessage.Direction.FROM_VISITOR,
                                           created_at__gte=since - timedelta(days=WINDOW_DAYS), created_at__lte=as_of)
                .values_list("card_id", "visitor_key", "created_at", "text"))
    for card_id, key, created_at, text in messages.iterator(chunk_size=2000):
        position = index.get((owners.get(card_id), key))
        if position is None:
            continue
        topics = chat_topics(text)
        chat_lead.append(position)
        chat_at.append(_seconds(created_at))
        for topic in TOPICS:
            chat_flags[topic].append(topic in topics)
        if _seconds(created_at) >= tag_since[position]:
            chat_texts[position].append(text)
    chat_log = ChatLog(lead=np.array(chat_lead, dtype=int), at=np.array(chat_at, dtype=float),
                       topics={topic: np.array(flags, dtype=bool) for topic, flags in chat_flags.items()})

    # The share that brought each lead to its card: its depth, and who shared it.
    lead_by_card = {(row[2], row[4]): position for position, row in enumerate(rows)}
    depth = np.zeros(count)
    sharer_of: dict[int, int] = {}
    referrals = (Referral.objects.filter(card_id__in={row[2] for row in rows}, first_at__lte=as_of)
                 .values_list("card_id", "visitor_key", "share__depth", "share__sharer_key"))
    for card_id, key, share_depth, sharer_key in referrals.iterator(chunk_size=5000):
        position = lead_by_card.get((card_id, key))
        if position is not None:
            depth[position] = share_depth
            if sharer_key.startswith("u:"):
                sharer_of[position] = int(sharer_key[2:])

    buyers = {row[5] for row in rows if row[5] is not None} | set(sharer_of.values())
    paid_lead, paid_at = [], []
    first_paid: dict[tuple[int, int], float] = {}
    leads_of_buyer: dict[tuple[int, int], list[int]] = {}
    for position, row in enumerate(rows):
        if row[5] is not None:
            leads_of_buyer.setdefault((row[5], row[3]), []).append(position)
    for buyer_id, store_id, paid in mall_selectors.payments_of_buyers(buyer_ids=sorted(buyers), until=as_of):
        moment = _seconds(paid)
        first_paid.setdefault((buyer_id, store_id), moment)
        for position in leads_of_buyer.get((buyer_id, store_id), ()):
            paid_lead.append(position)
            paid_at.append(moment)
    referrer_paid = np.full(count, np.inf)
    for position, sharer_id in sharer_of.items():
        referrer_paid[position] = first_paid.get((sharer_id, rows[position][3]), np.inf)
    facts = LeadFacts(depth=depth, referrer_paid_at=referrer_paid,
                      first_seen_at=np.array([_seconds(row[6]) for row in rows], dtype=float),
                      paid_lead=np.array(paid_lead, dtype=int), paid_at=np.array(paid_at, dtype=float))
    return LeadData(ids=np.array([row[0] for row in rows], dtype=int),
                    store_ids=np.array([row[3] for row in rows], dtype=int), visits=visit_log, chats=chat_log,
                    facts=facts, viewed=viewed, chat_texts=chat_texts, as_of=as_of)


# --- training ---------------------------------------------------------------------------------------------------
@dataclass
class TrainingResult:
    status: str  # "activated", "candidate" (registered, not activated) or "too_few_labels" (nothing registered)
    version: ModelVersion | None
    metrics: dict
    note: str


def snapshot_times(data: LeadData) -> list[float]:
    """Every SNAPSHOT_DAYS back from `as_of` minus the conversion window (so every label is complete), down to
    WINDOW_DAYS after the first visit (so every window is complete)."""
    if not data.visits.ended_at.size:
        return []
    last = _seconds(data.as_of) - settings.CARDS_CONVERSION_DAYS * DAY
    first = float(data.visits.ended_at.min()) + WINDOW_DAYS * DAY
    times = []
    moment = last
    while moment >= first:
        times.append(moment)
        moment -= SNAPSHOT_DAYS * DAY
    return sorted(times)


def _rounded(report: dict) -> dict:
    return json.loads(json.dumps(report), parse_float=lambda value: round(float(value), 6))


def intent_model_train(*, as_of: datetime | None = None) -> TrainingResult:
    """Train, judge and register a new version of the intent model (see the module's docstring)."""
    as_of = as_of or intent_as_of()
    conversion_days = settings.CARDS_CONVERSION_DAYS
    data = lead_data_load(as_of=as_of, since=as_of - timedelta(days=settings.CARDS_INTENT_TRAINING_DAYS))
    snapshots = snapshots_build(visits=data.visits, chats=data.chats, leads=data.facts, times=snapshot_times(data),
                                conversion_days=conversion_days)
    positives, negatives = int(snapshots.y.sum()), int(snapshots.y.size - snapshots.y.sum())
    labels = {"rows": int(snapshots.y.size), "converted": positives, "not_converted": negatives,
              "leads": int(np.unique(snapshots.lead).size) if snapshots.lead.size else 0}
    minimum = settings.CARDS_INTENT_MIN_LABELS
    try:
        split = intent_model.time_split(snapshots.t, conversion_days=conversion_days) if snapshots.t.size else None
    except ValueError:
        split = None
    parts = ([int(snapshots.y[mask].sum()) for mask in (split.fit, split.calibrate, split.test)]
             if split is not None else [0, 0, 0])
    if min(positives, negatives) < minimum or split is None or min(parts) < max(1, minimum // 10):
        note = (f"too few labels: {positives} converted and {negatives} not converted snapshot rows (at least "
                f"{minimum} of each, and some in every part of the split); the points formula stands in")
        logger.info("intent model not trained: %s", note)
        return TrainingResult("too_few_labels", None, {"labels": labels}, note)

    params = intent_model.train(snapshots.x, snapshots.y, split=split, times=snapshots.t)
    test = split.test
    held_out = binary_report(snapshots.y[test], intent_model.predict(params, snapshots.x[test],
                                                                     calibration="evaluation_calibration"))
    walk_forward = binary_report(snapshots.y[test], intent_model.walk_forward(
        params, snapshots.x, snapshots.y, snapshots.t, rows=test, conversion_days=conversion_days))
    points_scores, _reasons = intent_model.points({name: values[test] for name, values in snapshots.figures.items()})
    points_held_out = binary_report(snapshots.y[test], points_scores)
    metrics = {"held_out": held_out, "held_out_walk_forward": walk_forward, "points_held_out": points_held_out,
               "labels": labels,
               "split": {"fit_rows": int(split.fit.sum()), "calibration_rows": int(split.calibrate.sum()),
                         "held_out_rows": int(test.sum()),
                         "calibration_from": datetime.fromtimestamp(split.calibrate_from, tz=UTC).isoformat(),
                         "held_out_from": datetime.fromtimestamp(split.test_from, tz=UTC).isoformat(),
                         "as_of": as_of.isoformat()},
               "coefficients": dict(zip(params["features"], params["coef"], strict=True)),
               "calibration": params["calibration"], "evaluation_calibration": params["evaluation_calibration"]}
    active = model_version_active(name=MODEL_NAME)
    activate, note = _judge(held_out=held_out, walk_forward=walk_forward, points_held_out=points_held_out,
                            active=active, x=snapshots.x[test], y=snapshots.y[test], metrics=metrics)
    version = model_version_register(
        name=MODEL_NAME, artefact=json_artefact(params), artefact_format=JSON, metrics=_rounded(metrics),
        params={"conversion_days": conversion_days, "snapshot_days": SNAPSHOT_DAYS,
                "training_days": settings.CARDS_INTENT_TRAINING_DAYS, "regularisation_c": intent_model.REGULARISATION_C,
                "held_out_share": intent_model.HELD_OUT_SHARE, "calibration_share": intent_model.CALIBRATION_SHARE,
                "recalibration_days": intent_model.RECALIBRATION_DAYS},
        note=note, activate=activate)
    logger.info("intent model %s: %s", version.label, note)
    return TrainingResult("activated" if activate else "candidate", version, metrics, note)


def _judge(*, held_out: dict, walk_forward: dict, points_held_out: dict, active: ModelVersion | None,
           x: np.ndarray, y: np.ndarray, metrics: dict) -> tuple[bool, str]:
    """The active version applied to the same held-out rows (with the calibration it had before them), then the
    rule of cards.ml.intent.activation_decision."""
    active_held_out = None
    if active is not None:
        try:
            active_held_out = binary_report(y, intent_model.predict(artefact_json(active), x,
                                                                    calibration="evaluation_calibration"))
        except (ValueError, KeyError) as error:  # trained on other features: it cannot be compared, so it is replaced
            metrics["active_held_out"] = {"version": active.label, "error": str(error)}
            return True, f"activated: replaces {active.label}, which this code cannot apply ({error})"
        metrics["active_held_out"] = {"version": active.label, **active_held_out}
    return intent_model.activation_decision(held_out=held_out, walk_forward=walk_forward,
                                            points_held_out=points_held_out, active_held_out=active_held_out,
                                            active_label=active.label if active else "",
                                            max_ece=settings.CARDS_INTENT_MAX_ECE)


# --- scoring ----------------------------------------------------------------------------------------------------
def _score_text(value: float) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))


def leads_score(*, as_of: datetime | None = None) -> dict[str, object]:
    """Score every lead seen within SCORE_DAYS of `as_of` with the active model (or the points formula), with
    reasons and interest tags. Returns what it did."""
    as_of = as_of or intent_as_of()
    data = lead_data_load(as_of=as_of, since=as_of - timedelta(days=SCORE_DAYS))
    if not data.ids.size:
        return {"scored": 0, "model": "", "as_of": as_of.isoformat()}
    figures = window_figures(visits=data.visits, chats=data.chats, leads=data.facts, t=_seconds(as_of))
    active = model_version_active(name=MODEL_NAME)
    scores = reasons = None
    label = intent_model.POINTS_VERSION
    if active is not None:
        try:
            params = artefact_json(active)
            x = features_model_inputs(figures)
            scores, reasons, label = intent_model.predict(params, x), intent_model.reasons(params, x, figures), \
                active.label
        except (ValueError, KeyError):
            logger.exception("intent model %s cannot be applied; the points formula stands in", active.label)
    if scores is None:
        scores, reasons = intent_model.points(figures)
    tags = lead_tags.tags_for(viewed=data.viewed, chat_texts=data.chat_texts, store_ids=data.store_ids)
    rows = [(int(lead_id), _score_text(score), json.dumps(why, ensure_ascii=False), label,
             json.dumps(lead_tag, ensure_ascii=False))
            for lead_id, score, why, lead_tag in zip(data.ids, scores, reasons, tags, strict=True)]
    for start in range(0, len(rows), WRITE_BATCH):
        # One statement per batch in autocommit, by lead id: short row locks beside the visit consumer's upserts.
        update_from_values(model=Lead, columns=("score", "reasons", "model", "tags"),
                           rows=rows[start:start + WRITE_BATCH],
                           assignments="intent_score = v.score::numeric, intent_reasons = v.reasons::jsonb, "
                                       "intent_model = v.model, tags = v.tags::jsonb")
    return {"scored": len(rows), "model": label, "as_of": as_of.isoformat()}
