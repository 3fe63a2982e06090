"""The rep's radar feed (cards/radar.py, GET /api/v1/radar/stream and /api/v1/radar): Server-Sent Events that
resume with Last-Event-ID, a long-poll, bounded waits and connections, the rep's own feed only, and the way from
a visitor's tap to a sentence in the feed."""
import json
import time

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections
from django.test import override_settings
from rest_framework.test import APIClient

from cards import radar
from cards.services import sharing
from tests.cards.conftest import track, visits_run
from tests.factories import AuthSessionFactory, UserFactory

pytestmark = pytest.mark.django_db


def _client_of(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthSessionFactory(user=user).issued_access_token}")
    return client


def _push(owner, *texts: str) -> list[str]:
    """Items straight into a rep's stream, as the visit consumer writes them after its commit."""
    radar.radar_push(items=[(owner.pk, {"at": "2026-12-08T10:00:00+08:00", "card_id": 1, "visitor_key": "v:x",
                                        "lead_id": None, "action": "view_card", "visit_number": 1,
                                        "new_visit": True, "text": text}) for text in texts])
    return [entry_id for entry_id, _item in reversed(radar.radar_recent(owner_id=owner.pk, count=len(texts)))]


def _events(response) -> list[dict]:
    """The SSE body, read to its end, as a list of events (field -> value; `data` parsed)."""
    body = b"".join(response.streaming_content).decode()
    events = []
    for block in body.strip().split("\n\n"):
        event: dict = {}
        for line in block.split("\n"):
            field, _colon, value = line.partition(": ")
            if field == "data":
                value = json.loads(value)
            event[field] = value
        events.append(event)
    return events


@override_settings(RADAR_STREAM_SECONDS=2, RADAR_HEARTBEAT_SECONDS=1)
def test_the_stream_sends_the_items_after_a_position_then_pings_and_ends(rep):
    first, second = _push(rep, "张三查看了你的名片", "李四复制了你的微信号")
    response = _client_of(rep).get("/api/v1/radar/stream?after=0-0", HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/event-stream")
    assert response["Cache-Control"] == "no-cache" and response["X-Accel-Buffering"] == "no"
    events = _events(response)
    assert events[0] == {"retry": "1000"}
    items = [event for event in events if "id" in event]
    assert [(event["id"], event["data"]["text"], event["data"]["id"]) for event in items] == [
        (first, "张三查看了你的名片", first), (second, "李四复制了你的微信号", second)]
    assert {"": "ping"} in events  # a quiet second sent a comment (a client that left is noticed there)
    assert events[-1]["event"] == "end"


@override_settings(RADAR_STREAM_SECONDS=1, RADAR_HEARTBEAT_SECONDS=1)
def test_a_reconnecting_event_source_resumes_after_its_last_event_id(rep):
    first, _second, third = _push(rep, "一", "二", "三")
    response = _client_of(rep).get("/api/v1/radar/stream?after=0-0", HTTP_LAST_EVENT_ID=first)
    assert [event["data"]["text"] for event in _events(response) if "id" in event] == ["二", "三"]
    response = _client_of(rep).get("/api/v1/radar/stream", HTTP_LAST_EVENT_ID=third)
    assert [event for event in _events(response) if "id" in event] == []


@override_settings(RADAR_STREAM_SECONDS=2, RADAR_HEARTBEAT_SECONDS=1)
def test_a_stream_without_a_position_sends_only_what_comes_after_it_opened(rep):
    _push(rep, "旧的 old")
    response = _client_of(rep).get("/api/v1/radar/stream")
    assert response.status_code == 200
    (new,) = _push(rep, "新的 new")  # after the stream fixed its start, before it is read
    items = [event for event in _events(response) if "id" in event]
    assert [(event["id"], event["data"]["text"]) for event in items] == [(new, "新的 new")]


def test_the_long_poll_gives_the_latest_items_then_waits_for_new_ones(rep):
    client = _client_of(rep)
    empty = client.get("/api/v1/radar").json()
    assert empty == {"items": [], "last_id": "0-0", "retry_after": 0}
    first, second = _push(rep, "一", "二")
    page = client.get("/api/v1/radar").json()
    assert [item["id"] for item in page["items"]] == [first, second] and page["last_id"] == second
    started = time.monotonic()
    waited = client.get(f"/api/v1/radar?after={second}&wait=1").json()
    assert waited == {"items": [], "last_id": second, "retry_after": 0}
    assert 0.9 <= time.monotonic() - started < 3
    (third,) = _push(rep, "三")
    page = client.get(f"/api/v1/radar?after={second}&wait=5").json()
    assert [(item["id"], item["text"]) for item in page["items"]] == [(third, "三")] and page["last_id"] == third


def test_each_rep_reads_only_their_own_feed(rep, store):
    other = UserFactory(role="merchant_staff")
    store.memberships.create(user=other)
    _push(rep, "给王小明的 for the first rep")
    assert _client_of(other).get("/api/v1/radar?after=0-0").json()["items"] == []
    assert len(_client_of(rep).get("/api/v1/radar?after=0-0").json()["items"]) == 1


def test_the_radar_is_for_store_staff_and_logged_in_callers_only(rep):
    shopper = _client_of(UserFactory())
    for path in ("/api/v1/radar", "/api/v1/radar/stream"):
        refused = shopper.get(path)
        assert (refused.status_code, refused.json()["code"]) == (403, "not_a_rep"), path
        anonymous = APIClient().get(path)
        assert anonymous.status_code == 401 and anonymous["Content-Type"] == "application/json", path


@pytest.mark.parametrize(("path", "headers"), [
    ("/api/v1/radar?after=latest", {}), ("/api/v1/radar?after=1-2-3", {}), ("/api/v1/radar?wait=999", {}),
    ("/api/v1/radar?wait=-1", {}), ("/api/v1/radar/stream?after=%24", {}),
    ("/api/v1/radar/stream", {"HTTP_LAST_EVENT_ID": "not-an-id"}),
])
def test_a_malformed_position_or_wait_is_a_400(rep, path, headers):
    response = _client_of(rep).get(path, **headers)
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert response.json()["code"] in ("radar_cursor_invalid", "invalid")


@override_settings(RADAR_STREAMS_PER_PROCESS=0, RADAR_BUSY_RETRY_SECONDS=7)
def test_when_every_waiting_slot_is_taken_nothing_waits(rep):
    (first,) = _push(rep, "一")
    events = _events(_client_of(rep).get("/api/v1/radar/stream?after=0-0"))
    assert events == [{"retry": "7000", "event": "busy", "data": {}}]
    started = time.monotonic()
    page = _client_of(rep).get(f"/api/v1/radar?after={first}&wait=10").json()
    assert page == {"items": [], "last_id": first, "retry_after": 7} and time.monotonic() - started < 1


def test_a_stream_gives_its_slot_back_when_it_ends_or_is_closed_unread(rep, settings):
    before = radar.waiting_slots.taken
    settings.RADAR_STREAMS_PER_PROCESS, settings.RADAR_STREAM_SECONDS, settings.RADAR_HEARTBEAT_SECONDS = (
        before + 1, 1, 1)
    client = _client_of(rep)
    unread = client.get("/api/v1/radar/stream?after=0-0")
    assert radar.waiting_slots.taken == before + 1
    busy = _events(client.get("/api/v1/radar/stream?after=0-0"))
    assert busy[0].get("event") == "busy"
    # The client went away before a byte was sent: the server closes the answer (the test client's own way of
    # closing it, which keeps the test's database connection open).
    request_finished.disconnect(close_old_connections)
    try:
        unread.close()
    finally:
        request_finished.connect(close_old_connections)
    assert radar.waiting_slots.taken == before
    events = _events(client.get("/api/v1/radar/stream?after=0-0"))
    assert events[-1]["event"] == "end" and radar.waiting_slots.taken == before


@pytest.fixture
def redis_down(settings):
    """The radar's Redis is a port nobody listens on (a real refused connection, not a patched client)."""
    radar._client.cache_clear()
    radar._waiting_client.cache_clear()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    yield
    radar._client.cache_clear()
    radar._waiting_client.cache_clear()


def test_when_redis_is_down_the_radar_answers_503_and_holds_no_slot(rep, redis_down):
    before = radar.waiting_slots.taken
    client = _client_of(rep)
    for path in ("/api/v1/radar", "/api/v1/radar?after=0-0&wait=1", "/api/v1/radar/stream"):
        response = client.get(path)
        assert (response.status_code, response.json()["code"]) == (503, "radar_unavailable"), path
    assert radar.waiting_slots.taken == before


@pytest.mark.django_db(transaction=True)
def test_a_visitors_taps_become_a_chinese_sentence_in_the_reps_feed(card, rep):
    share = sharing.share_create(card_id=card.pk, user_id=rep.pk)
    track(card, visitor="device-radar-0001", share=share, visit="open-radar-1")
    track(card, visitor="device-radar-0001", share=share, visit="open-radar-1", action="copy_wechat",
          dwell_seconds=130)
    visits_run()
    page = _client_of(rep).get("/api/v1/radar").json()
    (item,) = page["items"]
    assert item["text"] == "访客0001复制了你的微信号，停留2分钟"
    assert item["action"] == "copy_wechat" and item["card_id"] == card.pk and item["lead_id"] is not None
    assert item["new_visit"] is True and page["last_id"] == item["id"]


@pytest.mark.django_db(transaction=True)
def test_a_visit_is_announced_once_and_a_later_leave_alone_adds_no_sentence(card, rep):
    share = sharing.share_create(card_id=card.pk, user_id=rep.pk)
    track(card, visitor="device-radar-0002", share=share, visit="open-radar-2")
    visits_run()
    track(card, visitor="device-radar-0002", share=share, visit="open-radar-2", action="leave", dwell_seconds=40)
    visits_run()
    texts = [item["text"] for item in _client_of(rep).get("/api/v1/radar").json()["items"]]
    assert texts == ["访客0002查看了你的名片"]
    track(card, visitor="device-radar-0002", share=share, visit="open-radar-3")  # she comes back: news again
    visits_run()
    texts = [item["text"] for item in _client_of(rep).get("/api/v1/radar").json()["items"]]
    assert texts == ["访客0002查看了你的名片", "访客0002第2次查看了你的名片"]
