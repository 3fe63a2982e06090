"""The rep's radar (智能雷达): what visitors just did on their cards, as sentences, in real time.

The visit consumer writes radar items for each batch after it commits, into one Redis stream per rep (capped at
RADAR_STREAM_LENGTH items). The radar endpoint reads that stream as Server-Sent Events (or one long-poll). Redis is
the feed, not the record: visits and leads live in PostgreSQL, and a lost radar item is only a missed
notification. A Redis outage never fails the consumer: the items are dropped and logged.
"""
import json
import logging
from functools import cache
from typing import Any

import redis
from django.conf import settings
from django.db import transaction

from accounts.models import User
from cards.services.sharing import Action, user_id_of
from mall.models import Listing

logger = logging.getLogger(__name__)

ACTION_WORDS = {
    Action.VIEW_CARD: "查看了你的名片",
    Action.VIEW_PRODUCT: "浏览了商品",
    Action.COPY_WECHAT: "复制了你的微信号",
    Action.SAVE_PHONE: "保存了你的电话",
    Action.CALL: "给你打了电话",
    Action.CHAT: "向你发起了咨询",
    Action.AUTHORIZE_PHONE: "授权了手机号",
    Action.ORDER: "下单了",
    Action.SHARE: "转发了你的名片",
    Action.LEAVE: "离开了名片页",
}
CHANNEL_WORDS = {"friend": "好友", "group": "微信群", "moments": "朋友圈", "poster": "海报", "qr": "二维码"}


@cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
                                socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT)


def stream_key(owner_id: int) -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', 'mall')}:radar:{owner_id}"


def _who(visitor_key: str, names: dict[str, str]) -> str:
    return names.get(visitor_key) or ("访客" + visitor_key[-4:] if visitor_key.startswith("v:") else "客户")


def _minutes(seconds: int) -> str:
    return f"{seconds // 60}分钟" if seconds >= 60 else f"{seconds}秒"


def radar_sentence(*, who: str, action: str, visit_number: int, dwell_seconds: int, product: str = "",
                   channel: str = "") -> str:
    """One radar line, Chinese first: "张三第3次查看了你的名片，停留2分钟，看了商品「白色爱心挂饰」"."""
    if action == Action.SHARE:
        where = CHANNEL_WORDS.get(channel, "")
        return f"{who}把你的名片转发到了{where}" if where else f"{who}转发了你的名片"
    if action == Action.VIEW_CARD:
        text = f"{who}第{visit_number}次查看了你的名片" if visit_number > 1 else f"{who}查看了你的名片"
    else:
        text = f"{who}{ACTION_WORDS.get(action, action)}"
    if dwell_seconds:
        text += f"，停留{_minutes(dwell_seconds)}"
    if product:
        text += f"，看了商品「{product}」"
    return text


def radar_items_publish(*, cards: dict, drafts: list, new_visits: set[str], leads: dict) -> None:
    """Queue one radar item per visit of the batch (its most telling action) for after the consumer's commit."""
    product_ids = {draft.products[-1] for draft in drafts if draft.products}
    titles = dict(Listing.objects.filter(pk__in=product_ids).values_list("pk", "sku__product__title")) \
        if product_ids else {}
    user_ids = {user_id_of(draft.visitor_key) for draft in drafts} - {None}
    names = {f"u:{user.pk}": str(user) for user in User.objects.filter(pk__in=user_ids)} if user_ids else {}
    items: list[tuple[int, dict[str, Any]]] = []
    for draft in drafts:
        card = cards[draft.card_id]
        if draft.visitor_key == f"u:{card.owner_id}":
            continue
        lead = leads.get((card.owner_id, draft.visitor_key))
        telling = next((action for action in Action.HIGH_INTENT if draft.actions.get(action)), None)
        action = telling or (Action.VIEW_PRODUCT if draft.products else Action.VIEW_CARD)
        product = titles.get(draft.products[-1], "") if draft.products else ""
        visits = lead.visits if lead else 1
        items.append((card.owner_id, {
            "at": draft.last_seen_at.isoformat(), "card_id": card.pk, "visitor_key": draft.visitor_key,
            "lead_id": lead.pk if lead else None, "action": action, "visit_number": visits,
            "new_visit": draft.visit_key in new_visits,
            "text": radar_sentence(who=_who(draft.visitor_key, names), action=action, visit_number=visits,
                                   dwell_seconds=draft.dwell_seconds, product=product)}))
    if items:
        transaction.on_commit(lambda: radar_push(items=items))


def radar_push(*, items: list[tuple[int, dict[str, Any]]]) -> int:
    """Append items to their reps' streams. Never raises: the radar is a notification, not the record."""
    try:
        pipe = _client().pipeline(transaction=False)
        for owner_id, item in items:
            pipe.xadd(stream_key(owner_id), {"item": json.dumps(item, ensure_ascii=False)},
                      maxlen=settings.RADAR_STREAM_LENGTH, approximate=True)
        pipe.execute()
    except redis.RedisError:
        logger.warning("radar: %s items not delivered (Redis unavailable)", len(items), exc_info=True)
        return 0
    return len(items)


def radar_read(*, owner_id: int, after: str = "0-0", block_ms: int | None = None, count: int = 50
               ) -> list[tuple[str, dict[str, Any]]]:
    """Items of a rep's stream after the id `after` ("$" for only new ones), oldest first, waiting up to
    `block_ms` for the first one."""
    response = _client().xread({stream_key(owner_id): after}, count=count, block=block_ms)
    items = []
    for _stream, entries in response or []:
        for entry_id, fields in entries:
            items.append((entry_id.decode(), json.loads(fields[b"item"])))
    return items


def radar_recent(*, owner_id: int, count: int = 30) -> list[tuple[str, dict[str, Any]]]:
    entries = _client().xrevrange(stream_key(owner_id), count=count)
    return [(entry_id.decode(), json.loads(fields[b"item"])) for entry_id, fields in entries]
