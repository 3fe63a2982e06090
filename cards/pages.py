"""The H5 card page (名片页): what a visitor sees when they open a card's link, server-rendered, mobile first.

- `/c/<share id>`: a card opened through a share link (the link carries nothing else); the page tells the
  tracking endpoint which share it came through, so the visit and the chain are recorded (cards.visits consumer).
- `/card/<card id>`: a published card opened directly (the rep's own link, a mini-program page).
- `/c/<share id>/qr.svg`: the QR code of a share link (segno), shown by the page's "share" panel.

The page renders the card, its featured products, "save contact" (the vCard API), "share" (a new share under the
one the visitor arrived through) and the chat entry; everything it does after loading is our own script
(static/cards/h5/card.js) talking to the public card API. No inline script or style, no handler attributes: the
answer carries a Content-Security-Policy that allows only our own scripts and styles. A share id that does not
resolve (forged, or its card taken offline) is a 404 page, in Chinese first.
"""
import io
from functools import cache
from urllib.parse import urlsplit

import segno
from django.core.files.storage import default_storage
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cards import selectors
from cards.models import BusinessCard
from cards.services import sharing
from core.errors import NotFound
from supply.images import product_image_urls

# Our own scripts and styles only; pictures may also come from the media storage or an avatar's https address.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
                           "img-src 'self' data: https:{media}; connect-src 'self'; object-src 'none'; "
                           "base-uri 'none'; form-action 'self'; frame-ancestors 'self'")
# Where a product opens in the mini-program (the page shows it with the product; a web-view client navigates).
MINIPROGRAM_LISTING_PATH = "/pages/listing/detail?id={listing_id}"


@cache
def _content_security_policy() -> str:
    """The policy, with the media storage's origin among the picture sources when it serves from elsewhere (an S3
    bucket's plain-http address in docker-compose: `https:` alone would block it)."""
    parts = urlsplit(default_storage.url("cards-page-probe.jpg"))
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return CONTENT_SECURITY_POLICY.format(media=f" {origin}" if origin and parts.scheme != "https" else "")


def _with_policy(response: HttpResponse) -> HttpResponse:
    response["Content-Security-Policy"] = _content_security_policy()
    response["Referrer-Policy"] = "same-origin"  # the share id in the path stays on this site
    return response


def page_not_found(request, exception=None) -> HttpResponse:
    """The card page's 404: a share id that does not resolve, a card that is offline, a malformed link."""
    return _with_policy(render(request, "cards/not_found.html", status=404))


def _products(card: BusinessCard) -> list[dict]:
    products = []
    for listing in card.featured_listings:
        images = list(listing.sku.product.images.all())
        urls = product_image_urls(image=images[0]) if images else {}
        products.append({
            "id": listing.pk, "title": listing.sku.product.title, "price": listing.price,
            "category": listing.sku.product.category.name, "description": listing.sku.product.description[:200],
            "small_url": urls.get("small", ""), "medium_url": urls.get("medium", ""),
            "alt": images[0].alt_text if images else listing.sku.product.title,
            "miniprogram_path": MINIPROGRAM_LISTING_PATH.format(listing_id=listing.pk),
        })
    return products


def _card_page(request, card: BusinessCard, *, share_id: str | None) -> HttpResponse:
    card = selectors.card_for_page(card)
    user = request.user
    phone_shown = bool(user.is_authenticated and user.phone and card.phone)  # the card API's rule
    context = {
        "card": card,
        "theme": card.theme if card.theme in BusinessCard.Theme.values else BusinessCard.Theme.CLASSIC,
        "initial": card.name.strip()[:1] or "名",
        "phone": card.phone if phone_shown else card.phone_masked,
        "phone_shown": phone_shown,
        "products": _products(card),
        "share_id": share_id or "",
        "csrf_token": get_token(request),
        "session_user": user.is_authenticated,
        "page_path": f"/c/{share_id}" if share_id else f"/card/{card.pk}",
    }
    response = render(request, "cards/card.html", context)
    response["Cache-Control"] = "private, no-store"  # the phone shown depends on who asks
    return _with_policy(response)


@require_GET
def card_page_by_share(request, share_id: str) -> HttpResponse:
    """名片页（分享链接）A card opened through a share link."""
    try:
        facts = sharing.share_resolve(share_id=share_id)
        card = sharing.published_card(card_id=facts.card_id)
    except NotFound:
        return page_not_found(request)
    return _card_page(request, card, share_id=facts.share_id)


@require_GET
def card_page(request, card_id: int) -> HttpResponse:
    """名片页 A published card opened directly."""
    try:
        card = sharing.published_card(card_id=card_id)
    except NotFound:
        return page_not_found(request)
    return _card_page(request, card, share_id=None)


@require_GET
def share_qr(request, share_id: str) -> HttpResponse:
    """分享二维码 The QR code of a share link, as SVG (drawn with segno; a share's link never changes)."""
    try:
        facts = sharing.share_resolve(share_id=share_id)
    except NotFound:
        return page_not_found(request)
    buffer = io.BytesIO()
    segno.make(request.build_absolute_uri(f"/c/{facts.share_id}"), error="m").save(
        buffer, kind="svg", scale=5, border=2, xmldecl=False, title="名片二维码 card QR code")
    response = HttpResponse(buffer.getvalue(), content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=3600"
    return _with_policy(response)
