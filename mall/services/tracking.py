"""Carrier tracking: the signed status push of Kuaidi100 (快递100 订阅推送), per tracking number.

Kuaidi100 POSTs a form with `param` (a JSON document) and `sign` = upper-case hex MD5(param + salt), where the salt is
ours (TRACKING_PUSH_SALT, given to Kuaidi100 when a tracking number is subscribed). An empty salt means the push is
switched off: the endpoint does not exist (404), as for a payment provider that is not enabled.

    param = {"status": "polling" | "shutdown" | "abort" | "updateall", "billstatus": ..., "message": ...,
             "lastResult": {"message": "ok", "state": "0".."14", "ischeck": "0" | "1", "com": "zhongtong",
                            "nu": "<tracking number>",
                            "data": [{"context": "...", "time": "2026-12-01 10:00:00", "ftime": ..., ...}, ...]}}

Each push carries the whole track so far. What we keep is its newest step, on the shipment (`tracking_state`, our
name for Kuaidi100's state; `tracking_context`; `tracking_updated_at`, the newest `data[].time`), written by a
conditional UPDATE under the order's and the shipment's locks (`locks.shipment_for_update`), and only if it is newer
than the step already recorded: the same push twice, or an older push arriving after a newer one (Kuaidi100
retries failed pushes 30 minutes later), changes nothing. State 3 (签收) with ischeck 1 delivers the shipment
through `orders.shipment_deliver_locked` (the order is delivered once all of its shipments are).

No behaviour event is recorded per push: a parcel gets a push for every scan, nothing consumes them, and the one
step that changes the order (delivery) records `shipment_delivered` and `order_delivered`. The shipment's fields
say where the parcel is now; Kuaidi100 keeps the whole track.
"""
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError, NotAuthenticated, NotFound, ValidationFailed
from core.parsers import data_vet
from core.signatures import signature_matches
from mall.models import Shipment
from mall.services import locks, orders

# Kuaidi100 carrier code -> the carrier's name as the supplier console offers it and shipments store it. A push is
# matched to its shipment by tracking number, and by this name when several shipments share the number. Names are
# stored on shipments: add carriers freely, never rename one.
CARRIERS: dict[str, str] = {
    "shunfeng": "顺丰 SF",
    "zhongtong": "中通 ZTO",
    "yuantong": "圆通 YTO",
    "yunda": "韵达 Yunda",
    "shentong": "申通 STO",
    "jtexpress": "极兔 J&T",
    "jd": "京东 JD",
    "ems": "邮政 EMS",
    "youzhengguonei": "邮政快递包裹 China Post",
    "debangkuaidi": "德邦 Deppon",
}

# Kuaidi100 `state` -> our tracking state. Codes not listed (newer or finer-grained ones) are kept as "other"; the
# carrier's own words are in `tracking_context` either way.
KUAIDI100_STATES: dict[str, str] = {
    "0": "in_transit", "1": "picked_up", "2": "problem", "3": "delivered", "4": "returned_to_sender",
    "5": "out_for_delivery", "6": "returning", "7": "redirected", "8": "customs", "10": "customs",
    "11": "customs", "12": "customs", "13": "customs", "14": "refused",
}
TRACKING_STATE_LABELS: dict[str, str] = {
    "in_transit": "在途 in transit",
    "picked_up": "揽收 picked up",
    "problem": "疑难 problem",
    "delivered": "签收 delivered",
    "returned_to_sender": "退签 returned to sender",
    "out_for_delivery": "派件 out for delivery",
    "returning": "退回 returning to sender",
    "redirected": "转投 redirected",
    "customs": "清关 customs",
    "refused": "拒签 refused",
    "other": "其他 other",
}
KUAIDI100_DELIVERED_STATE = "3"
KUAIDI100_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# Kuaidi100 reports scan times in China time, whatever our TIME_ZONE.
KUAIDI100_TIME_ZONE = ZoneInfo("Asia/Shanghai")
TRACKING_NUMBER_MAX_LENGTH = 64
SUCCESS_ANSWER = {"result": True, "returnCode": "200", "message": "成功"}


class TrackingPushMalformed(ValidationFailed):
    code = "callback_malformed"
    message = _("malformed tracking push")


def tracking_state_label(state: str) -> str:
    return TRACKING_STATE_LABELS.get(state, state)


def carrier_name(code: str) -> str | None:
    return CARRIERS.get(code)


@dataclass(frozen=True)
class TrackingUpdate:
    """One verified push, reduced to what we keep: its newest step."""

    carrier_code: str
    tracking_number: str
    state: str
    delivered: bool
    context: str
    at: datetime | None  # None when the push carries no step at all (e.g. Kuaidi100 gave up: status "abort")


@dataclass(frozen=True)
class TrackingPushResult:
    shipment_ids: list[int]
    applied: int  # shipments whose recorded step this push replaced
    delivered: int  # shipments this push delivered


def kuaidi100_sign(param: str, *, salt: str | None = None) -> str:
    """The sign of a push: upper-case hex MD5 of param + salt (tests and tools sign their own pushes with it)."""
    salt = settings.TRACKING_PUSH_SALT if salt is None else salt
    # MD5 is Kuaidi100's choice, not ours; the salt never travels, so only someone who has it can sign.
    return hashlib.md5((param + salt).encode()).hexdigest().upper()  # noqa: S324


def _sign_verify(*, param: str, sign: str, salt: str) -> None:
    if not signature_matches(kuaidi100_sign(param, salt=salt), sign):
        raise NotAuthenticated(_("invalid tracking push signature"), code="signature_invalid")


def _text(value, *, limit: int) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise TrackingPushMalformed()
    return value.strip()[:limit]


def _step_time(step: dict) -> datetime:
    for name in ("time", "ftime"):
        raw = step.get(name)
        if isinstance(raw, str):
            try:
                return datetime.strptime(raw.strip(), KUAIDI100_TIME_FORMAT).replace(tzinfo=KUAIDI100_TIME_ZONE)
            except ValueError:
                continue
    raise TrackingPushMalformed(detail={"field": "lastResult.data[].time"})


def kuaidi100_push_parse(param: str) -> TrackingUpdate:
    """Read a (verified) push; TrackingPushMalformed for anything that is not one."""
    try:
        document = json.loads(param)
        data_vet(data=document)
    except (ValueError, RecursionError, DomainError) as error:
        raise TrackingPushMalformed() from error
    last = document.get("lastResult") if isinstance(document, dict) else None
    if not isinstance(last, dict):
        raise TrackingPushMalformed(detail={"field": "lastResult"})
    tracking_number = _text(last.get("nu"), limit=TRACKING_NUMBER_MAX_LENGTH + 1)
    if not tracking_number or len(tracking_number) > TRACKING_NUMBER_MAX_LENGTH:
        raise TrackingPushMalformed(detail={"field": "lastResult.nu"})
    carrier_code = _text(last.get("com", ""), limit=32).lower()
    state = _text(last.get("state", ""), limit=8)
    ischeck = _text(last.get("ischeck", "0"), limit=8)
    steps = last.get("data", [])
    if not isinstance(steps, list) or not all(isinstance(step, dict) for step in steps):
        raise TrackingPushMalformed(detail={"field": "lastResult.data"})
    newest, at = None, None
    for step in steps:  # Kuaidi100 lists the newest first; do not rely on it
        step_at = _step_time(step)
        if at is None or step_at > at:
            newest, at = step, step_at
    context = _text(newest.get("context", ""), limit=255) if newest is not None else ""
    return TrackingUpdate(carrier_code=carrier_code, tracking_number=tracking_number,
                          state=KUAIDI100_STATES.get(state, "other"),
                          delivered=state == KUAIDI100_DELIVERED_STATE and ischeck == "1", context=context, at=at)


def _shipments_of(update: TrackingUpdate) -> list[int]:
    """The shipments a push is about: those with its tracking number (several: those of its carrier)."""
    candidates = list(Shipment.objects.filter(tracking_number=update.tracking_number)
                      .exclude(status__in=(Shipment.Status.PENDING, Shipment.Status.CANCELLED))
                      .order_by("pk").values_list("pk", "carrier"))
    if len(candidates) > 1:
        # The same number at two carriers is two parcels. Several shipments of one carrier with one number are one
        # parcel (a supplier packed two orders together): the push is about each of them.
        name = carrier_name(update.carrier_code)
        candidates = [(pk, carrier) for pk, carrier in candidates if carrier == name]
    # A single match is taken whatever its carrier says: shipments from before the carrier list, and Kuaidi100
    # correcting a wrongly guessed carrier (comOld / comNew), keep being tracked.
    if not candidates:
        raise NotFound(_("no shipment has this tracking number"), code="tracking_number_unknown",
                       detail={"tracking_number": update.tracking_number, "carrier": update.carrier_code})
    return [pk for pk, _carrier in candidates]


def _shipment_apply(*, shipment_id: int, update: TrackingUpdate) -> tuple[bool, bool]:
    """Record the push's newest step on one shipment and deliver it if the carrier says so. (applied, delivered)."""
    with transaction.atomic():
        order, shipment = locks.shipment_for_update(shipment_id=shipment_id)
        if shipment is None:
            return False, False
        applied = bool(Shipment.objects.filter(pk=shipment.pk).filter(
            Q(tracking_updated_at__isnull=True) | Q(tracking_updated_at__lt=update.at),
        ).update(tracking_state=update.state, tracking_context=update.context, tracking_updated_at=update.at,
                 updated_at=timezone.now()))
        delivered = False
        if applied and update.delivered and shipment.status == Shipment.Status.SHIPPED:
            # We hold the order's and the shipment's locks already: the locked half of orders.shipment_deliver.
            delivered = orders.shipment_deliver_locked(order=order, shipment=shipment, source="carrier")
    return applied, delivered


def tracking_push_receive(*, param: str, sign: str) -> TrackingPushResult:
    """Take one Kuaidi100 push: verify, parse, find the shipment(s), record the newest step, deliver on 签收.

    Safe to receive any number of times, in any order. Raises NotFound (push disabled, unknown tracking number),
    NotAuthenticated (bad sign) or TrackingPushMalformed; nothing is written then.
    """
    salt = settings.TRACKING_PUSH_SALT
    if not salt:
        raise NotFound(_("no such endpoint"), code="not_found")
    param = param if isinstance(param, str) else ""
    _sign_verify(param=param, sign=sign, salt=salt)
    update = kuaidi100_push_parse(param)
    shipment_ids = _shipments_of(update)
    applied = delivered = 0
    if update.at is not None:  # a push without any step (Kuaidi100 gave up on the number) has nothing to record
        # One transaction per shipment: each takes its own order's lock, never two orders at once.
        for shipment_id in shipment_ids:
            was_applied, was_delivered = _shipment_apply(shipment_id=shipment_id, update=update)
            applied += was_applied
            delivered += was_delivered
    return TrackingPushResult(shipment_ids=shipment_ids, applied=applied, delivered=delivered)
