"""Shopper API of bargains (砍价): running campaigns, open a session, help a friend, see a session, buy.

One class per operation: validate, call one service, render. Business rules live in mall.services.bargains.
"""
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import PagePagination
from core.fields import IdempotencyKeyField, IdField, MoneyField
from core.openapi import errors
from mall import selectors
from mall.api.serializers import ListingOutput, OrderOutput
from mall.api.shop import paginate
from mall.services import bargains


def masked_name(user) -> str:
    """A helper's name as others see it: 张** / 李*明 / 139****0000."""
    nickname = (user.nickname or "").strip()
    if not nickname:
        return user.masked_phone
    if len(nickname) <= 2:
        return nickname[0] + "*"
    return nickname[0] + "*" * (len(nickname) - 2) + nickname[-1]


class BargainCampaignOutput(serializers.Serializer):
    id = serializers.IntegerField()
    listing = ListingOutput()
    floor_price = MoneyField()
    helpers_needed = serializers.IntegerField()
    window_hours = serializers.IntegerField()
    allow_buy_at_current_price = serializers.BooleanField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


class BargainHelpOutput(serializers.Serializer):
    helper_name = serializers.SerializerMethodField()
    cut_amount = MoneyField()
    price_after = MoneyField()
    created_at = serializers.DateTimeField()

    def get_helper_name(self, help_row) -> str:
        return masked_name(help_row.helper)


class BargainSessionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    campaign_id = serializers.IntegerField()
    listing_id = serializers.IntegerField(source="campaign.listing_id")
    title = serializers.CharField(source="campaign.listing.sku.product.title")
    owner_name = serializers.SerializerMethodField()
    is_mine = serializers.SerializerMethodField()
    status = serializers.CharField()
    start_price = MoneyField()
    floor_price = MoneyField()
    current_price = MoneyField()
    helpers_needed = serializers.IntegerField()
    helper_count = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    can_buy = serializers.SerializerMethodField()
    order_id = serializers.SerializerMethodField()
    helps = serializers.SerializerMethodField()

    def _is_mine(self, session) -> bool:
        user = self.context.get("user")
        return bool(user is not None and user.pk == session.owner_id)

    def get_owner_name(self, session) -> str:
        return masked_name(session.owner)

    def get_is_mine(self, session) -> bool:
        return self._is_mine(session)

    def get_can_buy(self, session) -> bool:
        return session.status == "floor_reached" or (
            session.status == "active" and session.campaign.allow_buy_at_current_price)

    def get_order_id(self, session) -> int | None:
        return session.order_id if self._is_mine(session) else None  # only the owner sees their order

    @extend_schema_field(BargainHelpOutput(many=True))
    def get_helps(self, session) -> list[dict]:
        return BargainHelpOutput(bargains.bargain_session_helps(session=session), many=True).data


class BargainCampaignListApi(APIView):
    """砍价活动 Running bargain campaigns."""

    permission_classes = [AllowAny]
    pagination_class = PagePagination

    @extend_schema(summary="砍价活动 List running bargain campaigns",
                   responses={200: BargainCampaignOutput(many=True)}, tags=["bargains"])
    def get(self, request):
        return paginate(self, bargains.bargain_campaigns_running(), BargainCampaignOutput)


class BargainOpenApi(APIView):
    """发起砍价 Start bargaining on a campaign (returns my live session of it if I already have one)."""

    @extend_schema(summary="发起砍价 Start a bargain session", request=None,
                   responses={201: BargainSessionOutput, **errors(422)}, tags=["bargains"])
    def post(self, request, campaign_id: int):
        session = bargains.bargain_open(owner=request.user, campaign_id=campaign_id)
        session = bargains.bargain_session_get(session_id=session.pk)
        return Response(BargainSessionOutput(session, context={"user": request.user}).data, status=201)


class BargainHelpApi(APIView):
    """帮砍一刀 Help a friend's bargain (once per session)."""

    @extend_schema_serializer(component_name="BargainHelpResult")
    class Output(serializers.Serializer):
        cut_amount = MoneyField()
        price_after = MoneyField()
        floor_reached = serializers.SerializerMethodField()

        def get_floor_reached(self, help_row) -> bool:
            return help_row.price_after == help_row.session.floor_price

    @extend_schema(summary="帮砍一刀 Help cut a friend's price", request=None,
                   responses={201: Output, **errors(409, 422)}, tags=["bargains"])
    def post(self, request, session_id: int):
        help_row = bargains.bargain_help(session_id=session_id, helper=request.user)
        return Response(self.Output(help_row).data, status=201)


class BargainSessionApi(APIView):
    """砍价详情 A session's state and who helped (names masked). Public: it is the page friends open."""

    permission_classes = [AllowAny]

    @extend_schema(summary="砍价详情 Get a bargain session", responses={200: BargainSessionOutput}, tags=["bargains"])
    def get(self, request, session_id: int):
        session = bargains.bargain_session_get(session_id=session_id)
        user = request.user if request.user.is_authenticated else None
        return Response(BargainSessionOutput(session, context={"user": user}).data)


class BargainBuyApi(APIView):
    """砍价下单 Order one unit at the session's price (idempotent on `idempotency_key`); pay the returned order."""

    @extend_schema_serializer(component_name="BargainBuyInput")
    class Input(serializers.Serializer):
        address_id = IdField()
        idempotency_key = IdempotencyKeyField()

    @extend_schema(summary="砍价下单 Buy at the bargained price", request=Input,
                   responses={201: OrderOutput, **errors(409, 422)}, tags=["bargains"])
    def post(self, request, session_id: int):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        order = bargains.bargain_buy(owner=request.user, session_id=session_id, **data.validated_data)
        return Response(OrderOutput(selectors.order_details(order)).data, status=201)
