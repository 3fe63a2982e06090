"""The built-in triggers, reactors, conditions and audiences of the rule engine (engagement/registry.py says what
each is). Everything here decides from the event and the engine's facts only.

Visitor keys are cards' (`u:<user id>` for a user, `v:<device id>` for an anonymous device); the engine follows a
device to its user once it has seen `visitor_merged`.

Triggers whose event kinds no app declares yet are inactive until one does (the admin refuses to switch their rules
on). What they expect of those kinds, for the parts that will emit them:
- `order_reviewed` (the review part; actor the reviewer, object the order): payload `order_id: int`,
  `text_length: int` (characters of the review's text); trigger `review_posted`;
- `post_approved` (UGC moderation; actor the author, object the post): payload `post_id: int`,
  `text_length: int`; trigger `post_approved`;
- `challenge_joined` (UGC challenges; actor the participant): payload `challenge_id: int`; trigger
  `challenge_joined`.
"""
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings

from cards.services.sharing import Action
from core.models import BehaviourEvent
from engagement.registry import (
    Audience,
    Condition,
    Facts,
    Occurrence,
    Trigger,
    audience_register,
    condition_register,
    reactor,
    segment_resolver,
    trigger_register,
)

PROFILE_FIELDS = ("nickname", "avatar_url")


def user_id_of(key: str | None) -> int | None:
    return int(key[2:]) if key and key.startswith("u:") and key[2:].isdigit() else None


def _event_key(event: BehaviourEvent) -> str:
    return f"u:{event.actor_id}" if event.actor_id is not None else f"v:{event.visitor_id}"


# --- triggers -----------------------------------------------------------------------------------------------------
for _trigger in (
    Trigger("registered", ("user_registered",), "注册 Registered", "a new shopper account was created",
            subject_unique=True),
    Trigger("profile_completed", ("profile_updated",), "完善资料 Completed the profile",
            "the user has set both a nickname and an avatar (once)", subject_unique=True),
    Trigger("checked_in", ("checked_in",), "签到 Checked in",
            "a daily check-in; the streak (连续签到) is known under each reset mode", subject_unique=True),
    Trigger("order_paid", ("order_paid",), "订单支付 Paid an order", "amount: what was paid; subject: the order",
            subject_unique=True),
    Trigger("card_shared", ("card_shared",), "分享名片 Shared a card", "a logged-in user forwarded a business card",
            subject_unique=True),
    Trigger("friend_registered", ("user_registered", "card_referral_bound"), "邀请好友注册 A friend you invited "
            "registered", "a new user's first referral names you, within ENGAGEMENT_INVITE_WINDOW_HOURS of their "
            "registration; subject: the friend", subject_unique=True),
    Trigger("friend_ordered", ("order_paid",), "邀请好友下单 A friend you invited paid their first order",
            "amount: that order's total; subject: the friend", subject_unique=True),
    Trigger("share_brought_visitor", ("card_referral_bound",), "名片带来访客 Your share brought a new visitor",
            "a visitor's first touch on a card is your share; subject: the visitor"),
    Trigger("share_brought_lead", ("card_action", "card_shared"), "名片带来线索 Your share brought a lead",
            "a visitor who came through your share did something of high intent (copy the WeChat id, save the "
            "phone, call, chat, authorise the phone, order); subject: the visitor"),
    Trigger("share_brought_order", ("lead_converted", "card_referral_bound"), "名片带来成交 Your share brought an "
            "order", "a lead converted and its visitor's referral for the card is your share; amount: the order"),
    Trigger("review_posted", ("order_reviewed",), "评价晒单 Reviewed an order", "text_length: the review's length"),
    Trigger("post_approved", ("post_approved",), "发布种草内容 A post passed moderation",
            "text_length: the post's length"),
    Trigger("challenge_joined", ("challenge_joined",), "参加挑战赛 Joined a challenge", "subject: the challenge"),
):
    trigger_register(_trigger)


# --- reactors -----------------------------------------------------------------------------------------------------
@reactor("user_registered")
def on_user_registered(facts: Facts, event: BehaviourEvent):
    row = facts.user(event.actor_id)
    if row.registered_at is not None:
        return []
    row.registered_at = event.created_at
    facts.touch(row)
    return [Occurrence("registered", event.actor_id)]


@reactor("profile_updated", "phone_bound")
def on_profile(facts: Facts, event: BehaviourEvent):
    row = facts.user(event.actor_id)
    changed = event.payload.get("fields", []) if event.kind == "profile_updated" else ["phone"]
    fields = sorted(set(row.profile_fields) | {str(name) for name in changed})
    completes = not row.profile_complete and all(name in fields for name in PROFILE_FIELDS)
    row.profile_fields, row.profile_complete = fields, row.profile_complete or completes
    facts.touch(row)
    return [Occurrence("profile_completed", event.actor_id)] if completes else []


def _same_week(one: date, other: date) -> bool:
    return one.isocalendar()[:2] == other.isocalendar()[:2]


@reactor("checked_in")
def on_checked_in(facts: Facts, event: BehaviourEvent):
    day = date.fromisoformat(event.payload["day"])
    row = facts.user(event.actor_id)
    last = row.last_check_in
    if last is not None and day <= last:
        return []  # that day (or a later one) was already counted
    follows = last is not None and day == last + timedelta(days=1)
    row.streak_none = row.streak_none + 1 if follows else 1
    row.streak_weekly = row.streak_weekly + 1 if follows and _same_week(day, last) else 1
    row.streak_monthly = row.streak_monthly + 1 if follows and (day.year, day.month) == (last.year, last.month) else 1
    row.last_check_in = day
    facts.touch(row)
    streaks = {"none": row.streak_none, "weekly": row.streak_weekly, "monthly": row.streak_monthly}
    return [Occurrence("checked_in", event.actor_id, subject=day.isoformat(), values={"streak": streaks})]


@reactor("order_paid")
def on_order_paid(facts: Facts, event: BehaviourEvent):
    buyer_id, order_id = event.actor_id, int(event.object_id)
    total = Decimal(str(event.payload["total"]))
    occurrences = [Occurrence("order_paid", buyer_id, subject=f"order:{order_id}", amount=total, order_id=order_id)]
    inviter_id = user_id_of(facts.canonical(facts.user(buyer_id).inviter_key))
    if inviter_id is not None and inviter_id != buyer_id and facts.count(buyer_id, "order_paid") == 0:
        occurrences.append(Occurrence("friend_ordered", inviter_id, subject=f"u:{buyer_id}", amount=total,
                                      order_id=order_id))
    return occurrences


@reactor("card_shared")
def on_card_shared(facts: Facts, event: BehaviourEvent):
    facts.key_set(f"s:{event.payload['share_id']}", event.payload["sharer_key"], replace=False)
    if event.actor_id is None:
        return []
    return [Occurrence("card_shared", event.actor_id, subject=event.payload["share_id"])]


@reactor("visitor_merged")
def on_visitor_merged(facts: Facts, event: BehaviourEvent):
    facts.key_set(f"a:{event.payload['from_key']}", event.payload["to_key"])
    return []


@reactor("card_referral_bound")
def on_referral_bound(facts: Facts, event: BehaviourEvent):
    payload = event.payload
    facts.key_set(f"r:{payload['card_id']}:{payload['visitor_key']}", payload["sharer_key"])
    visitor = facts.canonical(payload["visitor_key"])
    sharer = facts.canonical(payload["sharer_key"])
    sharer_id = user_id_of(sharer)
    if sharer_id is None or sharer == visitor:
        return []
    occurrences = []
    if payload["replaced"] is None:  # a first touch: the share brought this visitor (a moved one brought no one)
        occurrences.append(Occurrence("share_brought_visitor", sharer_id, subject=visitor))
    friend_id = user_id_of(visitor)
    if friend_id is not None:
        row = facts.user(friend_id)
        window = timedelta(hours=settings.ENGAGEMENT_INVITE_WINDOW_HOURS)
        if not row.inviter_key and row.registered_at is not None and event.created_at - row.registered_at <= window:
            row.inviter_key = sharer
            facts.touch(row)
            occurrences.append(Occurrence("friend_registered", sharer_id, subject=f"u:{friend_id}"))
    return occurrences


@reactor("card_action")
def on_card_action(facts: Facts, event: BehaviourEvent):
    share_id = event.payload.get("share_id")
    if not share_id or event.payload["action"] not in Action.HIGH_INTENT:
        return []  # the high-volume case: nothing read, nothing written
    sharer = facts.canonical(facts.key_get(f"s:{share_id}") or "")
    sharer_id = user_id_of(sharer)
    visitor = facts.canonical(_event_key(event))
    if sharer_id is None or sharer == visitor:
        return []
    return [Occurrence("share_brought_lead", sharer_id, subject=visitor)]


@reactor("lead_converted")
def on_lead_converted(facts: Facts, event: BehaviourEvent):
    payload = event.payload
    sharer = facts.canonical(facts.key_get(f"r:{payload['card_id']}:{payload['visitor_key']}") or "")
    sharer_id = user_id_of(sharer)
    if sharer_id is None or sharer == facts.canonical(payload["visitor_key"]):
        return []
    return [Occurrence("share_brought_order", sharer_id, subject=f"order:{payload['order_id']}",
                       amount=Decimal(str(payload["amount"])), order_id=int(payload["order_id"]))]


@reactor("order_reviewed")
def on_order_reviewed(facts: Facts, event: BehaviourEvent):
    order_id = event.payload.get("order_id", event.object_id)
    return [Occurrence("review_posted", event.actor_id, subject=f"order:{order_id}",
                       values={"text_length": int(event.payload.get("text_length") or 0)})]


@reactor("post_approved")
def on_post_approved(facts: Facts, event: BehaviourEvent):
    return [Occurrence("post_approved", event.actor_id, subject=f"post:{event.payload.get('post_id', event.object_id)}",
                       values={"text_length": int(event.payload.get("text_length") or 0)})]


@reactor("challenge_joined")
def on_challenge_joined(facts: Facts, event: BehaviourEvent):
    return [Occurrence("challenge_joined", event.actor_id,
                       subject=f"challenge:{event.payload.get('challenge_id', event.object_id)}")]


# --- conditions -----------------------------------------------------------------------------------------------------
def _value(rule) -> Decimal:
    return rule.condition_value if rule.condition_value is not None else Decimal(0)


def streak_of(occurrence: Occurrence, reset: str) -> int:
    return int(occurrence.values.get("streak", {}).get(reset, 0))


for _condition in (
    Condition("always", "无条件 always", lambda occurrence, rule, facts: True),
    Condition("first_time", "首次 the user's first time (first order...)",
              lambda occurrence, rule, facts: facts.count(occurrence.user_id, occurrence.trigger) == 0),
    Condition("amount_at_least", "金额不低于 amount at least (yuan)",
              lambda occurrence, rule, facts: occurrence.amount is not None and occurrence.amount >= _value(rule),
              needs_value=True),
    Condition("text_at_least", "文字不少于 text at least (characters)",
              lambda occurrence, rule, facts: occurrence.values.get("text_length", 0) >= _value(rule),
              needs_value=True),
    Condition("streak_at_least", "连续签到不少于 streak at least (days)",
              lambda occurrence, rule, facts: streak_of(occurrence, rule.streak_reset) >= _value(rule),
              needs_value=True),
):
    condition_register(_condition)


# --- audiences ------------------------------------------------------------------------------------------------------
def _whole(value: str) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


def _new_user(user_id, value, at, facts) -> bool:
    days = _whole(value)
    registered = facts.user(user_id).registered_at
    return days is not None and registered is not None and at - registered <= timedelta(days=days)


def _level_at_least(user_id, value, at, facts) -> bool:
    rank = _whole(value)
    level = facts.level_rank(user_id)
    return rank is not None and level is not None and level >= rank


def _in_segment(user_id, value, at, facts) -> bool:
    resolver = segment_resolver()
    return resolver is not None and bool(value) and resolver(user_id, value, at)


for _audience in (
    Audience("everyone", "所有人 everyone", lambda user_id, value, at, facts: True),
    Audience("new_users", "新用户(注册 N 天内) users registered within N days", _new_user, needs_value=True),
    Audience("level_at_least", "会员等级不低于 member level rank at least", _level_at_least, needs_value=True),
    Audience("segment", "RFM 分层 RFM segment (once the RFM part provides it)", _in_segment,
             available=lambda: segment_resolver() is not None, needs_value=True),
):
    audience_register(_audience)
