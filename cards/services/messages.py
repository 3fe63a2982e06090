"""Chat on a card (在线咨询): a visitor writes to the card's rep, the rep answers. Idempotent on the client's message
id. The text is stored encrypted; the behaviour event carries no text, only what the message is about."""
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from cards.models import CardMessage, Lead
from cards.services.sharing import canonical_key, published_card, visitor_key
from core.errors import NotFound, ValidationFailed
from core.events import record_event

MAX_MESSAGE = 1000


def _checked(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(_("write something"), code="message_empty")
    if len(text) > MAX_MESSAGE:
        raise ValidationFailed(_("a message is at most %(count)s characters") % {"count": MAX_MESSAGE},
                               code="message_too_long")
    return text


def message_from_visitor(*, card_id: int, text: str, client_key: str, user_id: int | None = None,
                         visitor_id: str = "") -> CardMessage:
    card = published_card(card_id=card_id)
    key = canonical_key(visitor_key(user_id=user_id, visitor_id=visitor_id))
    text = _checked(text)
    existing = CardMessage.objects.filter(card=card, visitor_key=key, client_key=client_key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            message = CardMessage.objects.create(card=card, visitor_key=key, text=text, author_id=user_id,
                                                 direction=CardMessage.Direction.FROM_VISITOR, client_key=client_key)
            record_event(kind="card_message_sent", actor_id=user_id, visitor_id="" if user_id else visitor_id,
                         target=card, payload={"message_id": message.pk, "direction": message.direction,
                                               "length": len(text)})
    except IntegrityError:
        return CardMessage.objects.get(card=card, visitor_key=key, client_key=client_key)
    return message


def message_from_rep(*, rep, lead_id: int, text: str, client_key: str) -> CardMessage:
    """The rep answers a lead on the card the lead came through."""
    lead = Lead.objects.filter(pk=lead_id, owner=rep).first()
    if lead is None:
        raise NotFound(_("no such lead"), code="lead_not_found")
    text = _checked(text)
    message, _created = CardMessage.objects.get_or_create(
        card_id=lead.card_id, visitor_key=lead.visitor_key, client_key=client_key,
        defaults={"direction": CardMessage.Direction.FROM_REP, "text": text, "author": rep})
    return message


def thread_of(*, card_id: int, key: str) -> list[CardMessage]:
    return list(CardMessage.objects.filter(card_id=card_id, visitor_key=key).order_by("created_at", "pk"))
