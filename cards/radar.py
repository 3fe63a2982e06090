"""The rep's radar (智能雷达): what visitors just did on their cards, as sentences, in real time.

The visit consumer writes radar items for each batch after it commits, into one Redis stream per rep (capped at
RADAR_STREAM_LENGTH items). The radar endpoint reads that stream as Server-Sent Events (or one long-poll). Redis is
the feed, not the record: visits and leads live in PostgreSQL, and a lost radar item is only a missed
notification. A Redis outage never fails the consumer: the items are dropped and logged.

Reading (the rep's feed): `radar_stream` serves Server-Sent Events, `radar_poll` one long-poll. Both hold a web
server thread while they wait (gunicorn's gthread workers have 4 each), so they are bounded: a stream ends after
RADAR_STREAM_SECONDS with `event: end` (the browser's EventSource reconnects by itself after `retry:` and resumes
with Last-Event-ID, so nothing is missed), a long-poll waits at most RADAR_LONG_POLL_SECONDS, and at most
RADAR_STREAMS_PER_PROCESS of them wait at once in a process; one more is answered at once (`event: busy` with a
longer `retry:`, or a poll that does not wait and says `retry_after`), never queued behind the others.
"""
import json
import logging
import threading
import time
from collections.abc import Iterator
from functools import cache
from typing import Any

import redis
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from cards.services.sharing import Action, user_id_of
from core.errors import ServiceUnavailable
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
        if draft.visit_key not in new_visits and set(draft.actions) <= {Action.LEAVE}:
            continue  # only the dwell of a visit already announced grew: nothing new to tell the rep
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


@cache
def _waiting_client(timeout_seconds: float) -> redis.Redis:
    """A client for blocking reads: its socket waits as long as the read may block, plus the usual margin (the
    shared client's short timeout would cut every wait at a second)."""
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=timeout_seconds + settings.REDIS_SOCKET_TIMEOUT,
                                socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT)


def radar_read(*, owner_id: int, after: str = "0-0", block_ms: int | None = None, count: int = 50
               ) -> list[tuple[str, dict[str, Any]]]:
    """Items of a rep's stream after the id `after`, oldest first, waiting up to `block_ms` for the first one."""
    client = _waiting_client(-(-block_ms // 1000)) if block_ms else _client()
    response = client.xread({stream_key(owner_id): after}, count=count, block=block_ms or None)
    items = []
    for _stream, entries in response or []:
        for entry_id, fields in entries:
            items.append((entry_id.decode(), json.loads(fields[b"item"])))
    return items


def radar_recent(*, owner_id: int, count: int = 30) -> list[tuple[str, dict[str, Any]]]:
    entries = _client().xrevrange(stream_key(owner_id), count=count)
    return [(entry_id.decode(), json.loads(fields[b"item"])) for entry_id, fields in entries]


def radar_last_id(*, owner_id: int) -> str:
    """The id of the newest item of a rep's stream ("0-0" when it is empty): where a feed that wants only what
    comes next starts reading."""
    entries = _client().xrevrange(stream_key(owner_id), count=1)
    return entries[0][0].decode() if entries else "0-0"


# --- the rep's feed: Server-Sent Events and long-poll ----------------------------------------------------------
class _WaitingSlots:
    """How many radar readers may wait at once in this process (RADAR_STREAMS_PER_PROCESS): each holds a web
    server thread. Per process on purpose: it protects this process's threads, nothing else needs to know."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.taken = 0

    def take(self) -> bool:
        with self._lock:
            if self.taken >= settings.RADAR_STREAMS_PER_PROCESS:
                return False
            self.taken += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.taken = max(0, self.taken - 1)


waiting_slots = _WaitingSlots()


def _event(entry_id: str, item: dict[str, Any]) -> str:
    return f"id: {entry_id}\ndata: {json.dumps({'id': entry_id, **item}, ensure_ascii=False)}\n\n"


class _EventStream:
    """The body of one SSE answer. The web server calls `close()` when the answer ends or the client goes away
    (a client that left is noticed at the next write: a heartbeat at the latest), which gives the slot back even
    if the body was never read."""

    def __init__(self, *, owner_id: int, after: str, first: list[tuple[str, dict[str, Any]]]):
        self.owner_id, self.after = owner_id, after
        self._events = self._generate(first)
        self._closed = False

    def __iter__(self) -> "_EventStream":
        return self

    def __next__(self) -> bytes:
        return next(self._events).encode()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._events.close()
            waiting_slots.give_back()

    def _generate(self, first: list[tuple[str, dict[str, Any]]]) -> Iterator[str]:
        deadline = time.monotonic() + settings.RADAR_STREAM_SECONDS
        yield f"retry: {settings.RADAR_RETRY_MS}\n\n"
        for entry_id, item in first:
            self.after = entry_id
            yield _event(entry_id, item)
        while (remaining := deadline - time.monotonic()) > 0:
            wait_ms = max(1, int(min(settings.RADAR_HEARTBEAT_SECONDS, remaining) * 1000))
            try:
                items = radar_read(owner_id=self.owner_id, after=self.after, block_ms=wait_ms)
            except redis.RedisError:
                logger.warning("radar: stream of %s ended early (Redis unavailable)", self.owner_id, exc_info=True)
                break
            if not items and deadline > time.monotonic():
                yield ": ping\n\n"
            for entry_id, item in items:
                self.after = entry_id
                yield _event(entry_id, item)
        yield "event: end\ndata: {}\n\n"


def _busy_stream() -> Iterator[bytes]:
    yield f"retry: {settings.RADAR_BUSY_RETRY_SECONDS * 1000}\nevent: busy\ndata: {{}}\n\n".encode()


def radar_stream(*, owner_id: int, after: str | None) -> Iterator[bytes]:
    """A rep's feed as Server-Sent Events: items after `after` (None: only what comes from now on), then new ones
    as they arrive, until RADAR_STREAM_SECONDS have passed. Raises ServiceUnavailable when Redis does not answer
    (before anything is sent, so the client gets a 503, not a broken stream)."""
    if not waiting_slots.take():
        return _busy_stream()
    try:
        start = after or radar_last_id(owner_id=owner_id)
        first = radar_read(owner_id=owner_id, after=start) if after else []
    except redis.RedisError as error:
        waiting_slots.give_back()
        raise ServiceUnavailable(_("the radar is unavailable, try again shortly"),
                                 code="radar_unavailable") from error
    return _EventStream(owner_id=owner_id, after=first[-1][0] if first else start, first=first)


def radar_poll(*, owner_id: int, after: str | None, wait_seconds: int = 0) -> dict[str, Any]:
    """One long-poll: without `after`, the latest items; with it, the items after it, waiting up to `wait_seconds`
    for the first when there are none yet (unless every waiting slot is taken: then at once, with `retry_after`)."""
    retry_after = 0
    try:
        if after is None:
            entries = list(reversed(radar_recent(owner_id=owner_id)))
            last_id = entries[-1][0] if entries else radar_last_id(owner_id=owner_id)
        else:
            entries = radar_read(owner_id=owner_id, after=after)
            if not entries and wait_seconds > 0:
                if waiting_slots.take():
                    try:
                        entries = radar_read(owner_id=owner_id, after=after, block_ms=wait_seconds * 1000)
                    finally:
                        waiting_slots.give_back()
                else:
                    retry_after = settings.RADAR_BUSY_RETRY_SECONDS
            last_id = entries[-1][0] if entries else after
    except redis.RedisError as error:
        raise ServiceUnavailable(_("the radar is unavailable, try again shortly"),
                                 code="radar_unavailable") from error
    return {"items": [{"id": entry_id, **item} for entry_id, item in entries], "last_id": last_id,
            "retry_after": retry_after}
