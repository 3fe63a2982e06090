"""Time-windowed features of a lead at a moment `t`, from what happened before `t` only.

Inputs are logs as NumPy arrays (times are seconds since the epoch): a visit log (one row per card visit: its lead,
when it ended, dwell, products viewed, high-intent actions, shares made), a chat log (one row per message the
visitor wrote: its lead, when, and which topics it touched) and per-lead facts (depth of the share that brought
them, when their referrer first paid in the store, when they were first seen). The same code builds the training
snapshots and scores leads now, so training and scoring cannot drift apart.

Windows: the last 7 and 30 days before `t` for what they did on the card, 90 and 365 days for what they bought;
the last visit's recency decays with a half-life of RECENCY_HALF_LIFE_DAYS, the last purchase's with
PURCHASE_HALF_LIFE_DAYS.
"""
from dataclasses import dataclass, field

import numpy as np

DAY = 86_400.0
RECENCY_HALF_LIFE_DAYS = 5.0
PURCHASE_HALF_LIFE_DAYS = 30.0
WINDOW_DAYS = 30
SHORT_WINDOW_DAYS = 7
MAX_DEPTH = 6
NEVER = np.inf


@dataclass
class VisitLog:
    lead: np.ndarray  # int: index into the leads
    ended_at: np.ndarray  # float seconds
    dwell_seconds: np.ndarray
    products: np.ndarray  # product views in the visit
    high_intent: np.ndarray  # copy WeChat id, save phone, call, authorise phone
    shares: np.ndarray  # forwards made from the visit


@dataclass
class ChatLog:
    lead: np.ndarray
    at: np.ndarray
    topics: dict[str, np.ndarray] = field(default_factory=dict)  # topic -> bool per message


@dataclass
class LeadFacts:
    depth: np.ndarray  # depth of the share that first brought them (0: came without a share)
    referrer_paid_at: np.ndarray  # when the person who shared it with them first paid in the store (inf: never)
    first_seen_at: np.ndarray
    paid_lead: np.ndarray  # one row per order the lead's visitor paid in the card's store: the lead ...
    paid_at: np.ndarray  # ... and when


# The model's inputs, in order, and the raw window figures they are made from (see `model_inputs`).
FEATURES = ("recency", "visits_7d", "visits_30d", "dwell_30d", "products_30d", "high_intent_30d", "chat_30d",
            "asked_price", "asked_comparison", "asked_delivery", "asked_after_sale", "depth",
            "referrer_converted", "shares_30d", "tenure", "purchases_365d", "purchases_90d", "last_purchase")
TOPIC_FEATURES = {"price": "asked_price", "comparison": "asked_comparison", "delivery": "asked_delivery",
                  "after_sale": "asked_after_sale"}


def _window_sums(lead: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
    return np.bincount(lead, weights=values, minlength=count) if lead.size else np.zeros(count)


def window_figures(*, visits: VisitLog, chats: ChatLog, leads: LeadFacts, t: float) -> dict[str, np.ndarray]:
    """Raw figures of every lead at `t` (arrays indexed by lead): days since the last visit (inf: none),
    counts and sums over the windows, chat topics asked in the last 30 days, depth, whether the referrer had paid,
    days since first seen, paid orders in the store over the last 365 and 90 days and days since the last one."""
    count = leads.depth.size
    before = visits.ended_at <= t
    lead, ended = visits.lead[before], visits.ended_at[before]
    last = np.full(count, -np.inf)
    if lead.size:
        np.maximum.at(last, lead, ended)
    recent = ended > t - WINDOW_DAYS * DAY
    short = ended > t - SHORT_WINDOW_DAYS * DAY
    figures = {
        "days_since_visit": np.where(np.isfinite(last), (t - last) / DAY, np.inf),
        "visits_7d": _window_sums(lead[short], np.ones(short.sum()), count),
        "visits_30d": _window_sums(lead[recent], np.ones(recent.sum()), count),
        "dwell_minutes_30d": _window_sums(lead[recent], visits.dwell_seconds[before][recent] / 60.0, count),
        "products_30d": _window_sums(lead[recent], visits.products[before][recent], count),
        "high_intent_30d": _window_sums(lead[recent], visits.high_intent[before][recent], count),
        "shares_30d": _window_sums(lead[recent], visits.shares[before][recent], count),
    }
    in_chat = (chats.at <= t) & (chats.at > t - WINDOW_DAYS * DAY)
    figures["chat_30d"] = _window_sums(chats.lead[in_chat], np.ones(in_chat.sum()), count)
    for topic, name in TOPIC_FEATURES.items():
        asked = in_chat & chats.topics.get(topic, np.zeros(chats.at.size, dtype=bool))
        figures[name] = (_window_sums(chats.lead[asked], np.ones(asked.sum()), count) > 0).astype(float)
    figures["depth"] = np.minimum(leads.depth, MAX_DEPTH).astype(float)
    figures["referrer_converted"] = (leads.referrer_paid_at < t).astype(float)
    figures["tenure_days"] = np.maximum((t - leads.first_seen_at) / DAY, 0.0)
    paid = leads.paid_at <= t
    for days in (365, 90):
        within = paid & (leads.paid_at > t - days * DAY)
        figures[f"purchases_{days}d"] = _window_sums(leads.paid_lead[within], np.ones(within.sum()), count)
    last_paid = np.full(count, -np.inf)
    if paid.any():
        np.maximum.at(last_paid, leads.paid_lead[paid], leads.paid_at[paid])
    figures["days_since_purchase"] = np.where(np.isfinite(last_paid), (t - last_paid) / DAY, np.inf)
    return figures


def model_inputs(figures: dict[str, np.ndarray]) -> np.ndarray:
    """The FEATURES matrix (rows: leads) from raw figures: counts on a log scale, recency as exponential decay."""
    recency = np.exp2(-np.minimum(figures["days_since_visit"], 10_000.0) / RECENCY_HALF_LIFE_DAYS)
    columns = {
        "recency": recency,
        "visits_7d": np.log1p(figures["visits_7d"]),
        "visits_30d": np.log1p(figures["visits_30d"]),
        "dwell_30d": np.log1p(figures["dwell_minutes_30d"]),
        "products_30d": np.log1p(figures["products_30d"]),
        "high_intent_30d": np.log1p(figures["high_intent_30d"]),
        "chat_30d": np.log1p(figures["chat_30d"]),
        "asked_price": figures["asked_price"],
        "asked_comparison": figures["asked_comparison"],
        "asked_delivery": figures["asked_delivery"],
        "asked_after_sale": figures["asked_after_sale"],
        "depth": figures["depth"],
        "referrer_converted": figures["referrer_converted"],
        "shares_30d": np.log1p(figures["shares_30d"]),
        "tenure": np.log1p(figures["tenure_days"]),
        "purchases_365d": np.log1p(figures["purchases_365d"]),
        "purchases_90d": np.log1p(figures["purchases_90d"]),
        "last_purchase": np.exp2(-np.minimum(figures["days_since_purchase"], 10_000.0) / PURCHASE_HALF_LIFE_DAYS),
    }
    return np.column_stack([columns[name] for name in FEATURES])


def converts_within(*, leads: LeadFacts, rows: np.ndarray, t: float, days: float) -> np.ndarray:
    """The label: 1 when the lead's visitor paid an order in the store within `days` after `t` (after `t`, up to
    and including `t` + `days`)."""
    paid = (leads.paid_at > t) & (leads.paid_at <= t + days * DAY)
    converted = _window_sums(leads.paid_lead[paid], np.ones(paid.sum()), leads.depth.size) > 0
    return converted[rows].astype(int)


@dataclass
class Snapshots:
    """Training rows: (lead, t) pairs, their raw figures (by name), model inputs (FEATURES order) and labels."""

    lead: np.ndarray
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    figures: dict[str, np.ndarray]


def snapshots_build(*, visits: VisitLog, chats: ChatLog, leads: LeadFacts, times: list[float],
                    conversion_days: float) -> Snapshots:
    """One row per lead active at each snapshot time (a visit in the last WINDOW_DAYS), with its features at that
    time and whether it converted within `conversion_days` after it."""
    parts_lead, parts_t, parts_y, parts_figures = [], [], [], []
    for t in times:
        figures = window_figures(visits=visits, chats=chats, leads=leads, t=t)
        active = np.flatnonzero(figures["visits_30d"] > 0)
        if not active.size:
            continue
        parts_lead.append(active)
        parts_t.append(np.full(active.size, t))
        parts_y.append(converts_within(leads=leads, rows=active, t=t, days=conversion_days))
        parts_figures.append({name: values[active] for name, values in figures.items()})
    if not parts_lead:
        empty = np.zeros(0)
        return Snapshots(lead=empty.astype(int), t=empty, x=np.zeros((0, len(FEATURES))), y=empty.astype(int),
                         figures={})
    figures = {name: np.concatenate([part[name] for part in parts_figures]) for name in parts_figures[0]}
    return Snapshots(lead=np.concatenate(parts_lead), t=np.concatenate(parts_t), x=model_inputs(figures),
                     y=np.concatenate(parts_y), figures=figures)
